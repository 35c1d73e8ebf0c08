"""The worker's PEP 578 audit hook: the layer that holds when the static check is bypassed.

Once armed it refuses, whoever asks (agent code or a library on its behalf): opening a file for
writing, reading outside the interpreter's own library directories, sockets, processes, signals to
other processes, native code (ctypes, mmap), changing limits, loading forbidden modules, and
compiling code except while a module loads or from a short list of library callers. Frame and code
object attributes are refused when agent code asks for them. Every refusal is also recorded, so the
cell fails even if the code catches the exception.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from types import FrameType

from spatialclaw_ros.kernel.policy import module_forbidden_in_worker

CELL_FILENAME_PREFIX = "<cell-"


def cell_filename(step: int) -> str:
    """The filename a cell's code is compiled under (tracebacks show it; the hook recognises
    it)."""
    return f"{CELL_FILENAME_PREFIX}{step}>"


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

_DENIED_EVENT_PREFIXES = (
    "socket.", "subprocess.", "ctypes.", "shutil.", "winreg.", "msvcrt.", "fcntl.", "syslog.",
    "sqlite3.",
    "urllib.", "http.", "ftplib.", "smtplib.", "poplib.", "imaplib.", "nntplib.", "telnetlib.",
    "webbrowser.",
    "pty.", "resource.", "signal.pthread_kill", "mmap.", "gc.get_", "pickle.", "code.__new__",
    "sys.settrace", "sys.setprofile", "sys._current_frames", "sys.addaudithook",
    "sys.monitoring", "cpython.", "builtins.input", "builtins.breakpoint",
    "_thread.start_new_thread",
)  # fmt: skip  # a table, kept in rows

# Attribute reads CPython audits; refused when agent code itself performs them.
_FRAME_ATTRIBUTES = frozenset(
    {
        "__globals__",
        "__code__",
        "__builtins__",
        "tb_frame",
        "gi_frame",
        "cr_frame",
        "ag_frame",
        "gi_code",
        "cr_code",
        "ag_code",
        "f_back",
    }
)


class SandboxViolation(PermissionError):
    """Raised by the audit hook; the message says what was refused."""


class AuditPolicy:
    def __init__(
        self, read_roots: list[str], compile_callers: list[str], map_callers: Sequence[str] = ()
    ) -> None:
        self.read_roots = tuple(os.path.join(os.path.realpath(r), "") for r in read_roots)
        self.compile_callers = tuple(os.path.realpath(c) for c in compile_callers)
        self.map_callers = tuple(os.path.realpath(c) for c in map_callers)
        self.armed = False
        self.import_paths: frozenset[str] = frozenset()
        self.violations: list[str] = []
        self._busy = False

    def install(self) -> None:
        sys.addaudithook(self._hook)

    def arm(self) -> None:
        """From now on the rules apply (imports and caches needed by the worker are done)."""
        self.import_paths = frozenset(
            os.path.realpath(os.fsdecode(p)) for p in sys.path if isinstance(p, (str, bytes))
        )
        self.armed = True

    def _hook(self, event: str, args: tuple) -> None:
        if not self.armed or self._busy:
            return
        self._busy = True  # the checks below raise audit events of their own (sys._getframe, ...)
        try:
            reason = self._reason(event, args)
        finally:
            self._busy = False
        if reason:
            self.violations.append(reason)
            raise SandboxViolation(f"blocked by the sandbox: {reason}")

    def _readable(self, path) -> bool:
        if isinstance(path, int):
            return False
        try:
            real = os.path.realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return False
        return real in self.import_paths or any(
            os.path.join(real, "").startswith(root) for root in self.read_roots
        )

    def _caller_file(self) -> str:
        # _caller_file <- _reason <- _hook <- the code that raised the event
        frame = sys._getframe(3)
        return frame.f_code.co_filename if frame is not None else ""

    @staticmethod
    def _importing() -> bool:
        """Whether a module is being loaded (library code compiling its own source then)."""
        frame: FrameType | None = sys._getframe(2)
        while frame is not None:
            if frame.f_code.co_filename.startswith("<frozen importlib"):
                return True
            frame = frame.f_back
        return False

    def _reason(self, event: str, args: tuple) -> str | None:
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writing:
                return f"writing files is not allowed ({path!r})"
            if not self._readable(path):
                return f"reading {path!r} is not allowed"
            return None
        if event in ("os.listdir", "os.scandir"):
            if args and self._readable(args[0]):
                return None  # the import system scans sys.path entries
            return f"listing directories is not allowed ({args[0]!r})"
        if event == "mmap.__new__" and os.path.realpath(self._caller_file()) in self.map_callers:
            return None  # the channel mapping the host's shared-memory arrays
        if event.startswith("os.") or event.startswith(_DENIED_EVENT_PREFIXES):
            return f"'{event}' is not allowed"
        if event == "import":
            name = str(args[0])
            return (
                f"loading module '{name}' is not allowed"
                if module_forbidden_in_worker(name)
                else None
            )
        if event == "compile":
            caller = self._caller_file()
            caller = caller if caller.startswith("<") else os.path.realpath(caller)
            if caller in self.compile_callers or self._importing():
                return None
            return "compiling code at run time is not allowed"
        if event in ("object.__getattr__", "sys._getframe"):
            name = (
                str(args[1])
                if event == "object.__getattr__" and len(args) > 1
                else "sys._getframe"
            )
            if (
                event == "sys._getframe" or name in _FRAME_ATTRIBUTES
            ) and self._caller_file().startswith(CELL_FILENAME_PREFIX):
                return f"access to '{name}' is not allowed"
        return None
