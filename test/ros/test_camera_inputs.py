"""CameraInput: what each subscription hands the buffer, checked by calling its callbacks
directly."""

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage

from spatialclaw_ros.frames.buffer import BufferLimits, FrameBuffer, SampleRequest
from spatialclaw_ros.ros import camera_inputs
from spatialclaw_ros.ros.camera_inputs import CameraInput, CameraTopics
from spatialclaw_ros.ros.conversions import seconds_to_stamp
from spatialclaw_ros.ros.images import image_from_array

pytestmark = pytest.mark.ros


class _Logger:
    def warning(self, *_args, **_kwargs) -> None:
        pass


class FakeNode:
    """Just enough of a node for CameraInput: the callbacks by topic."""

    def __init__(self):
        self.callbacks = {}

    def create_subscription(self, _msg_type, topic, callback, _qos):
        self.callbacks[topic] = callback

    def get_logger(self):
        return _Logger()


def test_frames_that_thinning_skips_are_not_decoded(monkeypatch):
    decoded = []

    def counting(msg):
        decoded.append(msg.header.stamp.nanosec)
        return real(msg)

    real = camera_inputs.rgb_from_compressed
    monkeypatch.setattr(camera_inputs, "rgb_from_compressed", counting)
    node = FakeNode()
    buffer = FrameBuffer(["front"], BufferLimits(min_interval_s=0.1))
    camera = CameraInput(
        node,
        CameraTopics(
            "front", "/front/image", compressed=True, labels_topic="/front/labels", info_topic=""
        ),
        buffer,
    )
    png = cv2.imencode(".png", np.full((6, 8, 3), 90, np.uint8))[1].tobytes()
    ids = np.full((6, 8), 7, np.uint16)
    for i in range(7):  # 30 Hz: frames 0, 3 and 6 are kept
        stamp = seconds_to_stamp(100.0 + i / 30)
        colour = CompressedImage(format="png", data=png)
        colour.header.stamp = stamp
        labels = image_from_array(ids, "16UC1")
        labels.header.stamp = stamp
        node.callbacks["/front/image"](colour)
        node.callbacks["/front/labels"](labels)
    assert buffer.count("front") == 3 and len(decoded) == 3 and camera.counts.dropped == 0
    frames = buffer.sample("front", SampleRequest(window_s=1.0, count=3))
    assert all(f.labels.dtype == np.int32 and (f.labels == 7).all() for f in frames)
