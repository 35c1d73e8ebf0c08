"""The end-to-end ROS demo: a synthetic RGB-D camera, the agent node, and questions over DDS.

A random scene is rendered (colour, depth, CameraInfo, instance labels, camera poses) and
published at 30 Hz like a robot's camera with odometry. The agent node buffers it, and an action
client asks templated questions whose true answers are known. With the default `rules`
executor no VLM is needed; `--executor code --vlm-url ...` uses a real one.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spatialclaw_ros.eval.synthetic import Scene, default_intrinsics, look_at, random_scene, render
from spatialclaw_ros.frames import FrameSet
from spatialclaw_ros.ros.replay import use_large_data_transport

CAMERA = "camera"
TOPICS = dict(
    image="/demo/camera/color/image_raw",
    depth="/demo/camera/depth/image_raw",
    info="/demo/camera/color/camera_info",
    labels="/demo/camera/labels",
    odom="/demo/odom",
    optical_frame="camera_optical",
)


@dataclass(frozen=True)
class DemoOptions:
    executor: str = "rules"
    vlm_url: str | None = None
    vlm_model: str | None = None
    seed: int = 3
    frames: int = 12
    record_bag_dir: str = ""
    out_dir: str = "runs/demo"


@dataclass(frozen=True)
class DemoQuestion:
    text: str
    choices: tuple[str, ...]
    truth: str


def say(text: str) -> None:
    print(f"[demo] {text}", flush=True)


def run_demo(options: DemoOptions) -> int:
    # A private DDS domain unless the user chose one: several demos on one machine stay apart.
    os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 200))
    os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    use_large_data_transport()  # the demo's depth images are large messages, as a camera's are
    started = time.monotonic()
    scene = random_scene(options.seed, n_objects=4)
    say(
        f"rendering scene {scene.name}: {', '.join(scene.names)} ({options.frames} "
        "frames, 320x240)"
    )
    frames = render_sweep(scene, options.frames)
    questions = _questions(scene, frames)
    say(
        f"ROS domain {os.environ['ROS_DOMAIN_ID']}; starting the agent node (executor: "
        f"{options.executor})"
    )
    return _run_ros(options, scene, frames, questions, started)


def render_sweep(scene: Scene, count: int) -> FrameSet:
    """A camera sliding along one end of the room, looking at its middle."""
    half_x = scene.room_size[0] / 2 - 0.3
    poses = [look_at((-half_x, y, 1.6), (1.0, 0.0, 0.3)) for y in np.linspace(-1.0, 1.0, count)]
    return render(scene, poses, default_intrinsics(320, 240))


def _visible_everywhere(frames: FrameSet) -> list[str]:
    seen = [set(f.label_names.values()) for f in frames]
    return sorted(set.intersection(*seen))


def _questions(scene: Scene, frames: FrameSet) -> list[DemoQuestion]:
    names = _visible_everywhere(frames)
    if len(names) < 2:
        names = sorted(set().union(*(f.label_names.values() for f in frames)))
    spoken = {n: n.replace("_", " ") for n in names}
    a, b = names[0], names[1]
    first_pose = frames[0].pose
    if first_pose is None:
        raise ValueError("the demo scene's frames carry no camera poses")
    camera = first_pose[:3, 3]
    asked = [
        DemoQuestion(
            f"What is the distance between the centres of the {spoken[a]} and the "
            f"{spoken[b]}, in metres?",
            (),
            f"{np.linalg.norm(scene[a].center - scene[b].center):.2f} m",
        ),
        DemoQuestion(f"How tall is the {spoken[b]}, in metres?", (), f"{scene[b].size[2]:.2f} m"),
        DemoQuestion(
            "Which of these objects is closest to the camera?",
            tuple(spoken[n] for n in names),
            spoken[min(names, key=lambda n: np.linalg.norm(scene[n].center - camera))],
        ),
    ]
    shape = scene[a].shape
    asked.append(
        DemoQuestion(
            f"How many {shape}es are there?"
            if shape.endswith("x")
            else f"How many {shape}s are there?",
            (),
            str(sum(o.shape == shape for o in scene.objects if o.name in names)),
        )
    )
    return asked


def node_parameters(options: DemoOptions, scene: Scene) -> dict:
    """The agent node's parameters for the demo camera's streams and `scene`'s labels."""
    parameters = {
        "cameras": [CAMERA],
        f"camera.{CAMERA}.image_topic": TOPICS["image"],
        f"camera.{CAMERA}.depth_topic": TOPICS["depth"],
        f"camera.{CAMERA}.info_topic": TOPICS["info"],
        f"camera.{CAMERA}.labels_topic": TOPICS["labels"],
        f"camera.{CAMERA}.label_names": [f"{scene.label_id(n)}:{n}" for n in scene.names],
        "pose_source": "odom",
        "odom_topic": TOPICS["odom"],
        "default_num_frames": 6,
        "default_window_s": 1.0,
        "perception.reconstruct_backend": "sensor",
        "perception.segment_backend": "labels",
        "agent.executor": options.executor,
        "agent.trace_dir": str(Path(options.out_dir) / "traces"),
        "record_bag_dir": options.record_bag_dir,
    }
    if options.vlm_url:
        parameters["vlm.base_url"] = options.vlm_url
    if options.vlm_model:
        parameters["vlm.model"] = options.vlm_model
    return parameters


def _run_ros(
    options: DemoOptions,
    scene: Scene,
    frames: FrameSet,
    questions: list[DemoQuestion],
    started: float,
) -> int:
    from rclpy.parameter import Parameter
    from visualization_msgs.msg import MarkerArray

    from spatialclaw_ros.action import AskSpatial
    from spatialclaw_ros.ros.action_client import GoalClient
    from spatialclaw_ros.ros.agent_node import SpatialClawNode
    from spatialclaw_ros.ros.frame_publisher import FrameSetPublisher, StreamTopics
    from spatialclaw_ros.ros.spin import Spinner, wait_until

    parameters = node_parameters(options, scene)

    with Spinner(threads=4) as spinner:
        camera_node = spinner.node("demo_camera")
        FrameSetPublisher(camera_node, frames, StreamTopics(**TOPICS), rate_hz=30.0)
        agent = spinner.add(
            SpatialClawNode(
                context=spinner.context,
                parameter_overrides=[Parameter(k, value=v) for k, v in parameters.items()],
            )
        )
        client_node = spinner.node("demo_client")
        markers: list[MarkerArray] = []
        client_node.create_subscription(MarkerArray, "/spatialclaw/markers", markers.append, 10)
        client = GoalClient(client_node, AskSpatial, "/spatialclaw/ask")
        # a fresh process's streams reach full rate within a second, or on a loaded machine
        # after 20-30 s (seen in test_demo.py)
        if not wait_until(lambda: answerable(agent) and client.server_is_ready(), 60.0):
            say(
                "no second of frames with depth, CameraInfo and odometry reached the node "
                "within 60 s"
            )
            return 1
        say(f"buffering {agent.buffer.count(CAMERA)} frames; asking {len(questions)} questions")
        failures = 0
        for number, question in enumerate(questions, 1):
            failures += not _ask(client, AskSpatial, question, number, markers)
        traces = parameters["agent.trace_dir"]
        say(f"done in {time.monotonic() - started:.1f} s; traces in {traces}")
        if agent.recorder is not None:
            say(f"answers recorded to {agent.recorder.path}")
        return 1 if failures else 0


def answerable(agent) -> bool:
    """Whether a goal about the last second would get six frames with what the node checks for
    (depth and CameraInfo) and odometry poses, as the questions need: the topics are matched one
    by one, so under load depth, CameraInfo or odometry can start after colour."""
    from spatialclaw_ros.action import AskSpatial
    from spatialclaw_ros.ros.agent_node import GoalFailed

    try:
        videos = agent.frames_for(AskSpatial.Goal(window_sec=1.0, num_frames=6), [CAMERA])
    except GoalFailed:
        return False
    return all(len(video) >= 6 and video.has_poses for video in videos)


def _ask(client, action_type, question: DemoQuestion, number: int, markers: list) -> bool:
    from spatialclaw_ros.ros.spin import wait_until

    say(
        f"Q{number}: {question.text}"
        + (f" options: {', '.join(question.choices)}" if question.choices else "")
    )
    goal = action_type.Goal(
        question=question.text, choices=list(question.choices), target_frame="map"
    )
    markers_before = len(markers)
    handle = client.request(goal)
    if handle is None or not handle.accepted:
        say("   goal was not accepted")
        return False
    result_future = handle.get_result_async()
    if not wait_until(result_future.done, 120.0):
        say("   no result within 120 s")
        return False
    result = result_future.result().result
    if not result.success:
        say(f"   failed (error {result.error_code}): {result.error_msg}")
        return False
    answer = result.answer
    if question.choices and len(answer) == 1 and answer.isalpha():
        answer = f"{answer} ({question.choices[ord(answer.upper()) - ord('A')]})"
    say(f"   answer: {answer}   truth: {question.truth}   steps: {result.steps}")
    for name, estimate in zip(result.tf_frames, result.objects, strict=True):
        p = estimate.pose.position
        say(f"   TF {estimate.header.frame_id} -> {name}: ({p.x:.2f}, {p.y:.2f}, {p.z:.2f})")
    if wait_until(lambda: len(markers) > markers_before, 2.0):
        latest = markers[-1].markers
        kinds = Counter(m.ns for m in latest if m.ns)
        summary = (
            ", ".join(f"{n} {ns}" for ns, n in sorted(kinds.items()))
            or "none (previous ones deleted)"
        )
        say(f"   markers in {latest[0].header.frame_id}: {summary}")
    return True
