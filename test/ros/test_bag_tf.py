"""Real-driver bags through the running node on a pip-installed ROS: the node reads poses from the
bag's /tf and /tf_static (its own TF buffer where tf2_ros is missing), answers online as offline
replay does within 1% of the ground truth, says how many frames it used, and publishes the
answer's object frames on /tf, where a plain subscriber receives them."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "frames"))

from driver_bags import OPENNI, REALSENSE, SCENE, SIMULATOR, ZED, write_driver_bag
from ros_support import Asker, add_agent_node, offline_answers, wait_until

from spatialclaw_ros.eval.records import Sample
from spatialclaw_ros.frames.bags import inspect_bag

pytestmark = pytest.mark.ros
TFMessage = pytest.importorskip(
    "tf2_msgs.msg", reason="needs tf2_msgs (scripts/setup.sh builds it)"
).TFMessage
LAYOUTS = {
    "realsense": (REALSENSE, {}),
    "zed": (ZED, {"storage": "sqlite3"}),
    "simulator": (SIMULATOR, {}),
}


def _node(spinner, name: str, bag: Path, trace_dir: Path):
    camera = inspect_bag(bag).cameras[0].topics  # the configuration `spatialclaw bag info` prints
    values = {
        "use_sim_time": True,
        "cameras": [camera.name],
        **{f"camera.{camera.name}.{key}": value for key, value in camera.parameters().items()},
        f"camera.{camera.name}.reliable": True,  # as `spatialclaw bag info` prints it for a replay
        "pose_source": "tf",
        "world_frame": "map",
        "perception.reconstruct_backend": "sensor",
        "perception.segment_backend": "labels",
        "agent.executor": "rules",
        "agent.trace_dir": str(trace_dir),
        "goal_timeout_s": 120.0,
    }
    return add_agent_node(spinner, name, values)


def _questions(truth) -> list[Sample]:
    first, last = truth.frames[0].pose, truth.frames[-1].pose
    turn = first[:3, :3].T @ last[:3, :3]
    replay = {
        "window": [truth.stamps[0], truth.stamps[-1]],
        "stamp": truth.stamps[-1] + 0.1,
        "frames": len(truth.stamps),
    }
    return [
        Sample(
            id="moved",
            benchmark="driver_bags",
            question="How far did the camera travel?",
            answer_type="number",
            answer=float(np.linalg.norm(last[:3, 3] - first[:3, 3])),
            metric="mra",
            extra={"replay": dict(replay)},
        ),
        Sample(
            id="turned",
            benchmark="driver_bags",
            question="How many degrees did the camera turn?",
            answer=float(np.degrees(np.arccos(np.clip((np.trace(turn) - 1) / 2, -1, 1)))),
            answer_type="number",
            metric="mra",
            extra={"replay": dict(replay)},
        ),
    ]


@pytest.mark.parametrize("layout_name", list(LAYOUTS))
def test_driver_bags_answer_online_as_offline_within_one_percent(layout_name, spinner, tmp_path):
    from spatialclaw_ros.ros.replay import replay_into_node

    layout, options = LAYOUTS[layout_name]
    bag = tmp_path / "bag"
    truth = write_driver_bag(bag, layout, **options)
    node = _node(spinner, f"bag_{layout_name}", bag, tmp_path / "traces")
    try:
        questions = _questions(truth)
        online = replay_into_node(
            bag,
            questions,
            tmp_path / "online",
            action=f"/bag_{layout_name}/ask",
            rate=2.0,
            executor="rules",
            answer_timeout_s=120.0,
            progress=False,
        )
        offline = offline_answers(bag, questions, tmp_path, concurrency=1)
        assert not any(p.error for p in online + offline), [
            (p.sample_id, p.error, p.response) for p in online + offline
        ]
        for question, on, off in zip(questions, online, offline, strict=True):
            assert float(on.prediction) == pytest.approx(question.answer, rel=0.01)
            assert float(off.prediction) == pytest.approx(float(on.prediction), rel=0.01)
            # the node says how many frames it answered from: all that the offline replay used
            assert on.frames_used == off.frames_used >= 2 and not on.frames_note
        counts = next(iter(node.inputs.values())).counts
        assert counts.dropped == 0, counts.last_error
        assert node.poses.world_frame == "map" and node.tf.backend in (
            "tf2_ros",
            "fallback buffer",
        )
    finally:
        spinner.remove(node)


def test_object_frames_reach_a_tf_subscriber_and_unknown_target_frames_are_refused(
    spinner, client_node, tmp_path
):
    from spatialclaw_ros.action import AskSpatial
    from spatialclaw_ros.ros.replay import play_bag

    bag = tmp_path / "bag"
    truth = write_driver_bag(bag, SIMULATOR)
    node = _node(spinner, "bag_tf", bag, tmp_path / "traces")
    heard: list = []
    lock = threading.Lock()

    def on_tf(message) -> None:
        with lock:
            heard.extend(message.transforms)

    client_node.create_subscription(TFMessage, "/tf", on_tf, 100)
    try:
        played = play_bag(bag, rate=4.0)
        assert played.frames == len(truth.frames)
        camera = next(iter(node.inputs))
        wait_until(
            lambda: node.buffer.count(camera) == len(truth.frames),
            10.0,
            "every frame in the buffer",
        )
        asker = Asker(client_node, "/bag_tf")
        window = dict(
            stamp=_stamp(truth.stamps[-1]),
            window_sec=truth.stamps[-1] - truth.stamps[0] + 0.01,
            num_frames=len(truth.frames) + 2,
        )
        outcome = asker.ask(
            question="How far is the red box from the green box?", target_frame="map", **window
        )
        result = outcome.result
        assert result.success, result.error_msg
        # 8 asked, 6 buffered
        assert result.frames_used == len(truth.frames) and "of 8" in result.frames_note
        assert (
            sorted(o.label for o in result.objects) == ["green box", "red box"]
            and len(result.tf_frames) == 2
        )
        wait_until(
            lambda: {t.child_frame_id for t in heard} >= set(result.tf_frames),
            10.0,
            "the object frames on /tf",
        )
        published = {t.child_frame_id: t for t in heard if t.child_frame_id in result.tf_frames}
        centres = {o.name: o.center for o in SCENE.objects}
        for estimate, child in zip(result.objects, result.tf_frames, strict=True):
            t = published[child]
            assert t.header.frame_id == "map" and estimate.header.frame_id == "map"
            xyz = np.array(
                [t.transform.translation.x, t.transform.translation.y, t.transform.translation.z]
            )
            assert np.linalg.norm(xyz - centres[estimate.label]) < 0.2, (estimate.label, xyz)
        refused = asker.ask(
            question="How far is the red box from the green box?", target_frame="gripper", **window
        )
        assert (
            not refused.result.success
            and refused.result.error_code == AskSpatial.Result.UNKNOWN_FRAME
        )
        assert "gripper" in refused.result.error_msg and "known frames" in refused.result.error_msg
        unsupported = asker.ask(question="What colour is the wall?", **window)
        assert unsupported.result.error_code == AskSpatial.Result.UNSUPPORTED_QUESTION
        assert "needs a VLM" in unsupported.result.error_msg and not unsupported.result.success
    finally:
        spinner.remove(node)


def test_ros1_bags_are_refused_online_with_the_way_out(tmp_path):
    from spatialclaw_ros.ros.replay import replay_into_node

    bag = tmp_path / "recording.bag"
    truth = write_driver_bag(bag, OPENNI, ros1=True)
    with pytest.raises(ValueError, match="rosbags-convert"):
        replay_into_node(bag, _questions(truth), tmp_path / "out", progress=False)


def _stamp(seconds: float):
    from spatialclaw_ros.ros.conversions import seconds_to_stamp

    return seconds_to_stamp(seconds)
