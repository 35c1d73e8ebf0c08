"""PoseHistory interpolates between odometry samples and refuses to extrapolate."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from spatialclaw_ros.frames.poses import (
    BODY_FROM_OPTICAL,
    PoseHistory,
    rigid_transform,
    translation_quaternion,
)


def yaw_pose(x: float, yaw_deg: float) -> np.ndarray:
    return rigid_transform(
        (x, 0.0, 0.0), Rotation.from_euler("z", yaw_deg, degrees=True).as_quat()
    )


def test_interpolates_translation_and_rotation():
    history = PoseHistory(tolerance_s=0.01)
    history.add(1.0, yaw_pose(0.0, 0.0))
    history.add(2.0, yaw_pose(2.0, 90.0))
    mid = history.at(1.25)
    assert mid[:3, 3] == pytest.approx([0.5, 0.0, 0.0])
    assert Rotation.from_matrix(mid[:3, :3]).as_euler("zyx", degrees=True)[0] == pytest.approx(
        22.5
    )
    assert history.at(2.0) == pytest.approx(yaw_pose(2.0, 90.0))


def test_outside_the_recorded_span_gives_none():
    history = PoseHistory(tolerance_s=0.05)
    assert history.at(1.0) is None
    history.add(1.0, np.eye(4))
    history.add(2.0, np.eye(4))
    assert history.at(0.9) is None and history.at(2.2) is None
    assert history.at(2.04) is not None


def test_out_of_order_and_bounded():
    history = PoseHistory(max_poses=3)
    for stamp in (1.0, 3.0, 2.0, 4.0):
        history.add(stamp, yaw_pose(stamp, 0.0))
    assert len(history) == 3
    assert history.at(2.5)[0, 3] == pytest.approx(2.5)
    assert history.at(1.0) is None  # evicted
    with pytest.raises(ValueError):
        history.add(5.0, np.eye(3))


def test_a_pose_at_a_stamp_already_held_replaces_it():
    history = PoseHistory()
    for stamp in (1.0, 2.0, 3.0):
        history.add(stamp, yaw_pose(stamp, 0.0))
    history.add(2.0, yaw_pose(20.0, 0.0))  # out of order, at a stamp it holds
    history.add(3.0, yaw_pose(30.0, 0.0))  # the newest stamp again
    assert len(history) == 3
    assert history.at(2.0)[0, 3] == pytest.approx(20.0) and history.at(3.0)[0, 3] == pytest.approx(
        30.0
    )


def test_optical_axes_map_to_rep103_body_axes():
    forward_in_optical = np.array([0.0, 0.0, 1.0, 0.0])
    right_in_optical = np.array([1.0, 0.0, 0.0, 0.0])
    assert BODY_FROM_OPTICAL @ forward_in_optical == pytest.approx([1, 0, 0, 0])  # body x forward
    assert BODY_FROM_OPTICAL @ right_in_optical == pytest.approx([0, -1, 0, 0])  # body y left
    t, q = translation_quaternion(yaw_pose(1.5, 30.0))
    assert rigid_transform(t, q) == pytest.approx(yaw_pose(1.5, 30.0))
