"""Frames: what a camera saw, with whatever the robot knows about it.

These are the only types every layer shares. They hold numpy arrays and plain values, so the
core stays free of ROS; `spatialclaw_ros.ros` converts messages into them.

Conventions (REP-103 units, OpenCV camera axes):
- `image`: H x W x 3 uint8, RGB.
- `depth`: H x W float32 metres along the optical axis, NaN where invalid.
- `pose`: 4 x 4 float64 camera-to-world, camera axes x right, y down, z forward (the ROS
  `*_optical` frame). `FrameSet.world_frame` names the world ("map", "odom"); empty when the
  poses are not known in any robot frame.
- `labels`: H x W int32 instance ids (0 = background), with `label_names` mapping id -> name,
  as simulators publish them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics in pixels, for an image of `width` x `height`."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @classmethod
    def from_matrix(cls, k: np.ndarray, width: int, height: int) -> CameraIntrinsics:
        k = np.asarray(k, dtype=np.float64)
        return cls(
            float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]), int(width), int(height)
        )

    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def scaled(self, width: int, height: int) -> CameraIntrinsics:
        """The same camera at another resolution (pixel centres kept aligned)."""
        sx, sy = width / self.width, height / self.height
        return CameraIntrinsics(
            self.fx * sx,
            self.fy * sy,
            (self.cx + 0.5) * sx - 0.5,
            (self.cy + 0.5) * sy - 0.5,
            width,
            height,
        )


@dataclass
class Frame:
    """One colour image and what is known about it."""

    image: np.ndarray
    index: int = 0
    timestamp: float = 0.0
    camera: str = "camera"
    depth: np.ndarray | None = None
    intrinsics: CameraIntrinsics | None = None
    pose: np.ndarray | None = None
    labels: np.ndarray | None = None
    label_names: dict[int, str] | None = None

    def __post_init__(self) -> None:
        image = np.asarray(self.image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"frame image must be H x W x 3 uint8 RGB, got {image.shape} {image.dtype}"
            )
        if image.shape[0] == 0 or image.shape[1] == 0:
            raise ValueError("frame image is empty")
        self.image = image
        size = image.shape[:2]
        if self.depth is not None:
            depth = np.asarray(self.depth, dtype=np.float32)
            if depth.shape != size:
                raise ValueError(
                    f"depth is {depth.shape[1]}x{depth.shape[0]} but the image is "
                    f"{size[1]}x{size[0]}"
                )
            self.depth = depth
        if self.labels is not None:
            labels = np.asarray(self.labels)
            if labels.shape != size:
                raise ValueError(f"label image is {labels.shape} but the image is {size}")
            self.labels = labels.astype(np.int32, copy=False)
        if self.intrinsics is not None and (self.intrinsics.width, self.intrinsics.height) != (
            size[1],
            size[0],
        ):
            self.intrinsics = self.intrinsics.scaled(size[1], size[0])
        if self.pose is not None:
            pose = np.asarray(self.pose, dtype=np.float64)
            if pose.shape != (4, 4):
                raise ValueError(
                    f"camera pose must be a 4x4 camera-to-world matrix, got {pose.shape}"
                )
            self.pose = pose

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])


@dataclass
class FrameSet:
    """The frames of one video or camera stream that an episode sees, in time order."""

    frames: list[Frame]
    world_frame: str = ""
    name: str = ""
    _key: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.frames:
            raise ValueError("a frame set needs at least one frame")

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int) -> Frame:
        return self.frames[i]

    def __iter__(self):
        return iter(self.frames)

    @property
    def timestamps(self) -> list[float]:
        return [f.timestamp for f in self.frames]

    @property
    def fps(self) -> float | None:
        """Mean frame rate from timestamps; None for a single frame or unknown times."""
        if len(self.frames) < 2:
            return None
        span = self.frames[-1].timestamp - self.frames[0].timestamp
        return (len(self.frames) - 1) / span if span > 0 else None

    @property
    def cameras(self) -> list[str]:
        return sorted({f.camera for f in self.frames})

    @property
    def has_depth(self) -> bool:
        return all(f.depth is not None for f in self.frames)

    @property
    def has_poses(self) -> bool:
        return all(f.pose is not None for f in self.frames)

    @property
    def has_intrinsics(self) -> bool:
        return all(f.intrinsics is not None for f in self.frames)

    @property
    def has_labels(self) -> bool:
        return all(f.labels is not None for f in self.frames)

    def content_key(self) -> str:
        """A digest of everything perception reads, so caches can tell frame sets apart."""
        if self._key is None:
            h = hashlib.blake2b(digest_size=16)
            h.update(self.world_frame.encode())
            for f in self.frames:
                for arr in (f.image, f.depth, f.pose, f.labels):
                    if arr is not None:
                        h.update(str(arr.shape).encode())
                        h.update(np.ascontiguousarray(arr).data)
                    h.update(b"|")
                if f.intrinsics is not None:
                    h.update(repr(f.intrinsics).encode())
                if f.label_names:
                    h.update(repr(sorted(f.label_names.items())).encode())
            self._key = h.hexdigest()
        return self._key


def names_present(labels: np.ndarray | None, names: dict[int, str]) -> dict[int, str] | None:
    """The entries of `names` whose ids appear in the label image `labels`."""
    if labels is None or not names:
        return None
    return {int(i): names[int(i)] for i in np.unique(labels) if int(i) in names}
