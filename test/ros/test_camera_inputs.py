"""CameraInput: what each subscription hands the buffer, checked by calling its callbacks
directly."""

import cv2
import numpy as np
import pytest
import rclpy
from sensor_msgs.msg import CompressedImage

from spatialclaw_ros.frames.buffer import BufferLimits, FrameBuffer, SampleRequest
from spatialclaw_ros.ros import camera_inputs
from spatialclaw_ros.ros.camera_inputs import CameraInput, CameraTopics
from spatialclaw_ros.ros.conversions import seconds_to_stamp
from spatialclaw_ros.ros.images import image_from_array
from spatialclaw_ros.ros.spin import Spinner

pytestmark = pytest.mark.ros


@pytest.fixture
def node():
    """A real node, not spinning: the test calls its subscriptions' callbacks itself."""
    with Spinner(threads=1) as spinner:
        made = rclpy.create_node("camera_inputs_direct", context=spinner.context)
        yield made
        made.destroy_node()


def callbacks(node) -> dict:
    return {s.topic_name: s.callback for s in node.subscriptions}


def test_frames_that_thinning_skips_are_not_decoded(monkeypatch, node):
    decoded = []

    def counting(msg):
        decoded.append(msg.header.stamp.nanosec)
        return real(msg)

    real = camera_inputs.rgb_from_compressed
    monkeypatch.setattr(camera_inputs, "rgb_from_compressed", counting)
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
        callbacks(node)["/front/image"](colour)
        callbacks(node)["/front/labels"](labels)
    assert buffer.count("front") == 3 and len(decoded) == 3 and camera.counts.dropped == 0
    frames = buffer.sample("front", SampleRequest(window_s=1.0, count=3))
    assert all(f.labels.dtype == np.int32 and (f.labels == 7).all() for f in frames)
