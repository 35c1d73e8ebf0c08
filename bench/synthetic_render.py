"""Ray-caster speed: 640x480 frames per second for scenes of 4-12 objects, as a ratio to the empty
room (the fixed per-pixel cost) measured in the same run, and the time to generate a small
benchmark."""

from __future__ import annotations

import argparse
import tempfile
import time

from spatialclaw_ros.eval.synthetic import (
    Scene,
    default_intrinsics,
    look_at,
    random_scene,
    render_frame,
)
from spatialclaw_ros.eval.synthetic.benchmark import (
    SyntheticConfig,
    generate,
    self_check,
    write_benchmark,
)


def _seconds_per_frame(scene: Scene, repeats: int) -> float:
    k = default_intrinsics(640, 480)
    pose = look_at([-3.4, -2.4, 1.5], [0.5, 0.3, 0.4])
    render_frame(scene, pose, k)
    started = time.perf_counter()
    for _ in range(repeats):
        render_frame(scene, pose, k)
    return (time.perf_counter() - started) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--repeats", type=int, default=5, help="renders per measurement (default 5)"
    )
    args = parser.parse_args()
    empty = _seconds_per_frame(Scene(()), args.repeats)
    print(f"empty room 640x480: {empty * 1000:.0f} ms/frame")
    for n in (4, 8, 12):
        t = _seconds_per_frame(random_scene(n, n), args.repeats)
        print(
            f"{n:2d} objects 640x480: {t * 1000:.0f} ms/frame ({1 / t:.1f} frames/s, "
            f"{t / empty:.2f}x the empty room)"
        )
    config = SyntheticConfig(
        seed=0,
        clips={"single_image": 4, "multi_view": 3, "video": 2},
        width=320,
        height=240,
        video_frames=(8, 16),
    )
    started = time.perf_counter()
    bench = generate(config)
    generated = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        path = write_benchmark(bench, out)
        written = time.perf_counter() - started
        started = time.perf_counter()
        problems = self_check(path)
        checked = time.perf_counter() - started
    frames = sum(len(c) for c in bench.clips.values())
    print(
        f"benchmark 320x240: {len(bench.samples)} questions, {frames} frames: generate "
        f"{generated:.1f} s, "
        f"write {written:.1f} s, self-check {checked:.1f} s ({len(problems)} problems)"
    )


if __name__ == "__main__":
    main()
