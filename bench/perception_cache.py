"""Cache hit vs first call: time Reconstruct and SAM3 twice on the same frames.

    .venv/bin/python bench/perception_cache.py                       # random da3-small + labels
    .venv/bin/python bench/perception_cache.py --reconstruct sensor  # sensor depth, no model

Frames come from the synthetic renderer (exact depth, poses, labels). Random weights: the
timings are those of the real network code, the outputs are meaningless.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from spatialclaw_ros.eval.synthetic import default_intrinsics, look_at, random_scene, render
from spatialclaw_ros.frames import FrameSet
from spatialclaw_ros.perception import PerceptionConfig, SegmentRequest, build_perception


def timed(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reconstruct", choices=["da3", "sensor", "fused"], default="da3")
    parser.add_argument(
        "--da3-model", default="random:da3-small", help="hub id, local dir or random:<preset>"
    )
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=120)
    parser.add_argument("--process-res", type=int, default=140)
    args = parser.parse_args()

    scene = random_scene(seed=3, n_objects=4)
    poses = [look_at((-2.5, y, 1.2), (1.0, 0.0, 0.5)) for y in np.linspace(-0.6, 0.6, args.frames)]
    frames = render(scene, poses, default_intrinsics(args.width, args.height))
    perception = build_perception(
        PerceptionConfig(
            reconstruct_backend=args.reconstruct,
            segment_backend="labels",
            da3_model=args.da3_model,
            device="cpu",
            process_res=args.process_res,
        )
    )
    name = scene.objects[0].name
    request = SegmentRequest([f.index for f in frames], text=name)
    print(
        f"{args.frames} frames {args.width}x{args.height}, reconstruct={args.reconstruct} "
        f"({args.da3_model if args.reconstruct != 'sensor' else 'no model'}), "
        f"segment=labels '{name}'"
    )
    if args.reconstruct != "sensor":
        depth_model = getattr(perception.reconstructor, "depth_model", perception.reconstructor)
        print(f"model load (once per process): {timed(lambda: depth_model.network):.3f} s")
    # The second call gets a new FrameSet holding the same frames, as a second question would:
    # the content key is hashed again, the result comes from the cache.
    same_frames = FrameSet(list(frames.frames), world_frame=frames.world_frame)
    for label, call in (
        ("reconstruct", lambda fs: perception.reconstruct(fs)),
        ("segment", lambda fs: perception.segment(fs, request)),
    ):
        first = timed(lambda call=call: call(frames))
        cached = timed(lambda call=call: call(same_frames))
        print(
            f"{label:12s} first {first * 1000:9.2f} ms   cached {cached * 1000:7.3f} ms   "
            f"speed-up x{first / max(cached, 1e-9):,.0f}"
        )
    print(
        f"cache: {perception.cache.hits} hits, {perception.cache.misses} misses, "
        f"{len(perception.cache)} entries"
    )


if __name__ == "__main__":
    main()
