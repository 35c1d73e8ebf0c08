"""What answers a sample during evaluation: the agent (any of its executors) or a seeded random
picker that measures chance level. Only the random picker lives here; it is not an agent
executor."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from spatialclaw_ros.agent.config import EXECUTORS as AGENT_EXECUTORS
from spatialclaw_ros.eval.records import Sample
from spatialclaw_ros.frames import FrameSet

EXECUTORS = (*AGENT_EXECUTORS, "random")


@dataclass
class Answer:
    response: str
    error: str | None = None  # episode error code
    error_message: str = ""
    steps: int = 0
    elapsed: float = 0.0
    trace_path: str | None = None
    frames_used: int = 0  # the frames the answer was computed from, all cameras together
    frames_note: str = ""  # why fewer frames were used than the question asked for


class Answerer(Protocol):
    def __call__(self, sample: Sample, videos: list[FrameSet]) -> Answer: ...


class RandomAnswerer:
    """Picks an option (or yes/no) uniformly, seeded by the run seed and the sample id, so a rerun
    gives the same answers. Numeric questions get a draw from 0..10 (no meaningful chance
    level)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def __call__(self, sample: Sample, videos: list[FrameSet]) -> Answer:
        rng = random.Random(f"{self.seed}:{sample.benchmark}:{sample.id}")
        if sample.answer_type == "mc":
            response = rng.choice(sample.letters)
        elif sample.answer_type == "yes_no":
            response = rng.choice(["yes", "no"])
        elif sample.answer_type == "number":
            response = format(rng.uniform(0.0, 10.0), ".3f")
        else:
            response = ""
        return Answer(response)


class AgentAnswerer:
    """Runs one agent episode per sample. Each worker thread gets its own Agent (its own VLM
    client and kernel state); perception is shared so models load once."""

    def __init__(self, config: Any, perception: Any) -> None:
        self.config = config
        self.perception = perception
        self._local = threading.local()

    def __call__(self, sample: Sample, videos: list[FrameSet]) -> Answer:
        from spatialclaw_ros.agent import Agent, Question

        agent = getattr(self._local, "agent", None)
        if agent is None:
            agent = self._local.agent = Agent(self.config, self.perception)
        started = time.monotonic()
        episode = agent.run(Question(sample.question, list(sample.options)), videos)
        error = episode.error
        return Answer(
            response=episode.answer,
            error=error.code if error else None,
            error_message=error.message if error else "",
            steps=episode.steps,
            elapsed=time.monotonic() - started,
            trace_path=episode.trace_path,
            frames_used=sum(len(video) for video in videos),
        )


def build_answerer(
    executor: str,
    seed: int = 0,
    *,
    config_path: str | None = None,
    overrides: dict | None = None,
    reconstruct_backend: str = "da3",
    segment_backend: str = "sam3",
    trace_dir: str | None = None,
) -> Answerer:
    """The answerer for `executor`; agent executors build the agent and perception from config."""
    if executor == "random":
        return RandomAnswerer(seed)
    if executor not in AGENT_EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
    from spatialclaw_ros.agent import AgentConfig
    from spatialclaw_ros.perception import PerceptionConfig, build_perception

    config = AgentConfig.load(
        config_path, {**(overrides or {}), "executor": executor, "trace_dir": trace_dir}
    )
    # .load: SPATIALCLAW_PERCEPTION_* apply too, e.g. SERVICE_URL + TOKEN for a perception service
    perception = build_perception(
        PerceptionConfig.load(
            overrides={
                "reconstruct_backend": reconstruct_backend,
                "segment_backend": segment_backend,
            }
        )
    )
    return AgentAnswerer(config, perception)
