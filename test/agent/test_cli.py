"""`spatialclaw ask` end to end: images, a folder of frames and a video, against the scripted
VLM."""

from __future__ import annotations

import cv2
import pytest

from spatialclaw_ros.cli import main
from spatialclaw_ros.testing.scripted_vlm import ScriptedVLM

from .conftest import image_count


@pytest.fixture
def frame_files(tmp_path, clip):
    folder = tmp_path / "frames"
    folder.mkdir()
    paths = []
    for i, frame in enumerate(clip):
        path = folder / f"frame_{i:03d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def _ask(capsys, tmp_path, source: list[str], *extra: str, reply="Answer: B"):
    with ScriptedVLM([f"Looking at it.\n{reply}"]) as vlm:
        code = main(
            [
                "ask",
                *source,
                "--executor",
                "no_tools",
                "--vlm-url",
                vlm.base_url,
                "--trace-dir",
                str(tmp_path / "traces"),
                *extra,
                "Which object is closer?",
            ]
        )
        requests = vlm.requests
    out = capsys.readouterr()
    return code, out.out, out.err, requests


def test_ask_with_images(capsys, tmp_path, frame_files):
    code, out, err, requests = _ask(
        capsys,
        tmp_path,
        ["--images", *map(str, frame_files[:2])],
        "--choices",
        "red box",
        "blue sphere",
    )
    assert code == 0
    assert "answer: B" in out and "trace: " in out
    assert image_count(requests[0]["messages"][1]) == 2
    assert "step" in err  # progress goes to stderr


def test_ask_with_a_folder_and_a_video(capsys, tmp_path, frame_files, clip):
    code, out, _, requests = _ask(
        capsys,
        tmp_path,
        ["--frames", str(frame_files[0].parent)],
        "--max-frames",
        "3",
        "--json",
        reply="Answer: 2.5 m",
    )
    assert code == 0 and image_count(requests[0]["messages"][1]) == 3
    assert '"raw_answer"' in out

    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 120))
    for _ in range(3):
        for frame in clip:
            writer.write(cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
    writer.release()
    code, _, _, requests = _ask(capsys, tmp_path, ["--video", str(video)], "--max-frames", "5")
    assert code == 0 and image_count(requests[0]["messages"][1]) == 5


def test_bad_input_is_a_clear_error(capsys, tmp_path):
    code = main(
        ["ask", "--images", str(tmp_path / "missing.png"), "--executor", "no_tools", "How far?"]
    )
    assert code == 2 and "cannot read image" in capsys.readouterr().err
    code = main(["ask", "--frames", str(tmp_path), "--executor", "no_tools", "How far?"])
    assert code == 2 and "no images" in capsys.readouterr().err


def test_trace_command_rerenders_the_report(capsys, tmp_path, frame_files):
    _ask(capsys, tmp_path, ["--images", str(frame_files[0])])
    trace = next((tmp_path / "traces").iterdir())
    (trace / "report.md").unlink()
    assert main(["trace", str(trace)]) == 0
    assert "Which object is closer?" in (trace / "report.md").read_text()


def test_ask_keeps_traces_in_runs_unless_told_otherwise(
    capsys, tmp_path, monkeypatch, frame_files
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SPATIALCLAW_TRACE_DIR", raising=False)
    monkeypatch.delenv("SPATIALCLAW_CONFIG", raising=False)
    image = ["--images", str(frame_files[0])]
    for extra in ([], ["--trace-dir", "off"]):
        with ScriptedVLM(["Answer: B"]) as vlm:
            code = main(
                [
                    "ask",
                    *image,
                    "--executor",
                    "no_tools",
                    "--vlm-url",
                    vlm.base_url,
                    *extra,
                    "Which is closer?",
                ]
            )
        assert code == 0
    out = capsys.readouterr().out
    assert out.count("trace: runs/traces/") == 1  # the first run only
    assert len(list((tmp_path / "runs" / "traces").iterdir())) == 1
