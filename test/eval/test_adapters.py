"""Each benchmark adapter reads a small fixture in the benchmark's published layout, and `official`
answer reading scores clean and messy replies to the per-sample scores and the aggregate worked
out by hand from the reference rules (test/fixtures/benchmarks/<name>/expected.json: `reference`
names the file and functions of NVlabs/SpatialClaw's spatial_agent/evals/ each number follows; each
case carries its reply, its expected score and why)."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from spatialclaw_ros.eval.benchmarks import BENCHMARKS, get_benchmark, load_samples, score_sample
from spatialclaw_ros.eval.records import Prediction

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "benchmarks"
PAPER_BENCHMARKS = sorted(b for b in BENCHMARKS if b != "synthetic")


def _decode_bytes(value):
    if isinstance(value, dict) and set(value) == {"__bytes__"}:
        return base64.b64decode(value["__bytes__"])
    if isinstance(value, dict):
        return {k: _decode_bytes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_bytes(v) for v in value]
    return value


def _materialise(name: str, tmp_path: Path) -> tuple[Path, dict]:
    """Copy the fixture into a data dir; parquet layouts are written from rows.json with pyarrow."""
    source = FIXTURES / name
    expected = json.loads((source / "expected.json").read_text())
    data_dir = tmp_path / "data"
    shutil.copytree(source, data_dir / name, ignore=shutil.ignore_patterns("expected.json", "rows.json"))
    if "parquet" in expected:
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        rows = _decode_bytes(json.loads((source / "rows.json").read_text()))
        target = data_dir / name / expected["parquet"]
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), target)
    return data_dir, expected


def test_every_paper_benchmark_has_a_fixture():
    assert len(PAPER_BENCHMARKS) == 20
    assert sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) == PAPER_BENCHMARKS


@pytest.mark.parametrize("name", PAPER_BENCHMARKS)
def test_official_reading_scores_fixture_replies_as_worked_by_hand(name, tmp_path):
    data_dir, expected = _materialise(name, tmp_path)
    bench = get_benchmark(name)
    samples = load_samples(bench, data_dir)
    assert len(samples) == expected["n"]
    for s in samples:
        for group in s.media:
            if group.kind == "images":
                assert all(Path(p).is_file() for p in group.paths), f"{s.id}: image files missing"
    for run_name, run in expected["runs"].items():
        assert set(run["cases"]) == {s.id for s in samples}, run_name
        predictions, got, want = [], {}, {}
        for s in samples:
            reply, score, _why = run["cases"][s.id]
            scored = score_sample(s, reply, "official")
            got[s.id], want[s.id] = scored.score, pytest.approx(score, abs=1e-9)
            predictions.append(Prediction(s.id, s.benchmark, "fixture", reply, scored.prediction, scored.score,
                                          category=s.category, group_id=s.group_id, group_info=s.extra.get("group_info", {})))
        assert got == want, f"{name} {run_name}"
        result = bench.score(predictions)
        assert result.score == pytest.approx(run["score"], abs=1e-9), f"{name} {run_name}"
        for figure, value in result.secondary.items():
            assert value == pytest.approx(run[figure], abs=1e-9), f"{name} {run_name} {figure}"


def test_missing_data_dir_names_the_download_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="hf download lmms-lab/Video-MME"):
        load_samples(get_benchmark("video_mme"), tmp_path)


def test_unknown_benchmark_is_a_clear_error():
    with pytest.raises(ValueError, match="known: .*vsi_bench"):
        get_benchmark("nope")


def test_bad_row_names_file_and_row(tmp_path):
    folder = tmp_path / "mindcube" / "raw"
    folder.mkdir(parents=True)
    (folder / "MindCube_tinybench.jsonl").write_text(json.dumps({"id": "x", "question": "A. a B. b", "images": [], "gt_answer": "C"}) + "\n")
    with pytest.raises(ValueError, match="MindCube_tinybench.jsonl row 0"):
        load_samples(get_benchmark("mindcube"), tmp_path)


def test_parquet_without_pyarrow_says_what_to_install(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name.startswith("pyarrow"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    (tmp_path / "mmsi_bench").mkdir()
    (tmp_path / "mmsi_bench" / "MMSI_Bench.parquet").write_bytes(b"PAR1")
    with pytest.raises(RuntimeError, match="pip install pyarrow=="):
        load_samples(get_benchmark("mmsi_bench"), tmp_path)
