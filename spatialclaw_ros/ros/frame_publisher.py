"""Plays a FrameSet onto camera topics at a fixed rate, stamped with the node's clock.

Used by the demo (a rendered synthetic scene stands in for a camera), by the integration tests,
and to feed recorded frame sets to a running agent node. Messages are built once up front, so
publishing at 30 Hz costs only the DDS send.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from spatialclaw_ros.frames import Frame, FrameSet
from spatialclaw_ros.frames.codec import millimetres_from_metres
from spatialclaw_ros.frames.poses import BODY_FROM_OPTICAL
from spatialclaw_ros.ros.conversions import matrix_to_pose
from spatialclaw_ros.ros.images import (
    camera_info_from_intrinsics,
    image_from_array,
    image_from_rgb,
)


@dataclass(frozen=True)
class StreamTopics:
    """Where each part of a frame goes; an empty name means "do not publish it"."""

    image: str
    depth: str = ""
    info: str = ""
    labels: str = ""
    odom: str = ""
    optical_frame: str = "camera_optical"


@dataclass
class _FrameMessages:
    image: Image
    depth: Image | None
    info: CameraInfo | None
    labels: Image | None
    odom: Odometry | None


class FrameSetPublisher:
    """Publishes frame after frame, looping, from a timer on `node`; `published` counts frames
    sent."""

    def __init__(self, node: Node, frames: FrameSet, topics: StreamTopics, rate_hz: float = 30.0):
        self._node = node
        self._messages = [_messages(frame, topics, frames.world_frame) for frame in frames]
        self.published = 0
        qos = qos_profile_sensor_data
        self._pubs = {
            "image": node.create_publisher(Image, topics.image, qos),
            "depth": node.create_publisher(Image, topics.depth, qos) if topics.depth else None,
            "info": node.create_publisher(CameraInfo, topics.info, qos) if topics.info else None,
            "labels": node.create_publisher(Image, topics.labels, qos) if topics.labels else None,
            "odom": node.create_publisher(Odometry, topics.odom, qos) if topics.odom else None,
        }
        self._timer = node.create_timer(1.0 / rate_hz, self._tick)

    def stop(self) -> None:
        self._timer.cancel()

    def _tick(self) -> None:
        messages = self._messages[self.published % len(self._messages)]
        stamp = self._node.get_clock().now().to_msg()
        for name, publisher in self._pubs.items():
            msg = getattr(messages, name)
            if publisher is None or msg is None:
                continue
            msg.header.stamp = stamp
            publisher.publish(msg)
        self.published += 1


def _messages(frame: Frame, topics: StreamTopics, world_frame: str) -> _FrameMessages:
    image = image_from_rgb(frame.image)
    image.header.frame_id = topics.optical_frame
    depth = info = labels = odom = None
    if topics.depth and frame.depth is not None:
        depth = _millimetres_message(frame.depth)
        depth.header.frame_id = topics.optical_frame
    if topics.info and frame.intrinsics is not None:
        info = camera_info_from_intrinsics(frame.intrinsics)
        info.header.frame_id = topics.optical_frame
    if topics.labels and frame.labels is not None:
        labels = image_from_array(frame.labels.astype(np.int32), "32SC1")
        labels.header.frame_id = topics.optical_frame
    if topics.odom and frame.pose is not None:
        odom = Odometry(child_frame_id="base_link")
        odom.header.frame_id = world_frame or "odom"
        # The camera is mounted at the base origin looking forward (the node's default extrinsic).
        odom.pose.pose = matrix_to_pose(frame.pose @ np.linalg.inv(BODY_FROM_OPTICAL))
    return _FrameMessages(image, depth, info, labels, odom)


def _millimetres_message(depth_m: np.ndarray) -> Image:
    """16UC1 millimetres, 0 where invalid: what most RGB-D drivers publish."""
    return image_from_array(millimetres_from_metres(depth_m), "16UC1")
