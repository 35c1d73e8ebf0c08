"""closest_points prunes its KD-tree search with a bound; it must still find the exact pair.
The bird's-eye view samples the scene points it draws on a strided pixel grid."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from spatialclaw_ros.perception.bev import MAX_SCENE_POINTS, _scene_points
from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.geometry import closest_points
from spatialclaw_ros.perception.types import Reconstruction


def sphere_surface(rng, n, centre, radius):
    v = rng.normal(size=(n, 3))
    return np.asarray(centre) + radius * v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("sizes", [(1, 1), (1, 500), (700, 3), (3000, 2000)])
def test_matches_brute_force(seed, sizes):
    rng = np.random.default_rng(seed)
    a = sphere_surface(rng, sizes[0], [0, 0, 0], 0.3)
    b = sphere_surface(rng, sizes[1], rng.uniform(0.5, 2.0, 3), 0.2)
    all_pairs = cdist(a, b)
    distance, point_a, point_b = closest_points(a, b)
    assert distance == pytest.approx(all_pairs.min(), abs=1e-12)
    assert np.linalg.norm(point_a - point_b) == pytest.approx(distance, abs=1e-12)
    assert any((a == point_a).all(axis=1)) and any((b == point_b).all(axis=1))


def test_touching_objects_have_zero_distance():
    rng = np.random.default_rng(1)
    a = rng.uniform(size=(400, 3))
    b = np.vstack([rng.uniform(2, 3, size=(400, 3)), a[123]])
    distance, point_a, point_b = closest_points(a, b)
    assert distance == 0.0 and (point_a == a[123]).all() and (point_b == a[123]).all()


def test_empty_object_is_a_clear_error():
    with pytest.raises(PerceptionError, match="no 3D points"):
        closest_points(np.zeros((0, 3)), np.ones((3, 3)))


def test_bev_scene_points_are_every_step_th_pixel_of_the_point_maps():
    rng = np.random.default_rng(0)
    n, h, w = 3, 301, 203
    depth = rng.uniform(0.5, 5.0, (n, h, w)).astype(np.float32)
    depth[rng.uniform(size=depth.shape) < 0.2] = np.nan
    k = np.array([[150.0, 0, 101], [0, 150.0, 60], [0, 0, 1]])
    poses = np.stack([np.eye(4)] * n)
    poses[:, :3, 3] = rng.normal(size=(n, 3))
    poses[1, :3, :3] = [[0, -1, 0], [1, 0, 0], [0, 0, 1]]
    reconstruction = Reconstruction(
        depth, np.ones_like(depth), np.stack([k] * n), poses, True, [4, 8, 9], "test"
    )
    step = int(np.sqrt(h * w * n / MAX_SCENE_POINTS))
    assert step == 3  # the grid really skips pixels
    expected = []
    for frame_index in reconstruction.frame_indices:
        sub = reconstruction.point_map(frame_index)[::step, ::step].reshape(-1, 3)
        expected.append(sub[np.isfinite(sub).all(axis=1)])
    expected = np.concatenate(expected)
    points = _scene_points(reconstruction)
    assert points.shape == expected.shape and len(points) > 0.7 * n * (h // step) * (w // step)
    np.testing.assert_allclose(points, expected, rtol=0, atol=1e-12)
