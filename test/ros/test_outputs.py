"""Object estimates, TF transforms and markers built from the agent's boxes and distances."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from visualization_msgs.msg import Marker

from spatialclaw_ros.perception.types import Box3D, ObjectDistance
from spatialclaw_ros.ros.conversions import pose_to_matrix, stamp_to_seconds, transform_to_matrix
from spatialclaw_ros.ros.outputs import UP_OPTICAL, OutputFrame, build_outputs

pytestmark = pytest.mark.ros


def boxes():
    yaw = Rotation.from_euler("z", 30, degrees=True).as_matrix()
    return [
        Box3D(
            "red chair",
            np.array([1.0, 2.0, 0.5]),
            np.array([0.5, 0.6, 1.0]),
            yaw,
            0.9,
            [0, 2],
            "map",
        ),
        Box3D(
            "red chair",
            np.array([3.0, 0.0, 0.4]),
            np.array([0.5, 0.5, 0.8]),
            np.eye(3),
            1.7,
            [1],
            "map",
        ),
        Box3D(
            "Door #1",
            np.array([0.0, -1.0, 1.0]),
            np.array([0.9, 0.1, 2.0]),
            np.eye(3),
            0.5,
            [],
            "map",
        ),
    ]


def distance():
    return ObjectDistance(
        "red chair",
        "Door #1",
        1.25,
        np.array([1.0, 1.5, 0.5]),
        np.array([0.5, -0.9, 1.0]),
        3.2,
        np.array([1.0, 2.0, 0.5]),
        np.array([0.0, -1.0, 1.0]),
        "map",
    )


def test_estimates_transforms_and_unique_frame_names():
    out = build_outputs(
        boxes(), [distance()], OutputFrame("map", 12.5), answer_id="7", marker_lifetime_s=2.5
    )
    assert out.tf_frames == [
        "spatialclaw/7/red_chair",
        "spatialclaw/7/red_chair_2",
        "spatialclaw/7/door_1",
    ]
    first = out.objects[0]
    assert first.header.frame_id == "map" and stamp_to_seconds(
        first.header.stamp
    ) == pytest.approx(12.5)
    assert pose_to_matrix(first.pose)[:3, 3] == pytest.approx([1.0, 2.0, 0.5])
    assert pose_to_matrix(first.pose)[:3, :3] == pytest.approx(boxes()[0].rotation)
    assert (first.size.x, first.size.y, first.size.z) == pytest.approx((0.5, 0.6, 1.0))
    assert list(first.frame_indices) == [0, 2]
    assert out.objects[1].confidence == 1.0  # clipped
    assert [t.child_frame_id for t in out.transforms] == out.tf_frames
    assert transform_to_matrix(out.transforms[2].transform)[:3, 3] == pytest.approx(
        [0.0, -1.0, 1.0]
    )


def test_markers_delete_all_first_then_boxes_labels_and_arrows():
    out = build_outputs(
        boxes(), [distance()], OutputFrame("map", 3.0), answer_id="1", marker_lifetime_s=2.5
    )
    markers = out.markers.markers
    assert markers[0].action == Marker.DELETEALL
    kinds = [(m.ns, m.type) for m in markers[1:]]
    assert kinds.count(("objects", Marker.CUBE)) == 3
    assert kinds.count(("labels", Marker.TEXT_VIEW_FACING)) == 3
    assert kinds.count(("distances", Marker.ARROW)) == 1
    arrow = next(m for m in markers if m.ns == "distances")
    assert [(p.x, p.y, p.z) for p in arrow.points] == [(1.0, 1.5, 0.5), (0.5, -0.9, 1.0)]
    label = next(m for m in markers if m.ns == "distance_labels")
    assert "1.25 m" in label.text
    assert all(
        m.header.frame_id == "map" and stamp_to_seconds(m.header.stamp) == 3.0 for m in markers
    )
    cube = next(m for m in markers if m.type == Marker.CUBE)
    assert cube.lifetime.sec == 2 and cube.lifetime.nanosec == 500_000_000
    text = next(m for m in markers if m.ns == "labels")
    assert text.pose.position.z > 0.5 + 0.5  # above the box, z up


def test_world_to_frame_moves_everything_and_optical_labels_go_up_in_minus_y():
    shift = np.eye(4)
    shift[:3, 3] = [10.0, 0.0, 0.0]
    frame = OutputFrame("camera_optical", 1.0, shift, UP_OPTICAL)
    out = build_outputs(boxes()[:1], [distance()], frame, answer_id="2")
    assert pose_to_matrix(out.objects[0].pose)[:3, 3] == pytest.approx([11.0, 2.0, 0.5])
    arrow = next(m for m in out.markers.markers if m.ns == "distances")
    assert arrow.points[0].x == pytest.approx(11.0)
    label = next(m for m in out.markers.markers if m.ns == "labels")
    assert label.pose.position.y < 2.0


def test_no_objects_gives_only_delete_all():
    out = build_outputs([], [], OutputFrame("map", 0.0), answer_id="3")
    assert (
        out.objects == []
        and out.tf_frames == []
        and [m.action for m in out.markers.markers] == [Marker.DELETEALL]
    )
