"""sensor + labels backends on rendered RGB-D frames with exact geometry."""

import dataclasses

import numpy as np
import pytest

from spatialclaw_ros.frames import Frame, FrameSet
from spatialclaw_ros.frames.codec import depth_from_pixels
from spatialclaw_ros.perception import (
    PerceptionConfig,
    PerceptionError,
    SegmentRequest,
    build_perception,
)
from spatialclaw_ros.perception.labels import names_match

from .conftest import BLUE_CHAIR, RED_BOX


def sensor_labels():
    return build_perception(
        PerceptionConfig(reconstruct_backend="sensor", segment_backend="labels")
    )


def red_front_face_centre() -> np.ndarray:
    return RED_BOX.center - np.array([RED_BOX.size[0] / 2, 0.0, 0.0])


def with_depth(frames: FrameSet, depth: np.ndarray) -> FrameSet:
    return FrameSet([dataclasses.replace(frames[0], depth=depth)], world_frame=frames.world_frame)


def test_centroid_of_a_rendered_box_face_is_within_a_centimetre(front_frames):
    perception = sensor_labels()
    reconstruction = perception.reconstruct(front_frames)
    assert reconstruction.is_metric and reconstruction.world_frame == "map"
    np.testing.assert_allclose(reconstruction.extrinsics[0], front_frames[0].pose)
    red = perception.segment(front_frames, SegmentRequest([0], text="red box")).best()
    assert red.label == "red box"
    error = np.linalg.norm(reconstruction.centroid(red) - red_front_face_centre())
    assert error < 0.01


@pytest.mark.parametrize("encoding", ["32FC1", "16UC1"])
def test_both_depth_encodings_with_invalid_pixels(front_frames, encoding):
    exact = front_frames[0].depth
    rng = np.random.default_rng(1)
    holes = rng.random(exact.shape) < 0.2
    if encoding == "16UC1":
        raw = np.where(np.isfinite(exact), np.round(exact * 1000), 0).astype(np.uint16)
        raw[holes] = 0
    else:
        raw = np.where(np.isfinite(exact), exact, np.nan).astype(np.float32)
        raw[holes] = np.where(rng.random(holes.sum()) < 0.5, 0.0, np.nan)
    frames = with_depth(front_frames, depth_from_pixels(raw, encoding))
    perception = sensor_labels()
    reconstruction = perception.reconstruct(frames)
    assert np.isnan(reconstruction.depth[0][holes]).all()
    assert reconstruction.confidence[0][holes].max() == 0.0
    red = perception.segment(frames, SegmentRequest([0], text="red box")).best()
    points = reconstruction.points_of(red)
    assert np.isfinite(points).all()
    assert len(points) < red.area  # the holes were skipped, not turned into points at the camera
    assert np.linalg.norm(reconstruction.centroid(red) - red_front_face_centre()) < 0.01


def test_labels_and_sensor_give_the_exact_distance_between_two_objects(front_frames):
    perception = sensor_labels()
    reconstruction = perception.reconstruct(front_frames)
    red = perception.segment(front_frames, SegmentRequest([0], text="red box"))
    chair = perception.segment(front_frames, SegmentRequest([0], text="blue chair"))
    distance = reconstruction.distance_between(red, chair)
    gap = (BLUE_CHAIR.center[1] - BLUE_CHAIR.size[1] / 2) - (
        RED_BOX.center[1] + RED_BOX.size[1] / 2
    )
    assert abs(distance.closest - gap) < 0.01
    assert (distance.label_a, distance.label_b) == ("red box", "blue_chair")
    assert distance.world_frame == "map"
    assert distance.centroid_distance > distance.closest


def test_two_views_recover_the_whole_box():
    from spatialclaw_ros.eval.synthetic import (
        Scene,
        SceneObject,
        default_intrinsics,
        look_at,
        render,
    )

    box = SceneObject("crate", "box", (90, 160, 60), center=(1.0, 0.0, 0.5), size=(0.6, 0.8, 1.0))
    poses = [look_at((-3.0, 0.0, 0.5), (1.0, 0.0, 0.5)), look_at((3.8, 0.0, 0.5), (1.0, 0.0, 0.5))]
    frames = render(Scene((box,)), poses, default_intrinsics(320, 240))
    perception = sensor_labels()
    reconstruction = perception.reconstruct(frames)
    crate = perception.segment(frames, SegmentRequest([0, 1], text="crate"))
    assert crate.frame_indices == [0, 1]
    aligned = reconstruction.box_3d(crate, oriented=False)
    np.testing.assert_allclose(aligned.center, box.center, atol=0.01)
    np.testing.assert_allclose(aligned.size, box.size, atol=0.04)
    assert aligned.label == "crate" and aligned.frame_indices == [0, 1]
    oriented = reconstruction.box_3d(crate, oriented=True)
    np.testing.assert_allclose(oriented.center, box.center, atol=0.01)
    np.testing.assert_allclose(np.sort(oriented.size), np.sort(box.size), atol=0.04)
    np.testing.assert_allclose(oriented.rotation.T @ oriented.rotation, np.eye(3), atol=1e-9)
    per_frame = crate.points(reconstruction)
    assert sorted(per_frame) == [0, 1]
    # front face, back face
    assert per_frame[0][:, 0].max() < 0.71 and per_frame[1][:, 0].min() > 1.29


def test_bev_draws_objects_and_the_camera_path(front_frames):
    perception = sensor_labels()
    reconstruction = perception.reconstruct(front_frames)
    red = perception.segment(front_frames, SegmentRequest([0], text="red box"))
    image = reconstruction.bev([reconstruction.box_3d(red)], masks=red, size_px=300)
    assert image.shape == (300, 300, 3) and image.dtype == np.uint8
    orange = (
        (image[:, :, 0] > 200)
        & (image[:, :, 1] > 100)
        & (image[:, :, 1] < 180)
        & (image[:, :, 2] < 80)
    )
    assert orange.sum() > 20  # the highlighted object points are drawn


@pytest.mark.parametrize(
    "query, name, expected",
    [
        ("red chair", "red_chair", True),
        ("Red Chair", "red chair", True),
        ("chair", "red_chair", True),
        ("the red chairs", "red-chair", True),
        ("table", "red_chair", False),
        ("glass", "glass", True),
    ],
)
def test_label_names_match_words(query, name, expected):
    assert names_match(query, name) is expected


def test_unknown_label_errors_for_segment_and_is_false_for_exists(front_frames):
    perception = sensor_labels()
    with pytest.raises(PerceptionError, match="known labels: blue_chair, red box"):
        perception.segment(front_frames, SegmentRequest([0], text="giraffe"))
    assert perception.exists(front_frames, "giraffe") is False
    assert perception.exists(front_frames, "chair") is True


def test_point_and_box_prompts_pick_the_labelled_instance(front_frames):
    perception = sensor_labels()
    labels = front_frames[0].labels
    ys, xs = np.nonzero(labels == 2)  # the blue chair
    point = SegmentRequest([0], points=np.array([[xs[len(xs) // 2], ys[len(ys) // 2]]]))
    assert perception.segment(front_frames, point).best().label == "blue_chair"
    box = SegmentRequest(
        [0], box=np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]), label="thing"
    )
    result = perception.segment(front_frames, box).best()
    assert result.label == "thing" and np.array_equal(result.mask, labels == 2)
    with pytest.raises(PerceptionError, match="background"):
        perception.segment(front_frames, SegmentRequest([0], points=np.array([[1, 1]])))


def test_bad_input_gets_clear_errors(front_frames):
    perception = sensor_labels()
    frame = front_frames[0]
    with pytest.raises(ValueError, match="at least one frame"):
        FrameSet([])
    with pytest.raises(ValueError, match="depth is"):
        Frame(frame.image, depth=np.ones((10, 10), np.float32))
    no_intrinsics = FrameSet([dataclasses.replace(frame, intrinsics=None)])
    with pytest.raises(PerceptionError, match="no camera intrinsics"):
        perception.reconstruct(no_intrinsics)
    all_nan = with_depth(front_frames, np.full(frame.depth.shape, np.nan, np.float32))
    with pytest.raises(PerceptionError, match="no valid depth"):
        perception.reconstruct(all_nan)
    two_unposed = FrameSet(
        [dataclasses.replace(frame, pose=None), dataclasses.replace(frame, index=1, pose=None)]
    )
    with pytest.raises(PerceptionError, match="no camera pose"):
        perception.reconstruct(two_unposed)
    with pytest.raises(PerceptionError, match="not in the frame set"):
        perception.reconstruct(front_frames, [5])
    with pytest.raises(PerceptionError, match="empty"):
        perception.reconstruct(front_frames, [])
    reconstruction = perception.reconstruct(front_frames)
    with pytest.raises(PerceptionError, match="mask is"):
        reconstruction.points_of(np.ones((3, 3), bool))
    sky = np.zeros(frame.depth.shape, bool)
    with pytest.raises(PerceptionError, match="no pixel with valid depth"):
        with_nan = reconstruction.depth.copy()
        with_nan[0, :5, :5] = np.nan
        dataclasses.replace(reconstruction, depth=with_nan).points_of(
            sky | np.pad(np.ones((5, 5), bool), ((0, 475), (0, 635)))
        )
    with pytest.raises(PerceptionError, match="exactly one of text, points or box"):
        perception.segment(
            front_frames, SegmentRequest([0], text="red box", box=np.array([0, 0, 5, 5]))
        )
    with pytest.raises(PerceptionError, match="x1 > x0"):
        perception.segment(front_frames, SegmentRequest([0], box=np.array([9, 0, 5, 5])))
