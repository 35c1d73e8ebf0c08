"""Evaluation throughput: episodes per minute against a scripted VLM with 1 s latency, through the
real runner and the agent's `no_tools` executor.

Thread pool (default): one line per concurrency (1, 4, 16) and the speed-up over concurrency 1
(target: >= 12x at 16).
--ray: the thread pool and Ray episode workers side by side at 1, 2 and 4 workers (one episode
at a time each), on a Ray instance started on this machine, with the fraction of linear scaling
(target: >= 0.9 at 4). Workers are started before the clock runs, as on a cluster that stays up.
Usage: python bench/eval_throughput.py [--episodes 64] [--latency 1.0] [--ray]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from spatialclaw_ros.eval.answerers import build_answerer
from spatialclaw_ros.eval.framesets import save_frameset
from spatialclaw_ros.eval.records import MediaGroup, Sample
from spatialclaw_ros.eval.runner import run_samples
from spatialclaw_ros.frames import Frame, FrameSet
from spatialclaw_ros.testing.scripted_vlm import ScriptedVLM

BACKENDS = {"reconstruct_backend": "sensor", "segment_backend": "labels"}


def _samples(tmp: Path, n: int) -> list[Sample]:
    frames = save_frameset(FrameSet([Frame(np.full((64, 64, 3), 90, np.uint8))]), tmp / "f.npz")
    return [
        Sample(
            id=f"q{i}",
            benchmark="bench",
            question="Which is nearer?",
            options=["cup", "box"],
            answer="A",
            answer_type="mc",
            media=[MediaGroup("frameset", [str(frames)])],
        )
        for i in range(n)
    ]


def threads_only(
    args: argparse.Namespace, samples: list[Sample], vlm: ScriptedVLM, tmp: Path
) -> None:
    answerer = build_answerer(
        "no_tools",
        overrides={"vlm": {"base_url": vlm.base_url}},
        trace_dir=str(tmp / "traces"),
        **BACKENDS,
    )
    rates = {}
    for level in [int(x) for x in (args.levels or "1,4,16").split(",")]:
        result = run_samples(
            samples, answerer, tmp / f"c{level}", "no_tools", concurrency=level, progress=False
        )
        rates[level] = 60.0 * result.new / result.elapsed
        base = rates[min(rates)]
        print(
            f"concurrency {level:3d}: {rates[level]:7.1f} episodes/min  "
            f"({rates[level] / base:5.1f}x vs {min(rates)})"
        )


def threads_and_ray(
    args: argparse.Namespace, samples: list[Sample], vlm: ScriptedVLM, tmp: Path
) -> None:
    import ray

    from spatialclaw_ros.eval.distributed import AnswererSpec, RayEpisodes, RayOptions

    levels = [int(x) for x in (args.levels or "1,2,4").split(",")]
    settings = {"vlm": {"base_url": vlm.base_url}}
    answerer = build_answerer(
        "no_tools", overrides=settings, trace_dir=str(tmp / "traces"), **BACKENDS
    )
    spec = AnswererSpec.resolve(
        "no_tools", overrides=settings, trace_dir=str(tmp / "traces"), **BACKENDS
    )
    # Episodes wait on the VLM, so a worker needs little CPU: one logical CPU each, whatever the
    # cores.
    ray.init(
        num_cpus=max(levels),
        object_store_memory=80 << 20,
        include_dashboard=False,
        logging_level="WARNING",
        log_to_driver=False,
    )
    try:
        rates: dict[tuple[str, int], float] = {}
        print(
            f"{'runner':8s} {'workers':>7s} {'episodes/min':>13s} {'vs 1':>6s} {'of linear':>10s}"
        )
        for level in levels:
            for runner in ("threads", "ray"):
                out = tmp / f"{runner}{level}"
                if runner == "threads":
                    result = run_samples(
                        samples, answerer, out, "no_tools", concurrency=level, progress=False
                    )
                else:
                    with RayEpisodes(spec, RayOptions(workers=level)) as episodes:
                        if episodes.start(timeout_s=300) != level:
                            raise SystemExit(f"only some of {level} Ray workers came up")
                        result = run_samples(
                            samples, None, out, "no_tools", progress=False, episodes=episodes
                        )
                rates[runner, level] = 60.0 * result.new / result.elapsed
                speed_up = rates[runner, level] / rates[runner, levels[0]]
                print(
                    f"{runner:8s} {level:7d} {rates[runner, level]:13.1f} {speed_up:5.2f}x "
                    f"{speed_up * levels[0] / level:10.2f}"
                )
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 64 episodes are 4 waves at concurrency 16; with fewer, thread start-up weighs on the figure.
    parser.add_argument(
        "--episodes", type=int, default=64, help="episodes per concurrency level (default: 64)"
    )
    parser.add_argument(
        "--latency", type=float, default=1.0, help="scripted VLM latency in seconds (default: 1)"
    )
    parser.add_argument(
        "--levels", default=None, help="concurrency levels (default: 1,4,16; with --ray 1,2,4)"
    )
    parser.add_argument(
        "--ray", action="store_true", help="compare with Ray episode workers (needs '.[ray]')"
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        ScriptedVLM(lambda body: "Answer: A", latency_s=args.latency) as vlm,
    ):
        samples = _samples(Path(tmp), args.episodes)
        (threads_and_ray if args.ray else threads_only)(args, samples, vlm, Path(tmp))


if __name__ == "__main__":
    main()
