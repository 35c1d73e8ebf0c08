"""Scoring questions against a recorded bag.

Offline mode reads the bag directly (no ROS, `spatialclaw_ros.frames.bags`): each question's frames
are the bag's frames inside its time window (`extra["replay"]["window"]`, [start, end] seconds of
bag time; the whole bag when absent), per camera in `extra["replay"]["cameras"]` (default: every
camera the bag has). Online mode, which plays the bag into the running agent node and sends each
question as an action goal, is `spatialclaw_ros.ros.replay` (ros/ uses eval/, never the reverse).

Questions come as JSON lines in the layout of `bag_questions.schema.json` (id, question, answer,
options, window, ...; see docs/ros.md), or as the sample records `spatialclaw synthetic bag`
exports.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from spatialclaw_ros.eval.answerers import Answer, Answerer
from spatialclaw_ros.eval.records import (
    AnswerType,
    Metric,
    Sample,
    iter_json_lines,
    option_letter,
)
from spatialclaw_ros.eval.runner import RunResult, run_samples
from spatialclaw_ros.frames import FrameSet
from spatialclaw_ros.frames.bags import BagError, bag_range, bag_time, read_frames
from spatialclaw_ros.frames.codec import ImageError

SCHEMA_PATH = Path(__file__).with_name("bag_questions.schema.json")
_ASK_AFTER_S = 0.5  # online replay asks this long after a question's window ends
_LETTER_PREFIX = re.compile(r"^\(?([A-Za-z])(?:\)|\.|:)\s+")
# unit -> (the unit scored in, factor into it)
_UNITS = {
    "m": ("m", 1.0),
    "cm": ("m", 0.01),
    "mm": ("m", 0.001),
    "deg": ("deg", 1.0),
    "rad": ("deg", 180 / math.pi),
    "s": ("s", 1.0),
    "count": (None, 1.0),
    "": (None, 1.0),
}


def frames_for(
    bag: str | Path, sample: Sample, config: str | Path | None = None, world_frame: str = ""
) -> list[FrameSet]:
    """The bag's frames inside the sample's replay window, per camera (all cameras when none are
    named)."""
    replay = sample.extra.get("replay") or {}
    start, end = replay.get("window") or (None, None)
    return read_frames(
        bag,
        cameras=replay.get("cameras") or None,
        start=start,
        end=end,
        max_frames=replay.get("frames") or None,
        world_frame=world_frame,
        config=config,
    )


class BagAnswerer:
    """Wraps an answerer so that it sees the bag's frames instead of the sample's own media. A
    question whose frames cannot be read fails with the cause (topic, encoding, TF link), which is
    also printed, since that is what a user has to fix."""

    def __init__(
        self,
        answerer: Answerer,
        bag: str | Path,
        config: str | Path | None = None,
        world_frame: str = "",
    ) -> None:
        self.answerer = answerer
        self.bag = bag
        self.config = config
        self.world_frame = world_frame

    def __call__(self, sample: Sample, videos: list[FrameSet]) -> Answer:
        try:
            frames = frames_for(self.bag, sample, self.config, self.world_frame)
        except (BagError, ImageError) as error:
            print(f"[replay] {sample.id}: {error}", file=sys.stderr)
            return Answer("", error="bad_request", error_message=str(error))
        answer = self.answerer(sample, frames)
        if answer.error:
            print(f"[replay] {sample.id}: {answer.error}: {answer.error_message}", file=sys.stderr)
        return answer


def replay_offline(
    bag: str | Path,
    samples: list[Sample],
    answerer: Answerer,
    out_dir: str | Path,
    executor: str,
    concurrency: int = 4,
    config: str | Path | None = None,
    world_frame: str = "",
) -> RunResult:
    return run_samples(
        samples,
        BagAnswerer(answerer, bag, config, world_frame),
        out_dir,
        executor,
        concurrency=concurrency,
        load_media=False,
    )


# ---- questions files ---------------------------------------------------------------------------


def check_questions(path: str | Path) -> list[str]:
    """Every problem of a questions file, as "<file>:<line>: what is wrong" (empty when it is
    fine).
    Times are not checked against a bag here; `load_questions` does that."""
    problems = []
    seen: set[object] = set()  # ids as written, whatever their type
    try:
        for lineno, data in iter_json_lines(Path(path)):
            try:
                _sample_from_line(data, bag_start=0.0, bag_end=0.0)
            except (TypeError, ValueError) as error:
                problems.append(f"{path}:{lineno}: {error}")
            question_id = data.get("id") if isinstance(data, dict) else None
            if question_id in seen:
                problems.append(f"{path}:{lineno}: id {question_id!r} appears twice")
            seen.add(question_id)
    except (OSError, ValueError) as error:
        problems.append(str(error))
    return problems


def load_questions(path: str | Path, bag: str | Path) -> list[Sample]:
    """The questions of `path` as samples, their times resolved against `bag`'s time range."""
    start, end = bag_range(bag)
    samples = []
    for lineno, data in iter_json_lines(Path(path)):
        try:
            samples.append(_sample_from_line(data, start, end))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}:{lineno}: {error}") from None
    if not samples:
        raise ValueError(f"{path} holds no questions")
    return samples


def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


def _sample_from_line(data: Any, bag_start: float, bag_end: float) -> Sample:
    if not isinstance(data, dict):
        raise ValueError(f"each line must be a JSON object, got {type(data).__name__}")
    if "answer_type" in data:  # a full sample record (`spatialclaw synthetic bag` exports these)
        return Sample.from_dict(data)
    _validate(data)
    options, answer_type, answer, metric, unit = _answer(data)
    base = data.get("time_base", "auto")
    window = (
        [bag_time(v, bag_start, base) for v in data["window"]]
        if "window" in data
        else [bag_start, bag_end]
    )
    if window[1] < window[0]:
        raise ValueError(f"question {data['id']}: window ends before it starts: {data['window']}")
    replay: dict[str, Any] = {
        "window": window,
        "stamp": bag_time(data["ask_at"], bag_start, base)
        if "ask_at" in data
        else window[1] + _ASK_AFTER_S,
    }
    for key in ("cameras", "frames"):
        if key in data:
            replay[key] = data[key]
    return Sample(
        id=data["id"],
        benchmark="bag",
        question=data["question"],
        answer=answer,
        answer_type=answer_type,
        metric=metric,
        category=data.get("category", ""),
        options=options,
        unit=unit,
        extra={"replay": replay},
    )


def _validate(data: dict[str, Any]) -> None:
    import jsonschema

    schema = _schema()
    unknown = sorted(set(data) - set(schema["properties"]))
    if unknown:
        raise ValueError(
            f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(schema['properties'])}"
        )
    try:
        jsonschema.validate(data, schema)
    except jsonschema.ValidationError as error:
        where = ".".join(str(p) for p in error.absolute_path) or "the line"
        raise ValueError(f"{where}: {error.message}") from None


def _answer(
    data: dict[str, Any],
) -> tuple[list[str], AnswerType, str | float, Metric, str | None]:
    """(options, answer type, answer, metric, unit) of a question line."""
    options = _strip_letters(data.get("options") or [])
    answer = data.get("answer", "")
    if options:
        letters = [option_letter(i) for i in range(len(options))]
        text = str(answer).strip()
        if text.upper() in letters:
            return options, "mc", text.upper(), "accuracy", None
        stripped = _LETTER_PREFIX.sub("", text).lower()
        named = [
            letter
            for letter, option in zip(letters, options, strict=True)
            if option.lower() == stripped
        ]
        if len(named) != 1:
            raise ValueError(
                f"question {data['id']}: answer {answer!r} is neither a letter "
                f"({', '.join(letters)}) "
                f"nor one option's text"
            )
        return options, "mc", named[0], "accuracy", None
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        unit, factor = _UNITS[data.get("unit", "")]
        return [], "number", float(answer) * factor, "mra", unit
    if str(answer).strip().lower() in ("yes", "no"):
        return [], "yes_no", str(answer).strip().lower(), "accuracy", None
    return [], "text", str(answer), "accuracy", None


def _strip_letters(options: list[str]) -> list[str]:
    """["A. left", "B. right"] -> ["left", "right"]: only when each option starts with its own
    letter."""
    matches = [_LETTER_PREFIX.match(o.strip()) for o in options]
    if options and all(
        m and m.group(1).upper() == option_letter(i) for i, m in enumerate(matches)
    ):
        return [_LETTER_PREFIX.sub("", o.strip()) for o in options]
    return [o.strip() for o in options]
