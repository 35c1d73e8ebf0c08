"""Reports of a run: per benchmark, per family (mean of its benchmarks), overall (plain mean of
benchmarks), and the change against a no-tools run; which answer-reading mode scored it; the
samples that failed, counted per error code and per benchmark, and the scoring flags (true answers
of 0, structured answers). Written as JSON, a Markdown table, a PNG chart and a static HTML page
that lists every sample with its answer and trace."""

from __future__ import annotations

import html
import json
import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from spatialclaw_ros.eval.benchmarks import BENCHMARKS
from spatialclaw_ros.eval.records import Prediction, Sample, option_letter
from spatialclaw_ros.eval.scoring import BenchmarkScore, aggregate


@dataclass
class Report:
    executor: str
    benchmarks: dict[str, BenchmarkScore]
    families: dict[str, float]
    overall: float
    baseline: dict[str, float] = field(default_factory=dict)  # benchmark -> no-tools score
    # the answer-reading mode of the predictions ("official", "lenient"; "mixed" if both)
    answers: str = ""

    @property
    def errors_by_code(self) -> dict[str, int]:
        """Failed samples per error code, over all benchmarks."""
        total: Counter[str] = Counter()
        for score in self.benchmarks.values():
            total.update(score.errors_by_code)
        return dict(sorted(total.items()))

    def delta(self, benchmark: str) -> float | None:
        if benchmark not in self.baseline:
            return None
        return self.benchmarks[benchmark].score - self.baseline[benchmark]

    def to_dict(self) -> dict:
        return {
            "executor": self.executor,
            "answers": self.answers,
            "overall": self.overall,
            "errors_by_code": self.errors_by_code,
            "families": self.families,
            "benchmarks": {
                k: asdict(v) | {"delta_vs_no_tools": self.delta(k)}
                for k, v in self.benchmarks.items()
            },
            "baseline": self.baseline,
        }


def build_report(
    predictions: list[Prediction], baseline: list[Prediction] | None = None
) -> Report:
    by_bench: dict[str, list[Prediction]] = defaultdict(list)
    for p in predictions:
        by_bench[p.benchmark].append(p)
    scores = {b: _score(b, rows) for b, rows in sorted(by_bench.items())}
    family_scores: dict[str, list[float]] = defaultdict(list)
    for name, score in scores.items():
        family_scores[BENCHMARKS[name].family if name in BENCHMARKS else "other"].append(
            score.score
        )
    families = {f: sum(v) / len(v) for f, v in family_scores.items()}
    overall = sum(s.score for s in scores.values()) / len(scores) if scores else math.nan
    executor = predictions[0].executor if predictions else ""
    base: dict[str, float] = {}
    if baseline:
        base_report = build_report(baseline)
        base = {b: s.score for b, s in base_report.benchmarks.items() if b in scores}
    modes = sorted({p.answers or "unrecorded" for p in predictions})
    return Report(
        executor, scores, families, overall, base, modes[0] if len(modes) == 1 else "mixed"
    )


def _score(benchmark: str, rows: list[Prediction]) -> BenchmarkScore:
    return (
        BENCHMARKS[benchmark].score(rows)
        if benchmark in BENCHMARKS
        else aggregate(benchmark, rows)
    )


def markdown_table(report: Report) -> str:
    with_delta = bool(report.baseline)
    header = "| family | benchmark | n | score |" + (" no tools | delta |" if with_delta else "")
    lines = [
        f"# Evaluation: {report.executor}",
        "",
        header,
        "|" + " --- |" * (header.count("|") - 1),
    ]
    for name, s in report.benchmarks.items():
        family = BENCHMARKS[name].family if name in BENCHMARKS else "other"
        row = f"| {family} | {name} | {s.n} | {100 * s.score:.1f} |"
        if with_delta:
            base, delta = report.baseline.get(name), report.delta(name)
            if base is not None and delta is not None:
                row += f" {100 * base:.1f} | {100 * delta:+.1f} |"
            else:
                row += " - | - |"
        lines.append(row)
    lines += ["", "| family | score |", "| --- | --- |"]
    lines += [f"| {f} | {100 * v:.1f} |" for f, v in report.families.items()]
    lines += [
        "",
        f"**Overall (plain mean of benchmarks): {100 * report.overall:.1f}**",
        "",
        f"Answers read in `{report.answers}` mode.",
        "",
    ]
    secondary = [
        (name, figure, value)
        for name, s in report.benchmarks.items()
        for figure, value in s.secondary.items()
    ]
    if secondary:
        lines += [
            "Further figures (not the headline):",
            "",
            "| benchmark | figure | score |",
            "| --- | --- | --- |",
        ]
        lines += [
            f"| {name} | {figure} | {100 * value:.1f} |" for name, figure, value in secondary
        ] + [""]
    codes = list(report.errors_by_code)
    if codes:
        lines += [
            "Failed samples (scored 0) by error code:",
            "",
            "| benchmark | " + " | ".join(codes) + " |",
            "|" + " --- |" * (len(codes) + 1),
        ]
        lines += [
            f"| {name} | " + " | ".join(str(s.errors_by_code.get(c, 0)) for c in codes) + " |"
            for name, s in report.benchmarks.items()
            if s.errors
        ]
        lines += [
            "| all | " + " | ".join(str(n) for n in report.errors_by_code.values()) + " |",
            "",
        ]
    flagged = [
        (name, flag, n) for name, s in report.benchmarks.items() for flag, n in s.flags.items()
    ]
    if flagged:
        lines += ["Flagged samples:", "", "| benchmark | flag | n |", "| --- | --- | --- |"]
        lines += [f"| {name} | {flag} | {n} |" for name, flag, n in flagged] + [""]
    return "\n".join(lines)


def plot_report(report: Report, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report.benchmarks)
    values = [100 * report.benchmarks[n].score for n in names]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(names) + 2), 3.5))
    x = range(len(names))
    if report.baseline:
        ax.bar(
            [i - 0.2 for i in x],
            [100 * report.baseline.get(n, math.nan) for n in names],
            0.4,
            label="no tools",
        )
        ax.bar([i + 0.2 for i in x], values, 0.4, label=report.executor)
        ax.legend()
    else:
        ax.bar(list(x), values, 0.6, label=report.executor)
    ax.set_xticks(list(x), names, rotation=45, ha="right")
    ax.set_ylabel("score (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"{report.executor}: overall {100 * report.overall:.1f}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def trace_browser(
    predictions: list[Prediction], samples: dict[tuple[str, str], Sample], path: Path
) -> None:
    """One static page: a row per sample (wrong answers first), with the question, options, truth,
    answer and the trace inline when it is a text file."""
    rows = []
    for p in sorted(predictions, key=lambda p: (p.score, p.benchmark, p.sample_id)):
        s = samples.get((p.benchmark, p.sample_id))
        question = s.question if s else ""
        options = (
            "".join(
                f"<li>{option_letter(i)}. {html.escape(o)}</li>" for i, o in enumerate(s.options)
            )
            if s
            else ""
        )
        truth = html.escape(str(s.answer)) if s else ""
        trace = ""
        if p.trace_path and Path(p.trace_path).is_file():
            text = Path(p.trace_path).read_text(encoding="utf-8", errors="replace")[:20000]
            trace = f"<details><summary>trace</summary><pre>{html.escape(text)}</pre></details>"
        verdict = "ok" if p.score >= 1 else ("partial" if p.score > 0 else "wrong")
        rows.append(
            "<tr "
            f'class="{verdict}"><td>{html.escape(p.benchmark)}<br>'
            f"<small>{html.escape(p.sample_id)}</small></td>"
            f"<td>{html.escape(p.category)}</td>"
            f"<td>{html.escape(question)}<ul>{options}</ul>{trace}</td>"
            f"<td>{truth}</td><td>{html.escape(p.prediction)}<br>"
            f"<small>{html.escape(p.response[:300])}</small></td>"
            f"<td>{p.score:.2f}</td><td>{html.escape(p.error or '')}{_error_details(p)}</td>"
            f"<td>{p.steps}</td></tr>"
        )
    page = (
        "<!doctype html><meta charset='utf-8'><title>spatialclaw traces</title><style>"
        "body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px;vertical-align:top}"
        "tr.wrong{background:#fee}tr.partial{background:#ffd}tr.ok{background:#efe}"
        "pre{max-width:60em;white-space:pre-wrap}</style>"
        "<table><tr><th>sample</th><th>category</th><th>question</th><th>truth</th><th>answer</th>"
        f"<th>score</th><th>error</th><th>steps</th></tr>{''.join(rows)}</table>"
    )
    path.write_text(page, encoding="utf-8")


def _error_details(p: Prediction) -> str:
    if not p.error_message:
        return ""
    return (
        f"<details><summary>message</summary><pre>{html.escape(p.error_message)}</pre></details>"
    )


def write_report(
    out_dir: str | Path,
    predictions: list[Prediction],
    samples: list[Sample] | None = None,
    baseline: list[Prediction] | None = None,
) -> Report:
    """report.json, report.md, report.png and traces.html into `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = build_report(predictions, baseline)
    (out / "report.json").write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    (out / "report.md").write_text(markdown_table(report), encoding="utf-8")
    if report.benchmarks:
        plot_report(report, out / "report.png")
    trace_browser(
        predictions, {(s.benchmark, s.id): s for s in samples or []}, out / "traces.html"
    )
    return report
