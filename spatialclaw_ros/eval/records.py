"""The one record every benchmark is turned into, and the prediction the runner writes for it.

A `Sample` is one question with its media and ground truth. Adapters (one per benchmark) read a
benchmark's published layout and yield samples; the synthetic generator writes samples directly.
Samples serialise to one JSON object per line, so a benchmark can be stored as `samples.jsonl`.

Conventions:
- `media` is a list of view groups; each group becomes one `FrameSet` (one `InputImages_k` in the
  kernel). A group is a list of image files, one video file, or a saved frame set (`.npz`, see
  `spatialclaw_ros.eval.framesets`) that keeps depth, poses and label images.
- `options` hold the choice texts without letters; the letters are A, B, C, ... in order.
  For multiple choice `answer` is the letter.
- `category` is the question's type inside its benchmark (e.g. "object_rel_distance"); the
  paper's benchmark families ("single image", "video / 4D", ...) come from the adapter registry.
- `metric` says how a read answer is scored (see `scoring`): `accuracy` (exact), `mra` (VSI-Bench's
  Mean Relative Accuracy), `mra_strict` (Omni3D-Bench's thresholds 0.50 ... 0.05 with a strict
  `<`), `vci` (SPAR-Bench's view_change_infer: MRA over five signed motion axes, the answer a
  structured text such as "move_right:0.5,turn_left:10").
- `extra` holds what a benchmark's scoring needs beyond the answer: `zero_answer` (how a true
  answer of 0 is scored, see `scoring.ZERO_RULES`), `group_info` (a question's place in a scored
  group: `type`, `structure`, `position`; copied onto its Prediction), and per-benchmark fields its
  official answer reading needs (named in `benchmarks/official.py`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from spatialclaw_ros.agent.answers import as_unit

AnswerType = Literal["mc", "number", "yes_no", "text"]
Metric = Literal["accuracy", "mra", "mra_strict", "vci"]
MediaKind = Literal["images", "video", "frameset"]

ANSWER_TYPES: tuple[str, ...] = ("mc", "number", "yes_no", "text")
METRICS: tuple[str, ...] = ("accuracy", "mra", "mra_strict", "vci")
MEDIA_KINDS: tuple[str, ...] = ("images", "video", "frameset")


def option_letter(index: int) -> str:
    return chr(ord("A") + index)


@dataclass
class MediaGroup:
    """One view group: what becomes one frame set for the agent.

    `camera` names the view (e.g. "front", "video_2"). Videos are sampled evenly when loaded.
    """

    kind: MediaKind
    paths: list[str]
    camera: str = "camera"

    def __post_init__(self) -> None:
        if self.kind not in MEDIA_KINDS:
            raise ValueError(f"media kind must be one of {MEDIA_KINDS}, got {self.kind!r}")
        if not self.paths:
            raise ValueError("a media group needs at least one path")
        if self.kind in ("video", "frameset") and len(self.paths) != 1:
            raise ValueError(
                f"a {self.kind} media group holds exactly one file, got {len(self.paths)}"
            )
        self.paths = [str(p) for p in self.paths]


@dataclass
class Sample:
    """One benchmark question with its media and ground truth."""

    id: str
    benchmark: str
    question: str
    answer: str | float
    answer_type: AnswerType
    metric: Metric = "accuracy"
    category: str = ""
    media: list[MediaGroup] = field(default_factory=list)
    options: list[str] = field(default_factory=list)
    group_id: str | None = None  # samples scored together (DSI variants, Video-MME-v2 groups)
    unit: str | None = None  # "m", "deg", "s", "count", ... for numeric answers
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("a sample needs an id")
        if self.answer_type not in ANSWER_TYPES:
            raise ValueError(
                f"sample {self.id}: answer_type must be one of {ANSWER_TYPES}, got "
                f"{self.answer_type!r}"
            )
        if self.metric not in METRICS:
            raise ValueError(
                f"sample {self.id}: metric must be one of {METRICS}, got {self.metric!r}"
            )
        self.media = [m if isinstance(m, MediaGroup) else MediaGroup(**m) for m in self.media]
        if self.answer_type == "mc":
            if len(self.options) < 2:
                raise ValueError(
                    f"sample {self.id}: a multiple-choice question needs at least two options"
                )
            letters = [option_letter(i) for i in range(len(self.options))]
            if str(self.answer) not in letters:
                raise ValueError(
                    f"sample {self.id}: answer {self.answer!r} is not one of the letters {letters}"
                )
        if self.metric in ("mra", "mra_strict"):
            if self.answer_type != "number":
                raise ValueError(
                    f"sample {self.id}: the {self.metric} metric needs a numeric answer"
                )
            self.answer = float(self.answer)
        if self.metric == "vci" and self.answer_type != "text":
            raise ValueError(
                f"sample {self.id}: the vci metric needs a text answer (the structured motion)"
            )

    @property
    def unit_kind(self) -> Literal["m", "deg", "s"] | None:
        """The unit answers are converted to before scoring, when the answer has a physical
        unit."""
        return as_unit(self.unit)

    @property
    def letters(self) -> list[str]:
        return [option_letter(i) for i in range(len(self.options))]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sample:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"sample {data.get('id', '?')}: unknown fields {sorted(unknown)}")
        return cls(**data)


@dataclass
class Prediction:
    """What the runner records for one sample: one line of predictions.jsonl."""

    sample_id: str
    benchmark: str
    executor: str
    response: str  # what the executor answered, verbatim
    prediction: str  # the normalised answer the scorer compared (letter, number, yes/no)
    score: float  # 0..1 (accuracy 0/1, MRA fractional); group rules are applied in reports
    category: str = ""
    group_id: str | None = None
    error: str | None = None  # an error code, when the episode, the media or the scoring failed
    elapsed: float = 0.0
    steps: int = 0
    trace_path: str | None = None
    group_info: dict[str, Any] = field(default_factory=dict)  # the sample's extra["group_info"]
    error_message: str = ""  # the full message of `error`
    answers: str = ""  # the answer-reading mode that scored it: "official" or "lenient"
    # scoring notes worth counting: "zero_answer", "structured_answer"
    flags: list[str] = field(default_factory=list)
    frames_used: int = 0  # frames the answer was computed from (online: the node's count)
    frames_note: str = ""  # set when fewer frames were used than the question asked for

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Prediction:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def write_jsonl(
    path: str | Path, rows: Iterable[Sample | Prediction | dict], append: bool = False
) -> int:
    """Write rows as JSON lines; returns how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("a" if append else "w", encoding="utf-8") as f:
        for row in rows:
            data = row if isinstance(row, dict) else row.to_dict()
            f.write(json.dumps(data, ensure_ascii=False) + "\n")
            n += 1
    return n


def iter_json_lines(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, value) of every non-blank line of a JSON-lines file."""
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc


def read_samples(path: str | Path) -> list[Sample]:
    """Read samples.jsonl; media paths that are relative resolve against the file's folder."""
    path = Path(path)
    base = path.parent
    samples = []
    for lineno, data in iter_json_lines(path):
        try:
            sample = Sample.from_dict(data)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}:{lineno}: {exc}") from exc
        samples.append(resolve_media(sample, base))
    return samples


def resolve_media(sample: Sample, base: Path) -> Sample:
    """The sample, its relative media paths made relative to `base` (in place)."""
    for group in sample.media:
        group.paths = [p if Path(p).is_absolute() else str(base / p) for p in group.paths]
    return sample


def read_predictions(path: str | Path) -> list[Prediction]:
    """Read predictions.jsonl, skipping a last line cut short by an interrupted run."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(Prediction.from_dict(json.loads(line)))
        except json.JSONDecodeError:
            if lineno == len(lines):  # the run was killed while writing this line
                break
            raise ValueError(f"{path}:{lineno}: not valid JSON") from None
    return rows
