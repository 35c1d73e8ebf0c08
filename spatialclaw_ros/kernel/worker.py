"""The kernel's worker process: runs agent cells in a locked-down interpreter.

Started by the host as `python -I -c <import and call main()> <fd>` with an almost
empty environment and a scratch working directory; `fd` is its end of a socket pair. It
imports everything agent code may need, receives the frames, then arms the audit hook and
resource limits before it runs any agent code.
"""

from __future__ import annotations

import os

# Single-threaded numeric libraries: the kernel may not start threads once locked down, and
# the machines it shares with perception models have few cores.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["MPLBACKEND"] = "Agg"

# ruff: noqa: E402 - the environment above must be set before numpy and matplotlib load
import ast
import builtins
import collections
import contextlib
import importlib.util
import io
import math
import socket
import sys
import sysconfig
import time
import traceback
import types
from dataclasses import dataclass, field
from warnings import catch_warnings, simplefilter

import cv2
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import scipy
from matplotlib.figure import Figure
from matplotlib.pyplot import close as close_figure, figure as get_figure, get_fignums

import spatialclaw_ros
from spatialclaw_ros.kernel import wire
from spatialclaw_ros.kernel.audit import AuditPolicy, SandboxViolation, cell_filename
from spatialclaw_ros.kernel.feedback import error_location, join_cut, split_limit
from spatialclaw_ros.kernel.lockdown import identity, install_seccomp, set_limits
from spatialclaw_ros.kernel.sandbox import (
    SafeBuiltins,
    guard_attributes,
    opencv_facade,
    time_facade,
)
from spatialclaw_ros.kernel.summaries import find_results, summarize
from spatialclaw_ros.kernel.wire import HOST_TO_WORKER, Channel, ChannelClosed, ChannelTimeout
from spatialclaw_ros.kernel.wire_types import WIRE_TYPES
from spatialclaw_ros.perception.types import Box3D, ObjectDistance
from spatialclaw_ros.tools import VLM, HostServiceError, InputImage, Toolbox
from spatialclaw_ros.tools.images import cap_long_edge, to_rgb

# The worker uses its own references (close_figure, catch_warnings, ...) rather than module
# attributes: agent code may rebind those (`plt.close = None`), which must not break reporting.
_MAX_REPORTED = 1000  # tool calls listed per step

PREIMPORTED = {
    "np": np,
    "numpy": np,
    "math": math,
    "scipy": scipy,
    "matplotlib": matplotlib,
    "plt": plt,
}


@dataclass
class CellState:
    """What one cell produced besides its namespace changes."""

    images_left: int
    replay: bool
    images: list[np.ndarray] = field(default_factory=list)
    tool_calls: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    answer: str | int | float | None = None
    has_answer: bool = False


class CappedOutput(io.TextIOBase):
    """A cell's stdout and stderr: keeps only the first and last characters up to `limit`
    (and counts the rest), so a flood of output costs neither memory nor time."""

    def __init__(self, limit: int) -> None:
        self._head_limit, self._tail_limit = split_limit(limit)
        self._head: list[str] = []
        self._head_length = 0
        self._tail: collections.deque[str] = collections.deque()
        self._tail_length = 0
        self._total = 0

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        text = str.__str__(text)  # a str subclass from agent code could override slicing
        written = len(text)
        self._total += written
        if self._head_length < self._head_limit:
            part = text[: self._head_limit - self._head_length]
            self._head.append(part)
            self._head_length += len(part)
            text = text[len(part) :]
        if text and self._tail_limit:
            part = text[max(len(text) - self._tail_limit, 0) :]
            self._tail.append(part)
            self._tail_length += len(part)
            while self._tail_length - len(self._tail[0]) >= self._tail_limit:
                self._tail_length -= len(self._tail.popleft())
        return written

    def getvalue(self) -> str:
        head = "".join(self._head)
        tail = "".join(self._tail)
        tail = tail[max(len(tail) - self._tail_limit, 0) :]
        return join_cut(head, tail, self._total - len(head) - len(tail))


class HostChannelLink:
    """tools -> host requests over the worker's channel, each tagged with the running step."""

    def __init__(self, channel: Channel, step) -> None:
        self._channel = channel
        self._step = step

    def call(self, op: str, **payload):
        self._channel.send({"op": "call", "step": self._step(), "name": op, "args": payload})
        reply = self._channel.receive()
        if not isinstance(reply, dict) or reply.get("op") != "reply":
            raise RuntimeError("kernel protocol error: expected a reply from the host")
        if reply.get("ok"):
            return reply.get("value")
        raise HostServiceError(str(reply.get("kind")), str(reply.get("message")))


class RecordedTool:
    """Wraps a tool so the feedback can list which tools a cell called."""

    def __init__(self, target, name: str, record) -> None:
        self._target, self._name, self._record = target, name, record

    def __getattr__(self, attr: str):
        value = getattr(self._target, attr)
        if attr.startswith("_") or not callable(value):
            return value
        return RecordedTool(value, f"{self._name}.{attr}", self._record)

    def __call__(self, *args, **kwargs):
        self._record(self._name)
        return self._target(*args, **kwargs)

    def __repr__(self) -> str:
        return repr(self._target)

    # a property where classes have a plain attribute: agent code reads the wrapped tool's doc
    @property
    def __doc__(self):  # type: ignore[override]
        return self._target.__doc__


@dataclass(frozen=True)
class WorkerSettings:
    """What the host fixes when it starts a worker (before any episode is known)."""

    memory_limit_mb: int
    cpu_limit_s: int
    file_limit_mb: int
    python_layer: bool  # off only in tests of the operating-system layers
    seccomp: bool
    package_dirs: list[str]  # the host's site-packages (the worker runs the base interpreter)


class Worker:
    def __init__(self, channel: Channel, settings: WorkerSettings) -> None:
        self.channel = channel
        self.settings = settings
        self.memory_limit_mb = settings.memory_limit_mb
        self.step = 0
        self.cell: CellState | None = None
        self.audit = (
            AuditPolicy(_library_roots(settings.package_dirs), _compile_callers(), [wire.__file__])
            if settings.python_layer
            else None
        )
        self.violations: list[str] = self.audit.violations if self.audit else []
        if settings.python_layer:
            facades = {"cv2": opencv_facade(cv2), "time": time_facade(time)}
            self.builtins = SafeBuiltins(self.violations, facades).build()
        else:
            self.builtins = dict(vars(builtins))
        # pyplot annotates its show function
        plt.show = lambda *args, **kwargs: self._show_open_figures()
        self.entry_points: dict = {}
        self.namespace: dict = {}

    def lock_down(self) -> None:
        """Limits, an empty environment, the seccomp filter and the audit hook: after this no
        code runs with more than agent code may do."""
        settings = self.settings
        # first: loading libseccomp's binding runs `ldconfig -p` in a child process
        if settings.seccomp:
            install_seccomp()
        set_limits(settings.memory_limit_mb, settings.cpu_limit_s, settings.file_limit_mb)
        os.environ.clear()
        self.identity = identity()  # read before the audit hook refuses /proc
        if self.audit is not None:
            self.audit.install()
            self.audit.arm()

    def start_episode(self, init: dict) -> None:
        """Load one episode's frames and build the namespace agent code sees."""
        self.max_image_edge = int(init["max_image_edge"])
        self.max_output_chars = int(init["max_output_chars"])
        self.max_images_per_step = int(init["max_images_per_step"])
        videos = [
            [
                InputImage(
                    f["pixels"], v, int(f["frame_index"]), float(f["timestamp"]), str(f["camera"])
                )
                for f in frames
            ]
            for v, frames in enumerate(init["videos"])
        ]
        link = HostChannelLink(self.channel, lambda: self.step)
        self.entry_points = dict(
            InputImages=[f for frames in videos for f in frames],
            Metadata=init["metadata"],
            tools=RecordedTool(Toolbox(link, videos), "tools", self._record_tool),
            show=self.show,
            vlm=RecordedTool(VLM(link), "vlm", self._record_tool),
            ReturnAnswer=self.return_answer,
        )
        if len(videos) > 1:
            self.entry_points.update(
                {f"InputImages_{i + 1}": frames for i, frames in enumerate(videos)}
            )
        self.namespace = {
            "__builtins__": self.builtins,
            "__name__": "__main__",
            **PREIMPORTED,
            **self.entry_points,
        }

    # ---- entry points --------------------------------------------------------------------
    def show(self, *items) -> None:
        """Attach images (arrays, InputImages, matplotlib figures, or lists of them) to the
        feedback."""
        cell = self._current()
        for item in items:
            if isinstance(item, (list, tuple)):
                self.show(*item)
                continue
            image = to_rgb(item)  # validates before the budget is touched
            if isinstance(item, Figure):
                close_figure(item)
            if cell.replay:
                continue
            if cell.images_left <= 0 or len(cell.images) >= self.max_images_per_step:
                what = (
                    "this episode"
                    if cell.images_left <= 0
                    else f"one step ({self.max_images_per_step} images)"
                )
                if "image budget" not in " ".join(cell.warnings):
                    cell.warnings.append(
                        f"show(): the image budget for {what} is used up; image not attached"
                    )
                continue
            cell.images.append(cap_long_edge(image, self.max_image_edge))
            cell.images_left -= 1

    def return_answer(self, answer) -> None:
        """Submit the final answer: a str, int or float (the option letter for multiple choice)."""
        if isinstance(answer, np.generic):
            answer = answer.item()
        if isinstance(answer, bool) or not isinstance(answer, (str, int, float)):
            raise TypeError(f"ReturnAnswer takes a str, int or float, got {type(answer).__name__}")
        if isinstance(answer, float) and not math.isfinite(answer):
            raise ValueError(f"ReturnAnswer got {answer}; give a finite number")
        cell = self._current()
        if cell.has_answer:
            cell.warnings.append(
                f"ReturnAnswer was called again in this cell: the last answer ({answer!r}) counts"
            )
        cell.answer, cell.has_answer = answer, True

    def _show_open_figures(self) -> None:
        for number in get_fignums():
            self.show(get_figure(number))

    def _record_tool(self, name: str) -> None:
        self._current().tool_calls.append(name)

    def _current(self) -> CellState:
        if self.cell is None:
            raise RuntimeError("not inside a cell")
        return self.cell

    # ---- running cells ---------------------------------------------------------------------
    def run_cell(self, code: str, step: int, replay: bool, images_left: int) -> dict:
        self.cell = cell = CellState(images_left=images_left, replay=replay)
        self.step = step
        self.violations.clear()
        # Entry points a previous cell deleted or rebound (`del tools`) are back for this one.
        for name, value in self.entry_points.items():
            if self.namespace.get(name) is not value:
                self.namespace[name] = value
        filename = cell_filename(step)
        before = dict(self.namespace)
        output = CappedOutput(self.max_output_chars)
        error: BaseException | None = None
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            with catch_warnings(record=True) as caught:
                simplefilter("always")
                try:
                    self._execute(code, filename)
                    if not replay:
                        self._show_open_figures()
                except BaseException as exc:  # noqa: BLE001 - everything the cell raises is its result
                    error = exc
        close_figure("all")
        cell.warnings += [_warning_text(w) for w in caught]
        result = {
            "op": "done",
            "step": step,
            "stdout": output.getvalue(),
            "images": cell.images,
            "tool_calls": cell.tool_calls[:_MAX_REPORTED],
        }
        if error is None and self.violations:
            error = SandboxViolation(f"blocked by the sandbox: {self.violations[0]}")
        if error is not None:
            self._roll_back(before)
            kind, message = self._describe_error(error, code, filename)
            result.update(status="error", error=message, error_kind=kind, warnings=cell.warnings)
            return result
        replaced = [
            name
            for name, value in self.entry_points.items()
            if self.namespace.get(name) is not value
        ]
        if replaced:
            cell.warnings.append(
                f"{', '.join(replaced)}: part of the kernel, back to the original in the next cell"
            )
        result.update(status="success", error=None, error_kind=None, warnings=cell.warnings)
        result.update(has_answer=cell.has_answer, answer=cell.answer)
        if not replay:  # a re-run after a restart only restores state; the host reads no report
            result.update(self._report_changes(before))
        return result

    def _report_changes(self, before: dict) -> dict:
        """Summaries of the cell's new and changed variables, and the 3D results among them."""
        changed = [
            name
            for name, value in self.namespace.items()
            if not name.startswith("_")
            # not isinstance: agent classes may fake __class__
            and type(value) is not types.ModuleType
            and (name not in before or before[name] is not value)
        ]
        try:
            boxes, distances = find_results([self.namespace[n] for n in changed])
        except BaseException:  # noqa: BLE001 - values that break while inspected hold no results
            boxes, distances = [], []
        return {
            "variables": {name: _safe_summary(self.namespace[name]) for name in changed},
            "objects": [b for b in map(_clean_box, boxes) if b is not None],
            "distances": [d for d in map(_clean_distance, distances) if d is not None],
        }

    def _execute(self, code: str, filename: str) -> None:
        # not ast.parse: the audit hook trusts this file. dont_inherit: cells must not get this
        # module's `from __future__ import annotations` (typing.NamedTuple would compile strings).
        tree = compile(code, filename, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        if not isinstance(tree, ast.Module):  # "exec" mode always parses to a Module
            raise TypeError(f"a cell parsed to {type(tree).__name__}, not a module")
        if self.settings.python_layer:
            tree = guard_attributes(tree)
        last = tree.body[-1] if tree.body else None
        if isinstance(last, ast.Expr):
            tree.body.pop()
        else:
            last = None
        exec(compile(tree, filename, "exec", dont_inherit=True), self.namespace)
        if last is not None:  # like a notebook cell: show the value of a final expression
            value = eval(
                compile(ast.Expression(last.value), filename, "eval", dont_inherit=True),
                self.namespace,
            )
            if value is not None:
                print(repr(value))

    def _roll_back(self, before: dict) -> None:
        for name in [n for n in self.namespace if n not in before]:
            del self.namespace[name]
        self.namespace.update(before)

    def _describe_error(self, error: BaseException, code: str, filename: str) -> tuple[str, str]:
        lines = code.splitlines()
        if isinstance(error, SyntaxError) and error.filename == filename:
            return "code", f"{error_location(error.lineno, error.text)}SyntaxError: {error.msg}"
        line_number = None
        # walk_tb reads no source files
        for frame, frame_line in traceback.walk_tb(error.__traceback__):
            if frame.f_code.co_filename == filename:
                line_number = frame_line
        where = (
            error_location(line_number, lines[line_number - 1])
            if line_number and 0 < line_number <= len(lines)
            else ""
        )
        if isinstance(error, SandboxViolation) or self.violations:
            return (
                "sandbox",
                f"{where}SandboxViolation: "
                f"{error if isinstance(error, SandboxViolation) else self.violations[0]}",
            )
        if isinstance(error, MemoryError):
            return (
                "memory",
                f"{where}MemoryError: the cell ran out of memory (the kernel is limited "
                f"to {self.memory_limit_mb} MiB)",
            )
        kind = error.kind if isinstance(error, HostServiceError) else "code"
        text = _exception_text(error)
        name = type(error).__name__
        # loaded with the summaries, before lockdown
        from spatialclaw_ros.kernel.hints import error_hint

        hint = error_hint(error, self.cell.warnings if self.cell else [])
        return kind, (f"{where}{name}: {text}" if text else f"{where}{name}") + hint

    def serve(self) -> None:
        """Announce readiness, take one episode's frames, then run cells until told to exit."""
        self.channel.send({"op": "ready", "step": 0, "identity": self.identity})
        init = self.channel.receive()
        if not isinstance(init, dict) or init.get("op") != "init":
            return
        self.start_episode(init)
        self.channel.send({"op": "initialized", "step": 0})
        while True:
            message = self.channel.receive()
            if message.get("op") == "run":
                self._answer_run(message)
            elif message.get("op") == "exit":
                return

    def _answer_run(self, message: dict) -> None:
        """Run a cell and send its result; whatever goes wrong in the worker's own reporting is
        sent as an error of that cell instead of ending the worker."""
        try:
            result = self.run_cell(
                str(message["code"]),
                int(message["step"]),
                bool(message["replay"]),
                int(message["images_left"]),
            )
            self.channel.send(result)
        except (ChannelClosed, ChannelTimeout):
            raise
        except BaseException as exc:  # noqa: BLE001 - the worker must outlive any cell
            failure = (
                f"KernelError: the kernel could not report this cell ({type(exc).__name__}: "
                f"{_exception_text(exc)})"
            )
            self.channel.send(
                {
                    "op": "done",
                    "step": self.step,
                    "status": "error",
                    "error": failure,
                    "error_kind": "code",
                    "stdout": "",
                }
            )


def _clean_box(box: Box3D) -> Box3D | None:
    try:
        return Box3D(
            label=str(box.label),
            center=np.asarray(box.center, dtype=np.float64).reshape(3),
            size=np.asarray(box.size, dtype=np.float64).reshape(3),
            rotation=np.asarray(box.rotation, dtype=np.float64).reshape(3, 3),
            confidence=float(box.confidence),
            frame_indices=[int(i) for i in box.frame_indices],
            world_frame=str(box.world_frame),
        )
    except (TypeError, ValueError):
        return None


def _clean_distance(d: ObjectDistance) -> ObjectDistance | None:
    def vec(v) -> np.ndarray:
        return np.asarray(v, dtype=np.float64).reshape(3)

    try:
        return ObjectDistance(
            str(d.label_a),
            str(d.label_b),
            float(d.closest),
            vec(d.point_a),
            vec(d.point_b),
            float(d.centroid_distance),
            vec(d.centroid_a),
            vec(d.centroid_b),
            str(d.world_frame),
        )
    except (TypeError, ValueError):
        return None


def _library_roots(package_dirs: list[str]) -> list[str]:
    """Directories lazy imports read from: the standard library, site-packages, this package."""
    paths = sysconfig.get_paths()
    roots = {
        paths["stdlib"],
        paths["platstdlib"],
        paths["purelib"],
        paths["platlib"],
        *package_dirs,
    }
    roots.update(spatialclaw_ros.__path__)  # the package itself, not the repository around it
    return sorted(roots)


def _compile_callers() -> list[str]:
    """Library files that legitimately compile code while agent code runs (dataclass and
    namedtuple methods, networkx's argument mapper), plus this worker compiling cells."""
    import collections
    import dataclasses

    callers = [__file__, dataclasses.__file__, collections.__file__]
    spec = importlib.util.find_spec("networkx")
    if spec and spec.submodule_search_locations:
        callers.append(os.path.join(spec.submodule_search_locations[0], "utils", "decorators.py"))
    return callers


def _safe_summary(value) -> str:
    """A summary that cannot take the worker down: agent-defined classes may have a __repr__
    that raises (even SystemExit), and describing some callables trips the sandbox."""
    try:
        return summarize(value)
    except BaseException as exc:  # noqa: BLE001 - any failure just means a plainer summary
        return f"{type(value).__name__} (not summarised: {type(exc).__name__})"


def _exception_text(error: BaseException) -> str:
    """str(error), shortened; an exception whose __str__ itself fails still gets described."""
    try:
        text = str(error)
    except BaseException as exc:  # noqa: BLE001 - agent-defined exceptions may break anywhere
        return f"<the exception's message could not be shown: {type(exc).__name__}>"
    return text if len(text) <= 600 else text[:300] + " ... " + text[-300:]


def _warning_text(caught) -> str:
    try:
        return f"{caught.category.__name__}: {caught.message}"
    except BaseException:  # noqa: BLE001 - a warning built from an agent object whose __str__ fails
        return f"{caught.category.__name__}: <the warning's message could not be shown>"


def main() -> None:
    channel = Channel(
        socket.socket(fileno=int(sys.argv[-1])),
        send_types=WIRE_TYPES,
        receive_types=WIRE_TYPES,
        limits=HOST_TO_WORKER,
    )
    cv2.setNumThreads(0)
    configure = channel.receive()
    worker = Worker(channel, WorkerSettings(**configure["settings"]))
    worker.lock_down()
    worker.serve()


if __name__ == "__main__":
    main()
