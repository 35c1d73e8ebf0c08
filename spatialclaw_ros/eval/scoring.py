"""Scoring: one sample at a time, then each benchmark's official way of averaging.

Reading an answer out of a reply comes in two modes (`AnswerMode`): `official`, each benchmark's
own extraction (`benchmarks/official.py`), and `lenient`, our reader (`agent/answers.py`) for every
benchmark. This module holds what both share: the metrics a read answer is scored by, and the
aggregation. `score_response` is the lenient scorer.

Per sample, by `Sample.metric`:
- `accuracy`: 1 if the read answer equals the truth (counts: after rounding), else 0;
- `mra`: Mean Relative Accuracy as VSI-Bench's official code computes it;
- `mra_strict`: Omni3D-Bench's variant: thresholds 0.50 ... 0.05 with a strict `<`;
- `vci`: SPAR-Bench's view_change_infer: MRA per signed motion axis, averaged over five axes.
A true answer of 0 has no relative error; each benchmark says how it scores one in
`extra["zero_answer"]` (`ZERO_RULES`).

Per benchmark (`Aggregation`):
- "mean": plain mean over samples (DSI-Bench scores each of its 4 video variants as a sample);
- "category_macro": mean of per-category means (BLINK averages its sub-tasks, VSTI-Bench and
  SPBench their question types, SPAR-Bench its tasks; VSI-Bench averages its question types
  after first averaging the three relative-direction levels into one, which
  `category_parents` expresses);
- "video_mme_v2_groups": Video-MME-v2's grouped non-linear credit, one value per group of four
  questions about a video, averaged over groups (see `video_mme_v2_group_credit`).
A benchmark may report further named figures beside its headline (`secondary`), never instead.
"""

from __future__ import annotations

import ast
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from spatialclaw_ros.agent.answers import answer_spans, normalize_answer, parse_number
from spatialclaw_ros.eval.records import Prediction, Sample

Aggregation = Literal["mean", "category_macro", "video_mme_v2_groups"]
AnswerMode = Literal["official", "lenient"]
ANSWER_MODES: tuple[str, ...] = ("official", "lenient")

# Flags a scored sample may carry; the report counts them per benchmark.
ZERO_ANSWER = "zero_answer"  # the true answer is 0, scored by the benchmark's zero rule
# the answer is a structured text (SPAR-Bench view_change_infer)
STRUCTURED_ANSWER = "structured_answer"
# answered from fewer frames than the question asked for (online replay: frames that never arrived)
FEWER_FRAMES = "fewer_frames"


def mean_relative_accuracy(
    pred: float, target: float, start: float = 0.5, end: float = 0.95, interval: float = 0.05
) -> float:
    """VSI-Bench's MRA: the share of confidence thresholds t in [start, end] with
    |pred - target| / target <= 1 - t. The threshold count comes from the same float expression the
    official code uses ((0.95 - 0.5) / 0.05 + 2 truncates to 10), and the comparison runs on the
    same float values, so results on exact boundaries match the official numbers."""
    return _passed_share(abs(pred - target) / abs(target), start, end, interval)


def _passed_share(
    relative_error: float, start: float = 0.5, end: float = 0.95, interval: float = 0.05
) -> float:
    thresholds = np.linspace(start, end, int((end - start) / interval + 2))
    return float((relative_error <= 1 - thresholds).mean())


# Omni3D-Bench's thresholds on the relative error, written out as its evaluation lists them (a
# linspace would give 0.15000000000000002 and move boundary cases).
STRICT_THRESHOLDS = (0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2, 0.15, 0.1, 0.05)


def strict_threshold_accuracy(pred: float, target: float) -> float:
    """Omni3D-Bench's float score: the share of thresholds the relative error is strictly below;
    at a true 0 the error is |pred|."""
    error = abs(pred) if target == 0 else abs(pred - target) / abs(target)
    return sum(error < t for t in STRICT_THRESHOLDS) / len(STRICT_THRESHOLDS)


# How a true answer of 0 is scored, by benchmark (`extra["zero_answer"]`):
# - "no_credit": always 0 (VSI-Bench, VSTI-Bench, SPBench, SpatialTree skip the relative error);
# - "exact": 1 only for a prediction of exactly 0 (OSI-Bench's non-motion categories);
# - "absolute_error": |pred| takes the relative error's place (SPAR-Bench);
# - "below:<t>": 1 for a prediction below t, else MRA against t (OSI-Bench's motion categories).
ZERO_RULES = ("no_credit", "exact", "absolute_error", "below:<t>")
DEFAULT_ZERO_RULE = "exact"


def zero_answer_score(value: float, rule: str) -> float:
    """The score of `value` against a true answer of 0 under `rule` (one of `ZERO_RULES`)."""
    if rule == "no_credit":
        return 0.0
    if rule == "exact":
        return float(value == 0)
    if rule == "absolute_error":
        return _passed_share(abs(value))
    if rule.startswith("below:"):
        threshold = float(rule.split(":", 1)[1])
        return 1.0 if value < threshold else mean_relative_accuracy(value, threshold)
    raise ValueError(f"unknown zero-answer rule {rule!r}; expected one of {ZERO_RULES}")


@dataclass(frozen=True)
class SampleScore:
    prediction: str  # the read answer ("" when nothing could be read)
    score: float
    flags: tuple[str, ...] = ()


def numeric_score(sample: Sample, value: float | None) -> SampleScore:
    """A read number scored by the sample's metric (mra, mra_strict, or exact count)."""
    flags = (ZERO_ANSWER,) if float(sample.answer) == 0 and sample.metric != "accuracy" else ()
    if value is None or not np.isfinite(value):
        return SampleScore("", 0.0, flags)
    target = float(sample.answer)
    if sample.metric == "mra_strict":
        score = strict_threshold_accuracy(value, target)
    elif sample.metric == "mra":
        if target == 0:
            score = zero_answer_score(
                value, str(sample.extra.get("zero_answer", DEFAULT_ZERO_RULE))
            )
        else:
            score = mean_relative_accuracy(value, target)
    else:
        score = float(round(value) == round(target))
    return SampleScore(format(value, "g"), score, flags)


# SPAR-Bench view_change_infer: an answer names signed amounts along five axes, each with its
# opposite ("move_right:0.4,turn_left:12"); an axis not named is 0.
VIEW_CHANGE_AXES = {
    "move_right": "move_left",
    "move_up": "move_down",
    "move_forward": "move_backward",
    "turn_right": "turn_left",
    "turn_up": "turn_down",
}


def parse_view_change(text: str) -> dict[str, float]:
    """'move_right:0.5,turn_left:10' -> the signed amount on each of the five axes (unnamed: 0).
    Pairs that do not read as `name:number` are skipped, as SPAR-Bench's evaluation skips them."""
    named: dict[str, float] = {}
    for pair in str(text).replace(" ", "").split(","):
        key, sep, raw = pair.partition(":")
        if not sep:
            continue
        try:
            named[key] = float(raw)
        except ValueError:
            continue
    return {
        axis: named.get(axis, 0.0) - named.get(opposite, 0.0)
        for axis, opposite in VIEW_CHANGE_AXES.items()
    }


def view_change_score(response: str, answer: str) -> float:
    """MRA per axis (an axis whose truth is 0 takes the absolute error), averaged over the axes."""
    pred, truth = parse_view_change(response), parse_view_change(answer)
    per_axis = [
        zero_answer_score(pred[a], "absolute_error")
        if truth[a] == 0
        else mean_relative_accuracy(pred[a], truth[a])
        for a in VIEW_CHANGE_AXES
    ]
    return float(np.mean(per_axis))


def score_response(sample: Sample, response: str | float | int | None) -> SampleScore:
    """Score one reply against a sample's ground truth, reading it with the lenient reader."""
    if sample.answer_type == "number":
        if isinstance(response, (int, float)):
            return numeric_score(sample, float(response))
        return numeric_score(sample, parse_number(str(response or ""), sample.unit_kind))
    text = "" if response is None else str(response)
    if sample.metric == "vci":
        spans = answer_spans(text)
        read = spans[0] if spans else text.strip()
        return SampleScore(read, view_change_score(read, str(sample.answer)), (STRUCTURED_ANSWER,))
    prediction = normalize_answer(text, sample.options, sample.answer_type)
    if sample.answer_type == "mc":  # the answer already is the letter
        expected = str(sample.answer)
    else:
        expected = normalize_answer(str(sample.answer), sample.options, sample.answer_type)
    return SampleScore(prediction, float(bool(prediction) and prediction == expected))


# Video-MME-v2 credit by how many questions of a group count as right, out of four. A "relevance"
# group counts its right answers; a "logic" group counts the unbroken chain of right answers from
# its first question, where its structure marks steps that may be solved in either order.
_SQUARES = (0.0, 1 / 16, 4 / 16, 9 / 16, 1.0)
_LOGIC_CREDIT = {
    "[1, 2, 3, 4]": _SQUARES,
    "[1, [2, 3], 4]": (0.0, 1 / 12, 4 / 12, 7 / 12, 1.0),
    "[[1, 2], 3, 4]": (0.0, 1 / 10, 2 / 10, 5 / 10, 1.0),
}


def video_mme_v2_group_credit(
    right: list[bool], group_type: str, structure: str = "[1, 2, 3, 4]"
) -> float:
    """Credit (0..1) of one Video-MME-v2 group; `right` lists its questions in order."""
    if group_type == "relevance":
        return _SQUARES[sum(right)]
    if group_type != "logic":
        raise ValueError(f"unknown Video-MME-v2 group type {group_type!r}")
    key = str(ast.literal_eval(structure)) if isinstance(structure, str) else str(structure)
    if key not in _LOGIC_CREDIT:
        raise ValueError(f"unknown Video-MME-v2 group structure {structure!r}")
    chain = next((i for i, ok in enumerate(right) if not ok), len(right))
    if key == "[1, [2, 3], 4]" and chain == 1 and right[2]:
        chain = 2  # steps 2 and 3 are parallel: the chain may continue through step 3
    if key == "[[1, 2], 3, 4]" and chain == 0 and right[1]:
        chain = 1  # steps 1 and 2 are parallel: the chain may start at step 2
    return _LOGIC_CREDIT[key][chain]


# The error code of a benchmark row that could not be read into a sample. Such a record is
# counted with the failures but not scored: there is no question, hence no category to put a 0 in.
ROW_UNREADABLE = "row_unreadable"


@dataclass
class BenchmarkScore:
    benchmark: str
    score: float  # 0..1 by the benchmark's own aggregation
    n: int  # samples scored
    per_category: dict[str, float] = field(default_factory=dict)
    # samples whose episode, media or scoring failed (scored 0), and unreadable rows (not scored)
    errors: int = 0
    errors_by_code: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)  # e.g. how many true answers of 0
    # further named figures, never the headline
    secondary: dict[str, float] = field(default_factory=dict)


def aggregate(
    benchmark: str,
    predictions: Iterable[Prediction],
    how: Aggregation = "mean",
    category_parents: Mapping[str, str] | None = None,
    secondary: Mapping[str, Aggregation] | None = None,
) -> BenchmarkScore:
    """A benchmark's score by its own rule. `category_parents` maps a category to the one it is
    averaged into first (for "category_macro"); `secondary` names further figures to compute."""
    records = list(predictions)
    errors = Counter(p.error for p in records if p.error)
    rows = [p for p in records if p.error != ROW_UNREADABLE]
    if not rows:
        return BenchmarkScore(
            benchmark, float("nan"), 0, errors=sum(errors.values()), errors_by_code=dict(errors)
        )
    by_category: dict[str, list[float]] = defaultdict(list)
    for p in rows:
        by_category[p.category or "all"].append(p.score)
    per_category = {c: float(np.mean(v)) for c, v in sorted(by_category.items())}
    flags = Counter(flag for p in rows for flag in p.flags)
    fewer_frames = sum(1 for p in rows if p.frames_note)
    if fewer_frames:
        flags[FEWER_FRAMES] = fewer_frames
    return BenchmarkScore(
        benchmark,
        _aggregate_scores(rows, per_category, how, category_parents),
        len(rows),
        per_category,
        sum(errors.values()),
        dict(sorted(errors.items())),
        dict(sorted(flags.items())),
        {
            name: _aggregate_scores(rows, per_category, rule)
            for name, rule in (secondary or {}).items()
        },
    )


def _aggregate_scores(
    rows: list[Prediction],
    per_category: dict[str, float],
    how: Aggregation,
    category_parents: Mapping[str, str] | None = None,
) -> float:
    if how == "mean":
        return float(np.mean([p.score for p in rows]))
    if how == "category_macro":
        parents: dict[str, list[float]] = defaultdict(list)
        for category, value in per_category.items():
            parents[(category_parents or {}).get(category, category)].append(value)
        return float(np.mean([np.mean(v) for v in parents.values()]))
    if how == "video_mme_v2_groups":
        return float(np.mean(_video_mme_v2_credits(rows)))
    raise ValueError(f"unknown aggregation {how!r}")


def _video_mme_v2_credits(rows: list[Prediction]) -> list[float]:
    groups: dict[str, list[Prediction]] = defaultdict(list)
    for p in rows:
        groups[p.group_id or p.sample_id].append(p)
    group_credits = []
    for key, members in groups.items():
        members.sort(key=lambda p: p.group_info.get("position", 0))
        info = members[0].group_info
        if "type" not in info:
            raise ValueError(f"Video-MME-v2 group {key}: predictions carry no group type")
        group_credits.append(
            video_mme_v2_group_credit(
                [p.score >= 1.0 for p in members],
                info["type"],
                info.get("structure", "[1, 2, 3, 4]"),
            )
        )
    return group_credits
