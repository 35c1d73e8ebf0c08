"""Bags in real drivers' layouts (RealSense, ZED, a simulator, ROS 1 OpenNI), each with a 5-hop TF
tree, /tf_static and /tf at 30 Hz against 5 Hz images: detected and read with zero configuration,
then replayed offline to answers within 1% of the ground truth the test computes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from driver_bags import OPENNI, REALSENSE, SIMULATOR, ZED, write_driver_bag

from spatialclaw_ros.frames.bags import BagError, format_summary, inspect_bag, read_frames

LAYOUTS = {
    "realsense": (REALSENSE, {}),
    "zed": (ZED, dict(storage="sqlite3")),
    "simulator": (SIMULATOR, {}),
    "ros1_openni": (OPENNI, dict(ros1=True)),
}


@pytest.fixture(scope="module", params=list(LAYOUTS))
def driver_bag(request, tmp_path_factory):
    layout, options = LAYOUTS[request.param]
    folder = tmp_path_factory.mktemp(request.param)
    path = folder / ("recording.bag" if options.get("ros1") else "recording")
    return path, write_driver_bag(path, layout, **options)


def test_the_camera_is_detected_with_its_depth_info_and_tf(driver_bag):
    path, truth = driver_bag
    layout = truth.layout
    summary = inspect_bag(path)
    assert len(summary.cameras) == 1, format_summary(summary)
    camera = summary.cameras[0]
    assert camera.colour.topic == layout.colour and camera.topics.compressed == (
        layout.colour_format == "jpeg"
    )
    assert camera.topics.depth_topic == layout.depth and camera.topics.info_topic == layout.info
    assert (
        camera.topics.labels_topic == layout.labels
        and camera.topics.label_names_topic == layout.label_names
    )
    assert (
        camera.frame_id == layout.optical_frame
        and summary.world_frames[camera.topics.name] == "map"
    )
    links = {(link.parent, link.child): link for link in summary.tf_links}
    assert links[("odom", "base_link")].rate_hz == pytest.approx(30.0, rel=0.02)
    assert links[("map", "odom")].static and len(summary.tf_links) >= 5
    text = format_summary(summary)
    assert f'image_topic: "{layout.colour}"' in text and "odom -> base_link: 30.0 Hz" in text
    # unaligned depth, a confidence map: reported or ignored, never used
    for topic, _, _ in layout.extra_images:
        assert topic not in (camera.topics.depth_topic, camera.topics.image_topic)


def test_frames_carry_metric_depth_and_poses_from_the_tf_chain(driver_bag):
    path, truth = driver_bag
    (frames,) = read_frames(path)
    assert frames.world_frame == "map" and len(frames) == len(truth.frames)
    assert frames.timestamps == pytest.approx(truth.stamps, abs=1e-6)
    for read, true in zip(frames, truth.frames, strict=True):
        # interpolated between /tf samples
        np.testing.assert_allclose(read.pose, true.pose, atol=1e-6)
        assert read.intrinsics == true.intrinsics
        valid = np.isfinite(true.depth)
        # 16UC1: 1 mm steps
        np.testing.assert_allclose(read.depth[valid], true.depth[valid], rtol=0.01, atol=0.0006)
        # JPEG colour is lossy, raw exact
        assert np.abs(read.image.astype(int) - true.image).mean() < 3
        if truth.layout.labels:
            np.testing.assert_array_equal(read.labels, true.labels)
            assert read.label_names == {
                i + 1: n
                for i, n in enumerate(["red box", "green box", "blue ball"])
                if i + 1 in np.unique(true.labels)
            }
    window = read_frames(path, start=truth.stamps[1], end=truth.stamps[3], max_frames=2)[0]
    assert window.timestamps == pytest.approx([truth.stamps[1], truth.stamps[3]])


def test_a_camera_outside_the_tf_window_names_the_link(driver_bag, tmp_path):
    path, truth = driver_bag
    with pytest.raises(BagError, match="camera 'nope' not in|cameras: "):
        read_frames(path, cameras=["nope"])
    with pytest.raises(BagError, match="no colour frames on"):
        read_frames(path, start=truth.stamps[-1] + 5)


def _sample(sample_id: str, question: str, answer, truth, **extra):
    from spatialclaw_ros.eval.records import Sample

    kind = "number" if isinstance(answer, float) else "text"
    return Sample(
        id=sample_id,
        benchmark="driver_bags",
        question=question,
        answer=answer,
        answer_type=kind,
        metric="mra" if kind == "number" else "accuracy",
        extra={"replay": {"window": [truth.stamps[0], truth.stamps[-1]], **extra}},
    )


def test_offline_replay_answers_within_one_percent_of_ground_truth(driver_bag, tmp_path):
    from spatialclaw_ros.eval.answerers import build_answerer
    from spatialclaw_ros.eval.replay import replay_offline

    path, truth = driver_bag
    first, last = truth.frames[0].pose, truth.frames[-1].pose
    moved = float(np.linalg.norm(last[:3, 3] - first[:3, 3]))
    turn = first[:3, :3].T @ last[:3, :3]
    turned = float(np.degrees(np.arccos(np.clip((np.trace(turn) - 1) / 2, -1, 1))))
    samples = [
        _sample(
            "moved",
            "How far did the camera move between the first and the last frame?",
            moved,
            truth,
        ),
        _sample("turned", "How many degrees did the camera rotate?", turned, truth),
    ]
    segment = "labels" if truth.layout.labels else "sam3"
    if truth.layout.labels:
        samples.append(_sample("count", "How many boxes are in the scene?", "2", truth))
    answerer = build_answerer(
        "rules",
        reconstruct_backend="sensor",
        segment_backend=segment,
        trace_dir=str(tmp_path / "traces"),
    )
    predictions = replay_offline(
        path, samples, answerer, tmp_path / "replay", "rules", concurrency=1
    ).predictions
    by_id = {p.sample_id: p for p in predictions}
    assert not any(p.error for p in predictions), [
        (p.sample_id, p.error, p.response) for p in predictions
    ]
    assert float(by_id["moved"].prediction) == pytest.approx(moved, rel=0.01) and moved > 0.2
    assert float(by_id["turned"].prediction) == pytest.approx(turned, rel=0.01) and turned > 2.0
    if truth.layout.labels:
        assert by_id["count"].prediction == "2"


def test_bag_info_prints_what_it_found_and_the_configuration_it_would_use(driver_bag, capsys):
    from spatialclaw_ros.cli import main

    path, truth = driver_bag
    assert main(["bag", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert truth.layout.colour in out and truth.layout.depth in out and "roots: map" in out
    assert "pose_source: tf" in out and "world_frame: map" in out
    for topic, encoding, _ in truth.layout.extra_images:
        if encoding == "16UC1":  # RealSense's unaligned depth: named as left out
            assert f"depth {topic} (frame camera_depth_optical_frame) is not registered" in out


def test_a_parameter_file_configures_the_bag_reader_as_it_does_the_node(tmp_path):
    import yaml

    from spatialclaw_ros.frames.cameras import cameras_from_file

    truth = write_driver_bag(tmp_path / "bag", REALSENSE)
    params = {
        "spatialclaw": {
            "ros__parameters": {
                "cameras": ["front"],
                "camera": {
                    "front": {
                        "image_topic": REALSENSE.colour,
                        "compressed": True,
                        "depth_topic": REALSENSE.depth,
                        "info_topic": REALSENSE.info,
                    }
                },
            }
        }
    }
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    (frames,) = read_frames(tmp_path / "bag", config=tmp_path / "p.yaml")
    assert (
        frames.name == "front"
        and len(frames) == len(truth.frames)
        and frames.has_depth
        and frames.has_poses
    )
    # the shipped defaults parse too (one camera, the node's default topics)
    assert [
        c.name
        for c in cameras_from_file(Path(__file__).parents[2] / "config" / "spatialclaw.yaml")
    ] == ["camera"]
    params["spatialclaw"]["ros__parameters"]["camera"]["front"]["depth_topic"] = (
        "/camera/depth/image_raw"
    )
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(
        BagError, match="topic\\(s\\) /camera/depth/image_raw are not image topics of the bag"
    ):
        read_frames(tmp_path / "bag", config=tmp_path / "p.yaml")
    params["spatialclaw"]["ros__parameters"]["camera"]["front"]["depth"] = "x"
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(
        ValueError, match="unknown camera.front setting\\(s\\) depth; allowed: image_topic"
    ):
        read_frames(tmp_path / "bag", config=tmp_path / "p.yaml")
