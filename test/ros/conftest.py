"""Fixtures for the ROS tests: one private rclpy context with a spinning executor, the scripted
VLM, a synthetic RGB-D camera streaming at 30 Hz, and a client node."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # lets the tests import ros_support

from ros_support import STREAM_TOPICS, VLMScript, scene_frames

from spatialclaw_ros.ros.spin import Spinner


@pytest.fixture(scope="package")
def spinner():
    with Spinner(threads=6) as spin:
        yield spin


@pytest.fixture(scope="package")
def script():
    return VLMScript()


@pytest.fixture(scope="package")
def vlm(script):
    from spatialclaw_ros.testing.scripted_vlm import ScriptedVLM

    with ScriptedVLM(script.reply) as server:
        yield server


@pytest.fixture(scope="package")
def stream(spinner):
    from spatialclaw_ros.ros.frame_publisher import FrameSetPublisher, StreamTopics

    node = spinner.node("scene_stream")
    publisher = FrameSetPublisher(
        node, scene_frames(), StreamTopics(**STREAM_TOPICS), rate_hz=30.0
    )
    yield node, publisher
    publisher.stop()
    spinner.remove(node)


@pytest.fixture(scope="package")
def client_node(spinner):
    node = spinner.node("test_client")
    yield node
    spinner.remove(node)
