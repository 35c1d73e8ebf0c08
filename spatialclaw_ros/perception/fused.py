"""The `fused` backend: DA3 geometry put into the robot's metric frame.

Scale comes from sensor depth where any is valid (median ratio over shared pixels), else from
the robot's camera path length against DA3's, else from a metric DA3 checkpoint. Poses: robot
poses where the frames carry them (then the world is the robot frame); frames without one are
placed by DA3's relative motion from the first posed frame. With sensor depth and
`prefer_sensor_depth`, sensor pixels are kept and DA3 fills only the holes.
"""

from __future__ import annotations

import numpy as np

from spatialclaw_ros.frames import Frame, FrameSet
from spatialclaw_ros.frames.codec import metres_from_float
from spatialclaw_ros.perception.da3 import DA3Reconstructor, DepthPrediction
from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.geometry import path_length
from spatialclaw_ros.perception.inputs import select_frames, world_name
from spatialclaw_ros.perception.types import FIRST_CAMERA, Reconstruction

MIN_BASELINE_M = 0.05  # shorter camera paths cannot fix the scale


class FusedReconstructor:
    name = "fused"

    def __init__(self, depth_model: DA3Reconstructor, prefer_sensor_depth: bool = True):
        self.depth_model = depth_model
        self.prefer_sensor_depth = prefer_sensor_depth

    def params(self) -> tuple:
        return (*self.depth_model.params(), self.prefer_sensor_depth)

    def reconstruct(
        self, frames: FrameSet, frame_indices: list[int] | None = None
    ) -> Reconstruction:
        chosen = select_frames(frames, frame_indices)
        prediction = self.depth_model.predict(chosen)
        sensor = _sensor_depth_stack(chosen, prediction.depth.shape)
        scale = self._scale(chosen, prediction, sensor)
        depth = prediction.depth * scale
        if sensor is not None and self.prefer_sensor_depth:
            depth = np.where(np.isfinite(sensor), sensor, depth)
        extrinsics, world = _poses(chosen, prediction, scale, frames)
        return Reconstruction(
            depth=depth.astype(np.float32),
            confidence=prediction.confidence,
            intrinsics=prediction.intrinsics,
            extrinsics=extrinsics,
            is_metric=True,
            frame_indices=[f.index for f in chosen],
            backend=self.name,
            world_frame=world,
        )

    def _scale(
        self, chosen: list[Frame], prediction: DepthPrediction, sensor: np.ndarray | None
    ) -> float:
        if sensor is not None:
            shared = np.isfinite(sensor) & np.isfinite(prediction.depth) & (prediction.depth > 0)
            if shared.any():
                return float(np.median(sensor[shared] / prediction.depth[shared]))
        posed = [i for i, f in enumerate(chosen) if f.pose is not None]
        if len(posed) >= 2 and prediction.camera_to_first is not None:
            robot_path = path_length(
                np.stack([pose[:3, 3] for f in chosen if (pose := f.pose) is not None])
            )
            model_path = path_length(prediction.camera_to_first[posed, :3, 3])
            if robot_path >= MIN_BASELINE_M and model_path > 0:
                return robot_path / model_path
        if prediction.is_metric:
            return 1.0
        raise PerceptionError(
            "the fused backend needs metric cues: sensor depth on some pixels, two or "
            "more posed frames "
            f"at least {MIN_BASELINE_M} m apart, or a metric DA3 checkpoint"
        )


def _sensor_depth_stack(chosen: list[Frame], shape: tuple[int, ...]) -> np.ndarray | None:
    """Sensor depth per frame (NaN where a frame has none); None when no frame has any."""
    if all(f.depth is None for f in chosen):
        return None
    stack = np.full(shape, np.nan, dtype=np.float32)
    for i, f in enumerate(chosen):
        if f.depth is not None:
            stack[i] = metres_from_float(f.depth)
    return stack


def _poses(
    chosen: list[Frame], prediction: DepthPrediction, scale: float, frames: FrameSet
) -> tuple[np.ndarray, str]:
    posed = [i for i, f in enumerate(chosen) if f.pose is not None]
    if len(posed) == len(chosen):
        return np.stack([f.pose for f in chosen if f.pose is not None]), world_name(frames)
    if prediction.camera_to_first is None:
        if len(chosen) == 1:
            return np.eye(4)[None], FIRST_CAMERA
        raise PerceptionError(
            "this DA3 checkpoint predicts no camera poses, so every frame needs a robot "
            "pose in the fused backend"
        )
    relative = prediction.camera_to_first.copy()
    relative[:, :3, 3] *= scale
    if not posed:
        return relative, FIRST_CAMERA
    anchor = posed[0]
    to_world = chosen[anchor].pose @ np.linalg.inv(relative[anchor])
    placed = to_world @ relative
    for i in posed:
        placed[i] = chosen[i].pose
    return placed, world_name(frames)
