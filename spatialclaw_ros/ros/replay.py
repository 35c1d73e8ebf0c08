"""Online replay: play a bag into the running agent node on simulated time and score its answers.

The player publishes every bag message on its own topic (the recorded bytes as they are) and the
bag's time on /clock, paced at `rate` times real time. When the clock reaches a question's
`extra["replay"]["stamp"]`, playback pauses, the question goes to the node's action server as a
goal about the recorded window (`extra["replay"]["window"]`, cameras `extra["replay"]["cameras"]`),
and the answer is scored like an offline one. Pausing makes the score independent of how fast the
agent answers: the node holds exactly the frames it would hold live at that moment.

The node must subscribe to the bag's topics and run with `use_sim_time: true`. Playback starts only
once the node has subscribed to every camera stream the bag holds (colour, depth, labels,
CameraInfo, as `spatialclaw bag info` lists them), so the first frames are not published into the
void. /tf and /tf_static are replayed where tf2_msgs is installed (a full ROS, or the interface
scripts/setup.sh builds for a pip-installed one); without it, `odometry_topic` republishes the
camera's transforms as nav_msgs/Odometry, for a node with `pose_source: odom` and an identity
`base_to_optical` (the transform already is the optical frame's).

Large images need Fast DDS's LARGE_DATA builtin transports (TCP + shared memory) to arrive whole
(bench/online_replay.py: with the default transports 2 of 160 640x480 frames were lost in 20 fresh
runs, one answer 14% off; with LARGE_DATA none). The command-line tools (`spatialclaw node`,
`spatialclaw bag play`, `spatialclaw replay --online`) call `use_large_data_transport()` before
they create any DDS participant; a library caller decides for its own process.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.publisher import Publisher
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosbags.highlevel import AnyReader
from rosgraph_msgs.msg import Clock

from spatialclaw_ros.action import AskSpatial
from spatialclaw_ros.eval.answerers import Answer
from spatialclaw_ros.eval.records import Prediction, Sample, write_jsonl
from spatialclaw_ros.eval.runner import PREDICTIONS, prediction_for
from spatialclaw_ros.frames.bags import detect_cameras, open_bag
from spatialclaw_ros.ros.action_client import GoalClient
from spatialclaw_ros.ros.conversions import seconds_to_stamp
from spatialclaw_ros.ros.spin import Spinner, wait_until

_TF_TYPE = "tf2_msgs/msg/TFMessage"
# A goal's window_sec of 0 means "the node's default", so a one-frame window is sent as 1 ms.
_MIN_WINDOW_S = 1e-3

_ERROR_NAMES = {
    getattr(AskSpatial.Result, name): name.lower()
    for name in (
        "NO_FRAMES",
        "STALE_FRAMES",
        "UNKNOWN_CAMERA",
        "BAD_REQUEST",
        "VLM_UNAVAILABLE",
        "PERCEPTION_FAILED",
        "TIMED_OUT",
        "CANCELED",
        "BUSY",
        "INTERNAL_ERROR",
        "UNSUPPORTED_QUESTION",
        "UNKNOWN_FRAME",
    )
}


def use_large_data_transport() -> None:
    """Fast DDS's LARGE_DATA builtin transports for the participants this process creates from now
    on, unless the user chose transports. Fast DDS reads the variable when a participant is
    made."""
    os.environ.setdefault("FASTDDS_BUILTIN_TRANSPORTS", "LARGE_DATA")


@dataclass(frozen=True)
class ReplayOptions:
    action: str = "/spatialclaw/ask"  # the node's action server
    rate: float = 1.0  # playback speed: bag seconds per wall-clock second
    executor: str = "node"  # recorded as Prediction.executor
    # also publish the transforms of `odometry_frame` from /tf as Odometry here
    odometry_topic: str = ""
    odometry_frame: str = "camera_color_optical_frame"
    connect_timeout_s: float = 30.0  # for the action server and the node's subscriptions to appear
    answer_timeout_s: float = 600.0  # per question; the goal is canceled after this
    # Wall-clock seconds between the last message before a question and the goal: the node takes
    # messages from DDS on its own threads, and a goal must not overtake the frames it is about.
    settle_s: float = 0.5
    # Wall-clock seconds between our publishers matching the node's subscriptions and the first
    # message: a match is seen from the publisher's side first, and a message sent before the
    # subscriber has matched the publisher back, or before Fast DDS connected its TCP/SHM channel,
    # is lost even on a reliable subscription (bench/online_replay.py: 6 of 160 frames without it).
    connect_grace_s: float = 1.0
    progress: bool = True  # one line per question on stderr

    def __post_init__(self) -> None:
        if not self.rate > 0 or self.settle_s < 0 or self.connect_grace_s < 0:
            raise ValueError(
                "need rate > 0, settle_s >= 0 and connect_grace_s >= 0, got "
                f"{self.rate}, {self.settle_s} "
                f"and {self.connect_grace_s}"
            )


@dataclass(frozen=True)
class _Question:
    sample: Sample
    ask_at_ns: int
    goal: AskSpatial.Goal


def replay_into_node(
    bag: str | Path, samples: list[Sample], out_dir: str | Path, **options
) -> list[Prediction]:
    """Play `bag` into the running node, ask every sample at its replay stamp, score the answers.
    Returns the predictions in the samples' order; each is also appended to
    `<out_dir>/predictions.jsonl` as it is answered (a rerun starts that file over: a replay
    cannot resume half-way through a bag)."""
    settings = ReplayOptions(**options)
    bag = Path(bag)
    if not bag.exists():
        raise FileNotFoundError(f"bag not found: {bag}")
    questions = sorted((_question(s) for s in samples), key=lambda q: q.ask_at_ns)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / PREDICTIONS).unlink(missing_ok=True)

    reader = open_bag(bag)
    with Spinner(threads=1) as spinner, reader:
        node = spinner.node("spatialclaw_replay")
        player = _Player(node, reader, settings)
        asker = _Asker(node, settings)
        player.wait_for_subscribers(settings.connect_timeout_s)
        answered = {}
        remaining = deque(questions)

        def ask_due(until_ns: float) -> None:
            settled_at = None
            while remaining and remaining[0].ask_at_ns <= until_ns:
                question = remaining.popleft()
                if question.ask_at_ns != settled_at:
                    player.set_clock(question.ask_at_ns)
                    time.sleep(settings.settle_s)
                    settled_at = question.ask_at_ns
                answered[question.sample.id] = _ask(asker, question, settings, out)

        for stamp_ns in player.play():
            ask_due(stamp_ns)
        ask_due(float("inf"))  # questions after the bag's last message
    return [answered[s.id] for s in samples]


@dataclass(frozen=True)
class Played:
    messages: int
    frames: int  # colour images of the bag's cameras


def play_bag(
    bag: str | Path,
    rate: float = 1.0,
    connect_timeout_s: float = 30.0,
    odometry_topic: str = "",
    odometry_frame: str = ReplayOptions.odometry_frame,
) -> Played:
    """Publish `bag` into the running node (`spatialclaw bag play`), once it listens to every
    camera stream."""
    settings = ReplayOptions(
        rate=rate,
        connect_timeout_s=connect_timeout_s,
        odometry_topic=odometry_topic,
        odometry_frame=odometry_frame,
        progress=False,
    )
    with Spinner(threads=1) as spinner, open_bag(bag) as reader:
        player = _Player(spinner.node("spatialclaw_bag_play"), reader, settings)
        player.wait_for_subscribers(settings.connect_timeout_s)
        for _ in player.play():
            pass
        return Played(player.messages, player.frames)


def _question(sample: Sample) -> _Question:
    replay = sample.extra.get("replay")
    if not replay or "stamp" not in replay or "window" not in replay:
        raise ValueError(
            f"sample {sample.id} has no extra['replay'] stamp and window (see "
            "`spatialclaw synthetic bag`)"
        )
    start, end = (float(v) for v in replay["window"])
    if end < start:
        raise ValueError(
            f"sample {sample.id}: replay window ends before it starts: {replay['window']}"
        )
    goal = AskSpatial.Goal(
        question=sample.question,
        choices=list(sample.options),
        cameras=list(replay.get("cameras") or []),
        window_sec=max(end - start, _MIN_WINDOW_S),
        num_frames=int(replay.get("frames") or 0),
        stamp=seconds_to_stamp(end),
    )
    return _Question(sample, int(round(float(replay["stamp"]) * 1e9)), goal)


def _ask(asker: _Asker, question: _Question, settings: ReplayOptions, out: Path) -> Prediction:
    started = time.monotonic()
    result = asker.ask(question.goal, settings.answer_timeout_s)
    sample = question.sample
    answer = Answer(
        result.answer if result.success else "",
        error=None if result.success else _ERROR_NAMES.get(result.error_code, "internal_error"),
        error_message=result.error_msg,
        steps=int(result.steps),
        trace_path=result.trace_path or None,
        frames_used=int(result.frames_used),
        frames_note=result.frames_note,
    )
    prediction = prediction_for(sample, settings.executor, answer, started=started)
    write_jsonl(out / PREDICTIONS, [prediction], append=True)
    if settings.progress:
        outcome = (
            f"{answer.response!r} (score {prediction.score:g})"
            if result.success
            else f"error: {result.error_msg}"
        )
        if answer.frames_note:
            outcome += f"; {answer.frames_note}"
        print(
            f"[replay] {sample.id} at {question.ask_at_ns / 1e9:.3f} s: {outcome}", file=sys.stderr
        )
    return prediction


class _Player:
    """Publishes a bag's messages in time order on their topics, with /clock, paced by `rate`."""

    def __init__(self, node: Node, reader: AnyReader, settings: ReplayOptions):
        if not reader.is2:
            # The recorded bytes are published as they are: ROS 1 serialisation is not CDR.
            raise ValueError(
                f"{reader.paths[0]} is a ROS 1 bag; online replay plays ROS 2 bags "
                "(offline replay reads "
                "both): convert it first with `rosbags-convert --src BAG.bag --dst BAG`"
            )
        self._node = node
        self._reader = reader
        self._settings = settings
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        # /tf_static is latched in ROS: a subscriber that joins later still gets the tree. Label
        # names are too: the agent node subscribes to them transient-local (camera_inputs.py).
        latched = QoSProfile(
            depth=100,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )
        cameras, _ = detect_cameras(reader)
        latched_topics = {
            c.topics.label_names_topic for c in cameras if c.topics.label_names_topic
        }
        self._clock = node.create_publisher(Clock, "/clock", qos)
        self._publishers: dict[str, Publisher] = {}
        for topic, msgtype in sorted({(c.topic, c.msgtype) for c in reader.connections}):
            message_class = _message_class(msgtype)
            if message_class is None:
                if not (msgtype == _TF_TYPE and settings.odometry_topic):
                    node.get_logger().warning(
                        f"not replaying {topic}: {msgtype} is not installed here"
                    )
                continue
            self._publishers[topic] = node.create_publisher(
                message_class,
                topic,
                latched if topic.endswith("tf_static") or topic in latched_topics else qos,
            )
        self._odometry = (
            node.create_publisher(Odometry, settings.odometry_topic, qos)
            if settings.odometry_topic
            else None
        )
        self._colour_topics = {c.topics.image_topic for c in cameras}
        streams = [
            (
                c.topics.image_topic,
                c.topics.depth_topic,
                c.topics.labels_topic,
                c.topics.info_topic,
            )
            for c in cameras
        ]
        self._needed = sorted(
            {t for stream in streams for t in stream if t and t in self._publishers}
        )
        self.messages = 0
        self.frames = 0

    def wait_for_subscribers(self, timeout_s: float) -> None:
        """Until the node listens to every camera stream of the bag, and every other subscriber on
        the graph is matched to our publishers: a frame published before its subscription is
        lost."""
        deadline = time.monotonic() + timeout_s
        while True:
            publishers = [
                *self._publishers.values(),
                *([self._odometry] if self._odometry else []),
            ]
            wanted = {p.topic_name: self._node.count_subscribers(p.topic_name) for p in publishers}
            matched = {p.topic_name: p.get_subscription_count() for p in publishers}
            unheard = [t for t in self._needed if matched.get(t, 0) < 1]
            if (
                not unheard
                and any(wanted.values())
                and all(matched[t] >= n for t, n in wanted.items())
            ):
                time.sleep(self._settings.connect_grace_s)
                return
            if time.monotonic() > deadline:
                waiting = (
                    unheard
                    or sorted(t for t, n in wanted.items() if matched[t] < n)
                    or sorted(wanted)
                )
                raise TimeoutError(
                    f"no subscriber within {timeout_s:g} s on {', '.join(waiting)}: is "
                    "the agent node running and "
                    "configured for the bag's topics? (`spatialclaw bag info BAG` "
                    "prints the configuration)"
                )
            time.sleep(0.05)

    def set_clock(self, stamp_ns: int) -> None:
        self._clock.publish(Clock(clock=seconds_to_stamp(stamp_ns / 1e9)))

    def play(self) -> Iterator[int]:
        """Yields each new bag time (ns) before publishing its messages, so the caller can
        pause."""
        started_wall = time.monotonic()
        first_ns = None
        current_ns = None
        wanted = [
            c
            for c in self._reader.connections
            if c.topic in self._publishers
            or (self._odometry is not None and c.msgtype == _TF_TYPE)
        ]
        for connection, stamp_ns, raw in self._reader.messages(connections=wanted):
            if stamp_ns != current_ns:
                yield stamp_ns
                if first_ns is None:
                    first_ns = stamp_ns
                    started_wall = time.monotonic()
                # Paced against the bag's own timeline; pauses for questions shift it forward.
                due = started_wall + (stamp_ns - first_ns) / 1e9 / self._settings.rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    started_wall -= delay  # behind (a question was answered): continue from here
                self.set_clock(stamp_ns)
                current_ns = stamp_ns
            publisher = self._publishers.get(connection.topic)
            if publisher is not None:
                publisher.publish(bytes(raw))
                self.messages += 1
                self.frames += connection.topic in self._colour_topics
            if self._odometry is not None and connection.msgtype == _TF_TYPE:
                message = self._reader.deserialize(raw, connection.msgtype)
                self._publish_odometry(self._odometry, message)

    def _publish_odometry(self, publisher: Publisher, tf_message) -> None:
        for transform in tf_message.transforms:
            if transform.child_frame_id != self._settings.odometry_frame:
                continue
            odometry = Odometry()
            odometry.header.frame_id = transform.header.frame_id
            odometry.header.stamp.sec = transform.header.stamp.sec
            odometry.header.stamp.nanosec = transform.header.stamp.nanosec
            odometry.child_frame_id = transform.child_frame_id
            t, r = transform.transform.translation, transform.transform.rotation
            pose = odometry.pose.pose
            pose.position.x, pose.position.y, pose.position.z = float(t.x), float(t.y), float(t.z)
            pose.orientation.x, pose.orientation.y = float(r.x), float(r.y)
            pose.orientation.z, pose.orientation.w = float(r.z), float(r.w)
            publisher.publish(odometry)


class _Asker:
    def __init__(self, node: Node, settings: ReplayOptions):
        self._client = GoalClient(node, AskSpatial, settings.action)
        if not self._client.wait_for_server(timeout_sec=settings.connect_timeout_s):
            raise TimeoutError(
                f"action server {settings.action} did not appear within "
                f"{settings.connect_timeout_s:g} s"
            )

    def ask(self, goal: AskSpatial.Goal, timeout_s: float) -> AskSpatial.Result:
        deadline = time.monotonic() + timeout_s
        handle = self._client.request(goal)
        if handle is None or not handle.accepted:
            return AskSpatial.Result(
                success=False,
                error_code=AskSpatial.Result.INTERNAL_ERROR,
                error_msg="the node refused the goal"
                if handle
                else "the node did not answer the goal request (3 tries)",
            )
        response = _result(handle.get_result_async(), deadline)
        if response is None:
            handle.cancel_goal_async()
            return AskSpatial.Result(
                success=False,
                error_code=AskSpatial.Result.TIMED_OUT,
                error_msg=f"no answer within {timeout_s:g} s; the goal was canceled",
            )
        return response.result


def _result(future, deadline: float):
    """The future's result, or None when the deadline passes first (the executor thread fills
    it)."""
    return future.result() if wait_until(future.done, deadline - time.monotonic()) else None


def _message_class(msgtype: str):
    """The rclpy class of "pkg/msg/Name", or None when that package is not installed."""
    package, _, name = msgtype.split("/")
    try:
        return getattr(importlib.import_module(f"{package}.msg"), name)
    except (ImportError, AttributeError):
        return None
