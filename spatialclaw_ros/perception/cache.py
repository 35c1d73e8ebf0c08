"""A bounded in-memory LRU cache of perception results, keyed by frame content, backend and
parameters.

Cached arrays are made read-only so a caller that edits a result cannot corrupt later hits.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any, Protocol, TypeVar

import numpy as np

T = TypeVar("T")


class ComputeCache(Protocol):
    """What LocalPerception needs of a cache: a ResultCache, or Ray Serve's cluster-wide one."""

    def get_or_compute(self, key: tuple, compute: Callable[[], T]) -> T: ...


class ResultCache:
    def __init__(self, max_entries: int = 32, max_bytes: int = 2 << 30):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get_or_compute(self, key: tuple, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self.hits += 1
                return self._entries[key][0]
            self.misses += 1
        # outside the lock: model calls are long and another thread may need a hit
        value = compute()
        size = _freeze(value)
        with self._lock:
            if key not in self._entries and size <= self.max_bytes:
                self._entries[key] = (value, size)
                self._bytes += size
                while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                    _, (_, dropped) = self._entries.popitem(last=False)
                    self._bytes -= dropped
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


def _freeze(value: Any) -> int:
    """Make every array inside `value` read-only; return their total size in bytes."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
        return value.nbytes
    if isinstance(value, (list, tuple)):
        return sum(_freeze(v) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        return sum(_freeze(getattr(value, f.name)) for f in fields(value))
    return 0
