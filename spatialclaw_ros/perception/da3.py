"""The `da3` backend: Depth Anything 3 (depth, camera poses, intrinsics from images alone).

World frame: the first reconstructed frame's camera (OpenCV axes). DA3 otherwise picks its own
reference view, so we ask for the first one and re-express every pose against frame 0 anyway.
Frames are never passed to DA3 with poses: its pose alignment fails on collinear camera paths;
the fused backend aligns to robot poses itself.
"""

from __future__ import annotations

import logging
import types
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from spatialclaw_ros.frames import Frame, FrameSet
from spatialclaw_ros.perception.devices import inference_dtype, resolve_device
from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.inputs import common_size, select_frames
from spatialclaw_ros.perception.types import FIRST_CAMERA, Reconstruction

log = logging.getLogger(__name__)

RANDOM_PREFIX = "random:"
METRIC_FOCAL_REFERENCE = 300.0  # da3metric outputs depth for a 300 px focal length


@dataclass
class DepthPrediction:
    """DA3 output mapped back to input pixels, poses relative to the first frame."""

    depth: np.ndarray  # (N, H, W) float32
    confidence: np.ndarray  # (N, H, W) float32
    intrinsics: np.ndarray  # (N, 3, 3) at input resolution
    camera_to_first: np.ndarray | None  # (N, 4, 4); None for depth-only checkpoints
    is_metric: bool


def load_depth_anything(model: str, device: torch.device):
    """A DepthAnything3 from a hub id or local directory (or random weights for
    `random:<preset>`)."""
    from depth_anything_3.api import DepthAnything3

    if model.startswith(RANDOM_PREFIX):
        network = DepthAnything3(model_name=model[len(RANDOM_PREFIX) :])
    else:
        try:
            network = DepthAnything3.from_pretrained(model)
        # hub/IO errors come in many types; name the model and the cause
        except Exception as error:
            where = (
                "local directory"
                if Path(model).exists()
                else "hub id (set HF_HUB_OFFLINE=0 and log in if gated)"
            )
            raise PerceptionError(
                f"could not load Depth Anything 3 from {model!r} ({where}): {error}"
            ) from error
    network = network.to(device).eval()
    network.device = device
    dtype = inference_dtype(device)
    # DA3's forward always autocasts to half precision, which is slow on CPU: run in our dtype
    # instead.
    network.forward = types.MethodType(_forward_in(dtype), network)
    return network


def _forward_in(dtype: torch.dtype):
    def forward(self, image, extrinsics=None, intrinsics=None, *args):
        with (
            torch.no_grad(),
            torch.autocast(
                device_type=image.device.type, dtype=dtype, enabled=dtype != torch.float32
            ),
        ):
            return self.model(image, extrinsics, intrinsics, *args)

    return forward


class DA3Reconstructor:
    name = "da3"

    def __init__(
        self, model: str, device: str = "auto", process_res: int = 504, chunk_size: int = 32
    ):
        self.model_id = model
        self.device = resolve_device(device)
        self.process_res = process_res
        self.chunk_size = chunk_size
        self._network = None

    def params(self) -> tuple:
        return (self.model_id, self.process_res, self.chunk_size)

    @property
    def network(self):
        if self._network is None:
            self._network = load_depth_anything(self.model_id, self.device)
        return self._network

    def reconstruct(
        self, frames: FrameSet, frame_indices: list[int] | None = None
    ) -> Reconstruction:
        chosen = select_frames(frames, frame_indices)
        prediction = self.predict(chosen)
        if prediction.camera_to_first is None:
            if len(chosen) > 1:
                raise PerceptionError(
                    f"{self.model_id} predicts depth only, no camera poses: use a "
                    "multi-view DA3 checkpoint, "
                    "or the fused backend with robot poses"
                )
            prediction.camera_to_first = np.eye(4)[None]
        return Reconstruction(
            depth=prediction.depth,
            confidence=prediction.confidence,
            intrinsics=prediction.intrinsics,
            extrinsics=prediction.camera_to_first,
            is_metric=prediction.is_metric,
            frame_indices=[f.index for f in chosen],
            backend=self.name,
            world_frame=FIRST_CAMERA,
        )

    def predict(self, chosen: list[Frame]) -> DepthPrediction:
        """Run DA3 over the frames in overlapping chunks and chain the chunks into one frame."""
        common_size(chosen)
        step = self.chunk_size - 1
        starts = list(range(0, max(len(chosen) - 1, 1), step))
        merged: DepthPrediction | None = None
        for n, start in enumerate(starts):
            chunk = chosen[start : start + self.chunk_size]
            log.info(
                "DA3 %s: chunk %d/%d (%d frames)", self.model_id, n + 1, len(starts), len(chunk)
            )
            merged = (
                self._predict_chunk(chunk)
                if merged is None
                else _chain(merged, self._predict_chunk(chunk))
            )
        if merged is None:  # `starts` always holds 0, so only a bug gets here
            raise PerceptionError("no chunk was predicted")
        return merged

    def _predict_chunk(self, chunk: list[Frame]) -> DepthPrediction:
        height, width = chunk[0].height, chunk[0].width
        result = self.network.inference(
            [f.image for f in chunk],
            process_res=self.process_res,
            process_res_method="upper_bound_resize",
            ref_view_strategy="first",
        )
        processed_h, processed_w = result.depth.shape[1:]
        sx, sy = width / processed_w, height / processed_h
        depth = _resize_stack(result.depth, width, height)
        confidence = (
            _resize_stack(result.conf, width, height)
            if result.conf is not None
            else np.ones_like(depth)
        )
        intrinsics = self._intrinsics(chunk, result.intrinsics, sx, sy)
        model_name = getattr(self.network, "model_name", "")
        is_metric = bool(result.is_metric) or "nested" in model_name
        if "metric" in model_name:
            # at processed resolution
            focal = (intrinsics[:, 0, 0] / sx + intrinsics[:, 1, 1] / sy) / 2
            depth = depth * (focal / METRIC_FOCAL_REFERENCE)[:, None, None]
            is_metric = True
        return DepthPrediction(
            depth.astype(np.float32),
            confidence.astype(np.float32),
            intrinsics,
            _relative_to_first(result.extrinsics),
            is_metric,
        )

    def _intrinsics(
        self, chunk: list[Frame], predicted: np.ndarray | None, sx: float, sy: float
    ) -> np.ndarray:
        """Known CameraInfo wins; otherwise DA3's estimate scaled from processed to input
        pixels."""
        known = [f.intrinsics.matrix() for f in chunk if f.intrinsics is not None]
        if len(known) == len(chunk):
            return np.stack(known)
        if predicted is None:
            raise PerceptionError(
                f"{self.model_id} does not estimate intrinsics and the frames carry none"
            )
        scaled = np.array(predicted, dtype=np.float64)
        scaled[:, 0, :] *= sx
        scaled[:, 1, :] *= sy
        return scaled


def _resize_stack(maps: np.ndarray, width: int, height: int) -> np.ndarray:
    if maps.shape[1:] == (height, width):
        return maps.astype(np.float32)
    return np.stack(
        [
            cv2.resize(m.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
            for m in maps
        ]
    )


def _relative_to_first(world_to_camera: np.ndarray | None) -> np.ndarray | None:
    """DA3's world-to-camera (N, 3, 4) or (N, 4, 4) -> camera-to-first-camera (N, 4, 4)."""
    if world_to_camera is None:
        return None
    n = len(world_to_camera)
    w2c = np.tile(np.eye(4), (n, 1, 1))
    w2c[:, :3, :] = np.asarray(world_to_camera, dtype=np.float64)[:, :3, :]
    return w2c[0] @ np.linalg.inv(w2c)


def _chain(done: DepthPrediction, chunk: DepthPrediction) -> DepthPrediction:
    """Append a chunk whose first frame is `done`'s last frame: match that frame's depth scale and
    pose."""
    shared_before, shared_now = done.depth[-1], chunk.depth[0]
    valid = np.isfinite(shared_before) & np.isfinite(shared_now) & (shared_now > 0)
    scale = float(np.median(shared_before[valid] / shared_now[valid])) if valid.any() else 1.0
    poses = None
    if done.camera_to_first is not None and chunk.camera_to_first is not None:
        local = chunk.camera_to_first.copy()
        local[:, :3, 3] *= scale
        poses = np.concatenate([done.camera_to_first, (done.camera_to_first[-1] @ local)[1:]])
    return DepthPrediction(
        depth=np.concatenate([done.depth, chunk.depth[1:] * scale]),
        confidence=np.concatenate([done.confidence, chunk.confidence[1:]]),
        intrinsics=np.concatenate([done.intrinsics, chunk.intrinsics[1:]]),
        camera_to_first=poses,
        is_metric=done.is_metric and chunk.is_metric,
    )
