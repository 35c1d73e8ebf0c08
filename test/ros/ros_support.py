"""Helpers for the ROS integration tests (imported by test/ros/conftest.py and the tests): waits
that raise on timeout, an action client, topic recorders, a scripted VLM, and a small synthetic
scene whose geometry is known exactly, streamed over DDS."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from rclpy.node import Node
from rclpy.task import Future
from sensor_msgs.msg import Image
from visualization_msgs.msg import MarkerArray

from spatialclaw_ros.action import AskSpatial
from spatialclaw_ros.eval.synthetic import Scene, SceneObject, default_intrinsics, look_at, render
from spatialclaw_ros.frames import FrameSet
from spatialclaw_ros.msg import SpatialAnswer
from spatialclaw_ros.ros import spin
from spatialclaw_ros.ros.action_client import GoalClient

SCENE = Scene(
    (
        SceneObject(
            "red box", "box", (205, 40, 40), np.array([2.0, 0.7, 0.3]), np.array([0.6, 0.6, 0.6])
        ),
        SceneObject(
            "blue ball",
            "sphere",
            (45, 75, 210),
            np.array([2.2, -0.9, 0.25]),
            np.array([0.5, 0.5, 0.5]),
        ),
    ),
    room_size=(8.0, 6.0, 3.0),
    name="ros_test",
)


def scene_frames(n: int = 6, width: int = 160, height: int = 120) -> FrameSet:
    """`n` views from a camera sliding sideways, all seeing both objects."""
    poses = [look_at((-1.0, y, 1.2), (2.0, 0.0, 0.3)) for y in np.linspace(-0.3, 0.3, n)]
    return render(SCENE, poses, default_intrinsics(width, height))


def wait_for(future: Future, timeout: float):
    if not spin.wait_until(future.done, timeout):
        raise TimeoutError(f"no answer within {timeout} s")
    return future.result()


def wait_until(condition, timeout: float, what: str) -> None:
    if not spin.wait_until(condition, timeout):
        raise TimeoutError(f"timed out waiting for {what}")


@dataclass
class GoalOutcome:
    result: AskSpatial.Result
    status: int
    feedback: list[AskSpatial.Feedback] = field(default_factory=list)


class Asker:
    """An action client for one node's ~/ask, plus recorders of its output topics."""

    def __init__(self, node: Node, server: str):
        self.node = node
        self.client = GoalClient(node, AskSpatial, f"{server}/ask")
        self.markers: list[MarkerArray] = []
        self.annotated: list[Image] = []
        self.answers: list[SpatialAnswer] = []
        node.create_subscription(MarkerArray, f"{server}/markers", self.markers.append, 10)
        node.create_subscription(Image, f"{server}/annotated", self.annotated.append, 10)
        node.create_subscription(SpatialAnswer, f"{server}/answer", self.answers.append, 10)
        if not self.client.wait_for_server(timeout_sec=10.0):
            raise TimeoutError(f"action server {server}/ask did not appear")

    def send(self, feedback: list | None = None, **fields):
        goal = AskSpatial.Goal(**fields)
        sink = feedback if feedback is not None else []
        handle = wait_for(
            self.client.send_goal_async(goal, feedback_callback=lambda m: sink.append(m.feedback)),
            10.0,
        )
        assert handle.accepted
        return handle, sink

    def ask(self, timeout: float = 60.0, **fields) -> GoalOutcome:
        handle, feedback = self.send(**fields)
        response = wait_for(handle.get_result_async(), timeout)
        return GoalOutcome(response.result, response.status, feedback)


class VLMScript:
    """What the scripted VLM says: a fixed plan to planner calls, the queued cells (or direct
    answers) to everything else, in order."""

    def __init__(self):
        self.cells: list[str] = []
        self.lock = threading.Lock()

    def set(self, *cells: str) -> None:
        with self.lock:
            self.cells = list(cells)

    def reply(self, request: dict) -> str:
        system = str(request["messages"][0].get("content", ""))
        if "You plan how" in system:
            return "1. Find the objects. 2. Measure. 3. Answer."
        with self.lock:
            code = self.cells.pop(0) if self.cells else 'ReturnAnswer("no more cells")'
        if not code.startswith("ANSWER:"):
            return (
                "Purpose: next step.\nReasoning: scripted.\nNext goal: continue.\n"
                f"```python\n{code}\n```"
            )
        return code.removeprefix("ANSWER:")


STREAM_TOPICS = dict(
    image="/front/color/image_raw",
    depth="/front/depth/image_raw",
    info="/front/color/camera_info",
    labels="/front/labels",
    odom="/odom",
    optical_frame="front_optical",
)


def node_parameters(**values) -> list:
    from rclpy.parameter import Parameter

    return [Parameter(name, value=value) for name, value in values.items()]


def add_agent_node(spinner, name: str, values: dict, buffered: int = 0):
    """An agent node with the parameters `values`, spinning in `spinner` (removed by the caller);
    with `buffered`, returned once a goal about camera "front"'s last 2 s would get that many
    frames with what the node checks for (depth and CameraInfo match after colour, at times)."""
    from spatialclaw_ros.action import AskSpatial
    from spatialclaw_ros.ros.agent_node import GoalFailed, SpatialClawNode

    node = spinner.add(
        SpatialClawNode(
            node_name=name, context=spinner.context, parameter_overrides=node_parameters(**values)
        )
    )

    def holds_frames() -> bool:
        goal = AskSpatial.Goal(window_sec=2.0, num_frames=buffered)
        try:
            return len(node.frames_for(goal, ["front"])[0]) == buffered
        except GoalFailed:
            return False

    if buffered:
        wait_until(holds_frames, 15.0, f"{name} to buffer frames")
    return node


def offline_answers(bag, questions: list, root, concurrency: int) -> list:
    """What an online replay is compared with: the same questions answered offline from the bag
    by the rules executor with sensor depth and label masks, as the replayed nodes run
    (predictions under `root`/offline, traces under `root`/offline_traces)."""
    from spatialclaw_ros.eval.answerers import build_answerer
    from spatialclaw_ros.eval.replay import replay_offline

    answerer = build_answerer(
        "rules",
        reconstruct_backend="sensor",
        segment_backend="labels",
        trace_dir=str(root / "offline_traces"),
    )
    return replay_offline(
        bag, questions, answerer, root / "offline", "rules", concurrency=concurrency
    ).predictions
