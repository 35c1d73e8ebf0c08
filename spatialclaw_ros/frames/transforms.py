"""A TF buffer without tf2: `/tf` and `/tf_static` transforms over time, looked up along the tree.

The interface (`TransformBuffer`) is the part of tf2_ros.Buffer this package uses, so the node
takes tf2_ros's Buffer where it is installed (spatialclaw_ros.ros.tf wraps it) and this one
otherwise; the bag reader always uses this one. Both pass the same contract tests
(test/frames/test_transforms.py).

Semantics follow tf2: every frame has at most one parent; a dynamic link is interpolated between
the two samples around the asked stamp as tf2 does it (translation linearly, rotation by slerp,
on scipy's Rotation; pytransform3d's temporal manager was tried and left: its screw interpolation
moves the translation along a helix, 0.26 m away from tf2's answer for a 1 rad turn between two
samples); a static link holds at every time; a stamp before a dynamic link's first sample or
after its last is refused (extrapolation), and so is a chain with no common root. Errors name the
link that is missing or out of range.
"""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy.spatial.transform import Rotation, Slerp


class TransformLookupError(LookupError):
    """No transform between two frames at a time; the message names the missing link."""


class TransformBuffer(Protocol):
    def set_transform(
        self, parent: str, child: str, stamp: float, matrix: np.ndarray, static: bool = False
    ) -> None:
        """Record `matrix` (child coordinates -> parent coordinates, a TF message's transform)."""

    def lookup(self, target: str, source: str, stamp: float) -> np.ndarray:
        """4x4 taking coordinates in `source` into `target` at `stamp` (tf2's lookup_transform);
        raises TransformLookupError."""


@dataclass(frozen=True)
class LinkSummary:
    parent: str
    child: str
    static: bool
    samples: int
    first: float
    last: float

    @property
    def rate_hz(self) -> float | None:
        span = self.last - self.first
        return (
            (self.samples - 1) / span
            if not self.static and self.samples > 1 and span > 0
            else None
        )


class _DynamicLink:
    """Samples of one parent -> child link (4x4 matrices) in time order."""

    def __init__(self) -> None:
        self.stamps: list[float] = []
        self.matrices: list[np.ndarray] = []

    def add(self, stamp: float, matrix: np.ndarray) -> None:
        i = bisect.bisect_left(self.stamps, stamp)
        if i < len(self.stamps) and self.stamps[i] == stamp:
            self.matrices[i] = matrix  # the same stamp sent again: the newer value wins, as in tf2
            return
        self.stamps.insert(i, stamp)
        self.matrices.insert(i, matrix)

    def drop_before(self, stamp: float) -> None:
        i = bisect.bisect_left(self.stamps, stamp)
        # Keep one sample before the cut so that stamps just after it can still be interpolated.
        keep = max(i - 1, 0)
        del self.stamps[:keep], self.matrices[:keep]

    def covers(self, stamp: float) -> bool:
        return bool(self.stamps) and self.stamps[0] <= stamp <= self.stamps[-1]

    def at(self, stamp: float) -> np.ndarray:
        """The link at `stamp` (which `covers` accepted): exact on a sample, else slerp + lerp."""
        i = bisect.bisect_left(self.stamps, stamp)
        if self.stamps[i] == stamp:
            return self.matrices[i]
        (t0, t1), (before, after) = self.stamps[i - 1 : i + 1], self.matrices[i - 1 : i + 1]
        weight = (stamp - t0) / (t1 - t0)
        matrix = np.eye(4)
        matrix[:3, :3] = Slerp(
            [0.0, 1.0], Rotation.from_matrix(np.stack([before[:3, :3], after[:3, :3]]))
        )(weight).as_matrix()
        matrix[:3, 3] = (1 - weight) * before[:3, 3] + weight * after[:3, 3]
        return matrix


class TfTree:
    """The fallback TransformBuffer. `cache_s`: dynamic samples older than the newest by more than
    this are dropped (tf2's default is 10 s); None keeps everything (a bag read offline).
    `timeout_s`: how long a lookup waits for transforms that have not arrived yet, as tf2's
    `lookup_transform(..., timeout)` does (a live robot's TF lags its images a little)."""

    def __init__(self, cache_s: float | None = 10.0, timeout_s: float = 0.0):
        self._cache_s = cache_s
        self._timeout_s = timeout_s
        self._parents: dict[str, str] = {}
        self._static: dict[str, np.ndarray] = {}  # child -> matrix
        self._dynamic: dict[str, _DynamicLink] = {}  # child -> samples
        self._lock = threading.Condition()  # notified on every new transform

    def set_transform(
        self, parent: str, child: str, stamp: float, matrix: np.ndarray, static: bool = False
    ) -> None:
        parent, child = parent.lstrip("/"), child.lstrip("/")
        if not parent or not child or parent == child:
            raise ValueError(
                f"a transform needs two different frame names, got {parent!r} -> {child!r}"
            )
        matrix = np.asarray(matrix, dtype=np.float64)
        with self._lock:
            if self._parents.get(child, parent) != parent:
                # tf2 re-parents too (the newest parent wins); the old link's samples no longer
                # apply
                self._static.pop(child, None)
                self._dynamic.pop(child, None)
            self._parents[child] = parent
            if static:
                self._static[child] = matrix
                self._dynamic.pop(child, None)
            else:
                link = self._dynamic.setdefault(child, _DynamicLink())
                link.add(float(stamp), matrix)
                if self._cache_s is not None:
                    link.drop_before(link.stamps[-1] - self._cache_s)
            self._lock.notify_all()

    def lookup(self, target: str, source: str, stamp: float) -> np.ndarray:
        target, source = target.lstrip("/"), source.lstrip("/")
        if target == source:
            return np.eye(4)
        deadline = time.monotonic() + self._timeout_s
        with self._lock:
            while True:
                try:
                    return self._compose(target, source, stamp)
                except TransformLookupError:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise
                    self._lock.wait(left)

    def _compose(self, target: str, source: str, stamp: float) -> np.ndarray:
        """The transform from `source` to `target` at `stamp`; the caller holds the lock."""
        up_from_source, up_from_target = self._path(source, target)
        source_to_common = np.eye(4)
        for child in up_from_source:
            source_to_common = self._link_at(child, stamp, source, target) @ source_to_common
        target_to_common = np.eye(4)
        for child in up_from_target:
            target_to_common = self._link_at(child, stamp, source, target) @ target_to_common
        return np.linalg.inv(target_to_common) @ source_to_common

    def _link_at(self, child: str, stamp: float, source: str, target: str) -> np.ndarray:
        link = self._dynamic.get(child)
        if link is None:
            return self._static[child]
        if not link.covers(stamp):
            raise TransformLookupError(
                f"TF link {self._parents[child]} -> {child} has transforms from "
                f"{link.stamps[0]:.3f} to "
                f"{link.stamps[-1]:.3f} s; {stamp:.3f} s is outside them (extrapolation refused) "
                f"while looking up {source} in {target}"
            )
        return link.at(stamp)

    def _chain(self, frame: str) -> list[str]:
        chain = [frame]
        while chain[-1] in self._parents:
            chain.append(self._parents[chain[-1]])
            if len(chain) > len(self._parents) + 1:
                raise TransformLookupError(f"the TF tree has a loop through {chain[-1]}")
        return chain

    def _path(self, source: str, target: str) -> tuple[list[str], list[str]]:
        """The links (by child frame) from source up to the common ancestor, and from target up to
        it."""
        known = set(self._parents) | set(self._parents.values())
        for frame in (source, target):
            if frame not in known:
                raise TransformLookupError(
                    f"frame {frame!r} is not in the TF tree (while looking up {source} "
                    f"in {target}); "
                    f"known frames: {', '.join(sorted(known)) or 'none'}"
                )
        up_from_source, up_from_target = self._chain(source), self._chain(target)
        common = next((f for f in up_from_source if f in up_from_target), None)
        if common is None:
            raise TransformLookupError(
                f"no TF link connects {source} and {target}: "
                f"{' -> '.join(up_from_source)} ends at "
                f"{up_from_source[-1]!r} and {' -> '.join(up_from_target)} ends at "
                f"{up_from_target[-1]!r}; "
                f"the missing link is a parent for one of those roots"
            )
        return up_from_source[: up_from_source.index(common)], up_from_target[
            : up_from_target.index(common)
        ]

    # ---- what is in the tree (for `spatialclaw bag info` and errors) ---------------------------

    def links(self) -> list[LinkSummary]:
        with self._lock:
            rows = []
            for child, parent in sorted(
                self._parents.items(), key=lambda item: (item[1], item[0])
            ):
                link = self._dynamic.get(child)
                if link is None:
                    rows.append(LinkSummary(parent, child, True, 1, 0.0, 0.0))
                else:
                    rows.append(
                        LinkSummary(
                            parent, child, False, len(link.stamps), link.stamps[0], link.stamps[-1]
                        )
                    )
            return rows

    def roots(self) -> list[str]:
        with self._lock:
            return sorted(set(self._parents.values()) - set(self._parents))

    def has_frame(self, frame: str) -> bool:
        frame = frame.lstrip("/")
        with self._lock:
            return frame in self._parents or frame in self._parents.values()

    def world_frame(self, camera_frame: str, preferred: str = "") -> str:
        """The world for a camera: `preferred` when given, else "map", else "odom", else the
        root of the camera's tree."""
        if preferred:
            return preferred
        with self._lock:
            chain = self._chain(camera_frame.lstrip("/")) if camera_frame else []
        for name in ("map", "odom"):
            if name in chain:
                return name
        return chain[-1] if chain else ""
