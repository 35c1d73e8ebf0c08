"""A numpy ray-caster: colour, exact depth and instance labels of a `Scene` from pinhole cameras.

Rays are cast through pixel centres (pixel (u, v) has its centre at u, v, the OpenCV convention)
with direction K^-1 [u, v, 1], i.e. unit length along the optical axis, so the ray parameter of a
hit *is* the depth along the optical axis. Shading is Lambert with one directional light plus
ambient, enough to tell faces and objects apart.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from spatialclaw_ros.eval.synthetic.scene import WORLD_FRAME, Scene, SceneObject
from spatialclaw_ros.frames import CameraIntrinsics, Frame, FrameSet

# No y component: the light is symmetric under y -> -y, so mirrored clips are exact image flips.
_LIGHT = np.array([0.5, 0.0, 1.0]) / np.linalg.norm([0.5, 0.0, 1.0])
_AMBIENT = 0.55
_FLOOR_TILE_M = 0.5
_FLOOR_COLOURS = np.array([[150, 150, 145], [128, 128, 124]], dtype=np.float64)
_WALL_COLOUR = np.array([214, 205, 188], dtype=np.float64)
_CEILING_COLOUR = np.array([232, 232, 230], dtype=np.float64)
_MIN_T = 1e-6


def default_intrinsics(
    width: int = 640, height: int = 480, hfov_deg: float = 70.0
) -> CameraIntrinsics:
    """A square-pixel pinhole camera with the given horizontal field of view, centred."""
    f = (width / 2) / np.tan(np.radians(hfov_deg) / 2)
    return CameraIntrinsics(f, f, (width - 1) / 2, (height - 1) / 2, width, height)


def _camera_rays(pose: np.ndarray, k: CameraIntrinsics) -> np.ndarray:
    x = (np.arange(k.width, dtype=np.float64) - k.cx) / k.fx
    y = (np.arange(k.height, dtype=np.float64) - k.cy) / k.fy
    rot = pose[:3, :3]
    # world ray = R @ (x, y, 1): a sum of three broadcast terms, cheaper than a matmul per pixel.
    rays = rot[:, 2] + y[:, None, None] * rot[:, 1] + x[None, :, None] * rot[:, 0]
    return rays.reshape(-1, 3)


def _safe(d: np.ndarray) -> np.ndarray:
    return np.where(np.abs(d) < 1e-12, 1e-12, d)


def _hit_box(p: np.ndarray, d: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    inv = 1.0 / _safe(d)
    t1, t2 = (-half - p) * inv, (half - p) * inv
    near, far = np.minimum(t1, t2), np.maximum(t1, t2)
    t_in, t_out = near.max(axis=1), far.min(axis=1)
    t = np.where((t_in <= t_out) & (t_in > _MIN_T), t_in, np.inf)
    axis = near.argmax(axis=1)
    normal = np.zeros_like(d)
    rows = np.arange(len(d))
    normal[rows, axis] = -np.sign(d[rows, axis])
    return t, normal


def _first_root(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Smallest root of a t^2 + b t + c = 0 beyond the camera, inf where none."""
    disc = b * b - 4 * a * c
    root = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2 * _safe(a))
    return np.where((disc >= 0) & (root > _MIN_T), root, np.inf)


def _hit_ellipsoid(
    p: np.ndarray, d: np.ndarray, half: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    q, e = p / half, d / half
    t = _first_root((e * e).sum(1), 2 * (q * e).sum(1), (q * q).sum(1) - 1)
    surface = q + np.where(np.isfinite(t), t, 0.0)[:, None] * e
    return t, surface / half


def _hit_cylinder(p: np.ndarray, d: np.ndarray, half: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q, e = p[:, :2] / half[:2], d[:, :2] / half[:2]
    t_side = _first_root((e * e).sum(1), 2 * (q * e).sum(1), (q * q).sum(1) - 1)
    z_side = p[:, 2] + np.where(np.isfinite(t_side), t_side, 0.0) * d[:, 2]
    t_side = np.where(np.abs(z_side) <= half[2], t_side, np.inf)
    cap_z = -np.sign(_safe(d[:, 2])) * half[2]  # the cap facing the ray
    t_cap = (cap_z - p[:, 2]) / _safe(d[:, 2])
    on_cap = q + np.where(np.isfinite(t_cap), t_cap, 0.0)[:, None] * e
    t_cap = np.where(((on_cap**2).sum(1) <= 1) & (t_cap > _MIN_T), t_cap, np.inf)
    side_normal = np.column_stack(
        [
            (q + np.where(np.isfinite(t_side), t_side, 0.0)[:, None] * e) / half[:2],
            np.zeros(len(p)),
        ]
    )
    cap_normal = np.zeros_like(p)
    cap_normal[:, 2] = np.sign(cap_z)
    use_cap = t_cap < t_side
    return np.where(use_cap, t_cap, t_side), np.where(use_cap[:, None], cap_normal, side_normal)


_HITTERS = {"box": _hit_box, "sphere": _hit_ellipsoid, "cylinder": _hit_cylinder}


def _hit_object(
    origin: np.ndarray, rays: np.ndarray, inv_len_sq: np.ndarray, obj: SceneObject
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of rays that hit `obj`, their depths and world normals. A bounding-sphere test
    first keeps the exact intersection to the few rays that can hit."""
    to_center = obj.center - origin
    along = rays @ to_center
    radius = np.linalg.norm(obj.size) / 2
    # The squared miss distance of each ray's line from the centre, without a per-ray sqrt.
    near = to_center @ to_center - along * along * inv_len_sq <= radius * radius
    if to_center @ to_center > radius * radius:
        near &= along > 0
    idx = np.flatnonzero(near)
    rot = obj.rotation
    p_local = np.broadcast_to((origin - obj.center) @ rot, (len(idx), 3))
    d_local = rays[idx] @ rot
    t, normal_local = _HITTERS[obj.shape](p_local, d_local, obj.size / 2)
    hit = np.isfinite(t)
    normal = normal_local[hit] @ rot.T
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    return idx[hit], t[hit], normal


def _hit_room(origin: np.ndarray, rays: np.ndarray, scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Depth and albedo of the room's floor, walls and ceiling seen from inside; NaN/zero when the
    camera is outside the room (then the room is not drawn)."""
    lx, ly, h = scene.room_size
    lo, hi = np.array([-lx / 2, -ly / 2, 0.0]), np.array([lx / 2, ly / 2, h])
    n = len(rays)
    if np.any(origin <= lo) or np.any(origin >= hi):
        return np.full(n, np.inf), np.zeros((n, 3))
    d = _safe(rays)
    far = np.maximum((lo - origin) / d, (hi - origin) / d)
    axis = far.argmin(axis=1)
    t = far[np.arange(n), axis]
    point = origin + t[:, None] * rays
    albedo = np.broadcast_to(_WALL_COLOUR, (n, 3)).copy()
    floor = (axis == 2) & (rays[:, 2] < 0)
    # Tiles centred on y = 0 so the floor is symmetric under y -> -y (mirrored clips flip exactly).
    tile = (
        np.floor(point[:, 0] / _FLOOR_TILE_M) + np.floor(point[:, 1] / _FLOOR_TILE_M + 0.5)
    ).astype(np.int64) & 1
    albedo[floor] = _FLOOR_COLOURS[tile[floor]]
    albedo[(axis == 2) & (rays[:, 2] > 0)] = _CEILING_COLOUR
    normal = np.zeros((n, 3))
    normal[np.arange(n), axis] = -np.sign(d[np.arange(n), axis])
    return t, albedo * _shade(normal)[:, None]


def _shade(normal: np.ndarray) -> np.ndarray:
    return _AMBIENT + (1 - _AMBIENT) * np.clip(normal @ _LIGHT, 0.0, 1.0)


def render_frame(
    scene: Scene,
    pose: np.ndarray,
    intrinsics: CameraIntrinsics,
    index: int = 0,
    timestamp: float = 0.0,
    camera: str = "camera",
) -> Frame:
    """One view: RGB, depth (metres along the optical axis, NaN where nothing is hit), instance
    labels (object i of the scene has id i + 1, the room 0) and names of the visible objects."""
    pose = np.asarray(pose, dtype=np.float64)
    if pose.shape != (4, 4):
        raise ValueError(f"camera pose must be a 4x4 camera-to-world matrix, got {pose.shape}")
    origin = pose[:3, 3]
    rays = _camera_rays(pose, intrinsics)
    depth, colour = _hit_room(origin, rays, scene)
    labels = np.zeros(len(rays), dtype=np.int32)
    inv_len_sq = 1.0 / np.einsum("ij,ij->i", rays, rays)
    for label, obj in enumerate(scene.objects, start=1):
        idx, t, normal = _hit_object(origin, rays, inv_len_sq, obj)
        nearer = t < depth[idx]
        idx, t, normal = idx[nearer], t[nearer], normal[nearer]
        depth[idx] = t
        labels[idx] = label
        colour[idx] = np.asarray(obj.color, dtype=np.float64) * _shade(normal)[:, None]
    shape = (intrinsics.height, intrinsics.width)
    depth = np.where(np.isfinite(depth), depth, np.nan).astype(np.float32).reshape(shape)
    image = np.clip(np.rint(colour), 0, 255).astype(np.uint8).reshape(shape + (3,))
    labels = labels.reshape(shape)
    visible = {int(i): scene.objects[i - 1].name for i in np.unique(labels) if i > 0}
    return Frame(image, index, float(timestamp), camera, depth, intrinsics, pose, labels, visible)


def render(
    scene: Scene | Sequence[Scene],
    poses: Sequence[np.ndarray],
    intrinsics: CameraIntrinsics,
    timestamps: Sequence[float] | None = None,
    camera: str = "camera",
) -> FrameSet:
    """Render one frame per pose. `scene` may be one scene or one per pose (moving objects).
    Timestamps default to 0.1 s apart."""
    poses = list(poses)
    scenes = [scene] * len(poses) if isinstance(scene, Scene) else list(scene)
    if len(scenes) != len(poses):
        raise ValueError(f"got {len(scenes)} scenes for {len(poses)} poses")
    times = (
        [0.1 * i for i in range(len(poses))]
        if timestamps is None
        else [float(t) for t in timestamps]
    )
    if len(times) != len(poses):
        raise ValueError(f"got {len(times)} timestamps for {len(poses)} poses")
    frames = [
        render_frame(s, p, intrinsics, i, t, camera)
        for i, (s, p, t) in enumerate(zip(scenes, poses, times, strict=True))
    ]
    return FrameSet(frames, world_frame=WORLD_FRAME, name=scenes[0].name)
