"""Stamps and rigid transforms between ROS messages and numpy."""

from __future__ import annotations

import re

import numpy as np
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Pose, Transform

from spatialclaw_ros.frames.poses import rigid_transform, translation_quaternion


def stamp_to_seconds(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def seconds_to_stamp(seconds: float) -> Time:
    nanoseconds = int(round(seconds * 1e9))
    return Time(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


def pose_to_matrix(pose: Pose) -> np.ndarray:
    p, q = pose.position, pose.orientation
    return rigid_transform((p.x, p.y, p.z), (q.x, q.y, q.z, q.w))


def transform_to_matrix(transform: Transform) -> np.ndarray:
    t, q = transform.translation, transform.rotation
    return rigid_transform((t.x, t.y, t.z), (q.x, q.y, q.z, q.w))


def matrix_to_pose(matrix: np.ndarray) -> Pose:
    translation, quaternion = translation_quaternion(matrix)
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in translation)
    o = pose.orientation
    o.x, o.y, o.z, o.w = (float(v) for v in quaternion)
    return pose


def matrix_to_transform(matrix: np.ndarray) -> Transform:
    translation, quaternion = translation_quaternion(matrix)
    transform = Transform()
    t, r = transform.translation, transform.rotation
    t.x, t.y, t.z = (float(v) for v in translation)
    r.x, r.y, r.z, r.w = (float(v) for v in quaternion)
    return transform


def frame_name(text: str) -> str:
    """A TF-safe frame-name fragment: lower case letters, digits and underscores."""
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "object"
