"""Where models run and in which precision.

A device is checked twice: its name when the configuration is read (no torch needed), and whether
this machine has it when a model backend is built, so `--device cuda` on a machine without a GPU
stops the service at start with a clear message instead of failing at the first request.
"""

from __future__ import annotations

import re

from spatialclaw_ros.perception.errors import PerceptionError

DEVICE_NAMES = re.compile(r"auto|cpu|cuda(:\d{1,2})?|mps")


def check_device_name(name: str) -> None:
    if not isinstance(name, str) or not DEVICE_NAMES.fullmatch(name):
        raise PerceptionError(f"device must be auto, cpu, cuda, cuda:N or mps, got {name!r}")


def resolve_device(name: str):
    """The device for `name`: "auto" -> the first CUDA device when there is one, else the CPU.
    A named device this machine does not have is an error."""
    import torch

    check_device_name(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise PerceptionError(
                f"device {name!r} was asked for but this machine has no usable CUDA GPU "
                "(torch.cuda.is_available() is False); use device cpu or auto"
            )
        if device.index is not None and device.index >= count:
            raise PerceptionError(
                f"device {name!r} was asked for but this machine has {count} CUDA GPU(s)"
            )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise PerceptionError(f"device {name!r} was asked for but this machine has no MPS backend")
    return device


def inference_dtype(device):
    """fp32 on CPU (half precision is emulated there and slower); bf16 on GPUs that have it, else
    fp16."""
    import torch

    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
