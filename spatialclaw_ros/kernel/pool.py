"""Pre-started, already contained workers, so that an episode gets its kernel at once.

Starting a worker (namespaces, interpreter, numpy/scipy/matplotlib/OpenCV imports, seccomp)
takes about a second; the pool does it ahead of time. Workers are started only on the pool's
own long-lived launcher threads: bubblewrap's --die-with-parent follows the thread that started
it, so a worker started on a short-lived thread (an executor's) would die with that thread.
"""

from __future__ import annotations

import atexit
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from spatialclaw_ros.kernel.process import WorkerProcess, WorkerSpec


class WorkerPool:
    def __init__(self) -> None:
        self._ready: dict[WorkerSpec, list[WorkerProcess]] = {}
        self._wanted: dict[WorkerSpec, int] = {}
        self._pending: dict[WorkerSpec, int] = {}
        self._lock = threading.Lock()
        # Several at once: concurrent evaluation episodes each need a worker (an idle
        # ThreadPoolExecutor thread waits for work; it does not exit).
        self._launchers = ThreadPoolExecutor(
            max_workers=min(4, os.cpu_count() or 1),
            thread_name_prefix="spatialclaw-kernel-launcher",
        )
        self._closed = False

    def acquire(self, spec: WorkerSpec, keep_warm: int) -> WorkerProcess:
        """A locked-down worker for `spec`: a warm one if there is one, else one started now.
        Afterwards the pool starts workers until `keep_warm` wait for the next episode."""
        worker = None
        with self._lock:
            self._wanted[spec] = keep_warm
            ready = self._ready.setdefault(spec, [])
            while ready and worker is None:
                candidate = ready.pop()
                worker = candidate if candidate.alive() else None
        if worker is None:
            worker = self._launchers.submit(WorkerProcess, spec).result()
        self._refill(spec)
        return worker

    def warm(self, spec: WorkerSpec) -> int:
        with self._lock:
            return sum(w.alive() for w in self._ready.get(spec, []))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = [w for ready in self._ready.values() for w in ready]
            self._ready.clear()
        for worker in workers:
            worker.kill()

    def _refill(self, spec: WorkerSpec) -> None:
        with self._lock:
            missing = (
                self._wanted.get(spec, 0)
                - len(self._ready.get(spec, []))
                - self._pending.get(spec, 0)
            )
            self._pending[spec] = self._pending.get(spec, 0) + max(missing, 0)
        for _ in range(max(missing, 0)):
            self._launchers.submit(self._start_spare, spec)

    def _start_spare(self, spec: WorkerSpec) -> None:
        try:
            worker: WorkerProcess | None = WorkerProcess(spec)
        except Exception:  # noqa: BLE001 - a spare that fails to start is simply not there; acquire() reports its own
            worker = None
        with self._lock:
            self._pending[spec] -= 1
            if worker is not None and not self._closed:
                self._ready.setdefault(spec, []).append(worker)
                worker = None
        if worker is not None:
            worker.kill()


POOL = WorkerPool()
atexit.register(POOL.close)
