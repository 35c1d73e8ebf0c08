"""Evaluation throughput: episodes per minute against a scripted VLM with 1 s latency, at
concurrency 1, 4 and 16, through the real runner and the agent's `no_tools` executor.

Prints one line per concurrency and the speed-up over concurrency 1 (target: >= 12x at 16).
Usage: python bench/eval_throughput.py [--episodes 64] [--latency 1.0]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from spatialclaw_ros.agent.scripted_vlm import ScriptedVLM
from spatialclaw_ros.eval.answerers import build_answerer
from spatialclaw_ros.eval.framesets import save_frameset
from spatialclaw_ros.eval.records import MediaGroup, Sample
from spatialclaw_ros.eval.runner import run_samples
from spatialclaw_ros.frames import Frame, FrameSet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 64 episodes are 4 waves at concurrency 16; with fewer, thread start-up weighs on the figure.
    parser.add_argument("--episodes", type=int, default=64, help="episodes per concurrency level (default: 64)")
    parser.add_argument("--latency", type=float, default=1.0, help="scripted VLM latency in seconds (default: 1)")
    parser.add_argument("--levels", default="1,4,16", help="concurrency levels (default: 1,4,16)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        frames = save_frameset(FrameSet([Frame(np.full((64, 64, 3), 90, np.uint8))]), Path(tmp) / "f.npz")
        samples = [Sample(id=f"q{i}", benchmark="bench", question="Which is nearer?", options=["cup", "box"],
                          answer="A", answer_type="mc", media=[MediaGroup("frameset", [str(frames)])])
                   for i in range(args.episodes)]
        rates = {}
        with ScriptedVLM(lambda body: "Answer: A", latency_s=args.latency) as vlm:
            answerer = build_answerer("no_tools", overrides={"vlm": {"base_url": vlm.base_url}},
                                      reconstruct_backend="sensor", segment_backend="labels",
                                      trace_dir=str(Path(tmp) / "traces"))
            for level in [int(x) for x in args.levels.split(",")]:
                result = run_samples(samples, answerer, Path(tmp) / f"c{level}", "no_tools", concurrency=level, progress=False)
                rates[level] = 60.0 * result.new / result.elapsed
                base = rates[min(rates)]
                print(f"concurrency {level:3d}: {rates[level]:7.1f} episodes/min  ({rates[level] / base:5.1f}x vs {min(rates)})")


if __name__ == "__main__":
    main()
