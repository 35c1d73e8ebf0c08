"""TF through tf2_ros when it is installed; a no-op that says so once when it is not.

tf2_ros ships with every real ROS 2 install but not as a PyPI wheel, so this module is the only
place that touches it and stays as thin as the library allows.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import TransformStamped
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.time import Time

from spatialclaw_ros.ros.conversions import transform_to_matrix

try:
    import tf2_ros
except ImportError:  # pip-installed ROS: no tf2 wheels
    tf2_ros = None

_LOOKUP_TIMEOUT_S = 0.1


class TfBridge:
    def __init__(self, node: Node):
        self._node = node
        self._timeout = Duration(seconds=_LOOKUP_TIMEOUT_S)
        self._warned = False
        self.available = tf2_ros is not None
        if self.available:
            self._buffer = tf2_ros.Buffer()
            self._listener = tf2_ros.TransformListener(self._buffer, node, spin_thread=False)
            self._broadcaster = tf2_ros.TransformBroadcaster(node)

    def lookup(self, target_frame: str, source_frame: str, stamp: float) -> np.ndarray | None:
        """4x4 transform taking coordinates in `source_frame` into `target_frame` at `stamp`, or None."""
        if target_frame == source_frame:
            return np.eye(4)
        if not self.available:
            self._warn_once()
            return None
        try:
            when = Time(nanoseconds=int(stamp * 1e9))
            found = self._buffer.lookup_transform(target_frame, source_frame, when, timeout=self._timeout)
        except tf2_ros.TransformException as error:
            self._node.get_logger().warning(
                f"no transform {source_frame} -> {target_frame} at {stamp:.3f}: {error}",
                throttle_duration_sec=5.0,
            )
            return None
        return transform_to_matrix(found.transform)

    def send(self, transforms: list[TransformStamped]) -> None:
        if not transforms:
            return
        if not self.available:
            self._warn_once()
            return
        self._broadcaster.sendTransform(transforms)

    def _warn_once(self) -> None:
        if not self._warned:
            self._warned = True
            self._node.get_logger().warning(
                "tf2_ros is not installed: object TF frames are not broadcast, pose_source tf finds no poses "
                "and target frames other than the reconstruction's are not reachable (install ros-<distro>-tf2-ros)"
            )
