"""Scoring questions against a recorded bag.

Offline mode reads the bag directly (no ROS): each question's frames are the bag's frames inside
its time window, `extra["replay"]["window"]` ([start, end] seconds of bag time, as
`spatialclaw synthetic bag` writes it; the whole bag when absent), per camera in
`extra["replay"]["cameras"]` (default "camera"). Online mode plays the bag into the running agent
node and sends each question as an action goal; it lives in `spatialclaw_ros.ros` and is imported
only when asked for.
"""

from __future__ import annotations

from pathlib import Path

from spatialclaw_ros.eval.answerers import Answer, Answerer
from spatialclaw_ros.eval.records import Prediction, Sample
from spatialclaw_ros.eval.runner import RunResult, run_samples
from spatialclaw_ros.frames import FrameSet
from spatialclaw_ros.frames.bags import read_frames


def frames_for(bag: str | Path, sample: Sample, config: str | Path | None = None, world_frame: str = "") -> list[FrameSet]:
    """The bag's frames inside the sample's replay window, per camera (all cameras when none are named)."""
    replay = sample.extra.get("replay") or {}
    start, end = replay.get("window") or (None, None)
    return read_frames(bag, cameras=replay.get("cameras") or None, start=start, end=end,
                       max_frames=replay.get("frames") or None, world_frame=world_frame, config=config)


class BagAnswerer:
    """Wraps an answerer so that it sees the bag's frames instead of the sample's own media."""

    def __init__(self, answerer: Answerer, bag: str | Path) -> None:
        self.answerer = answerer
        self.bag = bag

    def __call__(self, sample: Sample, videos: list[FrameSet]) -> Answer:
        return self.answerer(sample, frames_for(self.bag, sample))


def replay_offline(bag: str | Path, samples: list[Sample], answerer: Answerer, out_dir: str | Path, executor: str,
                   concurrency: int = 4) -> RunResult:
    return run_samples(samples, BagAnswerer(answerer, bag), out_dir, executor, concurrency=concurrency, load_media=False)


def replay_online(bag: str | Path, samples: list[Sample], out_dir: str | Path, **options) -> list[Prediction]:
    from spatialclaw_ros.ros.replay import replay_into_node  # imports rclpy

    return replay_into_node(bag, samples, out_dir, **options)
