"""Full-size perception models on random weights: latency per frame and peak GPU memory.

    python bench/gpu_models.py                          # GPU: da3-large, da3-giant, full sam3
    python bench/gpu_models.py --models da3-large --frames 16 --res 504
    python bench/gpu_models.py --cpu-smoke              # CPU: da3-small + tiny SAM 3, quickly

Everything runs through the project's wrappers (DA3Reconstructor, Sam3Segmenter), so the numbers
include our pre/post-processing. Random weights: timings are real, outputs meaningless. Each
model is measured after one warm-up call; peak memory is torch.cuda.max_memory_allocated.
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np
import torch

from spatialclaw_ros.frames import Frame, FrameSet
from spatialclaw_ros.perception.da3 import DA3Reconstructor
from spatialclaw_ros.perception.sam3 import Sam3Segmenter
from spatialclaw_ros.perception.types import SegmentRequest

DA3_PRESETS = ("da3-small", "da3-base", "da3-large", "da3-giant")


def frames_of(count: int, height: int, width: int) -> FrameSet:
    rng = np.random.default_rng(0)
    return FrameSet(
        [
            Frame(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), index=i)
            for i in range(count)
        ]
    )


def measure(call, device: torch.device) -> tuple[float, float]:
    """Seconds for one call after a warm-up, and peak GPU memory in GiB (0 on CPU)."""
    call()
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    call()
    if device.type == "cuda":
        torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else 0.0
    return time.perf_counter() - start, peak


def bench_da3(preset: str, frames: FrameSet, res: int, device: str) -> None:
    reconstructor = DA3Reconstructor(
        f"random:{preset}", device=device, process_res=res, chunk_size=len(frames) + 1
    )
    start = time.perf_counter()
    parameters = sum(p.numel() for p in reconstructor.network.parameters()) / 1e6
    print(
        f"{preset}: {parameters:.0f}M parameters, built in {time.perf_counter() - start:.1f} s "
        f"({next(reconstructor.network.parameters()).dtype} weights, {reconstructor.device})",
        flush=True,
    )
    seconds, peak = measure(lambda: reconstructor.reconstruct(frames), reconstructor.device)
    report(preset, f"reconstruct {len(frames)} frames @ {res}", seconds, len(frames), peak)


def bench_sam3(frames: FrameSet, device: str, smoke: bool) -> None:
    from transformers import (
        Sam3Processor,
        Sam3TrackerVideoModel,
        Sam3TrackerVideoProcessor,
        Sam3VideoConfig,
        Sam3VideoModel,
    )

    from spatialclaw_ros.perception.tiny_models import (
        TINY_IMAGE,
        sam3_processor,
        tiny_sam3_video_config,
    )

    config = tiny_sam3_video_config() if smoke else Sam3VideoConfig()
    processor = sam3_processor(TINY_IMAGE if smoke else config.image_size)
    segmenter = Sam3Segmenter("random", device=device, threshold=0.0)
    start = time.perf_counter()
    video = Sam3VideoModel(config)
    segmenter.preload("video", video, processor)
    segmenter.preload(
        "image",
        video.detector_model,
        Sam3Processor(processor.image_processor, processor.tokenizer),
    )
    segmenter.preload(
        "tracker_video",
        Sam3TrackerVideoModel(config.tracker_config),
        Sam3TrackerVideoProcessor(processor.image_processor, processor.video_processor),
    )
    parameters = sum(p.numel() for p in video.parameters()) / 1e6
    print(
        f"sam3: {parameters:.0f}M parameters (detector + tracker), built in "
        f"{time.perf_counter() - start:.1f} s "
        f"({segmenter.dtype}, {segmenter.device})",
        flush=True,
    )
    one = SegmentRequest([0], text="chair")
    seconds, peak = measure(lambda: segmenter.segment(frames, one), segmenter.device)
    report("sam3", "text prompt, one image", seconds, 1, peak)
    clip = [f.index for f in frames]
    seconds, peak = measure(
        lambda: segmenter.segment(frames, SegmentRequest(clip, text="chair")), segmenter.device
    )
    report("sam3", f"text propagated over {len(clip)} frames", seconds, len(clip), peak)
    middle = frames[len(frames) // 2]
    points = SegmentRequest(
        clip, points=np.array([[middle.width / 2, middle.height / 2]]), prompt_frame=middle.index
    )
    seconds, peak = measure(lambda: segmenter.segment(frames, points), segmenter.device)
    report("sam3", f"point propagated both ways over {len(clip)} frames", seconds, len(clip), peak)


def report(model: str, what: str, seconds: float, frames: int, peak_gib: float) -> None:
    memory = f"   peak GPU {peak_gib:6.2f} GiB" if peak_gib else ""
    print(
        f"  {model:10s} {what:42s} {seconds:8.3f} s   {seconds / frames * 1000:9.1f} "
        f"ms/frame{memory}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--models",
        default="da3-large,da3-giant,sam3",
        help=f"comma list from {', '.join(DA3_PRESETS)}, sam3 (default: da3-large,da3-giant,sam3)",
    )
    parser.add_argument("--frames", type=int, default=8, help="frames per call (default 8)")
    parser.add_argument(
        "--res", type=int, default=504, help="DA3 processing resolution (default 504)"
    )
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument(
        "--cpu-smoke",
        action="store_true",
        help="CPU, da3-small at 112 px and a tiny SAM 3, 3 small frames: checks the script runs",
    )
    args = parser.parse_args()

    if args.cpu_smoke:
        device, models, frames, res = "cpu", ["da3-small", "sam3"], frames_of(3, 60, 80), 112
    else:
        if not torch.cuda.is_available():
            parser.error("no CUDA device: run on a GPU machine, or use --cpu-smoke here")
        device, models, res = (
            "cuda",
            [m.strip() for m in args.models.split(",") if m.strip()],
            args.res,
        )
        frames = frames_of(args.frames, args.height, args.width)
        print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    import transformers

    print(
        f"transformers {transformers.__version__}; {len(frames)} frames "
        f"{frames[0].width}x{frames[0].height}"
    )
    for model in models:
        try:
            if model == "sam3":
                bench_sam3(frames, device, args.cpu_smoke)
            elif model in DA3_PRESETS:
                bench_da3(model, frames, res, device)
            else:
                print(f"{model}: unknown model, skipped")
        # keep measuring the other models; report what failed and why
        except Exception as error:  # noqa: BLE001 - any model failure
            print(f"{model}: FAILED {type(error).__name__}: {error}", flush=True)
        gc.collect()
        if device == "cuda":
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
