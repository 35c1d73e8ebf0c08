"""Camera poses over time, ROS-free: a bounded history of rigid transforms, interpolated at any
stamp.

The ROS node feeds it from odometry (base pose in the odometry frame) and composes a fixed
camera extrinsic; tests and bag readers feed it directly.
"""

from __future__ import annotations

import bisect
import threading

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from spatialclaw_ros.frames.buffer import StampedQueue


def rigid_transform(translation, quaternion_xyzw) -> np.ndarray:
    """4x4 matrix from a translation and an (x, y, z, w) quaternion."""
    matrix = np.eye(4)
    matrix[:3, :3] = Rotation.from_quat(np.asarray(quaternion_xyzw, dtype=np.float64)).as_matrix()
    matrix[:3, 3] = np.asarray(translation, dtype=np.float64)
    return matrix


def translation_quaternion(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(translation, quaternion x, y, z, w) of a 4x4 rigid transform."""
    matrix = np.asarray(matrix, dtype=np.float64)
    return matrix[:3, 3].copy(), Rotation.from_matrix(matrix[:3, :3]).as_quat()


# REP-103 body axes (x forward, y left, z up) seen from an optical frame (x right, y down, z
# forward).
BODY_FROM_OPTICAL = np.array(
    [[0.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)


class PoseHistory:
    """Timestamped 4x4 poses, bounded by count, interpolated between neighbours (slerp + lerp).

    `at(stamp)` answers only inside the recorded span (plus `tolerance_s` at either end): a pose
    extrapolated from stale odometry is worse than no pose, because reconstruction can
    estimate one.
    """

    def __init__(self, max_poses: int = 2000, tolerance_s: float = 0.05):
        self._poses: StampedQueue[np.ndarray] = StampedQueue(max_poses)
        self._tolerance_s = tolerance_s
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._poses)

    def add(self, stamp: float, pose: np.ndarray) -> None:
        pose = np.asarray(pose, dtype=np.float64)
        if pose.shape != (4, 4):
            raise ValueError(f"a pose must be a 4x4 matrix, got {pose.shape}")
        with self._lock:
            self._poses.add(stamp, pose)

    def at(self, stamp: float) -> np.ndarray | None:
        with self._lock:
            stamps, poses = self._poses.stamps, self._poses.values
            if not stamps:
                return None
            if stamp < stamps[0] - self._tolerance_s or stamp > stamps[-1] + self._tolerance_s:
                return None
            i = bisect.bisect_left(stamps, stamp)
            if i < len(stamps) and stamps[i] == stamp:
                return poses[i].copy()  # recorded at this very stamp (bag replay): exact, no slerp
            if i == 0:
                return poses[0].copy()
            if i == len(stamps):
                return poses[-1].copy()
            before, after = poses[i - 1], poses[i]
            t0, t1 = stamps[i - 1], stamps[i]
        weight = (stamp - t0) / (t1 - t0)
        slerp = Slerp([0.0, 1.0], Rotation.from_matrix(np.stack([before[:3, :3], after[:3, :3]])))
        pose = np.eye(4)
        pose[:3, :3] = slerp([weight]).as_matrix()[0]
        pose[:3, 3] = (1 - weight) * before[:3, 3] + weight * after[:3, 3]
        return pose
