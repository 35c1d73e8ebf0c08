"""A bounded ring buffer of recent camera frames per camera, ROS-free.

Colour, depth, label images and intrinsics arrive on separate streams at their own rates; the
buffer keeps each stream by its header stamp and pairs them only when a question samples frames,
so ingest stays an append (the node sees 30-60 Hz per camera) and pairing uses capture time,
never arrival time. Bounds: a count per stream and an age relative to the newest colour frame
(stamps, not the wall clock, so bag replay and simulated time behave like live data), and a
minimum interval between kept colour frames: questions sample a handful of frames over seconds,
so a 30-60 Hz camera is thinned on arrival (at most one frame per `min_interval_s`), and depth and
label images are kept only for the colour frames that are kept. Memory per camera is then at most
`max_frames` x (colour + depth + labels) bytes; config/spatialclaw.yaml has the arithmetic.
"""

from __future__ import annotations

import bisect
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from spatialclaw_ros.frames.types import CameraIntrinsics, Frame, FrameSet, names_present

T = TypeVar("T")


class FrameBufferError(ValueError):
    """A request the buffer cannot serve; the message says why in operator terms."""


class UnknownCameraError(FrameBufferError):
    pass


class NoFramesError(FrameBufferError):
    pass


class FrameRejected(ValueError):
    """An incoming image that does not fit its camera (size mismatch); it was not stored."""


# Stamps are integer nanoseconds turned into float seconds: 100.3 - 100.2 is 0.0999999999999943,
# which must still count as the 0.1 s a 10 Hz camera's frames are apart.
_STAMP_SLACK_S = 1e-6


@dataclass(frozen=True)
class BufferLimits:
    max_frames: int = 100  # per camera and stream: 10 s at the default interval
    max_age_s: float = 30.0  # older than the newest colour frame by more than this is dropped
    # depth / labels further than this from a colour stamp are not paired
    sync_tolerance_s: float = 0.02
    # keep at most one colour frame per interval (0 = keep every frame)
    min_interval_s: float = 0.1

    def __post_init__(self) -> None:
        if (
            self.max_frames < 1
            or self.max_age_s <= 0
            or self.sync_tolerance_s < 0
            or self.min_interval_s < 0
        ):
            raise ValueError(f"invalid buffer limits: {self}")


@dataclass(frozen=True)
class SampleRequest:
    """Which frames a question wants: `count` frames spread over `window_s` seconds ending at
    `at_time` (None = the newest colour frame)."""

    window_s: float
    count: int
    at_time: float | None = None

    def __post_init__(self) -> None:
        if self.window_s < 0 or self.count < 1:
            raise FrameBufferError(
                f"need window_s >= 0 and count >= 1, got {self.window_s} and {self.count}"
            )


# Depth and labels usually arrive just after their colour frame. "The newest frame" is the newest
# one whose depth and labels are in, unless they are later than this behind it: then they count
# as lost, so a camera whose depth stream died is reported, not silently answered from the past.
_PAIRING_WAIT_S = 0.5


class StampedQueue(Generic[T]):
    """Values in stamp order, bounded by count (the oldest go first); a value at a stamp already
    held replaces it; nearest-stamp lookup by bisection. Not locked: its owner locks."""

    def __init__(self, max_items: int):
        self.stamps: deque[float] = deque(maxlen=max_items)
        self.values: deque[T] = deque(maxlen=max_items)

    def __len__(self) -> int:
        return len(self.stamps)

    def add(self, stamp: float, value: T) -> None:
        if not self.stamps or stamp > self.stamps[-1]:
            self.stamps.append(stamp)
            self.values.append(value)
            return
        # Out of order (a late depth image, a reordered bag): insert in place.
        i = bisect.bisect_left(self.stamps, stamp)
        if self.stamps[i] == stamp:
            self.values[i] = value
            return
        if len(self.stamps) == self.stamps.maxlen:
            if i == 0:
                return  # older than everything a full queue keeps
            self.stamps.popleft()
            self.values.popleft()
            i -= 1
        self.stamps.insert(i, stamp)
        self.values.insert(i, value)

    def has_room_for(self, stamp: float, interval: float) -> bool:
        """Whether `stamp` is at least `interval` from the stamps kept on either side of it."""
        if not self.stamps:
            return True
        if stamp > self.stamps[-1]:  # the usual case: the newest frame so far
            return stamp - self.stamps[-1] >= interval - _STAMP_SLACK_S
        i = bisect.bisect_left(self.stamps, stamp)
        before_ok = i == 0 or stamp - self.stamps[i - 1] >= interval - _STAMP_SLACK_S
        return before_ok and self.stamps[i] - stamp >= interval - _STAMP_SLACK_S

    def drop_where(self, start: float, end: float, drop: Callable[[float], bool]) -> None:
        """Remove the items stamped in [start, end] for which `drop(stamp)` is true."""
        i = bisect.bisect_left(self.stamps, start)
        while i < len(self.stamps) and self.stamps[i] <= end:
            if drop(self.stamps[i]):
                del self.stamps[i]
                del self.values[i]
            else:
                i += 1

    def drop_before(self, stamp: float) -> None:
        while self.stamps and self.stamps[0] < stamp:
            self.stamps.popleft()
            self.values.popleft()

    def nearest(self, stamp: float, tolerance: float | None) -> T | None:
        if not self.stamps:
            return None
        i = bisect.bisect_left(self.stamps, stamp)
        candidates = [j for j in (i - 1, i) if 0 <= j < len(self.stamps)]
        best = min(candidates, key=lambda j: abs(self.stamps[j] - stamp))
        if tolerance is not None and abs(self.stamps[best] - stamp) > tolerance:
            return None
        return self.values[best]


class _CameraStreams:
    def __init__(self, limits: BufferLimits):
        self.color: StampedQueue[np.ndarray] = StampedQueue(limits.max_frames)
        # depth and labels hold (pixels, decoder or None)
        self.depth: StampedQueue[tuple] = StampedQueue(limits.max_frames)
        self.labels: StampedQueue[tuple] = StampedQueue(limits.max_frames)
        self.intrinsics: StampedQueue[CameraIntrinsics] = StampedQueue(16)
        self.label_names: dict[int, str] = {}
        self.newest_color_seen = float("-inf")  # kept or skipped

    def image_size(self) -> tuple[int, int] | None:
        """(height, width) of this camera's colour images, once one has been seen."""
        return self.color.values[-1].shape[:2] if self.color.values else None


class FrameBuffer:
    """Recent frames of the configured cameras. Thread-safe: subscriptions add, goals sample."""

    def __init__(self, cameras: list[str], limits: BufferLimits = BufferLimits()):
        if not cameras or len(set(cameras)) != len(cameras):
            raise ValueError(f"need distinct camera names, got {cameras}")
        self.limits = limits
        self._streams = {name: _CameraStreams(limits) for name in cameras}
        self._lock = threading.Lock()

    @property
    def cameras(self) -> list[str]:
        return list(self._streams)

    def _camera(self, camera: str) -> _CameraStreams:
        try:
            return self._streams[camera]
        except KeyError:
            raise UnknownCameraError(
                f"unknown camera {camera!r}; configured: {', '.join(self._streams)}"
            ) from None

    def add_color(
        self, camera: str, stamp: float, image: np.ndarray | Callable[[], np.ndarray]
    ) -> bool:
        """Store an RGB uint8 H x W x 3 image (kept by reference: do not modify it afterwards), or
        a function that decodes one: it is called only for a frame that is kept, so the frames that
        thinning skips are never decoded. Returns False when the frame came within `min_interval_s`
        of a kept one and was skipped."""
        streams = self._camera(camera)
        if callable(image):
            with self._lock:
                if not self._keeps_color(streams, stamp):
                    return False
            image = image()  # outside the lock: decoding takes a while
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise FrameRejected(
                f"colour image must be H x W x 3 uint8, got {image.shape} {image.dtype}"
            )
        with self._lock:
            # checked again: a frame may have been kept meanwhile
            if not self._keeps_color(streams, stamp):
                return False
            streams.newest_color_seen = max(streams.newest_color_seen, stamp)
            streams.color.add(stamp, image)
            oldest = streams.color.stamps[-1] - self.limits.max_age_s
            for queue in (streams.color, streams.depth, streams.labels):
                queue.drop_before(oldest)
        return True

    def add_depth(
        self,
        camera: str,
        stamp: float,
        depth: np.ndarray,
        decode: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        """Store float32 metres (NaN invalid), or raw pixels with the `decode` that turns them into
        metres: decoding then happens only for the frames a question samples, which keeps ingest an
        append. Rejected when its size differs from the colour images."""
        self._add_aligned(camera, "depth", stamp, depth, decode)

    def add_labels(
        self,
        camera: str,
        stamp: float,
        labels: np.ndarray,
        names: dict[int, str] | None = None,
        decode: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> None:
        """Store an instance-id image (0 = background) aligned with the colour images, or its raw
        pixels with the `decode` that turns them into ids (applied when sampled, as for depth)."""
        self._add_aligned(camera, "labels", stamp, labels, decode)
        if names is not None:
            self.update_label_names(camera, names)

    def update_label_names(self, camera: str, names: dict[int, str]) -> None:
        """Name instance ids; an id named again takes the new name (a simulator that reuses ids
        for a new scene announces them again). Each sampled frame gets the names of the ids
        present in its own label image."""
        streams = self._camera(camera)
        with self._lock:
            streams.label_names = {**streams.label_names, **names}

    def add_intrinsics(self, camera: str, stamp: float, intrinsics: CameraIntrinsics) -> None:
        streams = self._camera(camera)
        with self._lock:
            streams.intrinsics.add(stamp, intrinsics)

    def _add_aligned(
        self,
        camera: str,
        stream: str,
        stamp: float,
        image: np.ndarray,
        decode: Callable | None = None,
    ) -> None:
        streams = self._camera(camera)
        if image.ndim != 2:
            raise FrameRejected(f"{stream} image must be H x W, got shape {image.shape}")
        size = streams.image_size()
        if size is not None and image.shape != size:
            raise FrameRejected(
                f"{stream} image of camera {camera!r} is {image.shape[1]}x{image.shape[0]} "
                f"but its colour images are {size[1]}x{size[0]}"
            )
        with self._lock:
            if not self._pairs_with_kept_color(streams, stamp):
                return
            getattr(streams, stream).add(stamp, (image, decode))

    def _keeps_color(self, streams: _CameraStreams, stamp: float) -> bool:
        """Whether a colour frame at `stamp` has room; one that has not is noted as seen and
        skipped."""
        interval = self.limits.min_interval_s
        if not interval or streams.color.has_room_for(stamp, interval):
            return True
        streams.newest_color_seen = max(streams.newest_color_seen, stamp)
        self._drop_unpaired_near(streams, stamp)
        return False

    def _drop_unpaired_near(self, streams: _CameraStreams, stamp: float) -> None:
        """A skipped colour frame's depth / labels may have arrived before it: drop them, unless
        they also pair with a colour frame that was kept."""
        tolerance = self.limits.sync_tolerance_s

        def unpaired(s: float) -> bool:
            return streams.color.nearest(s, tolerance) is None

        for queue in (streams.depth, streams.labels):
            queue.drop_where(stamp - tolerance, stamp + tolerance, unpaired)

    def _pairs_with_kept_color(self, streams: _CameraStreams, stamp: float) -> bool:
        """Depth and labels are worth keeping only for colour frames that were kept (or have not
        arrived yet); with thinning off, everything is kept as it comes."""
        if not self.limits.min_interval_s:
            return True
        tolerance = self.limits.sync_tolerance_s
        return (
            stamp > streams.newest_color_seen + tolerance
            or streams.color.nearest(stamp, tolerance) is not None
        )

    def _newest_paired(self, streams: _CameraStreams, stamps: list[float]) -> float:
        """The newest colour stamp whose depth and labels (for the streams this camera sends)
        are not still on their way. Caller holds the lock."""
        tolerance = self.limits.sync_tolerance_s
        # streams that are flowing, but have not yet caught up with the newest colour frame
        behind = [
            queue
            for queue in (streams.depth, streams.labels)
            if queue.stamps
            and stamps[-1] - _PAIRING_WAIT_S <= queue.stamps[-1] < stamps[-1] - tolerance
        ]
        for stamp in reversed(stamps):
            if all(queue.stamps[-1] >= stamp - tolerance for queue in behind):
                return stamp
        return stamps[-1]

    def latest_stamp(self, camera: str) -> float | None:
        streams = self._camera(camera)
        with self._lock:
            return streams.color.stamps[-1] if streams.color.stamps else None

    def count(self, camera: str) -> int:
        return len(self._camera(camera).color)

    def sample(
        self,
        camera: str,
        request: SampleRequest,
        *,
        pose_at: Callable[[float], np.ndarray | None] | None = None,
        world_frame: str = "",
    ) -> FrameSet:
        """`request.count` frames spread evenly over the window (always including its newest
        frame), each with the depth, labels and intrinsics nearest its stamp and the pose `pose_at`
        gives.

        Raises NoFramesError when the window holds no colour frame, UnknownCameraError for a
        camera that is not configured.
        """
        streams = self._camera(camera)
        tolerance = self.limits.sync_tolerance_s
        with self._lock:
            if not streams.color.stamps:
                raise NoFramesError(f"no frames received yet from camera {camera!r}")
            stamps = list(streams.color.stamps)
            end = (
                self._newest_paired(streams, stamps)
                if request.at_time is None
                else request.at_time
            )
            first = bisect.bisect_left(stamps, end - request.window_s - tolerance)
            last = bisect.bisect_right(stamps, end + tolerance)
            if first >= last:
                raise NoFramesError(
                    f"camera {camera!r} has no frames between "
                    f"{end - request.window_s:.3f} s and {end:.3f} s; "
                    f"it holds {stamps[0]:.3f} s to {stamps[-1]:.3f} s"
                )
            picked = _spread(first, last, request.count)
            # a camera that sends depth: avoid frames whose depth message was lost
            if streams.depth.stamps:
                picked = _swap_for_paired(
                    picked, first, last, lambda i: streams.depth.nearest(stamps[i], tolerance)
                )
            selected = [
                (
                    stamps[i],
                    streams.color.values[i],
                    streams.depth.nearest(stamps[i], tolerance),
                    streams.labels.nearest(stamps[i], tolerance),
                    streams.intrinsics.nearest(stamps[i], None),
                )
                for i in picked
            ]
            label_names = dict(streams.label_names)
        frames = []
        for index, (stamp, image, depth, stored_labels, intrinsics) in enumerate(selected):
            labels = _decoded(stored_labels)
            frames.append(
                Frame(
                    image=image,
                    index=index,
                    timestamp=stamp,
                    camera=camera,
                    depth=_decoded(depth),
                    intrinsics=intrinsics,
                    pose=pose_at(stamp) if pose_at is not None else None,
                    labels=labels,
                    label_names=names_present(labels, label_names),
                )
            )
        if pose_at is not None and not all(f.pose is not None for f in frames):
            # A half-posed frame set would mix world frames; reconstruction estimates all poses
            # instead.
            for frame in frames:
                frame.pose = None
            world_frame = ""
        return FrameSet(frames, world_frame=world_frame, name=camera)


def _decoded(stored: tuple | None) -> np.ndarray | None:
    if stored is None:
        return None
    pixels, decode = stored
    return decode(pixels) if decode is not None else pixels


def _swap_for_paired(
    picked: list[int], first: int, last: int, paired: Callable[[int], object]
) -> list[int]:
    """`picked`, each index whose frame has no pair (`paired(i)` is None) swapped for the nearest
    unpicked index in [first, last) that has one, if any."""
    chosen = set(picked)
    for i in picked:
        if paired(i) is not None:
            continue
        spare = [j for j in range(first, last) if j not in chosen and paired(j) is not None]
        if spare:
            chosen.remove(i)
            chosen.add(min(spare, key=lambda j: (abs(j - i), -j)))
    return sorted(chosen)


def _spread(first: int, last: int, count: int) -> list[int]:
    """Up to `count` indices in [first, last), evenly spaced, ending at last - 1."""
    available = last - first
    if count >= available:
        return list(range(first, last))
    # Spaced back from the newest, so that a single frame is the newest one.
    return sorted({int(round(x)) for x in np.linspace(last - 1, first, count)})
