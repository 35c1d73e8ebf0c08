"""Where models run and in which precision."""

from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    """"auto" -> the first CUDA device when there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def inference_dtype(device: torch.device) -> torch.dtype:
    """fp32 on CPU (half precision is emulated there and slower); bf16 on GPUs that have it, else fp16."""
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
