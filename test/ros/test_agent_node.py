"""The agent node over real DDS: a synthetic RGB-D camera streams at 30 Hz, goals go through a real
action client, the agent runs for real (kernel, sensor reconstruction from depth + odometry, label
segmentation) against the scripted VLM, and the outputs arrive on their topics."""

import socket
import time

import numpy as np
import psutil
import pytest
from action_msgs.msg import GoalStatus
from builtin_interfaces.msg import Time
from rclpy.qos import qos_profile_sensor_data
from ros_support import SCENE, STREAM_TOPICS, Asker, add_agent_node, wait_until
from sensor_msgs.msg import Image
from visualization_msgs.msg import Marker

from spatialclaw_ros.action import AskSpatial
from spatialclaw_ros.ros.conversions import pose_to_matrix, stamp_to_seconds

pytestmark = pytest.mark.ros
R = AskSpatial.Result

MEASURE_CELL = """\
rec = tools.Reconstruct(InputImages)
red = tools.SAM3.segment(InputImages[-1], text="red box").best()
blue = tools.SAM3.segment(InputImages[-1], text="blue ball").best()
found = [rec.box_3d(red), rec.box_3d(blue)]
gap = rec.distance_between(red, blue)
show(InputImages[-1])
print(found, gap.centroid_distance)
ReturnAnswer(round(float(gap.centroid_distance), 3))"""
SLOW_CELL = "total = sum(i * i for i in range(2_000_000))\nprint(total)"


def camera_parameters(name: str, **topics) -> dict:
    return {f"camera.{name}.{key}": value for key, value in topics.items()}


def dead_vlm_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def make_node(spinner, name: str, vlm_url: str, runs, **overrides):
    values = {
        "cameras": ["front", "nodepth", "idle", "stale"],
        **camera_parameters(
            "front",
            image_topic=STREAM_TOPICS["image"],
            depth_topic=STREAM_TOPICS["depth"],
            info_topic=STREAM_TOPICS["info"],
            labels_topic=STREAM_TOPICS["labels"],
            label_names=[f"{SCENE.label_id(n)}:{n}" for n in SCENE.names],
        ),
        **camera_parameters(
            "nodepth", image_topic=STREAM_TOPICS["image"], info_topic=STREAM_TOPICS["info"]
        ),
        **camera_parameters("idle", image_topic="/idle/image_raw"),
        **camera_parameters("stale", image_topic="/stale/image_raw"),
        "pose_source": "odom",
        "odom_topic": STREAM_TOPICS["odom"],
        "perception.reconstruct_backend": "sensor",
        "perception.segment_backend": "labels",
        "agent.executor": "code",
        "agent.trace_dir": str(runs / "traces"),
        "vlm.base_url": vlm_url,
        "vlm.model": "scripted-vlm",
        "vlm.max_retries": 0,
        "vlm.timeout_s": 20.0,
        "default_num_frames": 4,
        "default_window_s": 2.0,
        "goal_timeout_s": 60.0,
        **overrides,
    }
    return add_agent_node(spinner, name, values, buffered=6)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("agent_node")


@pytest.fixture(scope="module")
def main_node(spinner, stream, vlm, runs):
    node = make_node(spinner, "spatialclaw", vlm.base_url, runs, record_bag_dir=str(runs / "bags"))
    yield node
    spinner.remove(node)


@pytest.fixture(scope="module")
def strict_node(spinner, stream, vlm, runs):
    """No queue, a short time limit, the plain-VLM executor: for BUSY, TIMED_OUT and the soak."""
    node = make_node(
        spinner,
        "spatialclaw_strict",
        vlm.base_url,
        runs,
        queue_goals=False,
        goal_timeout_s=2.0,
        # a small buffer fills within 2 s (10 Hz kept), so the soak measures steady state, not the
        # buffer filling up
        **{"agent.executor": "no_tools", "buffer.max_frames": 20},
    )
    yield node
    spinner.remove(node)


@pytest.fixture(scope="module")
def asker(main_node, client_node):
    return Asker(client_node, "/spatialclaw")


@pytest.fixture(scope="module")
def strict_asker(strict_node, client_node):
    return Asker(client_node, "/spatialclaw_strict")


def test_answers_with_objects_tf_markers_and_annotated_images(asker, script):
    script.set(MEASURE_CELL)
    out = asker.ask(
        question="How far apart are the centres of the red box and the blue ball?",
        cameras=["front"],
        target_frame="map",
    )
    assert out.status == GoalStatus.STATUS_SUCCEEDED, out.result.error_msg
    result = out.result
    assert result.success and result.error_code == R.NONE and result.steps == 1
    truth = np.linalg.norm(SCENE["red box"].center - SCENE["blue ball"].center)
    assert float(result.answer) == pytest.approx(truth, abs=0.35)

    # Objects are in the robot's map frame, from the camera's depth and odometry poses.
    by_label = {o.label: o for o in result.objects}
    assert set(by_label) == {"red box", "blue ball"}
    for name, estimate in by_label.items():
        assert estimate.header.frame_id == "map"
        centre = pose_to_matrix(estimate.pose)[:3, 3]
        assert np.linalg.norm(centre[:2] - SCENE[name].center[:2]) < 0.35, (name, centre)
    answer_id = result.tf_frames[0].split("/")[1]
    assert sorted(result.tf_frames) == sorted(
        f"spatialclaw/{answer_id}/{n}" for n in ("red_box", "blue_ball")
    )

    stages = [f.stage for f in out.feedback]
    assert stages[0] == "sampling" and stages[-1] == "answering"
    assert {"planning", "coding", "executing"} <= set(stages)
    assert any("ReturnAnswer" in f.code for f in out.feedback if f.stage == "executing")

    stamp = stamp_to_seconds(result.objects[0].header.stamp)
    wait_until(
        lambda: asker.markers and asker.annotated and asker.answers,
        5.0,
        "markers, images and the answer",
    )
    markers = asker.markers[-1].markers
    assert markers[0].action == Marker.DELETEALL
    cubes = [m for m in markers if m.ns == "objects"]
    assert len(cubes) == 2 and all(
        m.type == Marker.CUBE and m.header.frame_id == "map" for m in cubes
    )
    assert all(stamp_to_seconds(m.header.stamp) == stamp for m in markers)
    assert sorted(m.text for m in markers if m.ns == "labels") == ["blue ball", "red box"]
    arrows = [m for m in markers if m.ns == "distances"]
    assert len(arrows) == 1 and arrows[0].type == Marker.ARROW and len(arrows[0].points) == 2
    image = asker.annotated[-1]
    assert (
        image.header.frame_id == "front_optical" and stamp_to_seconds(image.header.stamp) == stamp
    )
    assert (image.width, image.height, image.encoding) == (160, 120, "rgb8")
    assert asker.answers[-1].answer == result.answer and asker.answers[-1].question.startswith(
        "How far"
    )
    # the stamp is a source image time: recent, not the answer's publication time
    assert time.time() - stamp < 10.0


@pytest.mark.parametrize(
    "goal, code, says",
    [
        (dict(question=""), R.BAD_REQUEST, "empty"),
        (dict(question="x" * 5000), R.BAD_REQUEST, "5000 characters"),
        (dict(question="Which?", choices=["only one"]), R.BAD_REQUEST, "two choices"),
        (dict(question="How many?", num_frames=500), R.BAD_REQUEST, "num_frames"),
        (dict(question="How many?", cameras=["rear"]), R.UNKNOWN_CAMERA, "rear"),
        (dict(question="How many?", cameras=["idle"]), R.NO_FRAMES, "idle"),
        (dict(question="How many?", stamp=Time(sec=1000)), R.NO_FRAMES, "holds"),
        (dict(question="How far?", cameras=["nodepth"]), R.PERCEPTION_FAILED, "depth"),
    ],
)
def test_request_errors_have_their_code(asker, goal, code, says):
    out = asker.ask(timeout=20.0, **goal)
    assert out.status == GoalStatus.STATUS_ABORTED
    assert (out.result.error_code, out.result.success) == (code, False)
    assert says in out.result.error_msg


def test_stale_frames(main_node, asker, client_node):
    old = Image(height=120, width=160, encoding="rgb8", step=480, data=bytes(160 * 120 * 3))
    old.header.stamp = Time(sec=int(time.time()) - 120)
    publisher = client_node.create_publisher(Image, "/stale/image_raw", qos_profile_sensor_data)
    for _ in range(20):
        publisher.publish(old)
        time.sleep(0.02)
    wait_until(lambda: main_node.buffer.count("stale") > 0, 5.0, "the old frame to arrive")
    out = asker.ask(timeout=20.0, question="How many?", cameras=["stale"])
    assert out.result.error_code == R.STALE_FRAMES and "s old" in out.result.error_msg


def test_vlm_unreachable(spinner, stream, runs, client_node):
    node = make_node(spinner, "spatialclaw_novlm", dead_vlm_url(), runs)
    try:
        out = Asker(client_node, "/spatialclaw_novlm").ask(
            timeout=30.0, question="How far is the red box?", cameras=["front"]
        )
        assert out.status == GoalStatus.STATUS_ABORTED
        assert out.result.error_code == R.VLM_UNAVAILABLE, out.result.error_msg
    finally:
        spinner.remove(node)


def test_cancel_stops_within_one_step(asker, script):
    script.set(*[SLOW_CELL] * 8)
    feedback = []
    handle, _ = asker.send(
        feedback=feedback, question="Count slowly, then answer.", cameras=["front"]
    )
    wait_until(lambda: any(f.stage == "executing" for f in feedback), 30.0, "the first step")
    steps_at_cancel = max(f.step for f in feedback)
    handle.cancel_goal_async()
    future = handle.get_result_async()
    wait_until(future.done, 30.0, "the canceled goal to end")
    response = future.result()
    assert response.status == GoalStatus.STATUS_CANCELED
    assert response.result.error_code == R.CANCELED
    assert max(f.step for f in feedback) <= steps_at_cancel + 1


def test_bad_frames_are_dropped_and_the_node_keeps_answering(
    main_node, asker, client_node, script
):
    counts = main_node.inputs["front"].counts
    dropped_before = counts.dropped
    colour = client_node.create_publisher(Image, STREAM_TOPICS["image"], qos_profile_sensor_data)
    depth = client_node.create_publisher(Image, STREAM_TOPICS["depth"], qos_profile_sensor_data)
    now = client_node.get_clock().now().to_msg()
    bad = [
        (colour, Image(height=120, width=160, encoding="yuv422", step=320, data=bytes(320 * 120))),
        (colour, Image(height=120, width=160, encoding="rgb8", step=400, data=bytes(400 * 120))),
        (depth, Image(height=60, width=80, encoding="16UC1", step=160, data=bytes(160 * 60))),
    ]
    for _ in range(5):
        for publisher, msg in bad:
            msg.header.stamp = now
            publisher.publish(msg)
        time.sleep(0.05)
    wait_until(lambda: counts.dropped - dropped_before >= 3, 5.0, "bad frames to be dropped")
    assert (
        "yuv422" in counts.last_error
        or "step" in counts.last_error
        or "80x60" in counts.last_error
    )
    script.set("ReturnAnswer(len(InputImages))")
    out = asker.ask(question="How many frames do you see?", cameras=["front"])
    assert out.result.success and out.result.answer == "4"


def test_busy_and_timed_out(strict_asker, vlm, script):
    script.set("ANSWER:too late")
    vlm.stall_next(1, 5.0)
    first, _ = strict_asker.send(question="What colour is the box?", cameras=["front"])
    time.sleep(0.3)
    second = strict_asker.ask(timeout=10.0, question="And the ball?", cameras=["front"])
    assert second.result.error_code == R.BUSY
    response = first.get_result_async()
    wait_until(response.done, 20.0, "the stalled goal to end")
    assert response.result().result.error_code == R.TIMED_OUT, response.result().result.error_msg


def test_soak_fifty_goals_memory_stays_flat(strict_asker, script, vlm):
    process = psutil.Process()
    script.set(*[f"ANSWER:{i}" for i in range(50)])
    rss_after_five = None
    for i in range(50):
        out = strict_asker.ask(
            timeout=20.0, question=f"Question {i}: how many boxes?", cameras=["front"]
        )
        assert out.result.success and out.result.answer == str(i), out.result.error_msg
        # the scripted VLM shares this process and keeps every request (with images)
        vlm.requests.clear()
        if i == 4:
            rss_after_five = process.memory_info().rss
    assert process.memory_info().rss <= rss_after_five * 1.10


def test_answers_were_recorded_to_an_mcap_bag(main_node, asker):
    from rosbags.highlevel import AnyReader

    assert asker.answers, "an earlier test answered a question"
    main_node.recorder.close()
    path = main_node.recorder.path
    assert (path / "metadata.yaml").is_file()
    with AnyReader([path]) as reader:
        topics = {c.topic for c in reader.connections}
        assert {"/spatialclaw/answer", "/spatialclaw/markers", "/spatialclaw/annotated"} <= topics
        answers = [
            reader.deserialize(raw, c.msgtype)
            for c, _, raw in reader.messages(
                connections=[c for c in reader.connections if c.topic == "/spatialclaw/answer"]
            )
        ]
    recorded = {a.question: a.answer for a in answers}
    assert (
        recorded.get("How far apart are the centres of the red box and the blue ball?")
        == asker.answers[0].answer
    )
