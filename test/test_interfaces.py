"""The generated interfaces work over real DDS: an AskSpatial action server and client in two
nodes exchange a goal, streamed feedback and a result whose every field round-trips."""

import threading
import time

import pytest
import rclpy
from rclpy.action import ActionServer
from rclpy.executors import MultiThreadedExecutor

from spatialclaw_ros.action import AskSpatial
from spatialclaw_ros.msg import ObjectEstimate
from spatialclaw_ros.ros.action_client import GoalClient

pytestmark = pytest.mark.ros

ERROR_CODES = {
    "NONE": 0,
    "NO_FRAMES": 1,
    "STALE_FRAMES": 2,
    "UNKNOWN_CAMERA": 3,
    "BAD_REQUEST": 4,
    "VLM_UNAVAILABLE": 5,
    "PERCEPTION_FAILED": 6,
    "TIMED_OUT": 7,
    "CANCELED": 8,
    "BUSY": 9,
    "INTERNAL_ERROR": 10,
}
STAGES = ["sampling", "planning", "coding", "executing", "answering"]


def test_error_codes_and_stages_are_named_constants():
    for name, value in ERROR_CODES.items():
        assert getattr(AskSpatial.Result, name) == value
    assert [getattr(AskSpatial.Feedback, f"STAGE_{s.upper()}") for s in STAGES] == STAGES


def echo_result(goal: AskSpatial.Goal) -> AskSpatial.Result:
    """A result built from the goal so the client can check each field made the trip."""
    result = AskSpatial.Result()
    result.success = goal.question != "fail"
    result.error_code = (
        AskSpatial.Result.NONE if result.success else AskSpatial.Result.PERCEPTION_FAILED
    )
    result.error_msg = "" if result.success else "depth backend crashed"
    result.answer = f"{goal.question} -> {len(goal.choices)} choices"
    result.has_value = True
    result.value = goal.window_sec * 2.0
    result.unit = "m"
    obj = ObjectEstimate()
    obj.header.frame_id = goal.target_frame
    obj.header.stamp = goal.stamp
    obj.label = goal.cameras[0] if goal.cameras else "none"
    obj.pose.position.x, obj.pose.position.y, obj.pose.position.z = 1.5, -0.25, 0.75
    obj.pose.orientation.w = 1.0
    obj.size.x, obj.size.y, obj.size.z = 0.4, 0.5, 0.9
    obj.confidence = 0.875
    obj.frame_indices = [0, 3, 7]
    result.objects = [obj]
    result.tf_frames = ["spatialclaw/1/red_chair"]
    result.steps = goal.max_steps
    result.used_fallback = False
    result.trace_path = "/tmp/trace.jsonl"
    return result


@pytest.fixture()
def ros_nodes():
    rclpy.init()
    server_node = rclpy.create_node("ask_server")
    client_node = rclpy.create_node("ask_client")

    def execute(goal_handle):
        for step, stage in enumerate(STAGES):
            fb = AskSpatial.Feedback(
                stage=stage, step=step, code=f"x = {step}", observation="ok", elapsed=0.1 * step
            )
            goal_handle.publish_feedback(fb)
            time.sleep(0.02)
        result = echo_result(goal_handle.request)
        goal_handle.succeed() if result.success else goal_handle.abort()
        return result

    server = ActionServer(server_node, AskSpatial, "ask", execute)
    executor = MultiThreadedExecutor()
    executor.add_node(server_node)
    executor.add_node(client_node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    yield client_node
    server.destroy()
    executor.shutdown()
    rclpy.shutdown()
    spinner.join(timeout=5)


def send(client_node, goal):
    client = GoalClient(client_node, AskSpatial, "ask")
    assert client.wait_for_server(timeout_sec=10), "action server never appeared"
    feedback = []
    handle_future = client.send_goal_async(
        goal, feedback_callback=lambda msg: feedback.append(msg.feedback)
    )
    deadline = time.time() + 10
    while not handle_future.done():
        assert time.time() < deadline, "goal was not accepted"
        time.sleep(0.01)
    result_future = handle_future.result().get_result_async()
    while not result_future.done():
        assert time.time() < deadline, "no result"
        time.sleep(0.01)
    return result_future.result(), feedback


def make_goal(question: str) -> AskSpatial.Goal:
    goal = AskSpatial.Goal()
    goal.question = question
    goal.choices = ["left", "right"]
    goal.cameras = ["front"]
    goal.window_sec = 2.5
    goal.num_frames = 8
    goal.stamp.sec, goal.stamp.nanosec = 1700000000, 250
    goal.target_frame = "map"
    goal.max_steps = 12
    return goal


def test_goal_feedback_and_result_round_trip(ros_nodes):
    wrapped, feedback = send(ros_nodes, make_goal("is the chair left of the door?"))
    result = wrapped.result
    assert wrapped.status == 4  # GoalStatus.STATUS_SUCCEEDED
    assert [f.stage for f in feedback] == STAGES
    assert [f.step for f in feedback] == list(range(len(STAGES)))
    assert feedback[2].code == "x = 2"
    assert result.success and result.error_code == AskSpatial.Result.NONE
    assert result.answer == "is the chair left of the door? -> 2 choices"
    assert result.value == pytest.approx(5.0) and result.unit == "m"
    (obj,) = result.objects
    assert obj.label == "front" and obj.header.frame_id == "map"
    assert (obj.header.stamp.sec, obj.header.stamp.nanosec) == (1700000000, 250)
    assert (obj.pose.position.x, obj.pose.position.y, obj.pose.position.z) == (1.5, -0.25, 0.75)
    assert obj.size.z == pytest.approx(0.9) and obj.confidence == pytest.approx(0.875)
    assert list(obj.frame_indices) == [0, 3, 7]
    assert list(result.tf_frames) == ["spatialclaw/1/red_chair"]
    assert result.steps == 12 and result.trace_path == "/tmp/trace.jsonl"


def test_error_result_round_trips(ros_nodes):
    wrapped, _ = send(ros_nodes, make_goal("fail"))
    assert wrapped.status == 6  # GoalStatus.STATUS_ABORTED
    assert not wrapped.result.success
    assert wrapped.result.error_code == AskSpatial.Result.PERCEPTION_FAILED
    assert wrapped.result.error_msg == "depth backend crashed"
