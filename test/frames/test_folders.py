"""RGB-D folders (TUM RGB-D, nerfstudio) and `spatialclaw ask` on them and on bags: depth,
intrinsics and poses read as the layouts define them; what cannot be used is refused with the
reason."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from driver_bags import REALSENSE, optical_in_map, render_truth, write_driver_bag

from spatialclaw_ros.frames.files import read_folder
from spatialclaw_ros.frames.poses import translation_quaternion


def write_tum(folder: Path, truth) -> None:
    """The TUM RGB-D layout: 16-bit depth at 5000 units per metre, ground truth at 100 Hz."""
    (folder / "rgb").mkdir(parents=True)
    (folder / "depth").mkdir()
    rgb, depth = ["# timestamp filename"], ["# timestamp filename"]
    for frame in truth.frames:
        name = f"{frame.timestamp:.6f}.png"
        cv2.imwrite(str(folder / "rgb" / name), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
        units = np.where(np.isfinite(frame.depth), np.rint(frame.depth * 5000), 0).astype(
            np.uint16
        )
        cv2.imwrite(str(folder / "depth" / name), units)
        rgb.append(f"{frame.timestamp:.6f} rgb/{name}")
        # Kinect depth lags colour a little
        depth.append(f"{frame.timestamp + 0.004:.6f} depth/{name}")
    poses = ["# timestamp tx ty tz qx qy qz qw"]
    for t in np.arange(truth.stamps[0] - 0.05, truth.stamps[-1] + 0.05, 0.01):
        (x, y, z), (qx, qy, qz, qw) = translation_quaternion(optical_in_map(truth.layout, t))
        poses.append(f"{t:.6f} {x:.9f} {y:.9f} {z:.9f} {qx:.12f} {qy:.12f} {qz:.12f} {qw:.12f}")
    k = truth.frames[0].intrinsics
    for name, lines in (
        ("rgb.txt", rgb),
        ("depth.txt", depth),
        ("groundtruth.txt", poses),
        ("calibration.txt", [f"{k.fx} {k.fy} {k.cx} {k.cy}"]),
    ):
        (folder / name).write_text("\n".join(lines) + "\n")


def test_a_tum_folder_brings_depth_intrinsics_and_interpolated_poses(tmp_path):
    truth = render_truth(REALSENSE)
    write_tum(tmp_path / "tum", truth)
    frames = read_folder(tmp_path / "tum", max_frames=32, fps=None)
    assert len(frames) == len(truth.frames) and frames.world_frame == "world"
    for read, true in zip(frames, truth.frames, strict=True):
        np.testing.assert_array_equal(read.image, true.image)
        np.testing.assert_allclose(read.pose, true.pose, atol=1e-6)
        valid = np.isfinite(true.depth)
        # 0.2 mm units
        np.testing.assert_allclose(read.depth[valid], true.depth[valid], atol=1.1e-4)
        assert read.intrinsics == true.intrinsics


def test_a_nerfstudio_folder_converts_opengl_poses(tmp_path):
    truth = render_truth(REALSENSE)
    (tmp_path / "ns" / "images").mkdir(parents=True)
    k = truth.frames[0].intrinsics
    entries = []
    for i, frame in enumerate(truth.frames[:3]):
        cv2.imwrite(
            str(tmp_path / "ns" / "images" / f"{i}.png"),
            cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR),
        )
        cv2.imwrite(
            str(tmp_path / "ns" / "images" / f"{i}_d.png"),
            np.where(np.isfinite(frame.depth), np.rint(frame.depth * 1000), 0).astype(np.uint16),
        )
        opengl = frame.pose @ np.diag([1.0, -1.0, -1.0, 1.0])
        entries.append(
            {
                "file_path": f"images/{i}.png",
                "depth_file_path": f"images/{i}_d.png",
                "transform_matrix": opengl.tolist(),
            }
        )
    meta = {
        "fl_x": k.fx,
        "fl_y": k.fy,
        "cx": k.cx,
        "cy": k.cy,
        "w": k.width,
        "h": k.height,
        "frames": entries,
    }
    (tmp_path / "ns" / "transforms.json").write_text(json.dumps(meta))
    frames = read_folder(tmp_path / "ns", max_frames=8, fps=None)
    for read, true in zip(frames, truth.frames[:3], strict=True):
        np.testing.assert_allclose(read.pose, true.pose, atol=1e-9)
        assert np.nanmax(np.abs(read.depth - true.depth)) <= 0.0006
    (tmp_path / "ns" / "transforms.json").write_text(json.dumps({**meta, "k1": -0.1}))
    with pytest.raises(ValueError, match="distortion .*k1.*undistort the images first"):
        read_folder(tmp_path / "ns", max_frames=8, fps=None)


def test_folders_that_mix_depth_or_labels_with_colour_are_refused(tmp_path):
    truth = render_truth(REALSENSE)
    folder = tmp_path / "mixed"
    folder.mkdir()
    cv2.imwrite(str(folder / "0001.png"), truth.frames[0].image)
    cv2.imwrite(str(folder / "0001_depth.png"), np.ones((4, 4), np.uint16))
    with pytest.raises(
        ValueError, match="mixes colour frames with depth or label images \\(0001_depth.png\\)"
    ):
        read_folder(folder, max_frames=8, fps=None)
    (folder / "0001_depth.png").rename(folder / "0002.png")
    with pytest.raises(
        ValueError, match="0002.png is a uint16 single-channel image \\(depth or labels\\?\\)"
    ):
        read_folder(folder, max_frames=8, fps=None)


def test_ask_answers_from_a_tum_folder_and_from_a_bag_and_refuses_sensor_depth_it_lacks(
    tmp_path, capsys
):
    from spatialclaw_ros.cli import main

    truth = render_truth(REALSENSE)
    write_tum(tmp_path / "tum", truth)
    moved = float(np.linalg.norm(truth.frames[-1].pose[:3, 3] - truth.frames[0].pose[:3, 3]))
    common = [
        "--executor",
        "rules",
        "--reconstruct",
        "sensor",
        "--segment",
        "labels",
        "--trace-dir",
        "off",
        "--json",
    ]
    assert (
        main(["ask", "--frames", str(tmp_path / "tum"), *common, "How far did the camera move?"])
        == 0
    )
    assert float(json.loads(capsys.readouterr().out)["answer"]) == pytest.approx(moved, rel=0.01)

    write_driver_bag(tmp_path / "bag", REALSENSE)
    relative = [
        "--start",
        f"{truth.stamps[1] - 1_700_000_000.0:.3f}",
        "--end",
        f"{truth.stamps[3] - 1_700_000_000.0:.3f}",
    ]
    assert (
        main(
            [
                "ask",
                "--bag",
                str(tmp_path / "bag"),
                *relative,
                *common,
                "How far did the camera move?",
            ]
        )
        == 0
    )
    part = float(np.linalg.norm(truth.frames[3].pose[:3, 3] - truth.frames[1].pose[:3, 3]))
    assert float(json.loads(capsys.readouterr().out)["answer"]) == pytest.approx(part, rel=0.01)

    cv2.imwrite(str(tmp_path / "only.png"), truth.frames[0].image)
    assert (
        main(
            [
                "ask",
                "--images",
                str(tmp_path / "only.png"),
                *common,
                "How far did the camera move?",
            ]
        )
        == 2
    )
    assert (
        "--reconstruct sensor needs depth and intrinsics with every frame"
        in capsys.readouterr().err
    )
