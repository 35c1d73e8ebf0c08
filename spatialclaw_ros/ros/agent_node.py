"""The agent node: buffers camera frames and answers AskSpatial goals on `~/ask`.

A goal samples frames from the ring buffers, runs one agent episode on them (feedback per stage
and step, cancel honoured between steps), and publishes what the agent found: TF frames and
markers for its objects, the images it annotated, a SpatialAnswer, and optionally all of that
to an mcap bag. Every failure becomes a result with an error code; the node itself keeps going.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Header, String
from visualization_msgs.msg import MarkerArray

from spatialclaw_ros.action import AskSpatial
from spatialclaw_ros.frames import FrameSet
from spatialclaw_ros.frames.buffer import FrameBuffer, FrameBufferError, NoFramesError, SampleRequest
from spatialclaw_ros.frames.transforms import TransformLookupError
from spatialclaw_ros.msg import SpatialAnswer
from spatialclaw_ros.perception.types import FIRST_CAMERA
from spatialclaw_ros.ros.camera_inputs import CameraInput
from spatialclaw_ros.ros.conversions import seconds_to_stamp, stamp_to_seconds
from spatialclaw_ros.ros.goals import (
    FEEDBACK_QOS,
    GOAL_PARAMETERS,
    REQUEST_QOS,
    STAGE_QUEUED,
    CheckedGoal,
    GoalBounds,
    GoalQueue,
    GoalRefused,
    check_goal,
    shorten,
)
from spatialclaw_ros.ros.images import image_from_rgb
from spatialclaw_ros.ros.outputs import UP_OPTICAL, UP_REP103, AnswerOutputs, OutputFrame, build_outputs
from spatialclaw_ros.ros.poses import CameraPoses, NoPoses, OdometryPoses, TfPoses
from spatialclaw_ros.ros.recorder import BagRecorder
from spatialclaw_ros.ros.spin import spin_node
from spatialclaw_ros.ros.settings import NodeSettings, build_perception, declare_and_read
from spatialclaw_ros.ros.tf import TfBridge

Result = AskSpatial.Result
Feedback = AskSpatial.Feedback

# Episode error codes (spatialclaw_ros.agent.types.ERROR_CODES) -> action result codes.
_EPISODE_ERRORS = {
    "bad_request": Result.BAD_REQUEST,
    "vlm_unavailable": Result.VLM_UNAVAILABLE,
    "perception_failed": Result.PERCEPTION_FAILED,
    "timed_out": Result.TIMED_OUT,
    "canceled": Result.CANCELED,
    "internal": Result.INTERNAL_ERROR,
    "unsupported_question": Result.UNSUPPORTED_QUESTION,
}


class GoalFailed(Exception):
    """Ends a goal with an error code; the message goes to the client as error_msg."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class _Sampled:
    videos: list[FrameSet]
    newest_stamp: float
    frames_note: str = ""  # set when a camera had fewer frames in the window than asked for


class SpatialClawNode(Node):
    """`agent` and `perception` may be passed in (an embedding process that already holds them);
    by default they are built from the node's parameters."""

    def __init__(self, *, agent=None, perception=None, node_name: str = "spatialclaw", **node_kwargs):
        super().__init__(node_name, **node_kwargs)
        self.settings: NodeSettings = declare_and_read(self)
        settings = self.settings
        self.buffer = FrameBuffer([c.name for c in settings.cameras], settings.limits)
        self.inputs = {c.name: CameraInput(self, c, self.buffer) for c in settings.cameras}
        self.tf = TfBridge(self)
        self.poses = self._pose_source()
        self._perception = perception if perception is not None else build_perception(settings.perception)
        self._agent = agent if agent is not None else self._build_agent(self._perception)
        self.markers_pub = self.create_publisher(MarkerArray, "~/markers", 10)
        self.annotated_pub = self.create_publisher(Image, "~/annotated", 10)
        self.answer_pub = self.create_publisher(SpatialAnswer, "~/answer", 10)
        self.recorder = self._recorder()
        self._answers = 0
        self._answers_lock = threading.Lock()
        goal_values = {name: self.get_parameter(name).value for name in GOAL_PARAMETERS}
        self._bounds = GoalBounds.from_parameters(goal_values, settings.max_question_chars, settings.max_num_frames)
        self._goals = GoalQueue(
            goal_values["max_queued_goals"] if settings.queue_goals else 0,
            dispatch=lambda handle: handle.execute(),
            on_queued=self._send_queued,
            on_lost=lambda handle, error: self.get_logger().error(f"could not start a goal: {error!r}"),
        )
        self._action = ActionServer(
            self,
            AskSpatial,
            "~/ask",
            execute_callback=self._execute,
            goal_callback=lambda _goal: GoalResponse.ACCEPT,
            handle_accepted_callback=self._accepted,
            cancel_callback=lambda _goal: CancelResponse.ACCEPT,
            callback_group=ReentrantCallbackGroup(),
            goal_service_qos_profile=REQUEST_QOS,
            result_service_qos_profile=REQUEST_QOS,
            cancel_service_qos_profile=REQUEST_QOS,
            feedback_pub_qos_profile=FEEDBACK_QOS,
            result_timeout=int(goal_values["result_timeout_s"]),
        )
        names = ", ".join(f"{c.name} ({c.image_topic})" for c in settings.cameras)
        self.get_logger().info(f"ready: cameras {names}; poses from {settings.pose_source}; TF through "
                               f"{self.tf.backend}; action {self._action_name()}")

    # ---- construction -------------------------------------------------------------------------

    def _action_name(self) -> str:
        return f"{self.get_fully_qualified_name()}/ask"

    def _pose_source(self) -> CameraPoses:
        s = self.settings
        if s.pose_source == "tf":
            return TfPoses(self.tf, s.world_frame)
        if s.pose_source == "odom":
            return OdometryPoses(self, s.odom_topic, {c.name: c.base_to_optical for c in s.cameras})
        return NoPoses()

    def _build_agent(self, perception):
        from spatialclaw_ros.agent import Agent, AgentConfig

        config = AgentConfig.load(self.settings.agent_config_path or None, self.settings.agent_overrides)
        return Agent(config, perception)

    def _recorder(self) -> BagRecorder | None:
        if not self.settings.record_bag_dir:
            return None
        recorder = BagRecorder(
            self.settings.record_bag_dir,
            {
                self.answer_pub.topic_name: "spatialclaw_ros/msg/SpatialAnswer",
                self.markers_pub.topic_name: "visualization_msgs/msg/MarkerArray",
                self.annotated_pub.topic_name: "sensor_msgs/msg/Image",
                self._trace_topic(): "std_msgs/msg/String",
            },
        )
        self.get_logger().info(f"recording answers to {recorder.path}")
        return recorder

    def _trace_topic(self) -> str:
        return f"{self.get_fully_qualified_name()}/trace"

    def destroy_node(self) -> None:
        # getattr: rclpy also calls this on a node whose constructor failed part-way.
        if getattr(self, "recorder", None) is not None:
            self.recorder.close()
        if getattr(self, "_action", None) is not None:
            self._action.destroy()
        if getattr(self, "_goals", None) is not None:
            self._goals.close()
        super().destroy_node()

    # ---- goals ----------------------------------------------------------------------------------

    def _accepted(self, goal_handle: ServerGoalHandle) -> None:
        """Bounds first (no work for a goal outside them), then the queue (goals.py)."""
        try:
            checked = check_goal(goal_handle.request, self._bounds, self.buffer.cameras)
        except GoalRefused as refused:
            self._goals.refuse(goal_handle, refused.code, str(refused))
            return
        self._goals.submit(goal_handle, checked)

    def _send_queued(self, goal_handle: ServerGoalHandle, position: int) -> None:
        observation = f"queued: {position} goal(s) ahead of this one"
        goal_handle.publish_feedback(Feedback(stage=STAGE_QUEUED, step=0, observation=observation, elapsed=0.0))

    def _execute(self, goal_handle: ServerGoalHandle) -> AskSpatial.Result:
        started = time.monotonic()
        admission = self._goals.admission(goal_handle)
        try:
            if not admission.run:
                raise GoalFailed(admission.code, admission.message)
            try:
                result = self._answer(goal_handle, admission.goal, started)
            finally:
                self._goals.release()
        except GoalFailed as failure:
            result = Result(success=False, error_code=failure.code, error_msg=shorten(str(failure)))
        except Exception as error:  # the node outlives any bug in one episode
            self.get_logger().error(f"goal failed unexpectedly: {error!r}")
            result = Result(success=False, error_code=Result.INTERNAL_ERROR,
                            error_msg=shorten(f"{type(error).__name__}: {error}"))
        if result.success:
            goal_handle.succeed()
        elif result.error_code == Result.CANCELED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        took = time.monotonic() - started
        if result.success:
            self.get_logger().info(f"answered in {took:.1f} s: {result.answer}")
        else:
            self.get_logger().warning(f"goal failed after {took:.1f} s (error {result.error_code}): {result.error_msg}")
        return result

    def _answer(self, goal_handle: ServerGoalHandle, checked: CheckedGoal, started: float) -> AskSpatial.Result:
        from spatialclaw_ros.agent import Question

        goal: AskSpatial.Goal = goal_handle.request
        try:
            question = Question(checked.question, checked.choices)
        except ValueError as error:
            raise GoalFailed(Result.BAD_REQUEST, str(error)) from None
        if goal_handle.is_cancel_requested:  # canceled just as it left the queue
            raise GoalFailed(Result.CANCELED, "canceled before it started")
        send = _FeedbackSender(goal_handle, started)
        send.stage(Feedback.STAGE_SAMPLING, 0, observation="sampling frames")
        sampled = self._sample(goal, checked.cameras)
        self._check_perception_inputs(sampled.videos)
        episode = self._agent.run(
            question,
            sampled.videos,
            on_progress=send.progress,
            should_cancel=lambda: goal_handle.is_cancel_requested,
            deadline=started + self.settings.goal_timeout_s,
        )
        if episode.error is not None:
            code = _EPISODE_ERRORS.get(episode.error.code, Result.INTERNAL_ERROR)
            message = episode.error.message
            if code == Result.TIMED_OUT:
                message = f"episode stopped after the node's limit of {self.settings.goal_timeout_s:g} s: {message}"
            raise GoalFailed(code, message)
        return self._publish_answer(goal, question.text, episode, sampled)

    def _sample(self, goal: AskSpatial.Goal, cameras: list[str]) -> _Sampled:
        """Frames of `cameras` (checked: configured, no repeats)."""
        s = self.settings
        # No cameras named: every configured camera that has sent frames.
        cameras = cameras or [c for c in self.buffer.cameras if self.buffer.count(c)]
        if not cameras:
            raise GoalFailed(Result.NO_FRAMES, f"no frames received yet from any camera ({', '.join(self.buffer.cameras)})")
        at_time = stamp_to_seconds(goal.stamp) or None
        request = SampleRequest(
            window_s=goal.window_sec or s.default_window_s, count=goal.num_frames or s.default_num_frames, at_time=at_time
        )
        now = self.get_clock().now().nanoseconds * 1e-9
        videos = []
        for camera in cameras:
            newest = self.buffer.latest_stamp(camera)
            if newest is None:
                raise GoalFailed(Result.NO_FRAMES, f"no frames received yet from camera {camera!r}")
            if at_time is None and s.max_staleness_s > 0 and now - newest > s.max_staleness_s:
                raise GoalFailed(
                    Result.STALE_FRAMES,
                    f"the newest frame of camera {camera!r} is {now - newest:.1f} s old (limit {s.max_staleness_s:g} s)",
                )
            optical = self.inputs[camera].optical_frame
            try:
                videos.append(
                    self.buffer.sample(
                        camera,
                        request,
                        pose_at=lambda stamp, c=camera, f=optical: self.poses.pose_at(c, f, stamp),
                        world_frame=self.poses.world_frame,
                    )
                )
            except NoFramesError as error:
                raise GoalFailed(Result.NO_FRAMES, str(error)) from None
            except FrameBufferError as error:
                raise GoalFailed(Result.BAD_REQUEST, str(error)) from None
        short = [f"camera {v.name!r}: {len(v)} of {request.count}" for v in videos if len(v) < request.count]
        note = f"fewer frames than asked for were buffered in the window ({'; '.join(short)})" if short else ""
        if note:
            self.get_logger().warning(note)
        return _Sampled(videos=videos, newest_stamp=max(v.frames[-1].timestamp for v in videos), frames_note=note)

    def _check_perception_inputs(self, videos: list[FrameSet]) -> None:
        """The sensor backend reconstructs from the robot's own depth and CameraInfo: say which is
        missing now rather than let the episode fail on its first Reconstruct call."""
        if self.settings.perception.get("reconstruct_backend") != "sensor":
            return
        for video in videos:
            missing = [what for what, ok in (("depth", video.has_depth), ("CameraInfo", video.has_intrinsics)) if not ok]
            if missing:
                raise GoalFailed(
                    Result.PERCEPTION_FAILED,
                    f"reconstruct_backend 'sensor' needs {' and '.join(missing)} for camera {video.name!r}, "
                    "but the sampled frames have none (check the camera's depth_topic / info_topic)",
                )

    # ---- outputs --------------------------------------------------------------------------------

    def _publish_answer(self, goal: AskSpatial.Goal, question: str, episode, sampled: _Sampled) -> AskSpatial.Result:
        with self._answers_lock:
            self._answers += 1
            answer_id = str(self._answers)
        frame = self._output_frame(goal, episode, sampled)
        outputs = build_outputs(episode.objects, episode.distances, frame, answer_id, self.settings.marker_lifetime_s)
        value, unit = _si_value(episode.value, episode.unit)
        stamp_ns = int(frame.stamp * 1e9)
        header = Header(frame_id=frame.frame_id, stamp=seconds_to_stamp(frame.stamp))
        answer = SpatialAnswer(
            header=header,
            question=question,
            answer=episode.answer,
            has_value=value is not None,
            value=value if value is not None else 0.0,
            unit=unit,
            objects=outputs.objects,
            trace_path=episode.trace_path or "",
        )
        self.markers_pub.publish(outputs.markers)
        self.tf.send(outputs.transforms)
        self.answer_pub.publish(answer)
        annotated = self._annotated_images(episode.images, sampled)
        for image in annotated:
            self.annotated_pub.publish(image)
        self._record(answer, outputs, annotated, episode.trace_path, stamp_ns)
        return Result(
            success=True,
            error_code=Result.NONE,
            answer=episode.answer,
            has_value=answer.has_value,
            value=answer.value,
            unit=unit,
            objects=outputs.objects,
            tf_frames=outputs.tf_frames,
            steps=int(episode.steps),
            frames_used=sum(len(v) for v in sampled.videos),
            frames_note=sampled.frames_note,
            used_fallback=bool(episode.used_fallback),
            trace_path=episode.trace_path or "",
        )

    def _output_frame(self, goal: AskSpatial.Goal, episode, sampled: _Sampled) -> OutputFrame:
        """Objects come in the reconstruction's world: a robot frame when poses were known, else the
        first sampled camera's optical frame at that frame's time. Moved into the target frame when
        TF can tell how; otherwise left where they are (the header says which frame that is)."""
        worlds = {item.world_frame for item in [*episode.objects, *episode.distances]}
        world = worlds.pop() if len(worlds) == 1 else (sampled.videos[0].world_frame or FIRST_CAMERA)
        first = sampled.videos[0]
        if world == FIRST_CAMERA:
            source = self.inputs[first.name].optical_frame or first.name
            stamp, up = first.frames[0].timestamp, UP_OPTICAL
        else:
            source, stamp, up = world, sampled.newest_stamp, UP_REP103
        target = goal.target_frame or self.settings.target_frame or source
        if target != source:
            try:
                return OutputFrame(target, stamp, self.tf.find(target, source, stamp), UP_REP103)
            except TransformLookupError as error:  # an answer in another frame than asked for would mislead
                raise GoalFailed(Result.UNKNOWN_FRAME, f"cannot answer in target frame {target!r}: {error}") from None
        return OutputFrame(source, stamp, up=up)

    def _annotated_images(self, images, sampled: _Sampled) -> list[Image]:
        first = sampled.videos[0]
        header = Header(
            frame_id=self.inputs[first.name].optical_frame or first.name, stamp=seconds_to_stamp(sampled.newest_stamp)
        )
        converted = []
        for image in images:
            try:
                converted.append(image_from_rgb(image, header))
            except ValueError as error:
                self.get_logger().warning(f"not publishing an annotated image: {error}")
        return converted

    def _record(self, answer: SpatialAnswer, outputs: AnswerOutputs, images: list[Image], trace_path, stamp_ns: int) -> None:
        if self.recorder is None:
            return
        self.recorder.write(self.answer_pub.topic_name, answer, stamp_ns)
        self.recorder.write(self.markers_pub.topic_name, outputs.markers, stamp_ns)
        for image in images:
            self.recorder.write(self.annotated_pub.topic_name, image, stamp_ns)
        if trace_path and Path(trace_path).is_file():
            self.recorder.write(self._trace_topic(), String(data=Path(trace_path).read_text(errors="replace")), stamp_ns)


class _FeedbackSender:
    """Turns the agent's ProgressEvents into action feedback."""

    def __init__(self, goal_handle: ServerGoalHandle, started: float):
        self._goal_handle = goal_handle
        self._started = started

    def stage(self, stage: str, step: int, code: str = "", observation: str = "") -> None:
        self._goal_handle.publish_feedback(
            Feedback(
                stage=stage,
                step=int(step),
                code=code,
                observation=observation[:500],
                elapsed=float(time.monotonic() - self._started),
            )
        )

    def progress(self, event) -> None:
        self.stage(event.stage, event.step, event.code, event.observation)


def _si_value(value: float | None, unit: str) -> tuple[float | None, str]:
    if value is None:
        return None, unit
    if unit == "deg":
        return math.radians(value), "rad"
    return float(value), unit


def main(args: list[str] | None = None) -> int:
    """Run the node until Ctrl-C (`ros2 run spatialclaw_ros agent_node`, `spatialclaw node`)."""
    return spin_node(SpatialClawNode, args, threads=4)
