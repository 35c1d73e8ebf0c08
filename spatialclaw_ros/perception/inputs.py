"""Checks and selections on the frames a backend is given, shared by every backend."""

from __future__ import annotations

import numpy as np

from spatialclaw_ros.frames import Frame, FrameSet
from spatialclaw_ros.frames.codec import metres_from_float
from spatialclaw_ros.perception.errors import PerceptionError


def select_frames(frames: FrameSet, frame_indices: list[int] | None) -> list[Frame]:
    """The frames with these `Frame.index` values, in the order given (all frames if None)."""
    if frame_indices is None:
        return list(frames)
    if len(frame_indices) == 0:
        raise PerceptionError("frame_indices is empty: name at least one frame")
    by_index = {f.index: f for f in frames}
    missing = [i for i in frame_indices if i not in by_index]
    if missing:
        raise PerceptionError(
            f"frames {missing} are not in the frame set (frames: {sorted(by_index)})"
        )
    if len(set(frame_indices)) != len(frame_indices):
        raise PerceptionError(f"frame_indices repeats a frame: {frame_indices}")
    return [by_index[i] for i in frame_indices]


def common_size(frames: list[Frame]) -> tuple[int, int]:
    """(height, width) shared by all frames; a reconstruction needs one size."""
    sizes = {(f.height, f.width) for f in frames}
    if len(sizes) != 1:
        raise PerceptionError(
            f"frames to reconstruct together must share one size, got {sorted(sizes)}"
        )
    return sizes.pop()


def intrinsics_matrices(frames: list[Frame]) -> np.ndarray:
    """(N, 3, 3) from the frames' CameraInfo; error naming the frames that lack it."""
    missing = [f.index for f in frames if f.intrinsics is None]
    if missing:
        raise PerceptionError(
            f"frames {missing} have no camera intrinsics (CameraInfo); the sensor "
            "backend needs them"
        )
    return np.stack([f.intrinsics.matrix() for f in frames if f.intrinsics is not None])


def sensor_depths(frames: list[Frame]) -> np.ndarray:
    """(N, H, W) float32 metres, NaN where invalid; error for frames without depth or with none
    valid."""
    missing = [f.index for f in frames if f.depth is None]
    if missing:
        raise PerceptionError(
            f"frames {missing} have no depth image; use the da3 or fused backend for them"
        )
    depth = metres_from_float(np.stack([f.depth for f in frames if f.depth is not None]))
    empty = [f.index for f, d in zip(frames, depth, strict=True) if not np.isfinite(d).any()]
    if empty:
        raise PerceptionError(
            f"frames {empty} have no valid depth pixel (all NaN, zero or negative)"
        )
    return depth


def world_name(frames: FrameSet) -> str:
    """The robot frame the poses are expressed in; "world" when the frame set does not name it."""
    return frames.world_frame or "world"
