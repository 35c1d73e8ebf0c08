"""In-process perception: one reconstruction backend, one segmentation backend, one cache."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from spatialclaw_ros.frames import FrameSet
from spatialclaw_ros.perception.cache import ComputeCache, ResultCache
from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.types import Reconstruction, Segmentation, SegmentRequest


class Reconstructor(Protocol):
    name: str

    def params(self) -> tuple: ...

    def reconstruct(
        self, frames: FrameSet, frame_indices: list[int] | None = None
    ) -> Reconstruction: ...


class Segmenter(Protocol):
    name: str

    def params(self) -> tuple: ...

    def segment(self, frames: FrameSet, request: SegmentRequest) -> Segmentation: ...

    def exists(
        self, frames: FrameSet, name: str, frame_indices: list[int] | None = None
    ) -> bool: ...


class LocalPerception:
    """Satisfies the Perception protocol; a second identical request is served from the cache."""

    def __init__(
        self, reconstructor: Reconstructor, segmenter: Segmenter, cache: ComputeCache | None = None
    ):
        self.reconstructor = reconstructor
        self.segmenter = segmenter
        self.cache: ComputeCache = cache or ResultCache()

    def reconstruct(
        self, frames: FrameSet, frame_indices: list[int] | None = None
    ) -> Reconstruction:
        _require_frames(frames)
        key = (
            "reconstruct",
            frames.content_key(),
            self.reconstructor.name,
            self.reconstructor.params(),
            _indices_key(frame_indices),
        )
        return self.cache.get_or_compute(
            key, lambda: self.reconstructor.reconstruct(frames, frame_indices)
        )

    def segment(self, frames: FrameSet, request: SegmentRequest) -> Segmentation:
        _require_frames(frames)
        key = (
            "segment",
            frames.content_key(),
            self.segmenter.name,
            self.segmenter.params(),
            _request_key(request),
        )
        return self.cache.get_or_compute(key, lambda: self.segmenter.segment(frames, request))

    def exists(self, frames: FrameSet, name: str, frame_indices: list[int] | None = None) -> bool:
        _require_frames(frames)
        key = (
            "exists",
            frames.content_key(),
            self.segmenter.name,
            self.segmenter.params(),
            name,
            _indices_key(frame_indices),
        )
        return self.cache.get_or_compute(
            key, lambda: self.segmenter.exists(frames, name, frame_indices)
        )


def _require_frames(frames: FrameSet) -> None:
    if not isinstance(frames, FrameSet):  # a FrameSet always has frames
        raise PerceptionError("perception needs a non-empty FrameSet")


def _indices_key(frame_indices: list[int] | None) -> tuple | None:
    return None if frame_indices is None else tuple(int(i) for i in frame_indices)


def _request_key(request: SegmentRequest) -> tuple:
    def array_key(value):
        return None if value is None else np.asarray(value, dtype=np.float64).round(3).tobytes()

    return (
        _indices_key(request.frame_indices),
        request.text,
        array_key(request.points),
        array_key(request.point_labels),
        array_key(request.box),
        request.prompt_frame,
        request.threshold,
        request.label,
    )
