"""Pre-started, already contained workers, so that an episode gets its kernel at once.

Starting a worker (namespaces, interpreter, numpy/scipy/matplotlib/OpenCV imports, seccomp)
takes about a second; the pool does it ahead of time on one long-lived thread. One thread also
matters for containment: bubblewrap's --die-with-parent follows the thread that started it.
"""

from __future__ import annotations

import atexit
import queue
import threading
from concurrent.futures import Future

from spatialclaw_ros.kernel.process import WorkerProcess, WorkerSpec


class WorkerPool:
    def __init__(self) -> None:
        self._ready: dict[WorkerSpec, list[WorkerProcess]] = {}
        self._wanted: dict[WorkerSpec, int] = {}
        self._pending: dict[WorkerSpec, int] = {}
        self._lock = threading.Lock()
        self._requests: queue.Queue[tuple[WorkerSpec, Future | None]] = queue.Queue()
        self._closed = False
        threading.Thread(target=self._launch_forever, name="spatialclaw-kernel-launcher", daemon=True).start()

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
            future: Future = Future()
            self._requests.put((spec, future))
            worker = future.result()
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
            missing = self._wanted.get(spec, 0) - len(self._ready.get(spec, [])) - self._pending.get(spec, 0)
            self._pending[spec] = self._pending.get(spec, 0) + max(missing, 0)
        for _ in range(max(missing, 0)):
            self._requests.put((spec, None))

    def _launch_forever(self) -> None:
        while True:
            spec, future = self._requests.get()
            try:
                worker = WorkerProcess(spec)
            except BaseException as exc:  # noqa: BLE001 - reported to whoever asked, the launcher lives on
                if future is not None:
                    future.set_exception(exc)
                else:
                    with self._lock:
                        self._pending[spec] -= 1
                continue
            if future is not None:
                future.set_result(worker)
                continue
            with self._lock:
                self._pending[spec] -= 1
                if not self._closed:
                    self._ready.setdefault(spec, []).append(worker)
                    worker = None
            if worker is not None:
                worker.kill()


POOL = WorkerPool()
atexit.register(POOL.close)
