"""3D geometry on reconstructions: back-projection, box fitting, closest points, similarity
alignment."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from spatialclaw_ros.perception.errors import PerceptionError


def backproject(
    depth: np.ndarray,
    intrinsics: np.ndarray,
    camera_to_world: np.ndarray,
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """World points (K, 3) of the pixels in `mask` (all pixels if None) that have a finite
    depth."""
    keep = np.isfinite(depth)
    if mask is not None:
        keep &= mask
    v, u = np.nonzero(keep)
    z = depth[v, u].astype(np.float64)
    fx, fy, cx, cy = intrinsics[0, 0], intrinsics[1, 1], intrinsics[0, 2], intrinsics[1, 2]
    camera_points = np.stack([(u - cx) / fx * z, (v - cy) / fy * z, z], axis=1)
    return camera_points @ camera_to_world[:3, :3].T + camera_to_world[:3, 3]


def point_map(
    depth: np.ndarray, intrinsics: np.ndarray, camera_to_world: np.ndarray
) -> np.ndarray:
    """(H, W, 3) world point per pixel, NaN where depth is invalid."""
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w]
    fx, fy, cx, cy = intrinsics[0, 0], intrinsics[1, 1], intrinsics[0, 2], intrinsics[1, 2]
    camera_points = np.stack(
        [(u - cx) / fx * depth, (v - cy) / fy * depth, depth], axis=-1
    ).astype(np.float64)
    return camera_points @ camera_to_world[:3, :3].T + camera_to_world[:3, 3]


def fit_box(
    points: np.ndarray, oriented: bool, trim: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre (3,), size (3,) and rotation (3, 3; columns are the box axes) enclosing `points`.

    Oriented boxes use the principal axes of the points (PCA); axis-aligned boxes use the world
    axes. `trim` drops that fraction of points at each end of every axis, against stray depth
    pixels.
    """
    if len(points) < 1:
        raise PerceptionError("cannot fit a box to an empty point set")
    if oriented and len(points) >= 3:
        centred = points - points.mean(axis=0)
        _, eigenvectors = np.linalg.eigh(centred.T @ centred)
        rotation = eigenvectors[:, ::-1]  # largest spread first
        if np.linalg.det(rotation) < 0:
            rotation[:, 2] *= -1
    else:
        rotation = np.eye(3)
    local = points @ rotation
    low = np.quantile(local, trim, axis=0) if trim > 0 else local.min(axis=0)
    high = np.quantile(local, 1 - trim, axis=0) if trim > 0 else local.max(axis=0)
    center = rotation @ ((low + high) / 2)
    return center, high - low, rotation


def box_corners(center: np.ndarray, size: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """The 8 corners (8, 3) of a box."""
    signs = np.array(
        [[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64
    )
    return center + (signs * (np.asarray(size) / 2)) @ np.asarray(rotation).T


def closest_points(a: np.ndarray, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Smallest distance between two point sets and the pair of points that realises it."""
    if len(a) == 0 or len(b) == 0:
        raise PerceptionError("cannot measure a distance to an object with no 3D points")
    tree = cKDTree(b)
    # Objects usually stand apart, and a KD-tree query far from every point searches widely. A
    # sample of `a` gives an upper bound on the answer; with it most queries end at once. Exact.
    sample = a[:: max(1, len(a) // 256)]
    bound = float(tree.query(sample, k=1)[0].min())
    # margin: the bound is strict
    distances, nearest = tree.query(a, k=1, distance_upper_bound=bound * (1 + 1e-6) + 1e-9)
    i = int(np.argmin(distances))
    return float(distances[i]), a[i], b[nearest[i]]


def path_length(centres: np.ndarray) -> float:
    return (
        float(np.linalg.norm(np.diff(centres, axis=0), axis=1).sum()) if len(centres) > 1 else 0.0
    )
