"""The demo asks its first question only once the node holds what every question needs: the
streams are matched one by one, and a question asked while odometry or CameraInfo is still on its
way fails (a `make demo` run failed its first question so)."""

import pytest
from rclpy.parameter import Parameter

from spatialclaw_ros.eval.synthetic import random_scene
from spatialclaw_ros.frames.buffer import FrameBufferError, SampleRequest
from spatialclaw_ros.ros.agent_node import SpatialClawNode
from spatialclaw_ros.ros.demo import (
    CAMERA,
    TOPICS,
    DemoOptions,
    answerable,
    node_parameters,
    render_sweep,
)
from spatialclaw_ros.ros.frame_publisher import FrameSetPublisher, StreamTopics
from spatialclaw_ros.ros.spin import Spinner, wait_until

pytestmark = pytest.mark.ros


def colour_with_depth(buffer) -> bool:
    try:
        frames = buffer.sample(CAMERA, SampleRequest(window_s=1.0, count=6))
    except FrameBufferError:
        return False
    return len(frames) == 6 and frames.has_depth


@pytest.mark.parametrize("late", ["odom", "info"])
def test_the_demo_waits_for_every_stream_its_questions_need(late, tmp_path, monkeypatch):
    monkeypatch.setenv("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")  # as run_demo does
    scene = random_scene(3, n_objects=4)
    frames = render_sweep(scene, 12)
    parameters = node_parameters(DemoOptions(out_dir=str(tmp_path)), scene)
    with Spinner(threads=4) as spinner:
        agent = spinner.add(
            SpatialClawNode(
                context=spinner.context,
                parameter_overrides=[Parameter(k, value=v) for k, v in parameters.items()],
            )
        )
        early = spinner.node("early_streams")
        FrameSetPublisher(early, frames, StreamTopics(**{**TOPICS, late: ""}), rate_hz=30.0)
        # a second of colour with depth is buffered, and still the node could not answer
        assert wait_until(lambda: colour_with_depth(agent.buffer), 60.0)
        assert not answerable(agent)
        spinner.remove(early)
        FrameSetPublisher(spinner.node("all_streams"), frames, StreamTopics(**TOPICS), 30.0)
        assert wait_until(lambda: answerable(agent), 60.0)
