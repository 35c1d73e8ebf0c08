"""The agent node: buffers camera frames and answers AskSpatial goals on `~/ask`.

A lifecycle node (docs/ros.md, "Lifecycle"): configure builds the agent, loads the perception
models and checks the VLM endpoint; activate starts serving goals (before that, a goal ends at
once with BUSY and the lifecycle state). With `lifecycle.autostart` (the default) the node
configures and activates itself, for quick use; false leaves the transitions to a lifecycle
manager. Parameters marked read-only need a restart; the others apply at run time.

A goal samples frames from the ring buffers, runs one agent episode on them (feedback per stage
and step, cancel honoured between steps), and publishes what the agent found: TF frames and
markers for its objects, the images it annotated, a SpatialAnswer, and optionally all of that
to an mcap bag. Every failure becomes a result with an error code; the node itself keeps going.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from rcl_interfaces.msg import SetParametersResult
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.action.server import ServerGoalHandle
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image
from std_msgs.msg import Header, String
from visualization_msgs.msg import MarkerArray

from spatialclaw_ros.action import AskSpatial
from spatialclaw_ros.agent.config import AgentConfig
from spatialclaw_ros.frames import FrameSet
from spatialclaw_ros.frames.buffer import (
    FrameBuffer,
    FrameBufferError,
    NoFramesError,
    SampleRequest,
)
from spatialclaw_ros.frames.transforms import TransformLookupError
from spatialclaw_ros.msg import SpatialAnswer
from spatialclaw_ros.perception.types import FIRST_CAMERA
from spatialclaw_ros.ros.camera_inputs import CameraInput
from spatialclaw_ros.ros.conversions import seconds_to_stamp, stamp_to_seconds
from spatialclaw_ros.ros.diagnostics import (
    ERROR,
    OK,
    WARN,
    DiagnosticsPublisher,
    EndpointProbe,
    RateMeter,
    status,
)
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
from spatialclaw_ros.ros.outputs import (
    UP_OPTICAL,
    UP_REP103,
    AnswerOutputs,
    OutputFrame,
    build_outputs,
)
from spatialclaw_ros.ros.poses import CameraPoses, NoPoses, OdometryPoses, TfPoses
from spatialclaw_ros.ros.qos import LATCHED_QOS
from spatialclaw_ros.ros.recorder import BagRecorder
from spatialclaw_ros.ros.settings import (
    RUNTIME_PARAMETERS,
    NodeSettings,
    declare_and_read,
    with_agent_changes,
)
from spatialclaw_ros.ros.spin import spin_node
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
class ModelState:
    """What configure did with the models: `loads` counts completed loads, so a goal that finds it
    unchanged paid no loading."""

    state: str = "not loaded"  # not loaded | loaded | failed
    loads: int = 0
    load_s: float = 0.0
    error: str = ""


@dataclass
class _Sampled:
    videos: list[FrameSet]
    newest_stamp: float
    frames_note: str = ""  # set when a camera had fewer frames in the window than asked for


class SpatialClawNode(LifecycleNode):
    """`agent` and `perception` may be passed in (an embedding process that already holds them);
    by default configure builds them from the node's parameters. `autostart` overrides the
    `lifecycle.autostart` parameter."""

    def __init__(
        self,
        *,
        agent=None,
        perception=None,
        node_name: str = "spatialclaw",
        autostart: bool | None = None,
        **node_kwargs,
    ):
        super().__init__(node_name, **node_kwargs)
        self.settings: NodeSettings = declare_and_read(self)
        settings = self.settings
        self.buffer = FrameBuffer([c.name for c in settings.cameras], settings.limits)
        self.inputs = {c.name: CameraInput(self, c, self.buffer) for c in settings.cameras}
        self.tf = TfBridge(self)
        self.poses = self._pose_source()
        self._given_perception, self._given_agent = perception, agent
        self._agent = None
        self.models = ModelState()
        self._lifecycle_state = "unconfigured"
        self._serving = False  # between activate and deactivate
        self._episode_running = False
        # Latched: RViz or a client started after an answer still gets the last answer and markers.
        self.markers_pub = self.create_publisher(MarkerArray, "~/markers", LATCHED_QOS)
        self.annotated_pub = self.create_publisher(Image, "~/annotated", 10)
        self.answer_pub = self.create_publisher(SpatialAnswer, "~/answer", LATCHED_QOS)
        self.recorder = self._recorder()
        self._answers = 0
        self._answers_lock = threading.Lock()
        goal_values = {name: self.get_parameter(name).value for name in GOAL_PARAMETERS}
        self._bounds = GoalBounds.from_parameters(
            goal_values, settings.max_question_chars, settings.max_num_frames
        )
        self._goals = GoalQueue(
            goal_values["max_queued_goals"] if settings.queue_goals else 0,
            dispatch=lambda handle: handle.execute(),
            on_queued=self._send_queued,
            on_lost=self._goal_lost,
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
        self.vlm_probe = EndpointProbe(self._vlm_base_url)
        self.vlm_probe.start()
        self._rates = {name: RateMeter() for name in self.inputs}
        self.diagnostics = DiagnosticsPublisher(self, self._diagnostics)
        # After declaring: rclpy calls this callback for declarations too.
        self.add_on_set_parameters_callback(self._on_set_parameters)
        if autostart if autostart is not None else self.get_parameter("lifecycle.autostart").value:
            self._autostart()
        else:
            self.get_logger().info(
                f"unconfigured: waiting for configure and activate "
                f"(ros2 lifecycle set {self.get_fully_qualified_name()} configure)"
            )

    # ---- lifecycle ------------------------------------------------------------------------------

    def _autostart(self) -> None:
        if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            raise ValueError(f"could not configure the node: {self.models.error}")
        if self.trigger_activate() != TransitionCallbackReturn.SUCCESS:
            raise RuntimeError("could not activate the node")

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Build the agent and load its perception models now, so that no goal pays for them."""
        started = time.monotonic()
        try:
            from spatialclaw_ros.perception import build_perception
            from spatialclaw_ros.perception.readiness import load_models

            agent = self._given_agent
            if agent is None:
                perception = self._given_perception
                agent = self._build_agent(
                    perception
                    if perception is not None
                    else build_perception(self.settings.perception)
                )
            if agent.perception is not None:
                load_models(agent.perception)
        except Exception as error:  # noqa: BLE001 - a bad setting or a model that does not load: stay unconfigured
            self.models = replace(
                self.models, state="failed", error=f"{type(error).__name__}: {error}"
            )
            self.get_logger().error(f"configure failed: {self.models.error}")
            return TransitionCallbackReturn.FAILURE
        self._agent = agent
        self.models = ModelState("loaded", self.models.loads + 1, time.monotonic() - started)
        reach = self.vlm_probe.check_now()
        # not fatal: the endpoint may come up later; goals say so meanwhile. The rules executor
        # asks no VLM, so an unreachable endpoint is no news for it.
        if not reach.reachable and self._agent_config().executor != "rules":
            self.get_logger().warning(
                f"VLM endpoint: {reach.detail}; goals fail with VLM_UNAVAILABLE until it answers"
            )
        self.get_logger().info(
            f"configured: models loaded in {self.models.load_s:.1f} s; VLM {reach.detail}"
        )
        self._lifecycle_state = "inactive"
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._serving = True
        self._lifecycle_state = "active"
        s = self.settings
        names = ", ".join(f"{c.name} ({c.image_topic})" for c in s.cameras)
        self.get_logger().info(
            f"ready: cameras {names}; poses from {s.pose_source}; TF through "
            f"{self.tf.backend}; action {self._action_name()}"
        )
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._serving = False
        self._lifecycle_state = "inactive"
        self.get_logger().info("inactive: new goals are refused until activated again")
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._agent = None
        self.models = replace(self.models, state="not loaded", error="")
        self._lifecycle_state = "unconfigured"
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._serving = False
        self._lifecycle_state = "finalized"
        return TransitionCallbackReturn.SUCCESS

    # ---- parameters at run time -----------------------------------------------------------------

    def _on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """Apply the RUNTIME_PARAMETERS all together or not at all; the read-only ones never get
        here (rclpy refuses them by their descriptor)."""
        changed = {p.name: p.value for p in parameters if p.name in RUNTIME_PARAMETERS}
        if not changed:
            return SetParametersResult(successful=True)
        values = {name: self.get_parameter(name).value for name in RUNTIME_PARAMETERS} | changed
        try:
            self._apply(values)
        except ValueError as error:  # pydantic's ValidationError is a ValueError too
            return SetParametersResult(successful=False, reason=shorten(str(error)))
        self.get_logger().info(
            f"parameters applied: {', '.join(f'{k}={v!r}' for k, v in changed.items())}"
        )
        return SetParametersResult(successful=True)

    def _apply(self, v: dict) -> None:
        """Validate everything first (each constructor raises ValueError), then swap it in."""
        settings = replace(
            self.settings,
            default_window_s=v["default_window_s"],
            default_num_frames=v["default_num_frames"],
            max_num_frames=v["max_num_frames"],
            max_staleness_s=v["max_staleness_s"],
            max_question_chars=v["max_question_chars"],
            goal_timeout_s=v["goal_timeout_s"],
            target_frame=v["target_frame"],
            marker_lifetime_s=v["marker_lifetime_s"],
        )
        limits = replace(
            self.buffer.limits,
            max_age_s=v["buffer.max_age_s"],
            sync_tolerance_s=v["buffer.sync_tolerance_s"],
            min_interval_s=v["buffer.min_interval_s"],
        )
        bounds = GoalBounds.from_parameters(v, v["max_question_chars"], v["max_num_frames"])
        # an empty endpoint or model is "not set": the agent settings' own value stays
        vlm = {
            name: v[f"vlm.{name}"]
            for name in ("base_url", "model", "timeout_s", "max_retries")
            if v[f"vlm.{name}"] != ""
        }
        agent = self._agent
        steps = v["agent.max_steps"]
        node_agent = with_agent_changes(self.settings.agent, steps, vlm)
        running_agent = with_agent_changes(agent.config, steps, vlm) if agent is not None else None
        # The buffer and the episode read these once per use: a swap is seen by the next frame or
        # goal.
        self.settings = replace(settings, agent=node_agent)
        self.buffer.limits = limits
        self._bounds = bounds
        self._goals.capacity = int(v["max_queued_goals"]) if settings.queue_goals else 0
        if agent is not None and running_agent is not None:
            agent.config = running_agent

    # ---- diagnostics ----------------------------------------------------------------------------

    def _agent_config(self) -> AgentConfig:
        """The agent settings in force: the running agent's, else those it will be built with."""
        agent = self._agent
        return agent.config if agent is not None else self.settings.agent

    def _vlm_base_url(self) -> str:
        return self._agent_config().vlm.base_url

    def _diagnostics(self) -> list:
        found = []
        for name, camera in self.inputs.items():
            counts = camera.counts
            rate = self._rates[name].rate(counts.received)
            found.append(
                status(
                    self,
                    f"camera {name}",
                    OK if rate > 0 else WARN,
                    f"{rate:.1f} Hz" if rate > 0 else f"no frames on {camera.topics.image_topic}",
                    **{
                        "rate (Hz)": rate,
                        "received": counts.received,
                        "kept": counts.kept,
                        "dropped (thinning)": counts.skipped,
                        "rejected (bad input)": counts.dropped,
                        "buffered": self.buffer.count(name),
                        "last error": counts.last_error,
                    },
                )
            )
        queued = len(self._goals)
        found.append(
            status(
                self,
                "goals",
                OK if self._serving else WARN,
                f"{self._lifecycle_state}; {queued} queued"
                + ("; one running" if self._episode_running else ""),
                **{
                    "lifecycle state": self._lifecycle_state,
                    "queue length": queued,
                    "queue capacity": self._goals.capacity,
                    "running": int(self._episode_running),
                    "answered": self._answers,
                },
            )
        )
        models = self.models
        level = {"loaded": OK, "failed": ERROR}.get(models.state, WARN)
        found.append(
            status(
                self,
                "models",
                level,
                models.error or models.state,
                **{
                    "state": models.state,
                    "loads": models.loads,
                    "load time (s)": models.load_s,
                    "reconstruct backend": self.settings.perception.reconstruct_backend,
                    "segment backend": self.settings.perception.segment_backend,
                },
            )
        )
        reach = self.vlm_probe.last
        level = (OK if reach.reachable else ERROR) if reach.checked else WARN
        detail = reach.detail
        # the rules executor answers without a VLM: its endpoint being down is no fault
        if self._agent_config().executor == "rules":
            level, detail = OK, f"not used by the rules executor ({detail})"
        found.append(
            status(
                self,
                "vlm endpoint",
                level,
                detail,
                **{"url": self._vlm_base_url(), "reachable": reach.reachable},
            )
        )
        return found

    # ---- construction -------------------------------------------------------------------------

    def _action_name(self) -> str:
        return f"{self.get_fully_qualified_name()}/ask"

    def _pose_source(self) -> CameraPoses:
        s = self.settings
        if s.pose_source == "tf":
            return TfPoses(self.tf, s.world_frame)
        if s.pose_source == "odom":
            return OdometryPoses(
                self, s.odom_topic, {c.name: c.base_to_optical for c in s.cameras}
            )
        return NoPoses()

    def _build_agent(self, perception):
        from spatialclaw_ros.agent import Agent

        return Agent(self.settings.agent, perception)

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
        if getattr(self, "vlm_probe", None) is not None:
            self.vlm_probe.stop()
        recorder = getattr(self, "recorder", None)
        if recorder is not None:
            recorder.close()
        if getattr(self, "_action", None) is not None:
            self._action.destroy()
        if getattr(self, "_goals", None) is not None:
            self._goals.close()
        super().destroy_node()

    # ---- goals ----------------------------------------------------------------------------------

    def _accepted(self, goal_handle: ServerGoalHandle) -> None:
        """Serving first, then bounds (no work for a goal outside them), then the queue
        (goals.py)."""
        if not self._serving:
            self._goals.refuse(goal_handle, Result.BUSY, self._not_serving())
            return
        try:
            checked = check_goal(goal_handle.request, self._bounds, self.buffer.cameras)
        except GoalRefused as refused:
            self._goals.refuse(goal_handle, refused.code, str(refused))
            return
        self._goals.submit(goal_handle, checked)

    def _not_serving(self) -> str:
        return (
            f"the node is not active (lifecycle state '{self._lifecycle_state}'): "
            "configure and activate it, "
            f"e.g. ros2 lifecycle set {self.get_fully_qualified_name()} activate"
        )

    def _goal_lost(self, goal_handle: ServerGoalHandle, error: Exception) -> None:
        self.get_logger().error(f"could not start a goal: {error!r}")

    def _send_queued(self, goal_handle: ServerGoalHandle, position: int) -> None:
        observation = f"queued: {position} goal(s) ahead of this one"
        goal_handle.publish_feedback(
            Feedback(stage=STAGE_QUEUED, step=0, observation=observation, elapsed=0.0)
        )

    def _execute(self, goal_handle: ServerGoalHandle) -> AskSpatial.Result:
        started = time.monotonic()
        admission = self._goals.admission(goal_handle)
        try:
            if not admission.run or admission.goal is None:  # a goal to run comes with its checks
                raise GoalFailed(admission.code, admission.message)
            self._episode_running = True
            try:
                result = self._answer(goal_handle, admission.goal, started)
            finally:
                self._episode_running = False
                self._goals.release()
        except GoalFailed as failure:
            result = Result(
                success=False, error_code=failure.code, error_msg=shorten(str(failure))
            )
        except Exception as error:  # noqa: BLE001 - the node outlives any bug in one episode
            self.get_logger().error(f"goal failed unexpectedly: {error!r}")
            result = Result(
                success=False,
                error_code=Result.INTERNAL_ERROR,
                error_msg=shorten(f"{type(error).__name__}: {error}"),
            )
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
            self.get_logger().warning(
                f"goal failed after {took:.1f} s (error {result.error_code}): {result.error_msg}"
            )
        return result

    def _answer(
        self, goal_handle: ServerGoalHandle, checked: CheckedGoal, started: float
    ) -> AskSpatial.Result:
        from spatialclaw_ros.agent import Question

        goal: AskSpatial.Goal = goal_handle.request
        try:
            question = Question(checked.question, checked.choices)
        except ValueError as error:
            raise GoalFailed(Result.BAD_REQUEST, str(error)) from None
        if goal_handle.is_cancel_requested:  # canceled just as it left the queue
            raise GoalFailed(Result.CANCELED, "canceled before it started")
        agent = self._agent  # cleanup may drop it meanwhile; this episode keeps its own
        if agent is None:
            raise GoalFailed(Result.BUSY, self._not_serving())
        send = _FeedbackSender(goal_handle, started)
        send.stage(Feedback.STAGE_SAMPLING, 0, observation="sampling frames")
        sampled = self._sample(goal, checked.cameras)
        if sampled.frames_note:
            self.get_logger().warning(sampled.frames_note)
        self._check_perception_inputs(sampled.videos)
        episode = agent.run(
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
                message = (
                    "episode stopped after the node's limit of "
                    f"{self.settings.goal_timeout_s:g} s: {message}"
                )
            raise GoalFailed(code, message)
        return self._publish_answer(goal, question.text, episode, sampled)

    def frames_for(self, goal: AskSpatial.Goal, cameras: list[str]) -> list[FrameSet]:
        """The frames `goal` would be answered from now, checked as its episode needs them
        (GoalFailed says what is missing): for a client that waits until the node can answer."""
        videos = self._sample(goal, cameras).videos
        self._check_perception_inputs(videos)
        return videos

    def _sample(self, goal: AskSpatial.Goal, cameras: list[str]) -> _Sampled:
        """Frames of `cameras` (checked: configured, no repeats)."""
        s = self.settings
        # No cameras named: every configured camera that has sent frames.
        cameras = cameras or [c for c in self.buffer.cameras if self.buffer.count(c)]
        if not cameras:
            raise GoalFailed(
                Result.NO_FRAMES,
                f"no frames received yet from any camera ({', '.join(self.buffer.cameras)})",
            )
        at_time = stamp_to_seconds(goal.stamp) or None
        request = SampleRequest(
            window_s=goal.window_sec or s.default_window_s,
            count=goal.num_frames or s.default_num_frames,
            at_time=at_time,
        )
        now = self.get_clock().now().nanoseconds * 1e-9
        videos = []
        for camera in cameras:
            newest = self.buffer.latest_stamp(camera)
            if newest is None:
                raise GoalFailed(
                    Result.NO_FRAMES, f"no frames received yet from camera {camera!r}"
                )
            if at_time is None and s.max_staleness_s > 0 and now - newest > s.max_staleness_s:
                raise GoalFailed(
                    Result.STALE_FRAMES,
                    f"the newest frame of camera {camera!r} is {now - newest:.1f} s old "
                    f"(limit {s.max_staleness_s:g} s)",
                )
            optical = self.inputs[camera].optical_frame
            try:
                videos.append(
                    self.buffer.sample(
                        camera,
                        request,
                        pose_at=partial(self.poses.pose_at, camera, optical),
                        world_frame=self.poses.world_frame,
                    )
                )
            except NoFramesError as error:
                raise GoalFailed(Result.NO_FRAMES, str(error)) from None
            except FrameBufferError as error:
                raise GoalFailed(Result.BAD_REQUEST, str(error)) from None
        short = [
            f"camera {v.name!r}: {len(v)} of {request.count}"
            for v in videos
            if len(v) < request.count
        ]
        note = (
            f"fewer frames than asked for were buffered in the window ({'; '.join(short)})"
            if short
            else ""
        )
        return _Sampled(
            videos=videos,
            newest_stamp=max(v.frames[-1].timestamp for v in videos),
            frames_note=note,
        )

    def _check_perception_inputs(self, videos: list[FrameSet]) -> None:
        """The sensor backend reconstructs from the robot's own depth and CameraInfo: say which is
        missing now rather than let the episode fail on its first Reconstruct call."""
        if self.settings.perception.reconstruct_backend != "sensor":
            return
        for video in videos:
            missing = [
                what
                for what, ok in (("depth", video.has_depth), ("CameraInfo", video.has_intrinsics))
                if not ok
            ]
            if missing:
                raise GoalFailed(
                    Result.PERCEPTION_FAILED,
                    f"reconstruct_backend 'sensor' needs {' and '.join(missing)} for "
                    f"camera {video.name!r}, "
                    "but the sampled frames have none (check the camera's depth_topic / "
                    "info_topic)",
                )

    # ---- outputs --------------------------------------------------------------------------------

    def _publish_answer(
        self, goal: AskSpatial.Goal, question: str, episode, sampled: _Sampled
    ) -> AskSpatial.Result:
        with self._answers_lock:
            self._answers += 1
            answer_id = str(self._answers)
        frame = self._output_frame(goal, episode, sampled)
        outputs = build_outputs(
            episode.objects, episode.distances, frame, answer_id, self.settings.marker_lifetime_s
        )
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
        """Objects come in the reconstruction's world: a robot frame when poses were known, else
        the first sampled camera's optical frame at that frame's time. Moved into the target frame
        when TF can tell how; otherwise left where they are (the header says which frame that
        is)."""
        worlds = {item.world_frame for item in [*episode.objects, *episode.distances]}
        world = (
            worlds.pop() if len(worlds) == 1 else (sampled.videos[0].world_frame or FIRST_CAMERA)
        )
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
            # an answer in another frame than asked for would mislead
            except TransformLookupError as error:
                raise GoalFailed(
                    Result.UNKNOWN_FRAME, f"cannot answer in target frame {target!r}: {error}"
                ) from None
        return OutputFrame(source, stamp, up=up)

    def _annotated_images(self, images, sampled: _Sampled) -> list[Image]:
        first = sampled.videos[0]
        header = Header(
            frame_id=self.inputs[first.name].optical_frame or first.name,
            stamp=seconds_to_stamp(sampled.newest_stamp),
        )
        converted = []
        for image in images:
            try:
                converted.append(image_from_rgb(image, header))
            except ValueError as error:
                self.get_logger().warning(f"not publishing an annotated image: {error}")
        return converted

    def _record(
        self,
        answer: SpatialAnswer,
        outputs: AnswerOutputs,
        images: list[Image],
        trace_path,
        stamp_ns: int,
    ) -> None:
        if self.recorder is None:
            return
        self.recorder.write(self.answer_pub.topic_name, answer, stamp_ns)
        self.recorder.write(self.markers_pub.topic_name, outputs.markers, stamp_ns)
        for image in images:
            self.recorder.write(self.annotated_pub.topic_name, image, stamp_ns)
        if trace_path and Path(trace_path).is_file():
            self.recorder.write(
                self._trace_topic(),
                String(data=Path(trace_path).read_text(errors="replace")),
                stamp_ns,
            )


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
