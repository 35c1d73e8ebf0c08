"""Scoring: one sample at a time, then each benchmark's official way of averaging.

Per sample:
- multiple choice, yes/no, text: 1 if the normalised prediction equals the answer, else 0;
- numeric with the `mra` metric: Mean Relative Accuracy computed as VSI-Bench's official code does;
- numeric with the `accuracy` metric (counts): exact after rounding to the nearest integer.

Per benchmark (`Aggregation`):
- "mean": plain mean over samples (DSI-Bench scores each of its 4 video variants as a sample);
- "category_macro": mean of per-category means (BLINK averages its sub-tasks; VSI-Bench averages its
  question types after first averaging the three relative-direction levels into one, which
  `category_parents` expresses);
- "video_mme_v2_groups": Video-MME-v2's grouped non-linear credit, one value per group of four
  questions about a video, averaged over groups (see `video_mme_v2_group_credit`).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from spatialclaw_ros.agent.answers import normalize_answer, parse_number
from spatialclaw_ros.eval.records import Prediction, Sample

Aggregation = Literal["mean", "category_macro", "video_mme_v2_groups"]


def mean_relative_accuracy(pred: float, target: float, start: float = 0.5, end: float = 0.95, interval: float = 0.05) -> float:
    """VSI-Bench's MRA: the share of confidence thresholds t in [start, end] with
    |pred - target| / target <= 1 - t. The threshold count comes from the same float expression the
    official code uses ((0.95 - 0.5) / 0.05 + 2 truncates to 10), and the comparison runs on the
    same float values, so results on exact boundaries match the official numbers."""
    thresholds = np.linspace(start, end, int((end - start) / interval + 2))
    relative_error = abs(pred - target) / abs(target)
    return float((relative_error <= 1 - thresholds).mean())


@dataclass(frozen=True)
class SampleScore:
    prediction: str  # normalised prediction ("" when nothing could be read)
    score: float


def score_response(sample: Sample, response: str | float | int | None) -> SampleScore:
    """Score one answer against a sample's ground truth."""
    if sample.answer_type == "number":
        value = parse_number(response if isinstance(response, (int, float)) else str(response or ""), sample.unit_kind)
        if value is None or not np.isfinite(value):
            return SampleScore("", 0.0)
        target = float(sample.answer)
        if sample.metric == "mra":
            if target == 0:
                return SampleScore(format(value, "g"), _zero_answer_score(sample, value))
            return SampleScore(format(value, "g"), mean_relative_accuracy(value, target))
        return SampleScore(format(value, "g"), float(round(value) == round(target)))
    prediction = normalize_answer(response, sample.options, sample.answer_type)
    if sample.answer_type == "mc":  # the answer already is the letter
        expected = str(sample.answer)
    else:
        expected = normalize_answer(str(sample.answer), sample.options, sample.answer_type)
    return SampleScore(prediction, float(bool(prediction) and prediction == expected))


def _zero_answer_score(sample: Sample, value: float) -> float:
    """Relative error is undefined at 0, so a benchmark with zero answers says how to score them in
    `extra["zero_threshold"]` (OSI-Bench's rule): 0 means only an exact 0 is right; a positive t
    means a prediction below t is right and any other is scored by MRA against t."""
    threshold = sample.extra.get("zero_threshold")
    if threshold is None:
        raise ValueError(
            f"sample {sample.id}: the true answer is 0, where relative accuracy is undefined; "
            "its benchmark must set extra['zero_threshold']"
        )
    threshold = float(threshold)
    if threshold == 0:
        return float(value == 0)
    return 1.0 if value < threshold else mean_relative_accuracy(value, threshold)


# Video-MME-v2 credit by how many questions of a group count as right, out of four. A "relevance"
# group counts its right answers; a "logic" group counts the unbroken chain of right answers from
# its first question, where its structure marks steps that may be solved in either order.
_SQUARES = (0.0, 1 / 16, 4 / 16, 9 / 16, 1.0)
_LOGIC_CREDIT = {
    "[1, 2, 3, 4]": _SQUARES,
    "[1, [2, 3], 4]": (0.0, 1 / 12, 4 / 12, 7 / 12, 1.0),
    "[[1, 2], 3, 4]": (0.0, 1 / 10, 2 / 10, 5 / 10, 1.0),
}


def video_mme_v2_group_credit(right: list[bool], group_type: str, structure: str = "[1, 2, 3, 4]") -> float:
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


@dataclass
class BenchmarkScore:
    benchmark: str
    score: float  # 0..1 by the benchmark's own aggregation
    n: int  # samples scored
    per_category: dict[str, float] = field(default_factory=dict)
    errors: int = 0  # episodes that ended in an error (scored 0)


def aggregate(benchmark: str, predictions: Iterable[Prediction], how: Aggregation = "mean",
              category_parents: Mapping[str, str] | None = None) -> BenchmarkScore:
    """A benchmark's score by its own rule. `category_parents` maps a category to the one it is
    averaged into first (for "category_macro")."""
    rows = list(predictions)
    if not rows:
        return BenchmarkScore(benchmark, float("nan"), 0)
    by_category: dict[str, list[float]] = defaultdict(list)
    for p in rows:
        by_category[p.category or "all"].append(p.score)
    per_category = {c: float(np.mean(v)) for c, v in sorted(by_category.items())}
    if how == "mean":
        score = float(np.mean([p.score for p in rows]))
    elif how == "category_macro":
        parents: dict[str, list[float]] = defaultdict(list)
        for category, value in per_category.items():
            parents[(category_parents or {}).get(category, category)].append(value)
        score = float(np.mean([np.mean(v) for v in parents.values()]))
    elif how == "video_mme_v2_groups":
        score = float(np.mean(_video_mme_v2_credits(rows)))
    else:
        raise ValueError(f"unknown aggregation {how!r}")
    errors = sum(1 for p in rows if p.error)
    return BenchmarkScore(benchmark, score, len(rows), per_category, errors)


def _video_mme_v2_credits(rows: list[Prediction]) -> list[float]:
    groups: dict[str, list[Prediction]] = defaultdict(list)
    for p in rows:
        groups[p.group_id or p.sample_id].append(p)
    credits = []
    for key, members in groups.items():
        members.sort(key=lambda p: p.group_info.get("position", 0))
        info = members[0].group_info
        if "type" not in info:
            raise ValueError(f"Video-MME-v2 group {key}: predictions carry no group type")
        credits.append(video_mme_v2_group_credit([p.score >= 1.0 for p in members], info["type"],
                                                 info.get("structure", "[1, 2, 3, 4]")))
    return credits
