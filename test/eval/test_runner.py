"""The runner, reports and CLI end to end with the seeded random answerer (no VLM needed)."""

from __future__ import annotations

import base64
import json
import math
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from spatialclaw_ros.eval import cli as eval_cli
from spatialclaw_ros.eval.answerers import Answer, RandomAnswerer
from spatialclaw_ros.eval.records import (
    MediaGroup,
    Sample,
    read_predictions,
    read_samples,
    write_jsonl,
)
from spatialclaw_ros.eval.runner import PREDICTIONS, prediction_for, run_samples, subsample


def main(argv: list[str]) -> int:
    """`spatialclaw` with only the eval area's commands (the other areas register theirs alike)."""
    import argparse

    parser = argparse.ArgumentParser(prog="spatialclaw")
    eval_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)


def _bench(tmp_path, n=300):
    folder = tmp_path / "data" / "synthetic"
    (folder / "img").mkdir(parents=True)
    cv2.imwrite(str(folder / "img" / "0.png"), np.full((8, 8, 3), 128, np.uint8))
    rng = np.random.default_rng(0)
    samples = []
    for i in range(n):
        k = int(rng.integers(2, 5))
        samples.append(
            Sample(
                id=f"s{i}",
                benchmark="synthetic",
                question=f"q{i}?",
                options=[f"o{j}" for j in range(k)],
                answer=chr(65 + int(rng.integers(k))),
                answer_type="mc",
                category=f"t{k}",
                media=[MediaGroup("images", ["img/0.png"])],
            )
        )
    write_jsonl(folder / "samples.jsonl", samples)
    return tmp_path / "data", read_samples(folder / "samples.jsonl")  # media paths resolved


def test_random_executor_lands_at_chance(tmp_path):
    data, samples = _bench(tmp_path)
    result = run_samples(
        samples, RandomAnswerer(seed=1), tmp_path / "run", "random", concurrency=4, progress=False
    )
    chance = np.mean([1 / len(s.options) for s in samples])
    sd = math.sqrt(sum((1 / len(s.options)) * (1 - 1 / len(s.options)) for s in samples)) / len(
        samples
    )
    assert not any(p.error for p in result.predictions)
    accuracy = np.mean([p.score for p in result.predictions])
    assert abs(accuracy - chance) < 3 * sd
    assert accuracy != pytest.approx(1.0)


def test_interrupted_run_resumes(tmp_path):
    _, samples = _bench(tmp_path, n=20)
    out = tmp_path / "run"
    first = run_samples(samples[:12], RandomAnswerer(), out, "random", progress=False)
    assert first.new == 12
    with (out / PREDICTIONS).open("a") as f:
        f.write('{"sample_id": "s1')  # a line cut short by a kill
    second = run_samples(samples, RandomAnswerer(), out, "random", progress=False)
    assert second.new == 8
    assert [p.sample_id for p in second.predictions] == [s.id for s in samples]
    # the same seed gives the same answers on the resumed part
    assert [p.response for p in second.predictions[:12]] == [p.response for p in first.predictions]


def test_no_sample_ends_the_run_each_failure_is_recorded_with_its_code_and_message(tmp_path):
    def mc(sid, **kw):
        return Sample(
            id=sid,
            benchmark="x",
            question="?",
            options=["a", "b"],
            answer="A",
            answer_type="mc",
            **kw,
        )

    image = tmp_path / "ok.png"
    cv2.imwrite(str(image), np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "corrupt.png").write_bytes(b"not an image")
    samples = [
        mc("missing", media=[MediaGroup("images", [str(tmp_path / "missing.png")])]),
        mc("corrupt", media=[MediaGroup("images", [str(tmp_path / "corrupt.png")])]),
        mc("raises", media=[MediaGroup("images", [str(image)])]),
        Sample(
            id="bad_rule",
            benchmark="x",
            question="how far?",
            answer=0.0,
            answer_type="number",
            metric="mra",
            extra={"zero_answer": "half"},
            media=[MediaGroup("images", [str(image)])],
        ),
        mc("fine", media=[MediaGroup("images", [str(image)])]),
    ]

    def answerer(sample, videos):
        if sample.id == "raises":
            raise RuntimeError("the VLM client broke")
        return Answer("1" if sample.answer_type == "number" else "A")

    result = run_samples(
        samples, answerer, tmp_path / "run", "code", concurrency=2, progress=False
    )
    by_id = {p.sample_id: p for p in result.predictions}
    assert {k: (p.error, p.score) for k, p in by_id.items()} == {
        "missing": ("media_unreadable", 0.0),
        "corrupt": ("media_unreadable", 0.0),
        "raises": ("answerer_failed", 0.0),
        "bad_rule": ("scoring_failed", 0.0),
        "fine": (None, 1.0),
    }
    assert "missing.png" in by_id["missing"].error_message
    assert "RuntimeError: the VLM client broke" in by_id["raises"].error_message
    assert (
        "Traceback" in by_id["raises"].error_message
        and "zero-answer rule" in by_id["bad_rule"].error_message
    )
    # the message is on disk too
    assert read_predictions(tmp_path / "run" / PREDICTIONS)[0].error_message


def test_a_resumed_run_in_another_answer_mode_is_scored_again_from_its_replies(tmp_path):
    sample = Sample(
        id="v",
        benchmark="vsi_bench",
        question="?",
        options=["left", "right"],
        answer="B",
        answer_type="mc",
        category="object_rel_direction_easy",
    )
    reply = "I think it is B"  # VSI-Bench reads the first token ("I"): wrong; our reader finds B
    first = run_samples(
        [sample],
        lambda s, v: Answer(reply),
        tmp_path / "run",
        "code",
        progress=False,
        load_media=False,
    )
    assert (first.predictions[0].score, first.predictions[0].answers) == (0.0, "official")
    again = run_samples(
        [sample],
        lambda s, v: Answer("unused"),
        tmp_path / "run",
        "code",
        progress=False,
        load_media=False,
        answers="lenient",
    )
    assert again.new == 0
    assert (
        again.predictions[0].response,
        again.predictions[0].score,
        again.predictions[0].answers,
    ) == (reply, 1.0, "lenient")


def test_prediction_for_scores_and_records_an_answer():
    sample = Sample(
        id="p",
        benchmark="x",
        question="?",
        options=["a", "b"],
        answer="B",
        answer_type="mc",
        category="c",
        group_id="g",
        extra={"group_info": {"position": 1}},
    )
    timed = prediction_for(
        sample, "code", Answer("B", steps=3, elapsed=2.5, trace_path="t.txt"), started=0.0
    )
    assert (
        timed.sample_id,
        timed.benchmark,
        timed.executor,
        timed.response,
        timed.prediction,
        timed.score,
    ) == ("p", "x", "code", "B", "B", 1.0)
    assert (
        timed.category,
        timed.group_id,
        timed.group_info,
        timed.steps,
        timed.elapsed,
        timed.trace_path,
    ) == ("c", "g", {"position": 1}, 3, 2.5, "t.txt")
    failed = prediction_for(
        sample,
        "node",
        Answer("", error="timed_out", error_message="no answer in 600 s"),
        started=time.monotonic() - 1.0,
    )
    assert failed.score == 0 and failed.error == "timed_out" and failed.elapsed >= 1.0
    assert failed.error_message == "no answer in 600 s" and failed.answers == "official"
    assert prediction_for(sample, "node", Answer("A")).elapsed == 0.0


def test_subsample_is_seeded_and_keeps_groups_whole():
    samples = [
        Sample(
            id=f"{g}{v}",
            benchmark="d",
            question="?",
            options=["a", "b"],
            answer="A",
            answer_type="mc",
            group_id=g,
        )
        for g in "abcdef"
        for v in range(4)
    ]
    picked = subsample(samples, 2, seed=3)
    assert picked == subsample(samples, 2, seed=3)
    assert len(picked) == 8 and len({s.group_id for s in picked}) == 2


def test_cli_eval_writes_reports_with_delta(tmp_path, capsys):
    data, samples = _bench(tmp_path, n=40)
    base = tmp_path / "base"
    assert (
        main(
            [
                "eval",
                "--bench",
                "synthetic",
                "--executor",
                "random",
                "--seed",
                "5",
                "--data-dir",
                str(data),
                "--out",
                str(base),
                "--concurrency",
                "2",
            ]
        )
        == 0
    )
    run = tmp_path / "run"
    assert (
        main(
            [
                "eval",
                "--bench",
                "synthetic",
                "--executor",
                "random",
                "--seed",
                "6",
                "--data-dir",
                str(data),
                "--out",
                str(run),
                "--subsample",
                "10",
                "--baseline",
                str(base),
            ]
        )
        == 0
    )
    report = json.loads((run / "report.json").read_text())
    mine = np.mean([p.score for p in read_predictions(run / PREDICTIONS)])
    assert report["benchmarks"]["synthetic"]["n"] == 10
    assert report["benchmarks"]["synthetic"]["score"] == pytest.approx(mine)
    assert report["overall"] == pytest.approx(mine)
    assert report["baseline"]["synthetic"] == pytest.approx(
        np.mean([p.score for p in read_predictions(base / PREDICTIONS)])
    )
    for name in ("report.md", "report.png", "traces.html"):
        assert (run / name).stat().st_size > 0
    assert "| synthetic | synthetic | 10 |" in (run / "report.md").read_text()
    assert main(["report", str(run), "--data-dir", str(data)]) == 0
    page = (run / "traces.html").read_text()
    questions = {s.id: s for s in samples}
    for p in read_predictions(run / PREDICTIONS):  # each answered question, with its options
        sample = questions[p.sample_id]
        assert f"<td>{sample.question}<ul><li>A. {sample.options[0]}</li>" in page


def test_cli_reports_missing_data_clearly(tmp_path, capsys):
    assert (
        main(["eval", "--bench", "blink", "--executor", "random", "--data-dir", str(tmp_path)])
        == 2
    )
    assert "hf download BLINK-Benchmark/BLINK" in capsys.readouterr().err


def test_the_synthetic_commands_are_registered_under_spatialclaw():
    import argparse

    parser = argparse.ArgumentParser(prog="spatialclaw")
    eval_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["synthetic", "generate", "out", "--single", "1", "--size", "32x24"])
    assert args.size == (32, 24) and args.single == 1 and callable(args.run)
    with pytest.raises(SystemExit):
        parser.parse_args(["synth", "--out", "x"])


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "benchmarks"


def test_an_eval_run_with_zero_structured_and_broken_rows_completes_and_counts_them(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = json.loads((FIXTURES / "spar_bench" / "rows.json").read_text())
    for row in rows:  # the fixture stores image bytes as base64 text
        row["image"] = [
            {"bytes": base64.b64decode(cell["bytes"]["__bytes__"]), "path": None}
            for cell in row["image"]
        ]
    rows.append(
        dict(rows[0], id="broken", image=[{"bytes": b"\xff\xd8 not really a jpeg", "path": None}])
    )
    # a select row whose answer is not an option
    rows.append(dict(rows[2], id="no_such_letter", answer="E"))
    folder = tmp_path / "data" / "spar_bench" / "data"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "test-00000-of-00001.parquet")
    run = tmp_path / "run"
    evaluate = [
        "eval",
        "--bench",
        "spar_bench",
        "--executor",
        "random",
        "--data-dir",
        str(tmp_path / "data"),
        "--out",
        str(run),
    ]
    assert main(evaluate) == 0
    report = json.loads((run / "report.json").read_text())
    spar = report["benchmarks"]["spar_bench"]
    assert report["answers"] == "official"
    assert spar["n"] == 6 and spar["errors"] == 2  # the unreadable row is counted, not scored
    assert spar["errors_by_code"] == {"media_unreadable": 1, "row_unreadable": 1}
    assert spar["flags"] == {"structured_answer": 1, "zero_answer": 1}
    assert report["errors_by_code"] == {"media_unreadable": 1, "row_unreadable": 1}
    unreadable = next(
        p for p in read_predictions(run / PREDICTIONS) if p.error == "row_unreadable"
    )
    assert (
        unreadable.sample_id == "test-00000-of-00001.parquet#row6"
        and "matches none of the options" in unreadable.error_message
    )
    markdown = (run / "report.md").read_text()
    assert "Answers read in `official` mode." in markdown
    assert "| spar_bench | 1 | 1 |" in markdown and "| spar_bench | zero_answer | 1 |" in markdown
    assert "broken" in (run / "traces.html").read_text()

    # the same replies read the lenient way: scored again from the recorded responses
    assert (
        main(["report", str(run), "--data-dir", str(tmp_path / "data"), "--answers", "lenient"])
        == 0
    )
    again = json.loads((run / "report.json").read_text())
    assert again["answers"] == "lenient" and again["errors_by_code"] == report["errors_by_code"]
    # resuming reads no reply twice and records the unreadable row once
    assert main(evaluate) == 0
    assert len(read_predictions(run / PREDICTIONS)) == 7
    # scoring again needs the questions
    assert main(["report", str(run), "--answers", "lenient"]) == 2


def test_a_second_figure_is_reported_beside_the_headline_never_instead():
    from spatialclaw_ros.eval.records import Prediction
    from spatialclaw_ros.eval.reports import build_report, markdown_table

    rows = [
        Prediction(
            f"t{i}", "spatialtree", "code", "", "", score, category=leaf, answers="official"
        )
        for i, (score, leaf) in enumerate(
            [(1.0, "Size"), (1.0, "Size"), (1.0, "Size"), (0.0, "Distance")]
        )
    ]
    report = build_report(rows)
    tree = report.benchmarks["spatialtree"]
    assert tree.score == pytest.approx(0.75)  # the reference: plain mean over scorable rows
    # mean of Size 1 and Distance 0
    assert tree.secondary == {"deepest_level_macro": pytest.approx(0.5)}
    assert report.overall == pytest.approx(0.75)
    assert "| spatialtree | deepest_level_macro | 50.0 |" in markdown_table(report)
