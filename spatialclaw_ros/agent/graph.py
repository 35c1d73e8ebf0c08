r"""The agent loop as a LangGraph graph, readable in one place.

    plan -> write -> execute -> feedback -> (write | fallback | end)
              \-> (no usable cell: corrective message) -> (write | fallback | end)

- plan: a separate VLM call that sees the question and a description of the input, no images.
- write: the VLM writes the next cell (it sees the system prompt with the tool documentation,
  the question, key frames, the plan and every earlier cell with its feedback).
- execute: the cell runs in the kernel.
- feedback: the kernel's report (text plus the images the cell showed) becomes the next turn.
- route: answered -> end; canceled or out of time -> end; step budget or failure budget spent ->
  one direct VLM answer as fallback.

How a reply becomes a cell is the executor's business (`CellSource`): python written by the
VLM (`code`, `single_pass`) or a JSON tool call rendered into a cell (`tool_calls`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypedDict

import numpy as np
from langgraph.graph import END, START, StateGraph

from spatialclaw_ros.agent import prompts
from spatialclaw_ros.agent.answer_check import answer_problem
from spatialclaw_ros.agent.types import ProgressEvent, Question, Stage, StepRecord
from spatialclaw_ros.agent.vlm_client import ChatMessage, VLMClient, VLMReply
from spatialclaw_ros.frames import FrameSet
from spatialclaw_ros.frames.sampling import evenly_spaced
from spatialclaw_ros.kernel.feedback import cap_middle

StopReason = Literal["answered", "budget", "failures", "canceled", "timed_out"]


@dataclass
class CellDraft:
    """What a reply amounts to: a cell to run, or the correction to send back instead."""

    code: str | None
    correction: str = ""
    summary: str = ""  # one line for progress output (the reply's stated purpose)
    echo: str = ""  # the reply as it goes back into the conversation: never its reasoning


class CellSource(Protocol):
    def system_prompt(self, max_steps: int) -> str: ...

    def draft(self, reply: VLMReply) -> CellDraft: ...

    def function_tools(self) -> list[dict] | None:
        """OpenAI function definitions to offer with every cell request, or None."""
        ...


class LoopState(TypedDict, total=False):
    plan: str
    messages: list[ChatMessage]  # the cell writer's conversation after the system prompt
    turns: int  # cell-writing replies received (the step budget counts these)
    failures: int  # cells that ended in an error
    pending: CellDraft | None
    answer: str | int | float | None
    stop: StopReason | None
    used_fallback: bool
    last_result: Any  # the kernel's StepResult of the latest cell
    refusal: str  # why the latest cell's answer was refused ("" when it was not)
    refused: list[Any]  # answers refused so far


@dataclass
class LoopLimits:
    max_steps: int
    max_failures: int
    max_prompt_frames: int
    max_feedback_images: int
    max_feedback_chars: int
    fallback: bool
    deadline: float  # time.monotonic() value when the episode must end


class AgentLoop:
    """One episode's loop. `kernel` runs cells (kernel.run(code) -> StepResult)."""

    def __init__(
        self,
        *,
        question: Question,
        videos: list[FrameSet],
        kernel: Any,
        client: VLMClient,
        source: CellSource,
        limits: LoopLimits,
        trace: Any,
        on_progress: Callable[[ProgressEvent], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> None:
        self.question = question
        self.videos = videos
        self.kernel = kernel
        self.client = client
        self.source = source
        self.limits = limits
        self.trace = trace
        self.on_progress = on_progress
        self.should_cancel = should_cancel or (lambda: False)
        self.started = time.monotonic()
        # Steps taken, kept on the loop rather than in the graph state so that an episode the VLM
        # cut short (an exception out of the graph) still has them.
        # the kernel's StepResults, for the episode's objects and images
        self.results: list[Any] = []
        self.history: list[StepRecord] = []
        self.system = ChatMessage("system", source.system_prompt(limits.max_steps))
        self.graph = self._build()

    def _build(self):
        graph = StateGraph(LoopState)
        graph.add_node("plan", self._plan)
        graph.add_node("write", self._write)
        graph.add_node("execute", self._execute)
        graph.add_node("feedback", self._feedback)
        graph.add_node("fallback", self._fallback)
        graph.add_edge(START, "plan")
        graph.add_conditional_edges("plan", self._route, ["write", "fallback", END])
        graph.add_conditional_edges(
            "write", self._after_write, ["execute", "write", "fallback", END]
        )
        graph.add_edge("execute", "feedback")
        graph.add_conditional_edges("feedback", self._route, ["write", "fallback", END])
        graph.add_edge("fallback", END)
        return graph.compile()

    def run(self) -> LoopState:
        initial: LoopState = {
            "plan": "",
            "messages": [],
            "turns": 0,
            "failures": 0,
            "pending": None,
            "answer": None,
            "stop": None,
            "used_fallback": False,
            "last_result": None,
            "refusal": "",
            "refused": [],
        }
        # every turn passes through at most three nodes; the limit only guards against a bug
        return self.graph.invoke(
            initial, config={"recursion_limit": 4 * self.limits.max_steps + 10}
        )

    # -- nodes -------------------------------------------------------------------------------

    def _plan(self, state: LoopState) -> LoopState:
        self._progress("planning", 0)
        plan = self.client.chat(
            [
                ChatMessage("system", prompts.planner_system()),
                ChatMessage("user", prompts.planner_request(self.question, self.videos)),
            ],
            purpose="plan",
            deadline=self.limits.deadline,
        )
        images, shown = key_frames(self.videos, self.limits.max_prompt_frames)
        opening = ChatMessage(
            "user", prompts.first_cell_request(self.question, self.videos, plan, shown), images
        )
        return self._checked(state, {"plan": plan, "messages": [opening]})

    def _write(self, state: LoopState) -> LoopState:
        turn = state["turns"] + 1
        self._progress("coding", turn)
        reply = self.client.complete(
            [self.system, *state["messages"]],
            purpose="cell",
            deadline=self.limits.deadline,
            tools=self.source.function_tools(),
        )
        draft = self.source.draft(reply)
        # the reasoning stays out of the history: it would be resent, and paid for, every turn
        messages = [*state["messages"], ChatMessage("assistant", draft.echo or "(empty reply)")]
        if draft.code is not None:
            return {"messages": messages, "turns": turn, "pending": draft}
        self.trace.event("no_cell", turn=turn, correction=draft.correction)
        messages.append(
            ChatMessage(
                "user", prompts.feedback_turn(draft.correction, turn, self.limits.max_steps)
            )
        )
        return self._checked(state, {"messages": messages, "turns": turn, "pending": draft})

    def _execute(self, state: LoopState) -> LoopState:
        draft = state["pending"]
        assert draft is not None and draft.code is not None
        self._progress("executing", state["turns"], code=draft.code, observation=draft.summary)
        result = self.kernel.run(draft.code)
        record = StepRecord.of(state["turns"], draft.code, result)
        self.results.append(result)
        self.history.append(record)
        update: LoopState = {
            "last_result": result,
            "failures": state["failures"] + (result.status == "error"),
            "pending": None,
            "refusal": "",
        }
        if result.answer is not None:
            refusal = answer_problem(result.answer, self.question, state["refused"])
            if refusal is None:
                update["answer"], update["stop"] = result.answer, "answered"
            else:
                self.trace.event(
                    "answer_refused", turn=state["turns"], answer=result.answer, reason=refusal
                )
                update["refusal"], update["refused"] = refusal, [*state["refused"], result.answer]
        return update

    def _feedback(self, state: LoopState) -> LoopState:
        result = state["last_result"]
        images = list(result.images)[: self.limits.max_feedback_images]
        text = cap_middle(result.feedback, self.limits.max_feedback_chars)
        if state["refusal"]:
            text += f"\nAnswer not accepted, the episode goes on: {state['refusal']}"
        self.trace.step(state["turns"], self.history[-1].code, result)
        self._progress(
            "executing", state["turns"], observation=self.history[-1].observation or result.status
        )
        turn = ChatMessage(
            "user", prompts.feedback_turn(text, state["turns"], self.limits.max_steps), images
        )
        return self._checked(state, {"messages": [*state["messages"], turn]})

    def _fallback(self, state: LoopState) -> LoopState:
        self._progress(
            "answering", state["turns"], observation="step budget spent: answering directly"
        )
        images = state["messages"][0].images  # the key frames of the opening turn
        notes = "\n".join(
            f"step {r.step} ({r.status}): {r.observation}" for r in self.history[-8:]
        )
        if state["plan"]:
            notes = f"plan:\n{state['plan']}\n{notes}"
        reply = self.client.chat(
            [
                ChatMessage(
                    "system", prompts.FALLBACK_SYSTEM.format(answer_rules=prompts.ANSWER_RULES)
                ),
                ChatMessage("user", prompts.fallback_request(self.question, notes), images),
            ],
            purpose="fallback",
            deadline=self.limits.deadline,
        )
        self.trace.event("fallback", reason=state["stop"])
        return {"answer": reply, "used_fallback": True}

    # -- routing -----------------------------------------------------------------------------

    def _after_write(self, state: LoopState) -> str:
        if state["pending"] is not None and state["pending"].code is not None:
            return "execute"
        return self._route(state)

    def _route(self, state: LoopState) -> str:
        stop = state["stop"]
        if stop in ("answered", "canceled", "timed_out"):
            return END
        if stop in ("budget", "failures"):
            return "fallback" if self.limits.fallback else END
        return "write"

    def _checked(self, state: LoopState, update: LoopState) -> LoopState:
        """`update` plus the reason to stop, if any, judged on the state after the update."""
        after: LoopState = {**state, **update}
        if after["stop"] is None:
            update["stop"] = self._stop_reason(after)
        return update

    def _stop_reason(self, state: LoopState) -> StopReason | None:
        if self.should_cancel():
            return "canceled"
        if time.monotonic() >= self.limits.deadline:
            return "timed_out"
        if state["turns"] >= self.limits.max_steps:
            return "budget"
        if state["failures"] >= self.limits.max_failures:
            return "failures"
        return None

    # -- helpers -----------------------------------------------------------------------------

    def _progress(self, stage: Stage, step: int, code: str = "", observation: str = "") -> None:
        if self.on_progress is not None:
            self.on_progress(
                ProgressEvent(stage, step, code, observation, time.monotonic() - self.started)
            )


def key_frames(videos: list[FrameSet], limit: int) -> tuple[list[np.ndarray], list[list[int]]]:
    """Up to `limit` evenly spaced images of every video, in order, and their positions per
    video."""
    shown = [evenly_spaced(len(video), limit) for video in videos]
    images = [
        video.frames[p].image
        for video, positions in zip(videos, shown, strict=True)
        for p in positions
    ]
    return images, shown
