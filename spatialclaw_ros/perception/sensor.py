"""The `sensor` backend: the robot's own depth, CameraInfo and poses. Exact and metric, no
network."""

from __future__ import annotations

import numpy as np

from spatialclaw_ros.frames import FrameSet
from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.inputs import (
    common_size,
    intrinsics_matrices,
    select_frames,
    sensor_depths,
    world_name,
)
from spatialclaw_ros.perception.types import FIRST_CAMERA, Reconstruction


class SensorReconstructor:
    name = "sensor"

    def params(self) -> tuple:
        return ()

    def reconstruct(
        self, frames: FrameSet, frame_indices: list[int] | None = None
    ) -> Reconstruction:
        chosen = select_frames(frames, frame_indices)
        common_size(chosen)
        depth = sensor_depths(chosen)
        intrinsics = intrinsics_matrices(chosen)
        poses = [f.pose for f in chosen if f.pose is not None]
        if len(poses) == len(chosen):
            extrinsics, world = np.stack(poses), world_name(frames)
        elif len(chosen) == 1:
            extrinsics, world = np.eye(4)[None], FIRST_CAMERA
        else:
            missing = [f.index for f in chosen if f.pose is None]
            raise PerceptionError(
                f"frames {missing} have no camera pose; several frames need poses (TF "
                "or odometry) to share a world"
            )
        return Reconstruction(
            depth=depth,
            confidence=np.isfinite(depth).astype(np.float32),
            intrinsics=intrinsics,
            extrinsics=extrinsics,
            is_metric=True,
            frame_indices=[f.index for f in chosen],
            backend=self.name,
            world_frame=world,
        )
