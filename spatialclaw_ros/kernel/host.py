"""The host side of the kernel: starts and supervises the worker, serves its tool calls, and
turns what it reports into StepResults. Nothing the worker sends is unpickled or trusted."""

from __future__ import annotations

import hashlib
import math
import signal
import time
from dataclasses import dataclass, field
from typing import Any, get_args

import numpy as np

from spatialclaw_ros.frames import FrameSet
from spatialclaw_ros.kernel import policy
from spatialclaw_ros.kernel.audit import cell_filename
from spatialclaw_ros.kernel.feedback import cap_middle, error_location, render
from spatialclaw_ros.kernel.pool import POOL
from spatialclaw_ros.kernel.process import WorkerProcess, WorkerSpec, exit_signal
from spatialclaw_ros.kernel.types import ErrorKind, KernelConfig, StepResult, VLMDispatch
from spatialclaw_ros.kernel.wire import ChannelClosed, ChannelTimeout, WireError
from spatialclaw_ros.perception.types import (
    Box3D,
    ObjectDistance,
    Perception,
    Reconstruction,
    Segmentation,
    SegmentRequest,
)
from spatialclaw_ros.tools.inputs import Metadata, VideoInfo
from spatialclaw_ros.tools.vlm import MAX_ASK_IMAGES, MAX_LOCATE_IMAGES

_ERROR_KINDS = frozenset(get_args(ErrorKind))
_MAX_LIST = 1000
_MAX_TEXT = 1000
_CUT_NOTE_CHARS = 100  # room for the "... [N characters cut] ..." line in capped output


class _StepFailure(Exception):
    """The worker stopped answering (timeout, crash, protocol breach); it has been killed.
    `poisoned_from`: the first step whose report can no longer be believed (a message of that
    step arrived later, so its "done" was forged); it and later steps are not restored."""

    def __init__(self, kind: ErrorKind, message: str, poisoned_from: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.poisoned_from = poisoned_from


class _OutOfTurn(WireError):
    def __init__(self, step: int | None) -> None:
        super().__init__("a message out of turn (not of the running step)")
        self.step = step


@dataclass
class _HostCall:
    key: str
    reply: dict


@dataclass
class _CellRecord:
    """A successful cell and the host replies it received, so it can be re-run without
    calling perception or the VLM again."""

    code: str
    step: int
    calls: list[_HostCall] = field(default_factory=list)


def build_metadata(videos: list[FrameSet], options: list[str]) -> Metadata:
    infos = []
    for i, video in enumerate(videos):
        first = video.frames[0]
        t0 = first.timestamp
        infos.append(
            VideoInfo(
                name=video.name or f"video {i + 1}",
                frame_count=len(video),
                fps=video.fps,
                duration=float(video.frames[-1].timestamp - t0),
                timestamps=[float(f.timestamp - t0) for f in video],
                frame_indices=[int(f.index) for f in video],
                cameras=video.cameras,
                width=first.width,
                height=first.height,
                intrinsics=first.intrinsics,
                has_depth=video.has_depth,
                has_poses=video.has_poses,
                world_frame=video.world_frame,
            )
        )
    return Metadata(videos=infos, options=list(options))


def _fingerprint(value: Any, digest) -> None:
    if isinstance(value, np.ndarray):
        digest.update(f"{value.dtype.str}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).data)
    elif isinstance(value, dict):
        for k in sorted(value, key=str):
            digest.update(repr(k).encode())
            _fingerprint(value[k], digest)
    elif isinstance(value, (list, tuple)):
        digest.update(b"[")
        for v in value:
            _fingerprint(v, digest)
        digest.update(b"]")
    else:
        digest.update(repr(value).encode())


def _call_key(name: str, args: Any) -> str:
    digest = hashlib.blake2b(name.encode(), digest_size=16)
    _fingerprint(args, digest)
    return digest.hexdigest()


class Kernel:
    """A sandboxed, stateful Python kernel for one episode.

    `videos`: the frames agent code sees (one FrameSet, or several -> InputImages_1..N).
    `perception` serves tools.Reconstruct / tools.SAM3, `vlm` serves vlm.locate / vlm.ask;
    without them those calls fail with a clear error. `options` are the question's choices
    (Metadata.options). Use as a context manager, or call close().

    `python_layer=False` switches off the Python-level checks (static check, guarded builtins,
    attribute guard, audit hook) so that tests can show what the operating-system layers stop
    on their own; nothing else should pass it.
    """

    def __init__(
        self,
        videos: FrameSet | list[FrameSet],
        *,
        perception: Perception | None = None,
        vlm: VLMDispatch | None = None,
        options: list[str] | None = None,
        config: KernelConfig = KernelConfig(),
        python_layer: bool = True,
    ) -> None:
        self.videos = [videos] if isinstance(videos, FrameSet) else list(videos)
        if not self.videos or not all(isinstance(v, FrameSet) for v in self.videos):
            raise TypeError("Kernel needs a FrameSet or a non-empty list of FrameSets")
        for i, video in enumerate(self.videos):
            indices = [f.index for f in video]
            if len(set(indices)) != len(indices):
                raise ValueError(
                    f"video {i + 1} has repeated Frame.index values; each frame needs "
                    "its own index"
                )
        self.perception = perception
        self.vlm = vlm
        self.config = config
        self.metadata = build_metadata(self.videos, options or [])
        self.step = 0
        self.images_left = config.max_images
        self.answer: str | int | float | None = None
        self._history: list[_CellRecord] = []
        self._spec = WorkerSpec(
            memory_limit_mb=config.memory_limit_mb,
            cpu_limit_s=config.cpu_limit_s,
            file_limit_mb=config.scratch_file_mb,
            python_layer=python_layer,
            allow_weaker_sandbox=config.allow_weaker_sandbox,
            uid=config.sandbox_uid,
            gid=config.sandbox_gid,
            max_message_mb=config.max_message_mb,
            startup_timeout_s=config.startup_timeout_s,
        )
        self._worker: WorkerProcess | None = self._start_worker()

    def _start_worker(self) -> WorkerProcess:
        # Only the default configuration is kept warm: tests and odd settings start cold.
        keep_warm = self.config.warm_workers if self._spec.python_layer else 0
        worker = POOL.acquire(self._spec, keep_warm)
        frames = [
            [
                {
                    "pixels": f.image,
                    "frame_index": f.index,
                    "timestamp": f.timestamp,
                    "camera": f.camera,
                }
                for f in video
            ]
            for video in self.videos
        ]
        init = {
            "videos": frames,
            "metadata": self.metadata,
            "max_image_edge": self.config.max_image_edge,
            "max_output_chars": self.config.max_output_chars,
            "max_images_per_step": self.config.max_images_per_step,
        }
        worker.begin(init, self.config.startup_timeout_s)
        return worker

    @property
    def worker(self) -> WorkerProcess:
        """The running worker (its containment layers and identity, for logs and tests)."""
        if self._worker is None:
            raise RuntimeError("the kernel is closed")
        return self._worker

    # ---- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self._worker = None

    # ---- running cells ---------------------------------------------------------------------
    def run(self, code: str) -> StepResult:
        """Run one cell; never raises for anything the cell does."""
        if not isinstance(code, str):
            raise TypeError(f"code must be a str, got {type(code).__name__}")
        if self._worker is None:
            raise RuntimeError("the kernel is closed")
        started = time.monotonic()
        self.step += 1
        result = StepResult(step=self.step, status="success")
        if not self._worker.alive():
            result.restarted = True
            result.note = self._restart(
                f"the kernel process had exited ({self._worker.last_words()})"
            )
        rejection = self._static_check(code) if self._spec.python_layer else self._size_check(code)
        if rejection is not None:
            result.status, result.error_kind, result.error = "error", *rejection
        else:
            record = _CellRecord(code, self.step)
            try:
                done = self._exchange(record, replay=False, calls=None, result=result)
                self._accept(done, result)
                if result.status == "success":
                    self._history.append(record)
            except _StepFailure as failure:
                result.status, result.error_kind = "error", failure.kind
                result.error = str(failure)
                result.restarted = True
                if failure.poisoned_from is not None:
                    self._history = [r for r in self._history if r.step < failure.poisoned_from]
                result.note = self._restart(str(failure))
        if result.status == "success" and result.answer is not None:
            self.answer = result.answer
        result.elapsed = time.monotonic() - started
        result.feedback = render(result, self.images_left)
        return result

    def _size_check(self, code: str) -> tuple[ErrorKind, str] | None:
        if len(code) > self.config.max_cell_chars:
            return "code", (
                f"CellTooLong: the cell has {len(code)} characters; the limit is "
                f"{self.config.max_cell_chars}. "
                "Split the work over several cells."
            )
        return None

    def _static_check(self, code: str) -> tuple[ErrorKind, str] | None:
        too_long = self._size_check(code)
        if too_long is not None:
            return too_long
        lines = code.splitlines()
        try:
            violations = policy.check(code, cell_filename(self.step))
        except SyntaxError as exc:
            return "code", f"{error_location(exc.lineno, exc.text)}SyntaxError: {exc.msg}"
        # Python itself cannot parse something this deep
        except (RecursionError, MemoryError) as exc:
            return "code", f"{type(exc).__name__}: {exc}"
        if not violations:
            return None
        first = violations[0]
        line = lines[first.line - 1].strip() if 0 < first.line <= len(lines) else ""
        others = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        return (
            "sandbox",
            f"{error_location(first.line, line)}SandboxViolation: blocked by the "
            f"sandbox: {first.message}{others}",
        )

    def _exchange(
        self,
        record: _CellRecord,
        replay: bool,
        calls: list[_HostCall] | None,
        result: StepResult | None,
    ) -> dict:
        """Send a cell, serve its host calls until it is done; kills the worker on failure.
        Every message must carry this step's number and stay within the step's byte budget:
        anything else is a protocol breach, and the worker is replaced."""
        worker = self.worker
        deadline = time.monotonic() + self.config.cell_timeout_s
        pending = list(calls or [])
        budget = self.config.max_step_mb * 2**20
        try:
            worker.channel.send(
                {
                    "op": "run",
                    "code": record.code,
                    "step": record.step,
                    "replay": replay,
                    "images_left": self.images_left,
                }
            )
            while True:
                message = worker.channel.receive(deadline)
                budget -= worker.channel.last_size
                if budget < 0:
                    raise WireError(f"the step sent more than {self.config.max_step_mb} MiB")
                if not isinstance(message, dict) or message.get("step") != record.step:
                    stale = message.get("step") if isinstance(message, dict) else None
                    raise _OutOfTurn(
                        stale if isinstance(stale, int) and 0 < stale < record.step else None
                    )
                if message.get("op") == "done":
                    return message
                if message.get("op") != "call" or not isinstance(message.get("name"), str):
                    raise WireError(f"unexpected message {message.get('op')!r}")
                name, args = message["name"], message.get("args")
                key = _call_key(name, args)
                if pending and pending[0].key == key:
                    reply = pending.pop(0).reply
                else:
                    reply = self._serve(name, args if isinstance(args, dict) else {}, result)
                try:
                    worker.channel.send(reply)
                # a service returned something that cannot cross the channel
                except TypeError as exc:
                    reply = {
                        "op": "reply",
                        "ok": False,
                        "kind": "perception",
                        "message": f"TypeError: {exc}",
                    }
                    worker.channel.send(reply)
                record.calls.append(_HostCall(key, reply))
        except ChannelTimeout:
            worker.kill()
            raise _StepFailure(
                "timeout",
                f"TimeoutError: the cell ran longer than {self.config.cell_timeout_s:g} "
                "s and was stopped",
            ) from None
        except ChannelClosed:
            code = worker.reap()
            raise _StepFailure(*self._death(code, worker)) from None
        except (WireError, TypeError, RecursionError) as exc:
            worker.kill()
            poisoned = exc.step if isinstance(exc, _OutOfTurn) else None
            raise _StepFailure(
                "sandbox",
                f"KernelError: the kernel broke protocol ({exc}) and was stopped",
                poisoned,
            ) from None

    def _death(self, code: int | None, worker: WorkerProcess) -> tuple[ErrorKind, str]:
        died_of = exit_signal(code)
        if died_of == signal.SIGXCPU:
            return (
                "timeout",
                "TimeoutError: the kernel used up its CPU time limit "
                f"({self.config.cpu_limit_s} s)",
            )
        if died_of in (signal.SIGKILL, signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS):
            return "memory", (
                f"MemoryError: the kernel process died (signal {died_of}), most likely "
                "out of memory "
                f"(limit {self.config.memory_limit_mb} MiB)"
            )
        return (
            "code",
            f"KernelError: the kernel process exited (code {code}): {worker.last_words()}",
        )

    def _restart(self, reason: str) -> str:
        """Start a fresh worker and, if configured, re-run the successful cells so far."""
        if self._worker is not None:
            self._worker.kill()
        self._worker = self._start_worker()
        if not self._history:
            return "the kernel was restarted; no earlier variables needed restoring"
        if not self.config.restore_on_restart:
            return (
                "the kernel was restarted; variables from earlier steps are gone, re-create "
                "what you need"
            )
        for i, record in enumerate(self._history):
            replay = _CellRecord(record.code, record.step)
            try:
                done = self._exchange(replay, replay=True, calls=record.calls, result=None)
            except _StepFailure as failure:
                done = {"status": "error", "error": str(failure)}
            if done.get("status") != "success":
                kept = [r.step for r in self._history[:i]]
                self._history = self._history[:i]
                if not self._worker.alive():
                    self._worker = self._start_worker()
                    kept = []
                    self._history = []
                return (
                    f"the kernel was restarted; re-running step {record.step} failed, "
                    "so only the variables of "
                    f"steps {kept} were restored"
                    if kept
                    else f"the kernel was restarted; re-running step {record.step} failed, "
                    "so earlier variables are gone"
                )
        steps = [r.step for r in self._history]
        return (
            f"the kernel was restarted and steps {steps} were re-run: earlier variables are "
            "restored"
        )

    # ---- host services ---------------------------------------------------------------------
    def _serve(self, name: str, args: dict, result: StepResult | None) -> dict:
        kind = "vlm" if name.startswith("vlm_") else "perception"
        value: Reconstruction | Segmentation | bool | Any
        try:
            if name == "reconstruct":
                value = self._reconstruct(args)
            elif name == "segment":
                value = self._segment(args)
            elif name == "exists":
                value = self._exists(args)
            elif name in ("vlm_locate", "vlm_ask"):
                value = self._ask_vlm(name, args, result)
            else:
                raise ValueError(f"unknown request {name!r}")
            return {"op": "reply", "ok": True, "value": value}
        except Exception as exc:  # noqa: BLE001 - any service failure is reported to the cell
            return {
                "op": "reply",
                "ok": False,
                "kind": kind,
                "message": f"{type(exc).__name__}: {exc}"[:_MAX_TEXT],
            }

    def _frames(self, args: dict) -> tuple[FrameSet, list[int]]:
        video = args.get("video")
        if not isinstance(video, int) or not 0 <= video < len(self.videos):
            raise ValueError(f"no video {video!r}")
        frameset = self.videos[video]
        indices = args.get("frame_indices")
        known = {f.index for f in frameset}
        if (
            not isinstance(indices, list)
            or not indices
            or not all(isinstance(i, int) and i in known for i in indices)
        ):
            raise ValueError("frame_indices must name frames of that video")
        return frameset, indices

    def _reconstruct(self, args: dict) -> Reconstruction:
        if self.perception is None:
            raise RuntimeError(
                "tools.Reconstruct is not available: this kernel was started without perception"
            )
        frameset, indices = self._frames(args)
        value = self.perception.reconstruct(frameset, indices)
        if not isinstance(value, Reconstruction):
            raise TypeError(f"perception returned {type(value).__name__}, not a Reconstruction")
        return value

    def _segment(self, args: dict) -> Segmentation:
        if self.perception is None:
            raise RuntimeError(
                "tools.SAM3 is not available: this kernel was started without perception"
            )
        frameset, indices = self._frames(args)
        request = SegmentRequest(frame_indices=indices)
        text = args.get("text")
        if text is not None:
            request.text = str(text)[:_MAX_TEXT]
        if args.get("points") is not None:
            request.points = _finite(args["points"], (-1, 2), "points")
        if args.get("point_labels") is not None:
            request.point_labels = np.asarray(args["point_labels"], dtype=np.int64).reshape(-1)
        if args.get("box") is not None:
            request.box = _finite(args["box"], (4,), "box")
        request.prompt_frame = args.get("prompt_frame")
        threshold = args.get("threshold")
        if threshold is not None:
            request.threshold = float(threshold)
        request.validate(frameset)
        value = self.perception.segment(frameset, request)
        if not isinstance(value, Segmentation):
            raise TypeError(f"perception returned {type(value).__name__}, not a Segmentation")
        return value

    def _exists(self, args: dict) -> bool:
        if self.perception is None:
            raise RuntimeError(
                "tools.SAM3 is not available: this kernel was started without perception"
            )
        frameset, indices = self._frames(args)
        return bool(
            self.perception.exists(frameset, str(args.get("name", ""))[:_MAX_TEXT], indices)
        )

    def _ask_vlm(self, name: str, args: dict, result: StepResult | None) -> Any:
        if self.vlm is None:
            raise RuntimeError("vlm is not available: this kernel was started without a VLM")
        images, query = args.get("images"), str(args.get("query", ""))[:_MAX_TEXT]
        limit = MAX_LOCATE_IMAGES if name == "vlm_locate" else MAX_ASK_IMAGES
        if (
            not isinstance(images, list)
            or not 0 < len(images) <= limit
            or not all(_is_rgb(i) for i in images)
        ):
            raise ValueError(f"give 1 to {limit} RGB images")
        if name == "vlm_locate":
            raw = self.vlm.locate(images, query)
            value: Any = raw if isinstance(raw, str) else [(float(x), float(y)) for x, y in raw]
            shown = (
                value if isinstance(value, str) else [(round(x, 1), round(y, 1)) for x, y in value]
            )
            entry = (
                f"locate {query!r} ({len(images)} image{'s' if len(images) > 1 else ''}) -> "
                f"{shown}"
            )
        else:
            value = str(self.vlm.ask(images, query))
            entry = (
                f"ask {query!r} ({len(images)} image{'s' if len(images) > 1 else ''}) -> "
                f"{cap_middle(value, 300)!r}"
            )
        if result is not None:
            result.vlm_queries.append(entry)
        return value

    # ---- results -----------------------------------------------------------------------------
    def _accept(self, done: dict, result: StepResult) -> None:
        """Copy the worker's report into `result`, checking every field."""
        status = done.get("status")
        if status not in ("success", "error"):
            raise _StepFailure("sandbox", "KernelError: the kernel sent a malformed result")
        result.status = status
        # The worker already cut the middle of long output (and said so); this bounds a worker that
        # did not.
        result.stdout = _text(done.get("stdout"), self.config.max_output_chars + _CUT_NOTE_CHARS)
        result.warnings = _texts(done.get("warnings"))
        result.tool_calls = _texts(done.get("tool_calls"))
        sent = done.get("images")
        images = (
            [i for i in sent if _is_rgb(i)][
                : min(self.images_left, self.config.max_images_per_step)
            ]
            if isinstance(sent, list)
            else []
        )
        self.images_left -= len(images)
        result.images = [np.array(i) for i in images]
        if status == "error":
            kind = done.get("error_kind")
            result.error_kind = kind if kind in _ERROR_KINDS else "code"
            result.error = _text(done.get("error"), 2 * _MAX_TEXT)
            return
        variables = done.get("variables")
        if isinstance(variables, dict):
            result.variables = {
                _text(k, 100): _text(v, 300) for k, v in list(variables.items())[:200]
            }
        result.objects = [b for b in _items(done.get("objects")) if _valid_box(b)]
        result.distances = [d for d in _items(done.get("distances")) if _valid_distance(d)]
        answer = done.get("answer")
        if (
            done.get("has_answer")
            and isinstance(answer, (str, int, float))
            and not isinstance(answer, bool)
        ):
            if not (isinstance(answer, float) and not math.isfinite(answer)):
                result.answer = answer[:_MAX_TEXT] if isinstance(answer, str) else answer


def _items(values: Any) -> list:
    return values[:_MAX_LIST] if isinstance(values, list) else []


def _text(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _texts(values: Any) -> list[str]:
    return (
        [_text(v, _MAX_TEXT) for v in values[:_MAX_LIST] if isinstance(v, str)]
        if isinstance(values, list)
        else []
    )


def _is_rgb(image: Any) -> bool:
    return (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] == 3
        and image.shape[0] > 0
        and image.shape[1] > 0
    )


def _finite(value: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64).reshape(shape)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite numbers")
    return array


def _vec(value: Any, shape: tuple[int, ...]) -> bool:
    return (
        isinstance(value, np.ndarray)
        and value.shape == shape
        and value.dtype.kind == "f"
        and bool(np.isfinite(value).all())
    )


def _valid_box(box: Any) -> bool:
    return (
        isinstance(box, Box3D)
        and isinstance(box.label, str)
        and _vec(box.center, (3,))
        and _vec(box.size, (3,))
        and _vec(box.rotation, (3, 3))
        and isinstance(box.world_frame, str)
    )


def _valid_distance(d: Any) -> bool:
    return (
        isinstance(d, ObjectDistance)
        and isinstance(d.label_a, str)
        and isinstance(d.label_b, str)
        and all(
            _vec(getattr(d, f), (3,)) for f in ("point_a", "point_b", "centroid_a", "centroid_b")
        )
        and all(
            isinstance(getattr(d, f), float) and math.isfinite(getattr(d, f))
            for f in ("closest", "centroid_distance")
        )
    )
