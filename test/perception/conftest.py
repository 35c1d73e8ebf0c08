"""Shared scenes and tiny models for the perception tests.

Scenes come from the synthetic ray-caster (exact depth, labels, poses). Models are the real
classes built from tiny random configs, saved to disk and loaded back through our loaders with
the hub switched off.
"""

from __future__ import annotations

import numpy as np
import pytest

from spatialclaw_ros.eval.synthetic import Scene, SceneObject, default_intrinsics, look_at, render

RED_BOX = SceneObject(
    "red box", "box", (200, 30, 30), center=(3.0, 0.0, 0.5), size=(0.6, 0.8, 1.0)
)
BLUE_CHAIR = SceneObject(
    "blue_chair", "box", (30, 30, 200), center=(3.0, 1.5, 0.5), size=(0.6, 0.5, 1.0)
)
EYE = (0.0, 0.0, 0.5)  # level with the boxes' centres and inside the red box's y-z extent


def two_box_scene() -> Scene:
    return Scene((RED_BOX, BLUE_CHAIR), room_size=(8.0, 6.0, 3.0), name="two boxes")


def front_view(width: int = 640, height: int = 480):
    """One frame looking along +x at both boxes: the red box shows only its front face."""
    return render(
        two_box_scene(), [look_at(EYE, (3.0, 0.0, 0.5))], default_intrinsics(width, height)
    )


@pytest.fixture(scope="session")
def small_clip():
    """Three small frames from a camera moving sideways (collinear centres), with depth and
    poses."""
    poses = [look_at((0.0, y, 0.5), (3.0, y, 0.5)) for y in (-0.3, 0.0, 0.3)]
    return render(two_box_scene(), poses, default_intrinsics(80, 60))


@pytest.fixture(scope="session")
def hub_offline():
    """Make any hub access fail, as on a machine without network."""
    import huggingface_hub.constants as hub_constants

    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    mp.setattr(hub_constants, "HF_HUB_OFFLINE", True)
    yield
    mp.undo()


@pytest.fixture(scope="session")
def da3_small_dir(tmp_path_factory):
    """A randomly initialised da3-small saved like a downloaded checkpoint."""
    from depth_anything_3.api import DepthAnything3

    path = tmp_path_factory.mktemp("da3-small")
    DepthAnything3(model_name="da3-small").save_pretrained(str(path))
    return str(path)


@pytest.fixture(scope="session")
def sam3_tiny_dir(tmp_path_factory):
    """A tiny random SAM 3 video checkpoint (detector + tracker) with its processors."""
    from spatialclaw_ros.perception.tiny_models import save_tiny_sam3

    path = tmp_path_factory.mktemp("sam3-tiny")
    save_tiny_sam3(str(path))
    return str(path)


@pytest.fixture(scope="session")
def random_frames():
    """Factory: n random RGB frames numbered 10, 11, ... (indices that differ from positions)."""
    from spatialclaw_ros.frames import Frame, FrameSet

    def make(n: int, height: int = 60, width: int = 80, seed: int = 0) -> FrameSet:
        rng = np.random.default_rng(seed)
        return FrameSet(
            [
                Frame(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), index=10 + i)
                for i in range(n)
            ]
        )

    return make


@pytest.fixture(scope="session")
def front_frames():
    return front_view()
