"""One contained worker process and its channel, as the host sees it."""

from __future__ import annotations

import collections
import os
import shutil
import socket
import subprocess
import threading
import time
import weakref
from dataclasses import dataclass, replace

from spatialclaw_ros.kernel import containment
from spatialclaw_ros.kernel.wire import (
    WORKER_TO_HOST,
    Channel,
    ChannelClosed,
    ChannelTimeout,
    WireError,
)
from spatialclaw_ros.kernel.wire_types import RESULT_TYPES, WIRE_TYPES

# The worker is the base interpreter (so the venv's own files, pyvenv.cfg included, need not be
# in its view) given the venv's package directories, and the same copy of this package as the
# host (`-I` ignores PYTHONPATH and the working directory). Its first statements drop root to the
# configured uid/gid, before any library code runs; the namespaces around it are already in
# place (containment.py).
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_BOOTSTRAP = f"""\
import os, sys
uid, gid = os.environ.get("SPATIALCLAW_WORKER_UID"), os.environ.get("SPATIALCLAW_WORKER_GID")
if uid is not None and os.geteuid() == 0:
    os.setgroups([])
    os.setresgid(int(gid), int(gid), int(gid))
    os.setresuid(int(uid), int(uid), int(uid))
    if 0 in (os.getuid(), os.geteuid(), os.getgid(), os.getegid()):
        sys.exit("the kernel worker could not drop root")
import site
for directory in {containment.package_directories()!r}:
    site.addsitedir(directory)
sys.path.insert(0, {_PACKAGE_ROOT!r})
from spatialclaw_ros.kernel.worker import main
main()
"""


class KernelStartError(RuntimeError):
    """The worker process could not be started."""


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker is fixed to when it starts, before any episode is known (so pre-started
    workers with the same spec are interchangeable)."""

    memory_limit_mb: int
    cpu_limit_s: int
    file_limit_mb: int
    python_layer: bool
    allow_weaker_sandbox: bool
    uid: int
    gid: int
    max_message_mb: int
    startup_timeout_s: float


@dataclass(frozen=True)
class WorkerIdentity:
    """Who the worker runs as, as it reported itself after locking down."""

    uid: int
    gid: int
    groups: int
    capabilities: int
    no_new_privs: bool
    seccomp: bool


class WorkerProcess:
    """A started, locked-down worker waiting for (or running) one episode."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.layers = containment.require(spec.allow_weaker_sandbox)
        host_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        data = [
            (
                os.open(path, os.O_RDONLY | os.O_CLOEXEC),
                f"{containment.MATPLOTLIB_DIR}/{os.path.basename(path)}",
            )
            for path in containment.matplotlib_files()
        ]
        command = containment.worker_command(
            self.layers,
            [containment.base_interpreter(), "-I", "-B", "-c", _BOOTSTRAP],
            worker_end.fileno(),
            _PACKAGE_ROOT,
            spec.uid,
            spec.gid,
            data,
        )
        try:
            self.process = subprocess.Popen(
                command.argv,
                pass_fds=command.pass_fds,
                env=command.env,
                cwd=command.cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            host_end.close()
            raise KernelStartError(f"could not start the kernel worker: {exc}") from exc
        finally:
            worker_end.close()
            for fd, _ in data:
                os.close(fd)
        self.stderr_tail: collections.deque[bytes] = collections.deque(maxlen=64)
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        limits = replace(WORKER_TO_HOST, max_total_bytes=spec.max_message_mb * 2**20)
        self.channel = Channel(
            host_end, WIRE_TYPES, RESULT_TYPES, limits=limits, share_memory=True
        )
        self._finalizer = weakref.finalize(self, _kill, self.process, host_end, command.scratch)
        deadline = time.monotonic() + spec.startup_timeout_s
        settings = {
            "memory_limit_mb": spec.memory_limit_mb,
            "cpu_limit_s": spec.cpu_limit_s,
            "file_limit_mb": spec.file_limit_mb,
            "python_layer": spec.python_layer,
            "seccomp": self.layers.available["seccomp"],
            "package_dirs": containment.package_directories(),
        }
        try:
            self.channel.send({"op": "configure", "settings": settings})
            ready = self.channel.receive(deadline)
            self.identity = _identity(ready)
        except (ChannelClosed, ChannelTimeout, WireError, ValueError) as exc:
            self.kill()
            raise KernelStartError(
                f"the kernel worker did not start: {exc}; {self.last_words()}"
            ) from exc

    def begin(self, init: dict, timeout_s: float) -> None:
        """Hand the worker its episode (frames through shared memory) and wait until it has
        them."""
        try:
            self.channel.send({"op": "init", **init})
            reply = self.channel.receive(time.monotonic() + timeout_s)
        except (ChannelClosed, ChannelTimeout, WireError) as exc:
            self.kill()
            raise KernelStartError(
                f"the kernel worker did not take the episode: {exc}; {self.last_words()}"
            ) from exc
        if (
            not isinstance(reply, dict)
            or reply.get("op") != "initialized"
            or reply.get("step") != 0
        ):
            self.kill()
            raise KernelStartError("the kernel worker sent an unexpected reply to its episode")

    def _drain_stderr(self) -> None:
        stderr = self.process.stderr
        if stderr is None:
            raise RuntimeError("the worker was started without a stderr pipe")
        for line in stderr:
            self.stderr_tail.append(line)

    def last_words(self) -> str:
        text = b"".join(self.stderr_tail).decode(errors="replace").strip()
        return text[-800:] if text else "no output on stderr"

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> int | None:
        self._finalizer()
        return self.process.returncode

    def reap(self, grace_s: float = 2.0) -> int | None:
        """The exit status of a worker that closed its channel: it gets `grace_s` to exit by
        itself (so its own exit is not mistaken for our kill), then it is killed."""
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
        return self.kill()

    def stop(self) -> None:
        if self.alive():
            try:
                self.channel.send({"op": "exit"})
                self.process.wait(timeout=2)
            except (ChannelClosed, subprocess.TimeoutExpired, OSError):
                pass
        self.kill()


def exit_signal(code: int | None) -> int | None:
    """The signal that ended the worker: bubblewrap exits with 128 + the signal of its child."""
    if code is None:
        return None
    if code < 0:
        return -code
    return code - 128 if code > 128 else None


def _identity(message) -> WorkerIdentity:
    if not isinstance(message, dict) or message.get("op") != "ready" or message.get("step") != 0:
        raise ValueError("the worker sent an unexpected first message")
    reported = message.get("identity")
    if not isinstance(reported, dict) or not all(isinstance(v, int) for v in reported.values()):
        raise ValueError("the worker did not report its identity")
    return WorkerIdentity(
        uid=reported.get("uid", -1),
        gid=reported.get("gid", -1),
        groups=reported.get("groups", -1),
        capabilities=reported.get("CapEff", -1),
        no_new_privs=reported.get("NoNewPrivs") == 1,
        seccomp=reported.get("Seccomp", 0) == 2,
    )


def _kill(process: subprocess.Popen, sock: socket.socket, scratch: str | None) -> None:
    if process.poll() is None:
        process.kill()  # bubblewrap's --die-with-parent takes the worker inside with it
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    sock.close()
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
