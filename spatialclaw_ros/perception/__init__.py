"""Perception: depth, camera poses and masks for the kernel's Reconstruct and SAM3 tools.

Backends: `da3` / `sensor` / `fused` reconstruction, `sam3` / `labels` segmentation, in-process
with a result cache, or behind the token-authenticated HTTP service (`serve-perception`).
"""

from spatialclaw_ros.perception.build import build_perception
from spatialclaw_ros.perception.config import PerceptionConfig
from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.types import (
    FIRST_CAMERA,
    Box3D,
    ObjectDistance,
    ObjectMask,
    Perception,
    Reconstruction,
    Segmentation,
    SegmentRequest,
)

__all__ = [
    "FIRST_CAMERA",
    "Box3D",
    "ObjectDistance",
    "ObjectMask",
    "Perception",
    "PerceptionConfig",
    "PerceptionError",
    "Reconstruction",
    "SegmentRequest",
    "Segmentation",
    "build_perception",
]
