"""Running evaluation episodes on a Ray cluster.

A pool of Ray actors (episode workers), spread over the cluster's nodes, each builds its own
answerer once (agent, VLM client, perception handle; every episode gets its own kernel as it does
locally) and answers one sample per call with the runner's own `answer_sample`. The driver hands
out samples, collects predictions and is the only one writing predictions.jsonl: this is an
`EpisodeRunner` for `run_samples`, so resuming, rescoring and the progress bar are the runner's.

Failures of the cluster, not of an episode: when a worker process or its node dies, its
episodes in flight are handed to another worker, up to `max_attempts` tries per sample; a
sample that exhausts them is recorded with the `episode_lost` code and the last error, and a
replacement worker is started wherever the cluster has room. An episode's own failures (media
that cannot be read, an answerer that raises) are recorded by `answer_sample` as locally, never
retried. Ray is an optional dependency (`pip install ".[ray]"`); this module imports it.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import ray
from ray.actor import ActorHandle
from ray.exceptions import RayActorError, RayError

from spatialclaw_ros.eval.answerers import Answer, Answerer, build_answerer
from spatialclaw_ros.eval.records import MediaGroup, Prediction, Sample
from spatialclaw_ros.eval.runner import (
    RunResult,
    _failure,
    answer_sample,
    prediction_for,
    run_samples,
)
from spatialclaw_ros.eval.scoring import AnswerMode

log = logging.getLogger(__name__)

EPISODE_LOST = "episode_lost"  # the sample's worker died on every try (node lost, process killed)


@dataclass(frozen=True)
class AnswererSpec:
    """What every worker builds its answerer from: `build_answerer`'s arguments. `agent_settings`
    are the agent's settings resolved on the driver (its YAML file and SPATIALCLAW_* environment),
    so workers on other nodes answer with exactly the driver's configuration. `bag` (offline
    replay) makes the answerer read each question's frames from that bag."""

    executor: str
    seed: int = 0
    agent_settings: dict[str, Any] = field(default_factory=dict)
    reconstruct_backend: str = "da3"
    segment_backend: str = "sam3"
    trace_dir: str | None = None
    bag: str | None = None

    @classmethod
    def resolve(
        cls,
        executor: str,
        seed: int = 0,
        *,
        config_path: str | None = None,
        overrides: dict | None = None,
        **rest: Any,
    ) -> AnswererSpec:
        """The spec with the agent's settings read here, on the driver (random needs none), and
        its paths absolute: a worker's current directory is not the driver's."""
        from spatialclaw_ros.eval.answerers import EXECUTORS

        if executor not in EXECUTORS:
            raise ValueError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
        settings: dict[str, Any] = {}
        if executor != "random":
            from spatialclaw_ros.agent import AgentConfig

            settings = AgentConfig.load(config_path, overrides).model_dump()
        for name in ("trace_dir", "bag"):
            if rest.get(name):
                rest[name] = os.path.abspath(rest[name])
        return cls(executor, seed, settings, **rest)

    def build(self) -> Answerer:
        answerer = build_answerer(
            self.executor,
            self.seed,
            overrides=self.agent_settings,
            reconstruct_backend=self.reconstruct_backend,
            segment_backend=self.segment_backend,
            trace_dir=self.trace_dir,
        )
        if self.bag is None:
            return answerer
        from spatialclaw_ros.eval.replay import BagAnswerer

        return BagAnswerer(answerer, self.bag)


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide. `address`: a running cluster ("auto", "ray://host:10001", "host:6379");
    None joins the one in $RAY_ADDRESS or starts one on this machine."""

    address: str | None = None
    workers: int = 2  # episode worker processes (Ray actors) over the cluster
    # episodes one worker runs at once (threads; episodes mostly wait on the VLM)
    episodes_per_worker: int = 1
    cpus_per_worker: float = 1.0  # Ray CPUs each worker reserves; decides how many fit on a node
    max_attempts: int = 3  # tries of one sample whose worker died before it is recorded as lost
    worker_start_timeout_s: float = 600.0  # how long to wait with no live worker before giving up

    def __post_init__(self) -> None:
        if self.workers < 1 or self.episodes_per_worker < 1:
            raise ValueError(
                "a Ray run needs at least one worker running at least one episode at a time"
            )
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.cpus_per_worker < 0:
            raise ValueError("cpus_per_worker cannot be negative")


class EpisodeWorker:
    """One worker process: its answerer, built once, answering one sample per call."""

    def __init__(
        self, spec: AnswererSpec, max_frames: int, load_media: bool, answers: AnswerMode
    ) -> None:
        self.spec = spec
        self.max_frames = max_frames
        self.load_media = load_media
        self.answers = answers
        self.answerer = spec.build()
        if spec.executor != "random":
            # The agent answerer imports the agent (LangGraph and all) on its first episode;
            # doing it here makes a worker that reports ready (`node()`) run its first episode at
            # full speed.
            import spatialclaw_ros.agent.agent  # noqa: F401

    def node(self) -> str:
        return ray.get_runtime_context().get_node_id()

    def answer(self, sample: Sample) -> Prediction:
        return answer_sample(
            sample,
            self.answerer,
            self.spec.executor,
            max_frames=self.max_frames,
            load_media=self.load_media,
            answers=self.answers,
        )


@dataclass
class ClusterEvents:
    """What the cluster did to a run, for the log and for tests."""

    workers_started: int = 0
    workers_lost: int = 0
    retried: int = 0  # samples handed to another worker after theirs died
    lost: int = 0  # samples recorded as episode_lost


class RayEpisodes:
    """An `EpisodeRunner` over a pool of `EpisodeWorker` actors: call it with the samples to
    answer. The workers stay up between calls (their answerers too) until `close()`; use it as a
    context manager."""

    def __init__(
        self,
        spec: AnswererSpec,
        options: RayOptions = RayOptions(),
        *,
        max_frames: int = 32,
        load_media: bool = True,
        answers: AnswerMode = "official",
    ) -> None:
        if not ray.is_initialized():
            raise RuntimeError("connect to Ray first (ray.init or `connect`)")
        self.spec = spec
        self.options = options
        self.answers = answers
        self.events = ClusterEvents()
        # Ray's own restarts and task retries stay off: a dead worker's samples are retried here,
        # where the tries are counted, and only samples whose worker died count as tries.
        # The driver's SPATIALCLAW_* settings (a perception service's URL and token, say) go with
        # the workers: on other nodes they would not be set.
        env = {k: v for k, v in os.environ.items() if k.startswith("SPATIALCLAW_")}
        self._actor = ray.remote(EpisodeWorker).options(
            num_cpus=options.cpus_per_worker,
            max_concurrency=options.episodes_per_worker,
            max_restarts=0,
            max_task_retries=0,
            scheduling_strategy="SPREAD",
            runtime_env={"env_vars": env} if env else None,
        )
        self._worker_args = (spec, max_frames, load_media, answers)
        self._starting: dict[ray.ObjectRef, Any] = {}  # a new worker's `node()` call -> the worker
        self._free: dict[Any, int] = {}  # live worker -> episodes it can take now
        self._nodes: dict[Any, str] = {}  # live worker -> the id of the node it runs on
        # Replacements are bounded too: a sample that kills every worker it touches runs out of
        # tries first.
        self._spare_starts = options.workers * options.max_attempts

    def __enter__(self) -> RayEpisodes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for worker in {*self._free, *self._starting.values()}:
            ray.kill(worker, no_restart=True)
        self._free.clear()
        self._nodes.clear()
        self._starting.clear()

    def worker_nodes(self) -> list[str]:
        """The node of each live worker (Ray node ids), for logs and for picking a node to
        drain."""
        return list(self._nodes.values())

    def start(self, timeout_s: float | None = None) -> int:
        """Start the workers and wait until they are up (or `timeout_s`); how many are."""
        self._top_up()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self._starting and (deadline is None or time.monotonic() < deadline):
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            done, _ = ray.wait(list(self._starting), num_returns=1, timeout=remaining)
            for ref in done:
                self._started(ref)
        return len(self._free)

    def _top_up(self) -> None:
        while len(self._free) + len(self._starting) < self.options.workers:
            self._start_worker()

    def _start_worker(self) -> None:
        # an actor handle: its methods are called through .remote()
        worker = cast(ActorHandle, self._actor.remote(*self._worker_args))
        self._starting[worker.node.remote()] = worker
        self.events.workers_started += 1

    def _started(self, ref: ray.ObjectRef) -> None:
        worker = self._starting.pop(ref)
        try:
            node = ray.get(ref)
        except RayError as exc:
            self._drop(worker, exc)
        else:
            self._free[worker] = self.options.episodes_per_worker
            self._nodes[worker] = node

    def _drop(self, worker: Any, reason: BaseException) -> None:
        """Forget a dead worker and start another in its place while spare starts remain."""
        self._free.pop(worker, None)
        self._nodes.pop(worker, None)
        self.events.workers_lost += 1
        log.warning(
            "an episode worker died (%s); %d of %d workers left",
            _short(reason),
            len(self._free),
            self.options.workers,
        )
        ray.kill(worker, no_restart=True)
        if self._spare_starts > 0:
            self._spare_starts -= 1
            self._start_worker()

    def __call__(self, todo: list[Sample]) -> Iterator[Prediction]:
        queue = deque(todo)
        tries: Counter[tuple[str, str]] = Counter()
        running: dict[ray.ObjectRef, tuple[Any, Sample]] = {}
        idle_since = time.monotonic()
        if queue:
            self._top_up()
        finished = False
        try:
            while queue or running:
                for worker in [w for w, slots in self._free.items() if slots > 0]:
                    while queue and self._free[worker] > 0:
                        sample = queue.popleft()
                        running[worker.answer.remote(_portable(sample))] = (worker, sample)
                        self._free[worker] -= 1
                if running or self._free:
                    idle_since = time.monotonic()
                elif not self._starting:
                    raise RuntimeError("every Ray episode worker died and no more may be started")
                elif time.monotonic() - idle_since > self.options.worker_start_timeout_s:
                    raise RuntimeError(
                        "no Ray episode worker came up within "
                        f"{self.options.worker_start_timeout_s:.0f} s; "
                        "does the cluster have room for one (see RayOptions.cpus_per_worker)?"
                    )
                done, _ = ray.wait([*running, *self._starting], num_returns=1, timeout=5.0)
                for ref in done:
                    if ref in self._starting:
                        self._started(ref)
                        continue
                    worker, sample = running.pop(ref)
                    try:
                        prediction = ray.get(ref)
                    # the worker died, or Ray could not run the call: try again
                    except RayError as exc:
                        if isinstance(exc, RayActorError):
                            if worker in self._free:
                                self._drop(worker, exc)
                        elif worker in self._free:
                            self._free[worker] += 1
                        lost = self._retry_or_record(sample, exc, tries, queue)
                        if lost is not None:
                            yield lost
                        continue
                    if worker in self._free:
                        self._free[worker] += 1
                    yield prediction
            finished = True
        finally:
            # interrupted: workers may still be busy with episodes nobody waits for
            if not finished:
                for worker, _ in running.values():
                    ray.kill(worker, no_restart=True)
                self.close()

    def _retry_or_record(
        self, sample: Sample, exc: BaseException, tries: Counter, queue: deque
    ) -> Prediction | None:
        key = (sample.benchmark, sample.id)
        tries[key] += 1
        if tries[key] < self.options.max_attempts:
            self.events.retried += 1
            log.warning(
                "sample %s/%s lost with its worker (try %d of %d); trying again",
                *key,
                tries[key],
                self.options.max_attempts,
            )
            queue.appendleft(sample)
            return None
        self.events.lost += 1
        message = f"its Ray worker died on each of {tries[key]} tries; last: {_failure(exc)}"
        return prediction_for(
            sample,
            self.spec.executor,
            Answer("", error=EPISODE_LOST, error_message=message),
            answers=self.answers,
        )


def _portable(sample: Sample) -> Sample:
    """The sample with absolute media paths, for a worker whose current directory is its own
    (the files must be on storage every node sees, or copied to the same path on each)."""
    media = [
        MediaGroup(g.kind, [os.path.abspath(p) for p in g.paths], g.camera) for g in sample.media
    ]
    return replace(sample, media=media)


def _short(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def connect(address: str | None) -> bool:
    """Join (or start) the cluster unless this process already has; True when this call connected,
    so the caller knows to disconnect."""
    if ray.is_initialized():
        return False
    try:
        ray.init(
            address=address or None,
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=False,
        )
    except ConnectionError as exc:
        raise ConnectionError(
            f"cannot reach the Ray cluster at {address or '$RAY_ADDRESS'}: {exc}"
        ) from exc
    return True


def run_samples_on_ray(
    samples: Sequence[Sample],
    spec: AnswererSpec,
    out_dir: str | Path,
    *,
    options: RayOptions = RayOptions(),
    max_frames: int = 32,
    progress: bool = True,
    load_media: bool = True,
    answers: AnswerMode = "official",
) -> RunResult:
    """`run_samples` with the episodes on the cluster at `options.address`."""
    connected = connect(options.address)
    try:
        with RayEpisodes(
            spec, options, max_frames=max_frames, load_media=load_media, answers=answers
        ) as episodes:
            return run_samples(
                samples,
                None,
                out_dir,
                spec.executor,
                max_frames=max_frames,
                progress=progress,
                load_media=load_media,
                answers=answers,
                episodes=episodes,
            )
    finally:
        if connected:
            ray.shutdown()
