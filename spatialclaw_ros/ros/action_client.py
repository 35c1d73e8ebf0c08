"""The action client every caller of the agent node uses (replay, the demo, the benchmarks, the
tests).

rclpy 9.1.2's `ActionClient.send_goal_async` registers the goal's future under its lock and then a
second, fresh future without the lock: the backport of the fix for ros2/rclpy#1123 kept the old
lines after the new ones. A goal response that the executor thread takes between the two completes
the first future and drops the request's bookkeeping; the future the caller holds then never
completes. With a local action server that accepts at once, this hung an online replay in about
one full test run in six, until the 600 s answer timeout. This client sends a goal once, under the
lock, and records the feedback callback before the request leaves, so early feedback is kept too.

`request` also survives a goal response that DDS loses: over Fast DDS's LARGE_DATA transports the
first message a server sends to a client that has just appeared can be lost (the node answered,
the client never heard that its goal was accepted: 1 fresh run in 20 of bench/online_replay.py).

rclpy 9.1.2's `ActionClient.__init__` also adds the client to the node's waitables before it
creates the client's lock. An executor thread already spinning that node counts the client's
entities in between, fails on the missing lock and stops spinning: every goal of that process then
waits forever (one CI run). This client has its lock before it is registered.
"""

from __future__ import annotations

import threading
from typing import Any

from rclpy.action import ActionClient
from rclpy.action.client import ClientGoalHandle
from rclpy.task import Future

from spatialclaw_ros.ros.spin import wait_until


class GoalClient(ActionClient):
    """`rclpy.action.ActionClient` whose `send_goal_async` future always completes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # rclpy's __init__ replaces this lock with its own once registered; nothing can be
        # pending on this one by then.
        self._lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def send_goal_async(
        self, goal: Any, feedback_callback: Any = None, goal_uuid: Any = None
    ) -> Future:
        if not isinstance(goal, self._action_type.Goal):
            raise TypeError(f"expected a {self._action_type.Goal.__name__}, got {type(goal)}")
        request = self._action_type.Impl.SendGoalService.Request()
        request.goal_id = self._generate_random_uuid() if goal_uuid is None else goal_uuid
        request.goal = goal
        if feedback_callback is not None:
            self._feedback_callbacks[bytes(request.goal_id.uuid)] = feedback_callback
        future: Future = Future()
        with self._lock:
            sequence_number = self._client_handle.send_goal_request(request)
            if sequence_number in self._pending_goal_requests:
                raise RuntimeError(f"goal request {sequence_number} is already pending")
            self._pending_goal_requests[sequence_number] = future
            self._goal_sequence_number_to_goal_id[sequence_number] = request.goal_id
            future.add_done_callback(self._remove_pending_goal_request)
            self.add_future(future)
        return future

    def request(
        self,
        goal: Any,
        *,
        answer_within_s: float = 10.0,
        attempts: int = 3,
        feedback_callback: Any = None,
    ) -> ClientGoalHandle | None:
        """Send `goal` and wait for the server's answer to the request (accepted or refused). A
        request unanswered after `answer_within_s` is canceled, in case the server did take it,
        and sent again under a new id, `attempts` times in all. None when no answer came."""
        for _ in range(attempts):
            goal_id = self._generate_random_uuid()
            sent = self.send_goal_async(goal, feedback_callback, goal_id)
            if wait_until(sent.done, answer_within_s):
                return sent.result()
            sent.cancel()  # a late answer to it is ignored
            accepted = self._action_type.Impl.SendGoalService.Response(accepted=True)
            ClientGoalHandle(self, goal_id, accepted).cancel_goal_async()
        return None
