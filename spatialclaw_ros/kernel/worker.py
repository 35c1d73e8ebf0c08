"""The kernel's worker process: runs agent cells in a locked-down interpreter.

Started by the host as `python -I -m spatialclaw_ros.kernel.worker <fd>` with an almost
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

import ast  # noqa: E402
import contextlib  # noqa: E402
import importlib.util  # noqa: E402
import io  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import sysconfig  # noqa: E402
import traceback  # noqa: E402
import types  # noqa: E402
import warnings  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import cv2  # noqa: E402
import matplotlib  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import spatialclaw_ros  # noqa: E402
from spatialclaw_ros.kernel.audit import CELL_FILENAME_PREFIX, AuditPolicy, SandboxViolation  # noqa: E402
from spatialclaw_ros.kernel.sandbox import SafeBuiltins, opencv_facade  # noqa: E402
from spatialclaw_ros.kernel.summaries import find_results, summarize  # noqa: E402
from spatialclaw_ros.kernel.wire import Channel  # noqa: E402
from spatialclaw_ros.kernel.wire_types import WIRE_TYPES  # noqa: E402
from spatialclaw_ros.perception.types import Box3D, ObjectDistance  # noqa: E402
from spatialclaw_ros.tools import VLM, HostServiceError, InputImage, Toolbox  # noqa: E402
from spatialclaw_ros.tools.images import cap_long_edge, to_rgb  # noqa: E402

ENTRY_POINTS = ("InputImages", "Metadata", "tools", "show", "vlm", "ReturnAnswer")
PREIMPORTED = {"np": np, "numpy": np, "math": math, "scipy": scipy, "matplotlib": matplotlib, "plt": plt}


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


class HostChannelLink:
    """tools -> host requests over the worker's channel."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel

    def call(self, op: str, **payload):
        self._channel.send({"op": "call", "name": op, "args": payload})
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

    @property
    def __doc__(self):  # noqa: D105 - agent code reads tool docs through the wrapper
        return self._target.__doc__


class Worker:
    def __init__(self, channel: Channel, init: dict) -> None:
        self.channel = channel
        self.max_image_edge = int(init["max_image_edge"])
        self.memory_limit_mb = int(init["memory_limit_mb"])
        self.cpu_limit_s = int(init["cpu_limit_s"])
        self.cell: CellState | None = None
        videos = [
            [InputImage(f["pixels"], v, int(f["frame_index"]), float(f["timestamp"]), str(f["camera"])) for f in frames]
            for v, frames in enumerate(init["videos"])
        ]
        link = HostChannelLink(channel)
        self.audit = AuditPolicy(_library_roots(), _compile_callers())
        builtins_ns = SafeBuiltins(self.audit.violations, {"cv2": opencv_facade(cv2)}).build()
        plt.show = lambda *args, **kwargs: self._show_open_figures()  # pyplot annotates its show function
        self.namespace = {"__builtins__": builtins_ns, "__name__": "__main__", **PREIMPORTED}
        self.namespace.update(
            InputImages=[f for frames in videos for f in frames],
            Metadata=init["metadata"],
            tools=RecordedTool(Toolbox(link, videos), "tools", self._record_tool),
            show=self.show,
            vlm=RecordedTool(VLM(link), "vlm", self._record_tool),
            ReturnAnswer=self.return_answer,
        )
        if len(videos) > 1:
            self.namespace.update({f"InputImages_{i + 1}": frames for i, frames in enumerate(videos)})
        self.predefined = set(self.namespace)

    # ---- entry points --------------------------------------------------------------------
    def show(self, *items) -> None:
        """Attach images (arrays, InputImages, matplotlib figures, or lists of them) to the feedback."""
        cell = self._current()
        for item in items:
            if isinstance(item, (list, tuple)):
                self.show(*item)
                continue
            image = to_rgb(item)  # validates before the budget is touched
            if isinstance(item, Figure):
                plt.close(item)
            if cell.replay:
                continue
            if cell.images_left <= 0:
                if "image budget" not in " ".join(cell.warnings):
                    cell.warnings.append("show(): the image budget for this episode is used up; image not attached")
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
        cell.answer, cell.has_answer = answer, True

    def _show_open_figures(self) -> None:
        for number in plt.get_fignums():
            self.show(plt.figure(number))

    def _record_tool(self, name: str) -> None:
        self._current().tool_calls.append(name)

    def _current(self) -> CellState:
        if self.cell is None:
            raise RuntimeError("not inside a cell")
        return self.cell

    # ---- lockdown ------------------------------------------------------------------------
    def lock_down(self) -> None:
        limit = self.memory_limit_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CPU, (self.cpu_limit_s, self.cpu_limit_s))
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))  # binds for non-root users
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a native write past the limit fails instead of killing us
        os.environ.clear()
        self.audit.install()
        self.audit.arm()

    # ---- running cells ---------------------------------------------------------------------
    def run_cell(self, code: str, step: int, replay: bool, images_left: int) -> dict:
        self.cell = cell = CellState(images_left=images_left, replay=replay)
        self.audit.violations.clear()
        filename = f"{CELL_FILENAME_PREFIX}{step}>"
        before = dict(self.namespace)
        output = io.StringIO()
        error: BaseException | None = None
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    self._execute(code, filename)
                    if not replay:
                        self._show_open_figures()
                except BaseException as exc:  # noqa: BLE001 - everything the cell raises is its result
                    error = exc
        plt.close("all")
        cell.warnings += [f"{w.category.__name__}: {w.message}" for w in caught]
        result = {"op": "done", "stdout": output.getvalue(), "images": cell.images, "tool_calls": cell.tool_calls}
        if error is None and self.audit.violations:
            error = SandboxViolation(f"blocked by the sandbox: {self.audit.violations[0]}")
        if error is not None:
            self._roll_back(before)
            kind, message = self._describe_error(error, code, filename)
            result.update(status="error", error=message, error_kind=kind, warnings=cell.warnings)
            return result
        changed = [
            name
            for name, value in self.namespace.items()
            if not name.startswith("_")
            and not isinstance(value, types.ModuleType)
            and (name not in before or before[name] is not value)
        ]
        boxes, distances = find_results([self.namespace[n] for n in changed])
        result.update(
            status="success",
            error=None,
            error_kind=None,
            warnings=cell.warnings,
            variables={name: _safe_summary(self.namespace[name]) for name in changed},
            objects=[b for b in map(_clean_box, boxes) if b is not None],
            distances=[d for d in map(_clean_distance, distances) if d is not None],
            has_answer=cell.has_answer,
            answer=cell.answer,
        )
        return result

    def _execute(self, code: str, filename: str) -> None:
        tree = compile(code, filename, "exec", ast.PyCF_ONLY_AST)  # not ast.parse: the audit hook trusts this file
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, filename, "exec"), self.namespace)
        if last is not None:  # like a notebook cell: show the value of a final expression
            value = eval(compile(ast.Expression(last.value), filename, "eval"), self.namespace)
            if value is not None:
                print(repr(value))

    def _roll_back(self, before: dict) -> None:
        for name in [n for n in self.namespace if n not in before]:
            del self.namespace[name]
        self.namespace.update(before)

    def _describe_error(self, error: BaseException, code: str, filename: str) -> tuple[str, str]:
        lines = code.splitlines()
        if isinstance(error, SyntaxError) and error.filename == filename:
            where = f"Error on line {error.lineno}: {(error.text or '').strip()}\n" if error.lineno else ""
            return "code", f"{where}SyntaxError: {error.msg}"
        line_number = None
        for frame in traceback.extract_tb(error.__traceback__):
            if frame.filename == filename:
                line_number = frame.lineno
        where = ""
        if line_number and 0 < line_number <= len(lines):
            where = f"Error on line {line_number}: {lines[line_number - 1].strip()}\n"
        if isinstance(error, SandboxViolation) or self.audit.violations:
            return "sandbox", f"{where}SandboxViolation: {error if isinstance(error, SandboxViolation) else self.audit.violations[0]}"
        if isinstance(error, MemoryError):
            return "memory", f"{where}MemoryError: the cell ran out of memory (the kernel is limited to {self.memory_limit_mb} MiB)"
        kind = error.kind if isinstance(error, HostServiceError) else "code"
        text = str(error)
        if len(text) > 600:
            text = text[:300] + " ... " + text[-300:]
        return kind, f"{where}{type(error).__name__}: {text}" if text else f"{where}{type(error).__name__}"

    def serve(self) -> None:
        self.channel.send({"op": "ready"})
        while True:
            message = self.channel.receive()
            if message.get("op") == "run":
                self.channel.send(
                    self.run_cell(str(message["code"]), int(message["step"]), bool(message["replay"]), int(message["images_left"]))
                )
            elif message.get("op") == "exit":
                return


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
            str(d.label_a), str(d.label_b), float(d.closest), vec(d.point_a), vec(d.point_b),
            float(d.centroid_distance), vec(d.centroid_a), vec(d.centroid_b), str(d.world_frame),
        )  # fmt: skip
    except (TypeError, ValueError):
        return None


def _library_roots() -> list[str]:
    """Directories lazy imports read from: the standard library, site-packages, this package."""
    paths = sysconfig.get_paths()
    roots = {paths["stdlib"], paths["platstdlib"], paths["purelib"], paths["platlib"]}
    roots.update(os.path.dirname(p) for p in spatialclaw_ros.__path__)
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
    that raises, and describing some callables trips the sandbox."""
    try:
        return summarize(value)
    except Exception as exc:  # noqa: BLE001 - any failure just means a plainer summary
        return f"{type(value).__name__} (not summarised: {type(exc).__name__})"


def main() -> None:
    channel = Channel(socket.socket(fileno=int(sys.argv[1])), send_types=WIRE_TYPES, receive_types=WIRE_TYPES)
    cv2.setNumThreads(0)
    init = channel.receive()
    worker = Worker(channel, init)
    worker.lock_down()
    worker.serve()


if __name__ == "__main__":
    main()
