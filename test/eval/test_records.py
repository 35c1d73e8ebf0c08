import numpy as np
import pytest

from spatialclaw_ros.eval.framesets import load_frameset, save_frameset
from spatialclaw_ros.eval.records import Sample, read_samples, write_jsonl
from spatialclaw_ros.frames import CameraIntrinsics, Frame, FrameSet


def test_frameset_round_trip_keeps_depth_poses_labels(tmp_path):
    k = CameraIntrinsics(50.0, 50.0, 3.5, 2.5, 8, 6)
    frames = FrameSet(
        [
            Frame(
                np.full((6, 8, 3), i, np.uint8),
                index=i,
                timestamp=0.5 * i,
                camera="cam",
                depth=np.full((6, 8), 1.5 + i, np.float32),
                intrinsics=k,
                pose=np.eye(4) * (i + 1),
                labels=np.full((6, 8), 2),
                label_names={2: "red box"},
            )
            for i in range(3)
        ],
        world_frame="map",
    )
    back = load_frameset(save_frameset(frames, tmp_path / "f.npz"))
    assert back.content_key() == frames.content_key()
    assert back.timestamps == [0.0, 0.5, 1.0] and back[2].label_names == {2: "red box"}


def test_samples_round_trip_and_bad_lines_are_located(tmp_path):
    s = Sample(
        id="a",
        benchmark="x",
        question="q",
        answer="B",
        answer_type="mc",
        options=["1", "2"],
        media=[{"kind": "images", "paths": ["im/a.png"]}],
        extra={"k": 1},
    )
    write_jsonl(tmp_path / "s.jsonl", [s])
    (back,) = read_samples(tmp_path / "s.jsonl")
    assert back.media[0].paths == [str(tmp_path / "im" / "a.png")] and back.extra == {"k": 1}
    (tmp_path / "bad.jsonl").write_text(
        '{"id": "a", "benchmark": "x", "question": "q", "answer": 1, "answer_type": "essay"}\n'
    )
    with pytest.raises(ValueError, match="bad.jsonl:1: .*answer_type"):
        read_samples(tmp_path / "bad.jsonl")
