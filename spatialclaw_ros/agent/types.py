"""What goes into an episode and what comes out of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from spatialclaw_ros.perception.types import Box3D, ObjectDistance

Stage = Literal["planning", "coding", "executing", "answering"]
ErrorCode = Literal[
    "bad_request",
    "vlm_unavailable",
    "perception_failed",
    "timed_out",
    "canceled",
    "internal",
    "unsupported_question",
]
ERROR_CODES: tuple[str, ...] = get_args(ErrorCode)


@dataclass
class Question:
    """A question about the frames; `choices` are option texts (letters A, B, ... in order)."""

    text: str
    choices: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.text = (self.text or "").strip()
        if not self.text:
            raise ValueError("the question is empty")
        self.choices = [str(c).strip() for c in self.choices]
        if len(self.choices) == 1:
            raise ValueError("a multiple-choice question needs at least two choices")
        if len(self.choices) > 26:
            raise ValueError(f"at most 26 choices (letters A-Z), got {len(self.choices)}")
        if any(not c for c in self.choices):
            raise ValueError("a choice is empty")

    @property
    def letters(self) -> list[str]:
        return [chr(ord("A") + i) for i in range(len(self.choices))]

    def render(self) -> str:
        """The question as the VLM reads it, with lettered options."""
        if not self.choices:
            return self.text
        options = "\n".join(
            f"{letter}. {choice}"
            for letter, choice in zip(self.letters, self.choices, strict=True)
        )
        return f"{self.text}\nOptions:\n{options}"


@dataclass
class ProgressEvent:
    """One stage of an episode, as it happens (ROS action feedback, CLI progress)."""

    stage: Stage
    step: int
    code: str = ""
    observation: str = ""
    elapsed: float = 0.0


@dataclass(frozen=True)
class EpisodeError:
    code: ErrorCode
    message: str

    def __post_init__(self) -> None:
        if self.code not in ERROR_CODES:
            raise ValueError(f"unknown episode error code {self.code!r}")


@dataclass
class StepRecord:
    """One executed cell, for reports and the trace."""

    step: int
    code: str
    status: str
    observation: str  # the most telling line: the error's message or the last printed line
    elapsed: float
    error_kind: str | None = None

    @classmethod
    def of(cls, step: int, code: str, result: Any) -> StepRecord:
        """From the kernel's StepResult of that cell."""
        lines = [
            line
            for line in (result.error or result.stdout or "").strip().splitlines()
            if line.strip()
        ]
        return cls(
            step,
            code,
            result.status,
            lines[-1][:200] if lines else "",
            result.elapsed,
            result.error_kind,
        )


@dataclass
class TokenUsage:
    prompt: int = 0
    completion: int = 0
    calls: int = 0

    @property
    def total(self) -> int:
        return self.prompt + self.completion

    def add(self, prompt: int, completion: int) -> None:
        self.prompt += prompt
        self.completion += completion
        self.calls += 1


@dataclass
class EpisodeTimings:
    """Where an episode's wall time went (seconds). The parts do not overlap; `agent_s` is the
    rest: the graph, prompts, answer handling and whatever no other part accounts for."""

    total_s: float = 0.0
    vlm_s: float = 0.0  # waiting on the VLM endpoint, retries and kernel sub-queries included
    # cells running in the kernel (perception included), less their VLM sub-queries
    cells_s: float = 0.0
    kernel_wait_s: float = 0.0  # cells waiting for the kernel's worker to finish starting
    trace_s: float = 0.0  # writing the trace (events, images, report)

    @property
    def agent_s(self) -> float:
        return max(
            0.0, self.total_s - self.vlm_s - self.cells_s - self.kernel_wait_s - self.trace_s
        )


@dataclass
class Episode:
    """The outcome of one question. `answer` is "" when `error` is set and nothing was answered."""

    question: Question
    answer: str = ""
    # the answer as a number, when it is one (metres/degrees/seconds/count)
    value: float | None = None
    unit: str = ""
    objects: list[Box3D] = field(default_factory=list)
    distances: list[ObjectDistance] = field(default_factory=list)
    images: list[np.ndarray] = field(default_factory=list)
    steps: int = 0
    used_fallback: bool = False
    trace_path: str | None = None
    error: EpisodeError | None = None
    elapsed: float = 0.0
    tokens: TokenUsage = field(default_factory=TokenUsage)
    executor: str = "code"
    history: list[StepRecord] = field(default_factory=list)
    raw_answer: str = ""  # what the executor produced before answer normalisation
    timings: EpisodeTimings = field(default_factory=EpisodeTimings)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Outcome:
    """What an executor hands the Agent, before answer normalisation."""

    raw_answer: str | int | float | None
    used_fallback: bool = False
    history: list[StepRecord] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)  # the kernel's StepResults, in order
    failure: EpisodeError | None = None
