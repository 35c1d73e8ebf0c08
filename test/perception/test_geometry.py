"""closest_points prunes its KD-tree search with a bound; it must still find the exact pair."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.geometry import closest_points


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
