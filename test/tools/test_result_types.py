"""The result types' own helpers: the world's up axis, heights, upright boxes, frame-number
indexing. Pure numpy, no kernel."""

from __future__ import annotations

import numpy as np
import pytest

from spatialclaw_ros.perception.types import (
    FIRST_CAMERA,
    Box3D,
    FrameArray,
    ObjectMask,
    Reconstruction,
)
from spatialclaw_ros.tools.geometry import Geometry


def _pitched(degrees: float) -> np.ndarray:
    """A camera-to-world pose looking along +z, pitched about its x axis."""
    pose = np.eye(4)
    pose[:3, :3] = Geometry.rotation([1, 0, 0], degrees)
    return pose


def _reconstruction(poses, world=FIRST_CAMERA, depth=None, frames=None) -> Reconstruction:
    n = len(poses)
    depth = np.full((n, 40, 60), 2.0, np.float32) if depth is None else depth
    k = np.array([[50.0, 0, 29.5], [0, 50.0, 19.5], [0, 0, 1]])
    return Reconstruction(
        depth,
        np.ones_like(depth),
        np.repeat(k[None], n, 0),
        np.stack(poses),
        True,
        frames or list(range(n)),
        "test",
        world,
    )


def test_up_of_a_robot_world_is_z():
    np.testing.assert_array_equal(_reconstruction([np.eye(4)], world="map").up, [0, 0, 1])


def test_up_of_a_camera_world_averages_the_cameras():
    # cameras tilted down and up by 15 degrees around a level one: their mean up is level
    up = _reconstruction([_pitched(-15), _pitched(0), _pitched(15)]).up
    np.testing.assert_allclose(up, [0, -1, 0], atol=1e-9)
    # one camera tilted: its own up
    np.testing.assert_allclose(
        _reconstruction([_pitched(20)]).up, _pitched(20)[:3, :3] @ [0, -1, 0], atol=1e-9
    )


def test_height_and_upright_box_follow_up_not_the_points_spread():
    # a flat slab seen head-on by a level camera in a camera-first world (up = -y): the mask covers
    # 20 rows (the slab's height) and 50 columns at 2 m depth
    recon = _reconstruction([np.eye(4)])
    mask = np.zeros((40, 60), bool)
    mask[10:30, 5:55] = True
    m = ObjectMask(mask, "slab", 1.0, 0)
    expected = 19 / 50 * 2.0  # rows 10..29 span 19 pixel steps at fy = 50 px, 2 m away
    assert recon.height(m) == pytest.approx(expected)
    box = recon.box_3d(m, upright=True)
    np.testing.assert_allclose(box.rotation[:, 2], [0, -1, 0], atol=1e-9)
    assert box.size[2] == pytest.approx(expected) and box.extent_along(recon.up) == pytest.approx(
        expected
    )
    assert box.size[0] == pytest.approx(49 / 50 * 2.0)  # the long horizontal side first


def test_extent_along_a_turned_box():
    box = Box3D("b", np.zeros(3), np.array([2.0, 1.0, 0.5]), Geometry.rotation([0, 0, 1], 90))
    assert box.extent_along([1, 0, 0]) == pytest.approx(1.0) and box.extent_along(
        [0, 0, 1]
    ) == pytest.approx(0.5)


def test_frame_array_maps_frame_numbers_and_refuses_others():
    values = FrameArray(np.arange(3 * 2).reshape(3, 2), [4, 8, 12])
    np.testing.assert_array_equal(values[8], [2, 3])
    np.testing.assert_array_equal(values[[12, 4]], [[4, 5], [0, 1]])
    assert values[12, 1] == 5 and values[1:, 0].tolist() == [2, 4]  # slices index rows
    with pytest.raises(IndexError, match="frame 1 is not in this reconstruction"):
        values[1]
    assert type(values + 1) is np.ndarray and float(np.median(values)) == 2.5
    indexed = _reconstruction([np.eye(4), _pitched(10)], frames=[3, 7]).indexed_by_frame()
    np.testing.assert_allclose(indexed.extrinsics[7], _pitched(10))
    assert indexed.point_map(7).shape == (40, 60, 3)  # helpers still walk the rows
