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
    """Copy the fixture into a data dir; parquet layouts are written from rows.json with
    pyarrow."""
    source = FIXTURES / name
    expected = json.loads((source / "expected.json").read_text())
    data_dir = tmp_path / "data"
    shutil.copytree(
        source, data_dir / name, ignore=shutil.ignore_patterns("expected.json", "rows.json")
    )
    if "parquet" in expected:
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        rows = _decode_bytes(json.loads((source / "rows.json").read_text()))
        # one file, or {file: [row numbers]} for layouts split over several files
        files = (
            expected["parquet"]
            if isinstance(expected["parquet"], dict)
            else {expected["parquet"]: range(len(rows))}
        )
        for file, numbers in files.items():
            target = data_dir / name / file
            target.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist([rows[i] for i in numbers]), target)
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
            predictions.append(
                Prediction(
                    s.id,
                    s.benchmark,
                    "fixture",
                    reply,
                    scored.prediction,
                    scored.score,
                    category=s.category,
                    group_id=s.group_id,
                    group_info=s.extra.get("group_info", {}),
                )
            )
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
    (folder / "MindCube_tinybench.jsonl").write_text(
        json.dumps({"id": "x", "question": "A. a B. b", "images": [], "gt_answer": "C"}) + "\n"
    )
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


def test_omni3d_reads_the_zip_release_annotations_json(tmp_path):
    # spatial_agent/evals/omni3d.py Omni3DBench.read_data: {"questions": [...]},
    # images/<image_filename>
    folder = tmp_path / "omni3d_bench"
    folder.mkdir()
    questions = [
        {
            "question_index": 7,
            "image_filename": "ARKitScenes/1/a.jpg",
            "question": "Which is taller?",
            "answer": "lamp",
            "answer_type": "str",
        },
        {
            "question_index": 8,
            "image_filename": "ARKitScenes/1/a.jpg",
            "question": "How tall?",
            "answer": 1.5,
            "answer_type": "float",
        },
    ]
    (folder / "annotations.json").write_text(
        json.dumps({"info": {"n": 2}, "questions": questions})
    )
    word, number = load_samples(get_benchmark("omni3d_bench"), tmp_path)
    assert (word.id, word.answer_type, word.answer, word.media[0].paths) == (
        "7",
        "text",
        "lamp",
        [str(folder / "images" / "ARKitScenes/1/a.jpg")],
    )
    assert (number.answer_type, number.metric, number.answer) == ("number", "mra_strict", 1.5)


def test_dsi_variants_of_a_question_form_one_group(tmp_path):
    data_dir, _ = _materialise("dsi_bench", tmp_path)
    samples = load_samples(get_benchmark("dsi_bench"), data_dir)
    assert len({s.group_id for s in samples}) == 1
    assert sorted(s.extra["variant"] for s in samples) == [
        "hflip",
        "reverse",
        "reverse_hflip",
        "std",
    ]
    std = next(s for s in samples if s.extra["variant"] == "std")
    assert (
        std.options == ["left", "right", "toward the camera", "away"]
        and std.category == "Obj:static cam"
    )
    assert std.media[0].paths == [
        str(data_dir / "dsi_bench" / "videos" / "std" / "CameraBench" / "clip_0001.mp4")
    ]


def test_mmsi_video_also_reads_the_harness_prompt_layout(tmp_path):
    # VLMEvalKit / lmms-eval rows: the options are written in user_prompt
    folder = tmp_path / "mmsi_video"
    folder.mkdir()
    row = {
        "id": "m",
        "type": "Camera Motion",
        "ground_truth": "B",
        "task_prompt": "Frames:\n<video>\n",
        "user_prompt": "Did the camera turn?\nOptions: A. yes B. no",
        "frames_list": [["v/0.jpg"]],
        "ref_images": [],
    }
    (folder / "rows.json").write_text(json.dumps([row]))
    (sample,) = load_samples(get_benchmark("mmsi_video"), tmp_path)
    assert (sample.question, sample.options, sample.answer) == (
        "Frames:\n\n\nDid the camera turn?",
        ["yes", "no"],
        "B",
    )


def test_mmsi_video_names_reference_images_in_the_question(tmp_path):
    data_dir, _ = _materialise("mmsi_video", tmp_path)
    second = load_samples(get_benchmark("mmsi_video"), data_dir)[1]
    assert second.question == "Which object in [reference image 1] appears in both videos?"
    assert [g.camera for g in second.media] == ["video_1", "video_2", "reference"]


def test_spbench_parquet_images_live_in_their_scene_folder(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    folder = tmp_path / "spbench"
    folder.mkdir()
    rows = [
        {
            "id": 3,
            "question_type": "object_counting",
            "question": "How many chairs?",
            "options": None,
            "ground_truth": "2",
            "images": ["00.jpg"],
            "scene_name": "scene0001_00",
        }
    ]
    pq.write_table(pa.Table.from_pylist(rows), folder / "SPBench-SI.parquet")
    (sample,) = load_samples(get_benchmark("spbench"), tmp_path)
    assert (sample.id, sample.answer, sample.media[0].paths) == (
        "SPBench-SI/3",
        2.0,
        [str(folder / "scene0001_00" / "00.jpg")],
    )
