"""What perception returns. Pure numpy: these objects cross into the kernel's worker process.

World frame: `Reconstruction.world_frame` names it. With robot poses (sensor/fused backends)
it is the robot's frame (e.g. "map"); otherwise it is the first reconstructed frame's camera
("first_camera"), OpenCV axes (x right, y down, z forward).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from spatialclaw_ros.frames import FrameSet

FIRST_CAMERA = "first_camera"


@dataclass
class Box3D:
    """An object's 3D extent: centre, size along its axes, and axes as a rotation (world frame)."""

    label: str
    center: np.ndarray  # (3,)
    size: np.ndarray  # (3,) metres when the reconstruction is metric
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))  # columns = box axes in world
    confidence: float = 1.0
    frame_indices: list[int] = field(default_factory=list)
    world_frame: str = FIRST_CAMERA


@dataclass
class ObjectDistance:
    """The distance between two objects: closest points and centroids."""

    label_a: str
    label_b: str
    closest: float  # smallest point-to-point distance
    point_a: np.ndarray  # (3,) closest point on a
    point_b: np.ndarray  # (3,) closest point on b
    centroid_distance: float
    centroid_a: np.ndarray
    centroid_b: np.ndarray
    world_frame: str = FIRST_CAMERA


@dataclass
class ObjectMask:
    """One object in one frame."""

    mask: np.ndarray  # (H, W) bool at the frame's input resolution
    label: str
    score: float
    frame_index: int
    object_id: int = 0


@dataclass
class Segmentation:
    """The masks one SAM3 call produced: possibly several objects, possibly several frames."""

    masks: list[ObjectMask]
    prompt: str = ""


@dataclass
class Reconstruction:
    """Per-frame depth, intrinsics and camera-to-world poses for a set of frames of one scene."""

    depth: np.ndarray  # (N, H, W) float32; metres if is_metric; NaN invalid
    confidence: np.ndarray  # (N, H, W) float32, higher is better
    intrinsics: np.ndarray  # (N, 3, 3) at input resolution
    extrinsics: np.ndarray  # (N, 4, 4) camera-to-world, OpenCV axes
    is_metric: bool
    frame_indices: list[int]  # Frame.index of each entry
    backend: str
    world_frame: str = FIRST_CAMERA


@dataclass
class SegmentRequest:
    """A SAM3 prompt. Exactly one of text / points / box. `frame_indices` of length 1 = one image;
    longer = propagate through that clip starting at `prompt_frame`."""

    frame_indices: list[int]
    text: str | None = None
    points: np.ndarray | None = None  # (K, 2) pixels x, y on prompt_frame
    point_labels: np.ndarray | None = None  # (K,) 1 positive, 0 negative
    box: np.ndarray | None = None  # (4,) x0, y0, x1, y1 pixels on prompt_frame
    prompt_frame: int | None = None  # defaults to frame_indices[0]
    threshold: float | None = None


class Perception(Protocol):
    """What the kernel's host side needs: in-process backends and the HTTP client both fit."""

    def reconstruct(self, frames: FrameSet, frame_indices: list[int] | None = None) -> Reconstruction: ...

    def segment(self, frames: FrameSet, request: SegmentRequest) -> Segmentation: ...
