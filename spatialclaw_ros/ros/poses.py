"""Where camera poses come from: TF, odometry plus a fixed camera extrinsic, or nowhere.

With no poses the reconstruction backend estimates them (world = the first sampled camera).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from nav_msgs.msg import Odometry
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data

from spatialclaw_ros.frames.poses import PoseHistory
from spatialclaw_ros.ros.conversions import pose_to_matrix, stamp_to_seconds
from spatialclaw_ros.ros.tf import TfBridge

POSE_SOURCES = ("tf", "odom", "none")


class CameraPoses(Protocol):
    @property
    def world_frame(self) -> str: ...

    def pose_at(self, camera: str, optical_frame: str, stamp: float) -> np.ndarray | None:
        """Camera-to-world 4x4 (optical axes) of `camera` at `stamp`, or None when unknown."""


class NoPoses:
    world_frame = ""

    def pose_at(self, camera: str, optical_frame: str, stamp: float) -> np.ndarray | None:
        return None


class TfPoses:
    """Poses of each camera's optical frame in `world_frame`, looked up in TF at the image
    stamp."""

    def __init__(self, tf: TfBridge, world_frame: str):
        self._tf = tf
        self.world_frame = world_frame

    def pose_at(self, camera: str, optical_frame: str, stamp: float) -> np.ndarray | None:
        if not optical_frame:
            return None
        return self._tf.lookup(self.world_frame, optical_frame, stamp)


class OdometryPoses:
    """Base poses from an Odometry topic, interpolated at the image stamp, times a fixed
    base-to-optical-frame extrinsic per camera. The world is the odometry's frame (e.g. "odom")."""

    def __init__(self, node: Node, topic: str, extrinsics: dict[str, np.ndarray]):
        self._extrinsics = extrinsics
        self._history = PoseHistory()
        self.world_frame = ""
        # apart from the services in the default group, as the camera streams are
        node.create_subscription(
            Odometry,
            topic,
            self._on_odometry,
            qos_profile_sensor_data,
            callback_group=MutuallyExclusiveCallbackGroup(),
        )

    def _on_odometry(self, msg: Odometry) -> None:
        self.world_frame = msg.header.frame_id or self.world_frame
        self._history.add(stamp_to_seconds(msg.header.stamp), pose_to_matrix(msg.pose.pose))

    def pose_at(self, camera: str, optical_frame: str, stamp: float) -> np.ndarray | None:
        base = self._history.at(stamp)
        if base is None or not self.world_frame:
            return None
        return base @ self._extrinsics[camera]
