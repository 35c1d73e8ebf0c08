"""tools.Geometry: distances, angles, rigid transforms, projection and plane fitting."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from spatialclaw_ros.perception.geometry import fit_box
from spatialclaw_ros.perception.types import FIRST_CAMERA, Box3D, ObjectDistance


@dataclass
class Plane:
    """A plane n . x + d = 0 with unit normal n, and the indices of the points that support it."""

    normal: np.ndarray
    offset: float
    inliers: np.ndarray

    def distance(self, points) -> np.ndarray:
        """Signed distance of each point to the plane (positive on the normal's side)."""
        return np.asarray(points, dtype=np.float64) @ self.normal + self.offset


def _camera_matrix(intrinsics) -> np.ndarray:
    """3x3 K from CameraIntrinsics (anything with .matrix()) or a 3x3 array."""
    return np.asarray(
        intrinsics.matrix() if hasattr(intrinsics, "matrix") else intrinsics, dtype=np.float64
    )


def _up_vector(up) -> np.ndarray:
    """A unit up vector from a vector or anything with `.up` (a Reconstruction)."""
    vector = np.asarray(getattr(up, "up", up), dtype=np.float64).reshape(-1)
    if vector.shape != (3,) or not np.isfinite(vector).all() or np.linalg.norm(vector) == 0:
        raise ValueError(f"up must be a reconstruction or a non-zero 3-vector, got {up!r}")
    return vector / np.linalg.norm(vector)


def _points(points) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64)
    return array.reshape(-1, array.shape[-1]) if array.ndim > 1 else array.reshape(1, -1)


class Geometry:
    """3D geometry helpers. Points are metres in the reconstruction's world frame; poses are
    4x4 camera-to-world matrices with OpenCV camera axes (x right, y down, z forward)."""

    @staticmethod
    def distance(a, b) -> float:
        """Euclidean distance between two points (2D or 3D)."""
        return float(
            np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))
        )

    @staticmethod
    def angle_between(u, v, degrees: bool = True) -> float:
        """Angle between two vectors, in degrees (or radians with degrees=False)."""
        u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
        denom = np.linalg.norm(u) * np.linalg.norm(v)
        if denom == 0:
            raise ValueError("angle_between needs two non-zero vectors")
        angle = float(np.arccos(np.clip(np.dot(u, v) / denom, -1.0, 1.0)))
        return float(np.degrees(angle)) if degrees else angle

    @staticmethod
    def rotation_between(u, v) -> np.ndarray:
        """The 3x3 rotation that turns direction u onto direction v."""
        # loaded on first use: keeps kernel start fast
        from scipy.spatial.transform import Rotation

        u = np.asarray(u, dtype=np.float64).reshape(1, 3)
        v = np.asarray(v, dtype=np.float64).reshape(1, 3)
        rotation, _ = Rotation.align_vectors(v, u)
        return rotation.as_matrix()

    @staticmethod
    def rotation(axis, angle: float, degrees: bool = True) -> np.ndarray:
        """The 3x3 rotation by `angle` about `axis` (right-hand rule)."""
        axis = np.asarray(axis, dtype=np.float64)
        angle = np.radians(angle) if degrees else angle
        matrix, _ = cv2.Rodrigues(axis / np.linalg.norm(axis) * angle)
        return matrix

    @staticmethod
    def pose(rotation=None, translation=None) -> np.ndarray:
        """A 4x4 rigid transform from a 3x3 rotation and a translation."""
        matrix = np.eye(4)
        if rotation is not None:
            matrix[:3, :3] = np.asarray(rotation, dtype=np.float64)
        if translation is not None:
            matrix[:3, 3] = np.asarray(translation, dtype=np.float64)
        return matrix

    @staticmethod
    def invert(transform) -> np.ndarray:
        """Inverse of a 4x4 rigid transform (e.g. camera-to-world -> world-to-camera)."""
        t = np.asarray(transform, dtype=np.float64)
        inverse = np.eye(4)
        inverse[:3, :3] = t[:3, :3].T
        inverse[:3, 3] = -t[:3, :3].T @ t[:3, 3]
        return inverse

    @staticmethod
    def transform(points, transform) -> np.ndarray:
        """Apply a 4x4 transform to points (N x 3 or 3,)."""
        p = np.asarray(points, dtype=np.float64)
        t = np.asarray(transform, dtype=np.float64)
        out = _points(p) @ t[:3, :3].T + t[:3, 3]
        return out.reshape(p.shape)

    @staticmethod
    def project(points, intrinsics, camera_to_world=None) -> tuple[np.ndarray, np.ndarray]:
        """Project world points into a camera. Returns (pixels N x 2 as x, y; depth N along the
        optical axis; negative depth = behind the camera)."""
        world = _points(points)
        k = _camera_matrix(intrinsics)
        pose = (
            np.eye(4) if camera_to_world is None else np.asarray(camera_to_world, dtype=np.float64)
        )
        world_to_camera = Geometry.invert(pose)
        rvec, _ = cv2.Rodrigues(world_to_camera[:3, :3])
        pixels, _ = cv2.projectPoints(
            world.reshape(-1, 1, 3), rvec, world_to_camera[:3, 3], k, None
        )
        depth = Geometry.transform(world, world_to_camera)[:, 2]
        return pixels.reshape(-1, 2), depth

    @staticmethod
    def unproject(pixels, depth, intrinsics, camera_to_world=None) -> np.ndarray:
        """World points (N x 3) of pixels (N x 2, x, y) at the given depths along the optical
        axis."""
        uv = np.asarray(pixels, dtype=np.float64).reshape(-1, 2)
        z = np.broadcast_to(np.asarray(depth, dtype=np.float64).reshape(-1), (len(uv),))
        k = _camera_matrix(intrinsics)
        rays = (np.linalg.inv(k) @ np.column_stack([uv, np.ones(len(uv))]).T).T
        camera_points = rays * z[:, None]
        pose = np.eye(4) if camera_to_world is None else camera_to_world
        return Geometry.transform(camera_points, pose)

    @staticmethod
    def normalized_to_pixel(points, width: int, height: int) -> np.ndarray:
        """Convert 0-1000 normalised x, y points (as vlm.locate returns them) to pixel
        coordinates."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return p / 1000.0 * np.array([width - 1, height - 1])

    @staticmethod
    def fit_plane(points, threshold: float = 0.02, iterations: int = 200, seed: int = 0) -> Plane:
        """RANSAC plane fit (e.g. the floor): points within `threshold` metres count as inliers;
        the winning plane is refined by least squares on its inliers."""
        p = _points(points)
        p = p[np.isfinite(p).all(axis=1)]
        if len(p) < 3:
            raise ValueError("fit_plane needs at least 3 finite points")
        rng = np.random.default_rng(seed)
        samples = rng.integers(0, len(p), size=(iterations, 3))
        a, b, c = p[samples[:, 0]], p[samples[:, 1]], p[samples[:, 2]]
        normals = np.cross(b - a, c - a)
        norms = np.linalg.norm(normals, axis=1)
        valid = norms > 1e-12
        if not valid.any():
            raise ValueError("fit_plane: the points are collinear")
        normals = normals[valid] / norms[valid, None]
        offsets = -np.einsum("ij,ij->i", normals, a[valid])
        support = (np.abs(p @ normals.T + offsets) < threshold).sum(axis=0)
        best = int(np.argmax(support))
        inliers = np.flatnonzero(np.abs(p @ normals[best] + offsets[best]) < threshold)
        centroid = p[inliers].mean(axis=0)
        _, _, vt = np.linalg.svd(p[inliers] - centroid)
        normal = vt[-1] if np.dot(vt[-1], normals[best]) >= 0 else -vt[-1]
        offset = float(-normal @ centroid)
        return Plane(normal, offset, np.flatnonzero(np.abs(p @ normal + offset) < threshold))

    @staticmethod
    def relative_direction(standpoint, facing, target, up) -> tuple[str, float]:
        """Where `target` is for someone at `standpoint` looking toward `facing` (3D points):
        returns ("front" | "left" | "back" | "right", signed angle in degrees, positive to the
        left), judged from above. `up`: the reconstruction (its `.up` is used) or an up vector;
        there is no default because the up axis depends on the world frame."""
        up = _up_vector(up)

        def flat(v):
            v = np.asarray(v, dtype=np.float64)
            return v - np.dot(v, up) * up

        forward = flat(
            np.asarray(facing, dtype=np.float64) - np.asarray(standpoint, dtype=np.float64)
        )
        to_target = flat(
            np.asarray(target, dtype=np.float64) - np.asarray(standpoint, dtype=np.float64)
        )
        if np.linalg.norm(forward) == 0 or np.linalg.norm(to_target) == 0:
            raise ValueError("relative_direction: the points coincide when seen from above")
        angle = float(
            np.degrees(
                np.arctan2(np.dot(up, np.cross(forward, to_target)), np.dot(forward, to_target))
            )
        )
        sector = ("front", "left", "back", "right")[int(((angle + 45.0) % 360.0) // 90.0)]
        return sector, angle

    @staticmethod
    def box_from_points(
        points, label: str, world_frame: str = FIRST_CAMERA, trim: float = 0.0
    ) -> Box3D:
        """An axis-aligned 3D box around an object's points (N x 3). `trim` (percent) drops that
        share of outliers at each end of every axis. The box is reported with the answer."""
        p = _points(points)
        p = p[np.isfinite(p).all(axis=1)]
        if len(p) == 0:
            raise ValueError("box_from_points needs at least one finite point")
        center, size, rotation = fit_box(p, oriented=False, trim=trim / 100.0)
        return Box3D(
            label=str(label), center=center, size=size, rotation=rotation, world_frame=world_frame
        )

    @staticmethod
    def object_distance(
        points_a, points_b, label_a: str = "a", label_b: str = "b", world_frame: str = FIRST_CAMERA
    ) -> ObjectDistance:
        """Closest-point and centroid distances between two objects' point sets (N x 3, M x 3)."""
        a, b = _points(points_a), _points(points_b)
        a, b = a[np.isfinite(a).all(axis=1)], b[np.isfinite(b).all(axis=1)]
        if len(a) == 0 or len(b) == 0:
            raise ValueError("object_distance needs finite points for both objects")
        return ObjectDistance.between(a, b, str(label_a), str(label_b), world_frame)
