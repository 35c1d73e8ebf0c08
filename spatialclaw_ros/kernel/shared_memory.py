"""Shared-memory files for arrays the host sends to workers, prepared ahead of time.

Copying 33 MiB into fresh pages costs several times the copy itself (every page is faulted in
and zeroed on first touch). A background thread keeps a few memfds of recently used sizes
allocated and mapped, so sending an array is one memcpy. Each file is handed over once and
never reused: the worker's copy-on-write mapping would otherwise see later writes.
"""

from __future__ import annotations

import collections
import mmap
import os
import threading

import numpy as np

_GRANULE = 8 << 20  # sizes are rounded up to this, so similar arrays share prepared files
_KEEP_PER_SIZE = 2
_MAX_SIZES = 4  # distinct sizes kept prepared (the most recently asked for)
_MAX_PREPARED_BYTES = 512 << 20


class _Prepared:
    def __init__(self, size: int) -> None:
        self.size = size
        self.fd = os.memfd_create("spatialclaw-array", os.MFD_CLOEXEC)
        try:
            os.ftruncate(self.fd, size)
            os.posix_fallocate(self.fd, 0, size)  # the pages themselves, not a sparse file
            self.region = mmap.mmap(self.fd, size, flags=mmap.MAP_SHARED)
            # Map every page now (numpy releases the interpreter lock for this; MAP_POPULATE
            # would hold it for the whole call and stall the host's other threads).
            pages = np.frombuffer(self.region, np.uint8)
            pages[:: mmap.PAGESIZE] = 0
            del pages
        except BaseException:
            os.close(self.fd)
            raise

    def release(self) -> None:
        self.region.close()
        os.close(self.fd)


class PreparedMemory:
    def __init__(self) -> None:
        self._ready: dict[int, list[_Prepared]] = collections.defaultdict(list)
        self._recent: collections.OrderedDict[int, None] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def copy_in(self, buffer: memoryview) -> int:
        """A memfd holding a copy of `buffer` (its size may be larger); the caller owns the
        descriptor."""
        size = -(-buffer.nbytes // _GRANULE) * _GRANULE
        with self._lock:
            self._recent[size] = None
            self._recent.move_to_end(size)
            while len(self._recent) > _MAX_SIZES:
                old, _ = self._recent.popitem(last=False)
                for stale in self._ready.pop(old, []):
                    stale.release()
            ready = self._ready.get(size)
            prepared = ready.pop() if ready else None
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._prepare_forever, name="spatialclaw-shm", daemon=True
                )
                self._thread.start()
        if prepared is None:
            prepared = _Prepared(size)
        target = np.frombuffer(prepared.region, np.uint8, count=buffer.nbytes)
        np.copyto(target, np.frombuffer(buffer, np.uint8))
        del target  # the region cannot close while a view exports it
        prepared.region.close()
        # Only now: preparing the next file holds the interpreter lock in mmap, which would
        # stall this copy.
        self._wake.set()
        return prepared.fd

    def _prepare_forever(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while True:
                with self._lock:
                    held = sum(p.size for ready in self._ready.values() for p in ready)
                    wanted = [
                        s
                        for s in reversed(self._recent)
                        if len(self._ready[s]) < _KEEP_PER_SIZE and held + s <= _MAX_PREPARED_BYTES
                    ]
                if not wanted:
                    break
                try:
                    prepared = _Prepared(wanted[0])
                except OSError:
                    break  # out of memory for now; the sender allocates on demand
                with self._lock:
                    kept = wanted[0] in self._recent
                    if kept:
                        self._ready[wanted[0]].append(prepared)
                if not kept:
                    prepared.release()


PREPARED = PreparedMemory()
