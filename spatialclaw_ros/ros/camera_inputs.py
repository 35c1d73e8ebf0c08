"""Subscriptions that feed one camera's colour, depth, CameraInfo and label images into the buffer.

A frame that cannot be decoded, or that does not fit its camera, is dropped with a throttled
warning and counted; nothing a publisher sends can stop the node from answering.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import String

from spatialclaw_ros.frames.buffer import FrameBuffer
from spatialclaw_ros.frames.cameras import CameraTopics, parse_label_names_json
from spatialclaw_ros.frames.codec import (
    CameraCalibration,
    Undistorter,
    depth_from_compressed,
    depth_from_pixels,
    depth_pixels,
    image_array,
    label_pixels,
    labels_from_pixels,
    rgb_from_compressed,
    rgb_from_pixels,
)
from spatialclaw_ros.ros.conversions import stamp_to_seconds
from spatialclaw_ros.ros.qos import LATCHED_NAMES_QOS

_RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Above this a message is split into many UDP fragments, and one lost fragment loses the image.
_LARGE_MESSAGE_BYTES = 64 * 1024


@dataclass
class InputCounts:
    """Colour frames received, kept by the buffer and skipped by its thinning; messages of any
    stream dropped as bad input (undecodable, or not fitting the camera)."""

    received: int = 0
    kept: int = 0
    skipped: int = 0
    dropped: int = 0
    last_error: str = ""


class CameraInput:
    def __init__(self, node: Node, topics: CameraTopics, buffer: FrameBuffer):
        self.topics = topics
        self.optical_frame = ""  # the colour images' header.frame_id, learnt from the stream
        self.counts = InputCounts()
        # Set from CameraInfo when the camera is distorted and its images are not image_rect.
        self._undistorter: Undistorter | None = None
        self._transport_checked = False
        self._node = node
        self._buffer = buffer
        if topics.label_names:
            buffer.update_label_names(topics.name, topics.label_names)
        qos = _RELIABLE if topics.reliable else qos_profile_sensor_data
        # This camera's streams take turns in a group of their own, apart from the node's default
        # group, where the lifecycle and parameter services run: configuring (seconds of model
        # loading) does not stop frames from buffering, and a burst of frames does not hold up
        # a service call.
        group = MutuallyExclusiveCallbackGroup()
        node.create_subscription(
            CompressedImage if topics.compressed else Image,
            topics.image_topic,
            self._guarded("colour", self._colour),
            qos,
            callback_group=group,
        )
        if topics.depth_topic:
            depth_type = CompressedImage if topics.depth_compressed else Image
            node.create_subscription(
                depth_type,
                topics.depth_topic,
                self._guarded("depth", self._depth),
                qos,
                callback_group=group,
            )
        if topics.labels_topic:
            node.create_subscription(
                Image,
                topics.labels_topic,
                self._guarded("labels", self._labels),
                qos,
                callback_group=group,
            )
        if topics.info_topic:
            node.create_subscription(
                CameraInfo,
                topics.info_topic,
                self._guarded("CameraInfo", self._info),
                qos,
                callback_group=group,
            )
        if topics.label_names_topic:
            # Names are state, not a stream: latched, so that names announced before this node
            # started (or once, long ago) are still received.
            node.create_subscription(
                String,
                topics.label_names_topic,
                self._guarded_names,
                LATCHED_NAMES_QOS,
                callback_group=group,
            )

    def _warn_if_transport_too_small(self, msg) -> None:
        """Once: large images over Fast DDS's default transports arrive only in part under load."""
        self._transport_checked = True
        size = len(msg.data)
        rmw = os.environ.get("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
        if (
            size > _LARGE_MESSAGE_BYTES
            and "fastrtps" in rmw
            and os.environ.get("FASTDDS_BUILTIN_TRANSPORTS", "DEFAULT")
            not in ("LARGE_DATA", "LARGE_DATAv6")
        ):
            self._node.get_logger().warning(
                f"camera {self.topics.name!r} sends {size / 1e6:.1f} MB images over "
                "Fast DDS's default transports, "
                "which lose fragments of large messages under load: start the node and "
                "the publisher with "
                "FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA (`spatialclaw node` and "
                "`spatialclaw bag play` set it)"
            )

    def _colour(self, msg, stamp: float) -> None:
        self.counts.received += 1
        if not self._transport_checked:
            self._warn_if_transport_too_small(msg)
        # Decoded only if the buffer keeps the frame (thinning skips most); a raw image's header is
        # checked now, which is cheap, so that a bad one is still counted.
        undistort = self._undistorter.colour if self._undistorter else None
        if self.topics.compressed:
            decode = _then(partial(rgb_from_compressed, msg), undistort)
        else:
            decode = _then(partial(rgb_from_pixels, image_array(msg), msg.encoding), undistort)
        if self._buffer.add_color(self.topics.name, stamp, decode):
            self.counts.kept += 1
        else:
            self.counts.skipped += 1
        self.optical_frame = msg.header.frame_id

    def _depth(self, msg, stamp: float) -> None:
        undistort = self._undistorter.depth if self._undistorter else None
        if self.topics.depth_compressed:
            self._buffer.add_depth(
                self.topics.name, stamp, _then(partial(depth_from_compressed, msg), undistort)()
            )
            return
        decode = _then_pixels(partial(depth_from_pixels, encoding=msg.encoding), undistort)
        self._buffer.add_depth(self.topics.name, stamp, depth_pixels(msg), decode)

    def _labels(self, msg: Image, stamp: float) -> None:
        undistort = self._undistorter.labels if self._undistorter else None
        self._buffer.add_labels(
            self.topics.name,
            stamp,
            label_pixels(msg),
            decode=_then_pixels(labels_from_pixels, undistort),
        )

    def _info(self, msg: CameraInfo, stamp: float) -> None:
        calibration = CameraCalibration.from_message(
            msg, rectified=is_rectified_topic(self.topics.image_topic)
        )
        if not calibration.calibrated:
            raise ValueError("K is zero (uncalibrated camera)")
        if self._undistorter is None or self._undistorter.calibration != calibration:
            self._undistorter = calibration.undistorter()
        self._buffer.add_intrinsics(self.topics.name, stamp, calibration.intrinsics())

    def _guarded_names(self, msg: String) -> None:
        try:
            names = parse_label_names_json(msg.data)
        except ValueError as error:
            self._drop("label names", error)
            return
        self._buffer.update_label_names(self.topics.name, names)

    def _drop(self, stream: str, error: Exception) -> None:
        self.counts.dropped += 1
        self.counts.last_error = (
            f"dropped a {stream} message from camera {self.topics.name!r}: {error}"
        )
        self._node.get_logger().warning(self.counts.last_error, throttle_duration_sec=5.0)

    def _guarded(self, stream: str, ingest: Callable[[object, float], None]):
        def on_message(msg) -> None:
            try:
                ingest(msg, stamp_to_seconds(msg.header.stamp))
            # ImageError, FrameRejected, PerceptionError: all bad input
            except ValueError as error:
                self._drop(stream, error)

        return on_message


def is_rectified_topic(topic: str) -> bool:
    """image_proc names undistorted images image_rect / image_rect_color (REP and
    image_pipeline)."""
    return "image_rect" in topic


def _then(decode: Callable[[], np.ndarray], undistort: Callable[[np.ndarray], np.ndarray] | None):
    return decode if undistort is None else lambda: undistort(decode())


def _then_pixels(
    decode: Callable[[np.ndarray], np.ndarray],
    undistort: Callable[[np.ndarray], np.ndarray] | None,
):
    return decode if undistort is None else lambda pixels: undistort(decode(pixels))
