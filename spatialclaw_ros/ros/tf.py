"""TF for the node, with or without tf2_ros.

- tf2_ros installed (every real ROS install): its Buffer, TransformListener and
  TransformBroadcaster, the Buffer behind the `TransformBuffer` interface (`Tf2Buffer`).
- tf2_ros missing but tf2_msgs importable (a pip-installed ROS after scripts/setup.sh built the
  interface): our own subscriptions to /tf and /tf_static feed `frames.transforms.TfTree`, which
  passes the same contract tests, and answers are published on /tf as TFMessage.
- neither: lookups find nothing and nothing is broadcast; the node says so once.

This module is the only place that touches tf2_ros and stays as thin as the library allows.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import TransformStamped
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.time import Time

from spatialclaw_ros.frames.transforms import TfTree, TransformBuffer, TransformLookupError
from spatialclaw_ros.ros.conversions import (
    matrix_to_transform,
    seconds_to_stamp,
    stamp_to_seconds,
    transform_to_matrix,
)

try:
    import tf2_ros
except ImportError:  # pip-installed ROS: no tf2_ros wheel
    tf2_ros = None
try:
    from tf2_msgs.msg import TFMessage
except ImportError:  # and no tf2_msgs unless scripts/setup.sh built it
    TFMessage = None

# How long a lookup waits for transforms that have not arrived yet: TF lags the images it
# belongs to (a live robot's, and a replayed bag's under load).
_LOOKUP_TIMEOUT_S = 0.5
_CACHE_S = 10.0  # tf2's default buffer length
_TF_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
_TF_STATIC_QOS = QoSProfile(
    depth=100, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)


class Tf2Buffer:
    """tf2_ros.Buffer behind the TransformBuffer interface."""

    def __init__(self, buffer=None, timeout_s: float = 0.0):
        self.buffer = (
            buffer if buffer is not None else tf2_ros.Buffer(cache_time=Duration(seconds=_CACHE_S))
        )
        self._timeout = Duration(seconds=timeout_s)

    def set_transform(
        self, parent: str, child: str, stamp: float, matrix: np.ndarray, static: bool = False
    ) -> None:
        message = TransformStamped(child_frame_id=child, transform=matrix_to_transform(matrix))
        message.header.frame_id = parent
        message.header.stamp = seconds_to_stamp(stamp)
        if static:
            self.buffer.set_transform_static(message, "spatialclaw")
        else:
            self.buffer.set_transform(message, "spatialclaw")

    def lookup(self, target: str, source: str, stamp: float) -> np.ndarray:
        if target == source:
            return np.eye(4)
        try:
            found = self.buffer.lookup_transform(
                target, source, Time(nanoseconds=int(round(stamp * 1e9))), timeout=self._timeout
            )
        except tf2_ros.TransformException as error:
            raise TransformLookupError(f"{type(error).__name__}: {error}") from None
        return transform_to_matrix(found.transform)


class TfBridge:
    def __init__(self, node: Node):
        self._node = node
        self._warned = False
        self._publisher = None
        self.buffer: TransformBuffer | None = None
        if tf2_ros is not None:
            self.buffer = Tf2Buffer(timeout_s=_LOOKUP_TIMEOUT_S)
            self._listener = tf2_ros.TransformListener(self.buffer.buffer, node, spin_thread=False)
            self._broadcaster = tf2_ros.TransformBroadcaster(node)
            self.backend = "tf2_ros"
        elif TFMessage is not None:
            tree = TfTree(cache_s=_CACHE_S, timeout_s=_LOOKUP_TIMEOUT_S)
            self.buffer = tree
            # apart from the services in the default group, as the camera streams are
            group = MutuallyExclusiveCallbackGroup()
            node.create_subscription(
                TFMessage,
                "/tf",
                lambda msg: self._receive(tree, msg, False),
                _TF_QOS,
                callback_group=group,
            )
            node.create_subscription(
                TFMessage,
                "/tf_static",
                lambda msg: self._receive(tree, msg, True),
                _TF_STATIC_QOS,
                callback_group=group,
            )
            self._publisher = node.create_publisher(TFMessage, "/tf", _TF_QOS)
            self.backend = "fallback buffer"
        else:
            self.backend = "none"
        self.available = self.buffer is not None

    def _receive(self, tree: TfTree, message, static: bool) -> None:
        for transform in message.transforms:
            try:
                tree.set_transform(
                    transform.header.frame_id,
                    transform.child_frame_id,
                    stamp_to_seconds(transform.header.stamp),
                    transform_to_matrix(transform.transform),
                    static=static,
                )
            except ValueError as error:  # a malformed transform must not stop the others
                self._node.get_logger().warning(
                    f"ignoring a TF transform: {error}", throttle_duration_sec=5.0
                )

    def find(self, target_frame: str, source_frame: str, stamp: float) -> np.ndarray:
        """4x4 taking coordinates in `source_frame` into `target_frame` at `stamp`; raises
        TransformLookupError naming what is missing."""
        if target_frame == source_frame:
            return np.eye(4)
        if self.buffer is None:
            self._warn_once()
            raise TransformLookupError(
                f"no TF here (neither tf2_ros nor tf2_msgs is installed), so {source_frame} "
                f"cannot be placed in {target_frame}"
            )
        return self.buffer.lookup(target_frame, source_frame, stamp)

    def lookup(self, target_frame: str, source_frame: str, stamp: float) -> np.ndarray | None:
        """As `find`, but None (with a throttled warning) where the transform is unknown."""
        try:
            return self.find(target_frame, source_frame, stamp)
        except TransformLookupError as error:
            self._node.get_logger().warning(
                f"no transform {source_frame} -> {target_frame} at {stamp:.3f}: {error}",
                throttle_duration_sec=5.0,
            )
            return None

    def send(self, transforms: list[TransformStamped]) -> None:
        if not transforms:
            return
        if tf2_ros is not None:
            self._broadcaster.sendTransform(transforms)
        elif self._publisher is not None:
            # our /tf subscription hears it too
            self._publisher.publish(TFMessage(transforms=transforms))
        else:
            self._warn_once()

    def _warn_once(self) -> None:
        if not self._warned:
            self._warned = True
            self._node.get_logger().warning(
                "neither tf2_ros nor tf2_msgs is installed: object TF frames are not "
                "broadcast, pose_source tf finds "
                "no poses and target frames other than the reconstruction's are not "
                "reachable (run scripts/setup.sh, "
                "which builds tf2_msgs, or install ros-<distro>-tf2-ros)"
            )
