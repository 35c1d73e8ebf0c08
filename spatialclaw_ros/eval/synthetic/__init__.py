"""The synthetic benchmark: ray-cast scenes with exact geometry, templated questions, exports."""

from spatialclaw_ros.eval.synthetic.render import default_intrinsics, render, render_frame
from spatialclaw_ros.eval.synthetic.scene import (
    PALETTE,
    SHAPES,
    WORLD_FRAME,
    Scene,
    SceneObject,
    look_at,
    random_scene,
)

__all__ = [
    "PALETTE",
    "SHAPES",
    "WORLD_FRAME",
    "Scene",
    "SceneObject",
    "default_intrinsics",
    "look_at",
    "random_scene",
    "render",
    "render_frame",
]
