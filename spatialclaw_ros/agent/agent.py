"""The Agent: one question + frames -> one Episode, with whichever executor is configured.

Executors (`AgentConfig.executor`):
- code: the VLM writes cells step by step with feedback (the method);
- single_pass: the VLM writes one program, no feedback loop;
- tool_calls: the VLM emits JSON tool calls, each rendered into a cell;
- no_tools: the VLM answers from the images directly;
- rules: no VLM at all; templated questions are turned into cells (see rules.py).
All share the VLM client, the kernel and the answer handling.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import openai

from spatialclaw_ros.agent import prompts, rules
from spatialclaw_ros.agent.cells import CodeCells, ToolCallCells
from spatialclaw_ros.agent.config import AgentConfig, VLMConfig
from spatialclaw_ros.agent.dispatch import HostVLMDispatch
from spatialclaw_ros.agent.final_answer import final_answer
from spatialclaw_ros.agent.graph import AgentLoop, LoopLimits, key_frames
from spatialclaw_ros.agent.trace import Trace
from spatialclaw_ros.agent.types import (
    Episode,
    EpisodeError,
    EpisodeTimings,
    ErrorCode,
    Outcome,
    ProgressEvent,
    Question,
)
from spatialclaw_ros.agent.vlm_client import ChatMessage, VLMClient, VLMUnavailable, open_endpoint
from spatialclaw_ros.frames import FrameSet
from spatialclaw_ros.kernel import Kernel, KernelConfig, StepResult
from spatialclaw_ros.perception.types import Box3D, ObjectDistance, Perception
from spatialclaw_ros.tools import describe

MAX_EPISODE_IMAGES = 32  # images an Episode hands back (the trace keeps all of them)

ProgressCallback = Callable[[ProgressEvent], None]
CancelCheck = Callable[[], bool]


CANCELED = EpisodeError("canceled", "the question was canceled")


@dataclass
class EpisodeContext:
    """What every executor of one episode works with."""

    question: Question
    videos: list[FrameSet]
    client: VLMClient
    trace: Trace
    started: float  # time.monotonic() values
    deadline: float
    on_progress: ProgressCallback | None
    cancel: CancelCheck
    kernel: PendingKernel | None = None  # set once the executor starts one


class PendingKernel:
    """A kernel starting in another thread; the first cell waits for it. Keeps how long cells
    waited for the start and how long they ran, for the episode's timings."""

    def __init__(self, starting: Future[Kernel]) -> None:
        self._starting = starting
        self.wait_s = 0.0
        self.run_s = 0.0

    def run(self, code: str) -> StepResult:
        began = time.perf_counter()
        kernel = self._starting.result()
        ready = time.perf_counter()
        try:
            return kernel.run(code)
        finally:
            self.wait_s += ready - began
            self.run_s += time.perf_counter() - ready

    def __enter__(self) -> PendingKernel:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            kernel = self._starting.result()
        except Exception:  # noqa: BLE001 - it never started; the loop already reported why
            return
        close_in_background(kernel)


def close_in_background(kernel: Kernel) -> None:
    """Stop the worker without holding up the answer (its interpreter takes a while to exit).
    A non-daemon thread, so the process still waits for it before exiting."""
    threading.Thread(target=kernel.close, name="kernel-close", daemon=False).start()


class Agent:
    """Answers questions about frames. One Agent can run many episodes, one at a time."""

    def __init__(
        self, config: AgentConfig | None = None, perception: Perception | None = None
    ) -> None:
        self.config = config or AgentConfig()
        self.perception = perception
        self._endpoint: tuple[tuple[str, tuple[str, ...], str, float], openai.OpenAI] | None = None
        self._endpoint_lock = threading.Lock()

    def run(
        self,
        question: Question,
        videos: list[FrameSet],
        on_progress: ProgressCallback | None = None,
        should_cancel: CancelCheck | None = None,
        deadline: float | None = None,
    ) -> Episode:
        """`deadline`: a time.monotonic() value the episode must end by; without one it gets
        the config's episode_timeout_s from now."""
        started = time.monotonic()
        problem = _check_request(question, videos)
        if problem is not None:
            return Episode(
                question=question
                if isinstance(question, Question)
                else Question("(invalid question)"),
                error=EpisodeError("bad_request", problem),
                executor=self.config.executor,
            )
        config = self.config
        trace = Trace(config.trace_dir, question.text, config.executor)
        client = VLMClient(
            config.vlm, listener=trace.vlm_exchange, endpoint=self._endpoint_for(config.vlm)
        )
        deadline = started + config.episode_timeout_s if deadline is None else deadline
        cancel = should_cancel or (lambda: False)
        episode = Episode(
            question=question,
            executor=config.executor,
            trace_path=str(trace.path) if trace.path else None,
        )
        ctx = EpisodeContext(
            question, videos, client, trace, started, deadline, on_progress, cancel
        )
        try:
            outcome = Outcome(None, failure=CANCELED) if cancel() else self._execute(ctx)
        except VLMUnavailable as exc:
            outcome = Outcome(None, failure=_vlm_failure(exc, deadline))
        except Exception as exc:  # noqa: BLE001 - the episode fails cleanly; the trace keeps the traceback
            trace.event("internal_error", traceback=traceback.format_exc())
            outcome = Outcome(
                None, failure=EpisodeError("internal", f"{type(exc).__name__}: {exc}")
            )
        self._fill(episode, outcome, client)
        trace.finish(
            answer=episode.answer,
            value=episode.value,
            unit=episode.unit,
            raw_answer=episode.raw_answer,
            used_fallback=episode.used_fallback,
            steps=episode.steps,
            error=episode.error,
            elapsed=round(time.monotonic() - started, 3),
            prompt_tokens=episode.tokens.prompt,
            completion_tokens=episode.tokens.completion,
            vlm_seconds=round(client.time_in_calls, 3),
        )
        episode.elapsed = time.monotonic() - started
        episode.timings = _timings(episode.elapsed, client, ctx.kernel, trace)
        if on_progress is not None:
            on_progress(
                ProgressEvent(
                    "answering", episode.steps, observation=episode.answer, elapsed=episode.elapsed
                )
            )
        return episode

    def _endpoint_for(self, vlm: VLMConfig) -> openai.OpenAI:
        """The Agent's one HTTP client for its endpoint, rebuilt only if the endpoint changes."""
        key = (vlm.base_url, tuple(vlm.base_urls), vlm.api_key, vlm.timeout_s)
        with self._endpoint_lock:
            if self._endpoint is None or self._endpoint[0] != key:
                self._endpoint = (key, open_endpoint(vlm))
            return self._endpoint[1]

    # -- executors ---------------------------------------------------------------------------

    def _execute(self, ctx: EpisodeContext) -> Outcome:
        executor = self.config.executor
        if executor == "no_tools":
            return self._answer_directly(ctx)
        plan = None
        if executor == "rules":
            plan = rules.plan_for(ctx.question)
            ctx.trace.event("rules", template=plan.template if plan else None)
            if plan is None:
                # no template fits: no kernel is needed to say so, and it is no answer
                return Outcome(None, failure=EpisodeError("unsupported_question", rules.NEEDS_VLM))
        dispatch = HostVLMDispatch(ctx.client, deadline=ctx.deadline)
        kernel_config = KernelConfig(
            cell_timeout_s=self.config.cell_timeout_s,
            allow_weaker_sandbox=self.config.allow_weaker_sandbox,
            warm_workers=self.config.warm_kernels,
        )

        def start_kernel() -> Kernel:
            return Kernel(
                ctx.videos,
                perception=self.perception,
                vlm=dispatch,
                options=ctx.question.choices,
                config=kernel_config,
            )

        # The worker process takes a second or two to start: let it start while the planner thinks
        # (the rules executor has nothing to overlap it with, its first cell simply waits).
        with ThreadPoolExecutor(1, thread_name_prefix="kernel-start") as pool:
            with PendingKernel(pool.submit(start_kernel)) as kernel:
                ctx.kernel = kernel
                if plan is not None:
                    return rules.RulesExecutor(kernel, ctx.trace, ctx.on_progress).run(plan)
                return self._loop(ctx, kernel)

    def _loop(self, ctx: EpisodeContext, kernel: PendingKernel) -> Outcome:
        config = self.config
        single_pass = config.executor == "single_pass"
        if config.executor == "tool_calls":
            source: ToolCallCells | CodeCells = ToolCallCells(
                len(ctx.videos), native=config.vlm.native_tools
            )
        else:
            source = CodeCells(
                describe(), single_pass=single_pass, max_tokens=config.vlm.max_tokens
            )
        limits = LoopLimits(
            max_steps=1 if single_pass else config.max_steps,
            max_failures=config.max_failures,
            max_prompt_frames=config.max_prompt_frames,
            max_feedback_images=config.max_feedback_images,
            max_feedback_chars=config.max_feedback_chars,
            fallback=config.fallback,
            deadline=ctx.deadline,
        )
        loop = AgentLoop(
            question=ctx.question,
            videos=ctx.videos,
            kernel=kernel,
            client=ctx.client,
            source=source,
            limits=limits,
            trace=ctx.trace,
            on_progress=ctx.on_progress,
            should_cancel=ctx.cancel,
        )
        try:
            state = loop.run()
        except VLMUnavailable as exc:
            return Outcome(
                None,
                history=loop.history,
                results=loop.results,
                failure=_vlm_failure(exc, ctx.deadline),
            )
        failure = None  # a stopped episode still reports the steps it took
        if state["stop"] == "canceled":
            failure = CANCELED
        elif state["stop"] == "timed_out":
            failure = EpisodeError(
                "timed_out", f"the episode took longer than {ctx.deadline - ctx.started:g} s"
            )
        answer = None if failure else state["answer"]
        return Outcome(answer, state["used_fallback"], loop.history, loop.results, failure)

    def _answer_directly(self, ctx: EpisodeContext) -> Outcome:
        if ctx.on_progress is not None:
            ctx.on_progress(ProgressEvent("answering", 0))
        images, _ = key_frames(ctx.videos, self.config.max_prompt_frames)
        reply = ctx.client.chat(
            [
                ChatMessage(
                    "system", prompts.DIRECT_SYSTEM.format(answer_rules=prompts.ANSWER_RULES)
                ),
                ChatMessage("user", prompts.direct_request(ctx.question, ctx.videos), images),
            ],
            purpose="answer",
            deadline=ctx.deadline,
        )
        return Outcome(reply)

    # -- the episode -------------------------------------------------------------------------

    def _fill(self, episode: Episode, outcome: Outcome, client: VLMClient) -> None:
        episode.tokens = client.usage
        episode.history = outcome.history
        episode.steps = len(outcome.history)
        episode.used_fallback = outcome.used_fallback
        episode.objects, episode.distances, episode.images = _collect(outcome.results)
        episode.raw_answer = "" if outcome.raw_answer is None else str(outcome.raw_answer)
        answer = final_answer(outcome.raw_answer, episode.question)
        episode.answer, episode.value, episode.unit = answer.answer, answer.value, answer.unit
        episode.error = outcome.failure
        if episode.error is None and not episode.answer:
            episode.error = _why_unanswered(outcome)


def _vlm_failure(exc: VLMUnavailable, deadline: float) -> EpisodeError:
    # a call cut short by the episode deadline is the episode's timeout, not the endpoint's fault
    code: ErrorCode = "timed_out" if time.monotonic() >= deadline else "vlm_unavailable"
    return EpisodeError(code, str(exc))


def _timings(
    total: float, client: VLMClient, kernel: PendingKernel | None, trace: Trace
) -> EpisodeTimings:
    # vlm.locate / vlm.ask from a cell are VLM time, not the cell's own
    sub_queries = client.seconds.get("locate", 0.0) + client.seconds.get("ask", 0.0)
    return EpisodeTimings(
        total_s=total,
        vlm_s=client.time_in_calls,
        cells_s=max(0.0, kernel.run_s - sub_queries) if kernel else 0.0,
        kernel_wait_s=kernel.wait_s if kernel else 0.0,
        trace_s=trace.seconds,
    )


def _why_unanswered(outcome: Outcome) -> EpisodeError:
    perception_failures = [r for r in outcome.history if r.error_kind == "perception"]
    if perception_failures:
        return EpisodeError(
            "perception_failed", f"perception failed: {perception_failures[-1].observation}"
        )
    if outcome.history and outcome.history[-1].status == "error":
        return EpisodeError(
            "internal", f"the episode ended on a failed cell: {outcome.history[-1].observation}"
        )
    return EpisodeError("internal", "the episode ended without an answer")


def _collect(
    results: list[StepResult],
) -> tuple[list[Box3D], list[ObjectDistance], list[np.ndarray]]:
    """Objects and distances the cells computed (latest per label wins) and the images shown."""
    objects: dict[str, Box3D] = {}
    distances: dict[tuple[str, str], ObjectDistance] = {}
    images: list[np.ndarray] = []
    for result in results:
        for box in result.objects:
            objects[box.label] = box
        for distance in result.distances:
            distances[(distance.label_a, distance.label_b)] = distance
        images += result.images
    return list(objects.values()), list(distances.values()), images[-MAX_EPISODE_IMAGES:]


def _check_request(question: Any, videos: Any) -> str | None:
    if not isinstance(question, Question):
        return f"the question must be a Question, got {type(question).__name__}"
    if not isinstance(videos, (list, tuple)) or not videos:
        return "at least one frame set is needed"
    if not all(isinstance(v, FrameSet) for v in videos):
        return "every video must be a FrameSet"
    return None
