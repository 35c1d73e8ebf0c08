"""What the agent node accepts as a goal, and the queue goals wait in.

Bounds: every AskSpatial goal field has a limit (the node's parameters, see GOAL_PARAMETERS and
config/spatialclaw.yaml), checked as soon as the goal is accepted and before any work (no frame
is sampled, no episode starts). A goal outside them ends at once with BAD_REQUEST (or
UNKNOWN_CAMERA) and a message of at most MAX_MESSAGE_CHARS characters.

Queue: one episode runs at a time. A goal that arrives while one runs waits in an explicit FIFO
queue of `max_queued_goals` places, and is told so with a "queued" feedback message giving its
place; when the queue is full, the goal ends at once with BUSY and says why. Queued goals do not
hold an executor thread, so the node keeps answering goal, cancel and result requests however many
wait. A queued goal whose cancel is requested leaves the queue within one poll (50 ms) and ends
CANCELED; a running one stops at the agent's next step.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rclpy.action.server import ServerGoalHandle
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from spatialclaw_ros.action import AskSpatial

Result = AskSpatial.Result
Feedback = AskSpatial.Feedback
STAGE_QUEUED = "queued"  # feedback stage of a goal waiting for the running one
MAX_MESSAGE_CHARS = 300
_SHOWN_NAMES = 5  # unknown cameras named in a message; the rest are counted
_POLL_S = 0.05

# name -> (default, description); declared by the agent node beside its other parameters.
GOAL_PARAMETERS: dict[str, tuple[Any, str]] = {
    "max_choices": (26, "most answer options a goal may give (letters A-Z)"),
    "max_choice_chars": (500, "longest answer option"),
    "max_cameras": (8, "most cameras one goal may name (after removing repeats)"),
    "max_window_s": (600.0, "longest window_sec a goal may ask for"),
    "max_steps": (100, "largest step budget (max_steps) a goal may ask for"),
    "max_queued_goals": (
        32,
        "goals that may wait while one runs; more end at once with BUSY "
        "(0 with queue_goals false)",
    ),
    "result_timeout_s": (900, "seconds a finished goal's result stays available to get_result"),
}

# Goal, cancel and result requests of a burst must all be kept until taken: rclpy's default
# service depth (10) silently drops the rest of a burst.
REQUEST_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1000,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
FEEDBACK_QOS = QoSProfile(depth=100)


@dataclass(frozen=True)
class GoalBounds:
    max_question_chars: int = 2000
    max_choices: int = 26
    max_choice_chars: int = 500
    max_cameras: int = 8
    max_camera_name_chars: int = 256
    max_num_frames: int = 64
    max_window_s: float = 600.0
    max_steps: int = 100
    max_target_frame_chars: int = 256

    @classmethod
    def from_parameters(
        cls, values: dict[str, Any], max_question_chars: int, max_num_frames: int
    ) -> GoalBounds:
        return cls(
            max_question_chars=max_question_chars,
            max_num_frames=max_num_frames,
            max_choices=int(values["max_choices"]),
            max_choice_chars=int(values["max_choice_chars"]),
            max_cameras=int(values["max_cameras"]),
            max_window_s=float(values["max_window_s"]),
            max_steps=int(values["max_steps"]),
        )


@dataclass(frozen=True)
class CheckedGoal:
    """A goal within the bounds: cameras without repeats, in the order given."""

    question: str
    choices: list[str]
    cameras: list[str]


class GoalRefused(Exception):
    """A goal outside the bounds: ends with `code` and a short message."""

    def __init__(self, code: int, message: str):
        super().__init__(shorten(message))
        self.code = code


def check_goal(
    goal: AskSpatial.Goal, bounds: GoalBounds, configured_cameras: Sequence[str]
) -> CheckedGoal:
    """Raise GoalRefused for the first field outside its bound; cheap whatever the goal holds."""
    if len(goal.question) > bounds.max_question_chars:
        raise GoalRefused(
            Result.BAD_REQUEST,
            f"the question has {len(goal.question)} characters; the limit is "
            f"{bounds.max_question_chars}",
        )
    if len(goal.choices) > bounds.max_choices:
        raise GoalRefused(
            Result.BAD_REQUEST, f"{len(goal.choices)} choices; the limit is {bounds.max_choices}"
        )
    longest = max((len(c) for c in goal.choices), default=0)
    if longest > bounds.max_choice_chars:
        raise GoalRefused(
            Result.BAD_REQUEST,
            f"a choice has {longest} characters; the limit is {bounds.max_choice_chars}",
        )
    cameras = list(dict.fromkeys(goal.cameras))
    if len(cameras) > bounds.max_cameras:
        raise GoalRefused(
            Result.BAD_REQUEST,
            f"{len(cameras)} different cameras named; the limit is {bounds.max_cameras}",
        )
    if any(len(c) > bounds.max_camera_name_chars for c in cameras):
        raise GoalRefused(
            Result.BAD_REQUEST,
            f"a camera name is longer than {bounds.max_camera_name_chars} characters",
        )
    unknown = [c for c in cameras if c not in configured_cameras]
    if unknown:
        raise GoalRefused(
            Result.UNKNOWN_CAMERA,
            f"unknown camera(s) {_names(unknown)}; configured: {_names(list(configured_cameras))}",
        )
    if not math.isfinite(goal.window_sec) or not 0 <= goal.window_sec <= bounds.max_window_s:
        raise GoalRefused(
            Result.BAD_REQUEST,
            f"window_sec must be between 0 and {bounds.max_window_s:g}, got {goal.window_sec:g}",
        )
    if goal.num_frames > bounds.max_num_frames:
        raise GoalRefused(
            Result.BAD_REQUEST,
            f"num_frames {goal.num_frames} is above the limit of {bounds.max_num_frames}",
        )
    if goal.max_steps > bounds.max_steps:
        raise GoalRefused(
            Result.BAD_REQUEST,
            f"max_steps {goal.max_steps} is above the limit of {bounds.max_steps}",
        )
    if len(goal.target_frame) > bounds.max_target_frame_chars:
        raise GoalRefused(
            Result.BAD_REQUEST,
            f"target_frame is longer than {bounds.max_target_frame_chars} characters",
        )
    return CheckedGoal(goal.question, list(goal.choices), cameras)


def shorten(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."


def _names(names: list[str]) -> str:
    shown = ", ".join(repr(n[:40]) for n in names[:_SHOWN_NAMES])
    return shown if len(names) <= _SHOWN_NAMES else f"{shown} and {len(names) - _SHOWN_NAMES} more"


@dataclass(frozen=True)
class Admission:
    """What the execute callback does with a goal: run `goal` (it then holds the episode slot), or
    end it at once with `code` and `message`."""

    run: bool
    goal: CheckedGoal | None = None
    code: int = Result.NONE
    message: str = ""


class GoalQueue:
    """The episode slot and the goals waiting for it. `dispatch(handle)` hands a goal to the action
    server's execute callback (`ServerGoalHandle.execute`), which asks `admission(handle)` what to
    do. Call `release()` when the running goal ends."""

    def __init__(
        self,
        capacity: int,
        dispatch: Callable[[ServerGoalHandle], None],
        on_queued: Callable[[ServerGoalHandle, int], None],
        on_lost: Callable[[ServerGoalHandle, Exception], None],
    ):
        self.capacity = capacity
        self._dispatch = dispatch
        self._on_queued = on_queued
        self._on_lost = on_lost
        self._waiting: deque[tuple[ServerGoalHandle, CheckedGoal]] = deque()
        self._admissions: dict[bytes, Admission] = {}
        self._running = False
        self._closed = False
        self._changed = threading.Condition()
        self._worker = threading.Thread(target=self._run, name="goal-queue", daemon=True)
        self._worker.start()

    def __len__(self) -> int:
        with self._changed:
            return len(self._waiting)

    def submit(self, handle: ServerGoalHandle, goal: CheckedGoal) -> None:
        """A newly accepted goal within the bounds: it runs now, waits in the queue, or ends
        BUSY."""
        with self._changed:
            if not self._running and not self._waiting:
                self._running = True
                self._admissions[_key(handle)] = Admission(run=True, goal=goal)
                position = 0
            elif len(self._waiting) < self.capacity:
                self._waiting.append((handle, goal))
                position = len(self._waiting)
            else:
                why = (
                    f"the goal queue is full ({len(self._waiting)} waiting); try again later"
                    if self.capacity
                    else "another question is being answered and queue_goals is false"
                )
                self._admissions[_key(handle)] = Admission(
                    run=False, code=Result.BUSY, message=why
                )
                position = -1
        if position > 0:
            self._on_queued(handle, position)
            with self._changed:
                self._changed.notify()
        else:
            self._hand_over(handle)

    def refuse(self, handle: ServerGoalHandle, code: int, message: str) -> None:
        """End a goal at once without queueing it (a bad request)."""
        with self._changed:
            self._admissions[_key(handle)] = Admission(run=False, code=code, message=message)
        self._hand_over(handle)

    def admission(self, handle: ServerGoalHandle) -> Admission:
        with self._changed:
            return self._admissions.pop(
                _key(handle),
                Admission(
                    run=False,
                    code=Result.INTERNAL_ERROR,
                    message="the goal was executed without admission",
                ),
            )

    def release(self) -> None:
        with self._changed:
            self._running = False
            self._changed.notify()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()
        self._worker.join(timeout=2)

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait(_POLL_S)
                if self._closed:
                    return
                canceled = [item for item in self._waiting if item[0].is_cancel_requested]
                leaving = []
                for item in canceled:
                    self._waiting.remove(item)
                    self._admissions[_key(item[0])] = Admission(
                        run=False,
                        code=Result.CANCELED,
                        message="canceled while waiting in the goal queue",
                    )
                    leaving.append(item[0])
                if not self._running and self._waiting:
                    handle, goal = self._waiting.popleft()
                    self._running = True
                    self._admissions[_key(handle)] = Admission(run=True, goal=goal)
                    leaving.append(handle)
            for handle in leaving:
                self._hand_over(handle)

    def _hand_over(self, handle: ServerGoalHandle) -> None:
        """Dispatch a goal; if that fails (the goal handle is gone), forget its admission and free
        the slot it was given, so that one lost goal cannot stop the queue."""
        try:
            self._dispatch(handle)
        except Exception as error:  # noqa: BLE001 - rclpy raises several types for a gone handle
            with self._changed:
                admission = self._admissions.pop(_key(handle), None)
                if admission is not None and admission.run:
                    self._running = False
                    self._changed.notify()
            self._on_lost(handle, error)


def _key(handle: ServerGoalHandle) -> bytes:
    return bytes(handle.goal_id.uuid)
