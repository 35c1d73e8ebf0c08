"""What every benchmark adapter declares, and loading a benchmark from a local copy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from spatialclaw_ros.eval.benchmarks.official import OFFICIAL_RULES
from spatialclaw_ros.eval.benchmarks.tables import MediaStore, Row, read_rows
from spatialclaw_ros.eval.records import Prediction, Sample
from spatialclaw_ros.eval.scoring import (
    ANSWER_MODES,
    Aggregation,
    AnswerMode,
    BenchmarkScore,
    SampleScore,
    aggregate,
    score_response,
)

RowConverter = Callable[[Row, MediaStore, Path], Sample | None]


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: where its annotations live in the published layout and how to read a row.

    `annotations` are glob patterns relative to the benchmark's folder; `convert` turns one row
    into a Sample (or None for rows the benchmark's own scoring excludes). `aggregation` gives the
    headline score; `secondary` names further figures reported beside it (SpatialTree's
    hierarchy), never instead of it.
    """

    name: str
    family: str
    hf_id: str
    annotations: tuple[str, ...]
    convert: RowConverter
    aggregation: Aggregation = "mean"
    category_parents: dict[str, str] = field(default_factory=dict)
    download: str = ""  # the download steps, when more than one `hf download` of hf_id
    secondary: dict[str, Aggregation] = field(default_factory=dict)

    def score(self, predictions: list[Prediction]) -> BenchmarkScore:
        """This benchmark's score by its own aggregation rule."""
        return aggregate(
            self.name, predictions, self.aggregation, self.category_parents, self.secondary
        )

    @property
    def download_command(self) -> str:
        if self.download:
            return self.download
        if not self.hf_id:
            return f"spatialclaw synthetic generate <DATA_DIR>/{self.name}"
        return f"hf download {self.hf_id} --repo-type dataset --local-dir <DATA_DIR>/{self.name}"


def score_sample(
    sample: Sample, response: str | float | int | None, answers: AnswerMode = "official"
) -> SampleScore:
    """Score one reply. `official` reads it as the sample's benchmark's own evaluation does (for a
    benchmark without official rules, such as our synthetic one, our reader is the official one);
    `lenient` reads it with our reader for every benchmark."""
    if answers not in ANSWER_MODES:
        raise ValueError(
            f"unknown answer-reading mode {answers!r}; expected one of {ANSWER_MODES}"
        )
    rule = OFFICIAL_RULES.get(sample.benchmark) if answers == "official" else None
    if rule is None:
        return score_response(sample, response)
    return rule(sample, "" if response is None else str(response))


def annotation_files(bench: Benchmark, root: Path) -> list[Path]:
    files: list[Path] = []
    for pattern in bench.annotations:
        # patterns may overlap
        files.extend(p for p in sorted(root.glob(pattern)) if p.is_file() and p not in files)
    return files


@dataclass(frozen=True)
class RowFailure:
    """A row of a benchmark's annotation file that could not be turned into a sample."""

    benchmark: str
    source: str  # the annotation file's name
    row: int
    message: str

    @property
    def key(self) -> str:
        """The id its record carries in place of a sample id."""
        return f"{self.source}#row{self.row}"


def load_samples(
    bench: Benchmark, data_dir: str | Path, failures: list[RowFailure] | None = None
) -> list[Sample]:
    """Read `<data_dir>/<name>/` in the benchmark's published layout. A row that cannot be read
    raises, naming its file and row; when a `failures` list is given it is appended there
    instead, and the other rows still load."""
    root = Path(data_dir) / bench.name
    if not root.is_dir():
        raise FileNotFoundError(
            f"{bench.name}: no local copy at {root}. Download it on a machine with hub access:\n"
            f"  {bench.download_command.replace('<DATA_DIR>', str(Path(data_dir)))}"
        )
    files = annotation_files(bench, root)
    if not files:
        raise FileNotFoundError(
            f"{bench.name}: no annotation file matching {list(bench.annotations)} under {root}"
        )
    store = MediaStore(root, Path(data_dir) / ".media_cache" / bench.name)
    samples: list[Sample] = []
    seen: set[str] = set()
    for path in files:
        for i, row in enumerate(read_rows(path)):
            try:
                sample = bench.convert(row, store, path)
            except (KeyError, ValueError, TypeError) as exc:
                if failures is None:
                    raise ValueError(f"{bench.name}: {path.name} row {i}: {exc}") from exc
                failures.append(
                    RowFailure(bench.name, path.name, i, f"{type(exc).__name__}: {exc}")
                )
                continue
            if sample is None:
                continue
            if sample.id in seen:
                raise ValueError(f"{bench.name}: duplicate sample id {sample.id!r} in {path.name}")
            seen.add(sample.id)
            samples.append(sample)
    return samples
