"""Kernel test fixtures: small frame sets with exact depth and labels, and host services that
compute real answers from them (the real sensor + labels perception and a brightest-spot VLM)."""

from __future__ import annotations

import numpy as np
import pytest

from spatialclaw_ros.frames import CameraIntrinsics, Frame, FrameSet
from spatialclaw_ros.perception import PerceptionConfig, build_perception
from spatialclaw_ros.perception.types import Reconstruction, Segmentation, SegmentRequest

H, W = 48, 64
K = CameraIntrinsics(fx=50.0, fy=50.0, cx=31.5, cy=23.5, width=W, height=H)
BOX = (slice(10, 20), slice(20, 36))  # rows, cols of the red box in every frame


def make_frames(n: int = 4, name: str = "clip") -> FrameSet:
    """A wall 2 + 0.5 i metres in front of camera i, a red box 1 m away; the camera slides along
    x."""
    frames = []
    for i in range(n):
        image = np.full((H, W, 3), 40 + 10 * i, np.uint8)
        image[BOX] = (220, 30, 30)
        depth = np.full((H, W), 2.0 + 0.5 * i, np.float32)
        depth[BOX] = 1.0
        labels = np.zeros((H, W), np.int32)
        labels[BOX] = 1
        pose = np.eye(4)
        pose[0, 3] = 0.1 * i
        frames.append(
            Frame(
                image,
                index=10 * i,
                timestamp=100.0 + 0.5 * i,
                camera="front",
                depth=depth,
                intrinsics=K,
                pose=pose,
                labels=labels,
                label_names={1: "red box"},
            )
        )
    return FrameSet(frames, world_frame="map", name=name)


class SensorPerception:
    """The real `sensor` + `labels` perception, recording which operations the kernel asked for."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._inner = build_perception(
            PerceptionConfig(reconstruct_backend="sensor", segment_backend="labels")
        )

    def reconstruct(
        self, frames: FrameSet, frame_indices: list[int] | None = None
    ) -> Reconstruction:
        self.calls.append("reconstruct")
        return self._inner.reconstruct(frames, frame_indices)

    def segment(self, frames: FrameSet, request: SegmentRequest) -> Segmentation:
        self.calls.append("segment")
        return self._inner.segment(frames, request)

    def exists(self, frames: FrameSet, name: str, frame_indices: list[int] | None = None) -> bool:
        self.calls.append("exists")
        return self._inner.exists(frames, name, frame_indices)


class FailingPerception(SensorPerception):
    def reconstruct(self, frames, frame_indices=None):
        raise RuntimeError("depth model crashed")


class BrightestSpotVLM:
    """locate: the brightest pixel of the first image (0-1000 normalised); ask: the mean
    intensity."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def locate(self, images, query):
        self.queries.append(query)
        if "unicorn" in query:
            return "not visible"
        gray = images[0].astype(float).sum(axis=2)
        y, x = np.unravel_index(int(np.argmax(gray)), gray.shape)
        return [(x / (gray.shape[1] - 1) * 1000, y / (gray.shape[0] - 1) * 1000)]

    def ask(self, images, query):
        self.queries.append(query)
        return f"mean {np.mean(images[0]):.1f}"


@pytest.fixture(scope="session")
def frames() -> FrameSet:
    return make_frames()
