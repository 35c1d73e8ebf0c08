"""Clips: a scene (one per frame when objects move) seen along a camera path, rendered.

Families follow the paper's categories: a single image; 2-4 views (rotation in place, an orbit,
standing between two objects); videos of 8-32 frames (the camera moves, or one object moves).
Videos also come in DSI-Bench-style variants: mirrored (the world reflected left-right, which
renders exactly as a horizontally flipped image with proper camera poses) and time-reversed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from spatialclaw_ros.eval.synthetic.render import render
from spatialclaw_ros.eval.synthetic.scene import Scene, SceneObject, look_at, rot_z
from spatialclaw_ros.frames import CameraIntrinsics, Frame, FrameSet

VARIANTS = ("original", "mirrored", "reversed", "mirrored_reversed")
# An object counts as seen in a frame when it covers this share of the image and its centre's
# pixel shows it; anything less visible makes questions about it ambiguous.
MIN_VISIBLE_SHARE = 0.003
_EYE_HEIGHT = (1.2, 1.7)
_MIRROR = np.diag([1.0, -1.0, 1.0])


@dataclass
class Clip:
    """What one media group shows: per-frame scenes and camera poses, and the rendered frames."""

    id: str
    family: str
    kind: str  # single, rotation, orbit, between, camera_motion, object_motion
    scenes: list[Scene]
    poses: list[np.ndarray]
    timestamps: list[float]
    intrinsics: CameraIntrinsics
    variant: str = "original"
    moving: str | None = None  # the moving object's name in object_motion clips
    frames: FrameSet | None = None

    def __len__(self) -> int:
        return len(self.poses)

    def rendered_frames(self) -> FrameSet:
        """The rendered frames; asking before the clip was rendered is an error."""
        if self.frames is None:
            raise ValueError(f"clip {self.id} has not been rendered")
        return self.frames

    def rendered(self) -> Clip:
        frames = render(self.scenes, self.poses, self.intrinsics, self.timestamps)
        frames.name = self.id
        return dataclasses.replace(self, frames=frames)

    def center(self, name: str, i: int) -> np.ndarray:
        return self.scenes[i][name].center

    def camera_position(self, i: int) -> np.ndarray:
        return self.poses[i][:3, 3]

    def in_camera(self, point: np.ndarray, i: int) -> np.ndarray:
        """A world point in frame i's optical frame (x right, y down, z forward)."""
        pose = self.poses[i]
        return pose[:3, :3].T @ (np.asarray(point) - pose[:3, 3])


@dataclass(frozen=True)
class Sighting:
    """How well one object shows in one frame."""

    pixels: int
    center_pixel: tuple[int, int] | None  # (u, v) of its projected centre, when inside the image
    clear: bool


def rendered_layers(frame: Frame) -> tuple[np.ndarray, np.ndarray]:
    """Depth and label image of a rendered frame (renders always carry both)."""
    if frame.depth is None or frame.labels is None:
        raise ValueError(f"frame {frame.index} is not a render: it lacks depth or labels")
    return frame.depth, frame.labels


def sightings(clip: Clip, i: int) -> dict[str, Sighting]:
    """Every object's visibility in rendered frame i, from its label image."""
    _, labels = rendered_layers(clip.rendered_frames()[i])
    k = clip.intrinsics
    counts = np.bincount(labels.ravel(), minlength=len(clip.scenes[i].objects) + 1)
    result = {}
    for obj in clip.scenes[i].objects:
        label = clip.scenes[i].label_id(obj.name)
        p = clip.in_camera(obj.center, i)
        pixel = None
        if p[2] > 0:
            u, v = int(round(k.fx * p[0] / p[2] + k.cx)), int(round(k.fy * p[1] / p[2] + k.cy))
            if 0 <= u < k.width and 0 <= v < k.height:
                pixel = (u, v)
        shown = pixel is not None and labels[pixel[1], pixel[0]] == label
        clear = shown and counts[label] >= MIN_VISIBLE_SHARE * k.width * k.height
        result[obj.name] = Sighting(int(counts[label]), pixel, bool(clear))
    return result


def _eye(rng: np.random.Generator, scene: Scene, margin: float = 0.35) -> np.ndarray:
    """A standing camera position inside the room, clear of every object."""
    half = np.array(scene.room_size[:2]) / 2 - margin
    for _ in range(200):
        xy = rng.uniform(-half, half)
        if all(np.hypot(*(xy - o.center[:2])) > o.footprint_radius + 0.3 for o in scene.objects):
            return np.array([xy[0], xy[1], rng.uniform(*_EYE_HEIGHT)])
    raise ValueError("no free spot for the camera in this scene")


def _target(rng: np.random.Generator, scene: Scene) -> np.ndarray:
    picks = rng.choice(len(scene.objects), size=min(3, len(scene.objects)), replace=False)
    return np.mean([scene.objects[i].center for i in picks], axis=0)


def _yawed(pose: np.ndarray, yaw: float) -> np.ndarray:
    """The pose turned by `yaw` radians about the world z axis (left positive) in place."""
    turned = pose.copy()
    turned[:3, :3] = rot_z(yaw) @ pose[:3, :3]
    return turned


def _times(n: int, fps: float) -> list[float]:
    return [i / fps for i in range(n)]


def single_view(clip_id: str, scene: Scene, k: CameraIntrinsics, rng: np.random.Generator) -> Clip:
    pose = look_at(_eye(rng, scene), _target(rng, scene))
    return Clip(clip_id, "single_image", "single", [scene], [pose], [0.0], k)


def rotation_in_place(
    clip_id: str, scene: Scene, k: CameraIntrinsics, rng: np.random.Generator
) -> Clip:
    n = int(rng.integers(2, 5))
    start = look_at(_eye(rng, scene), _target(rng, scene))
    step = np.radians(rng.uniform(25, 45)) * rng.choice([-1, 1])
    poses = [_yawed(start, step * i) for i in range(n)]
    return Clip(clip_id, "multi_view", "rotation", [scene] * n, poses, _times(n, 1.0), k)


def orbit(clip_id: str, scene: Scene, k: CameraIntrinsics, rng: np.random.Generator) -> Clip:
    n = int(rng.integers(2, 5))
    pivot = _target(rng, scene)
    eye = _eye(rng, scene)
    radius, start = np.hypot(*(eye - pivot)[:2]), np.arctan2(*(eye - pivot)[1::-1])
    step = np.radians(rng.uniform(20, 35)) * rng.choice([-1, 1])
    poses = []
    for i in range(n):
        angle = start + step * i
        at = pivot + [radius * np.cos(angle), radius * np.sin(angle), 0.0]
        at[2] = eye[2]
        poses.append(look_at(at, pivot))
    return Clip(clip_id, "multi_view", "orbit", [scene] * n, poses, _times(n, 1.0), k)


def between(clip_id: str, scene: Scene, k: CameraIntrinsics, rng: np.random.Generator) -> Clip:
    """Stand midway between two objects; view 1 faces the first, view 2 the second (half a turn),
    optional views 3-4 face sideways."""
    a, b = rng.choice(len(scene.objects), size=2, replace=False)
    mid = (scene.objects[a].center + scene.objects[b].center) / 2
    eye = np.array([mid[0], mid[1], rng.uniform(*_EYE_HEIGHT)])
    ahead = scene.objects[a].center.copy()
    ahead[2] = eye[2] - 0.6
    first = look_at(eye, ahead)
    turns = [0.0, np.pi] + list(
        rng.permutation([np.pi / 2, -np.pi / 2])[: int(rng.integers(0, 3))]
    )
    poses = [_yawed(first, t) for t in turns]
    return Clip(
        clip_id, "multi_view", "between", [scene] * len(poses), poses, _times(len(poses), 1.0), k
    )


def _moved_to(pose: np.ndarray, eye: np.ndarray) -> np.ndarray:
    moved = pose.copy()
    moved[:3, 3] = eye
    return moved


def camera_motion(
    clip_id: str, scene: Scene, k: CameraIntrinsics, rng: np.random.Generator, n: int, fps: float
) -> Clip:
    """The camera walks a straight line (forward, backward or sideways) while panning, so objects
    come into view one after another."""
    half = np.array(scene.room_size[:2]) / 2 - 0.4
    for _ in range(100):
        eye = _eye(rng, scene)
        pose = look_at(eye, _target(rng, scene))
        forward = pose[:3, 2] * [1, 1, 0]
        forward /= np.linalg.norm(forward)
        heading = rot_z(rng.choice([0.0, np.pi, np.pi / 2, -np.pi / 2])) @ forward
        end = eye + heading * rng.uniform(1.2, 2.5)
        pan = np.radians(rng.uniform(60, 110)) * rng.choice([-1, 1])
        if np.all(np.abs(end[:2]) < half) and _path_clear(scene, eye, end):
            start = _yawed(pose, -pan / 2)
            poses = [
                _moved_to(_yawed(start, pan * i / (n - 1)), eye + (end - eye) * i / (n - 1))
                for i in range(n)
            ]
            return Clip(clip_id, "video", "camera_motion", [scene] * n, poses, _times(n, fps), k)
    raise ValueError("no clear straight camera path in this scene")


def _distance_to_path(point: np.ndarray, start: np.ndarray, end: np.ndarray) -> float:
    """Ground-plane distance from `point` to the segment start-end."""
    seg = end[:2] - start[:2]
    t = np.clip(np.dot(point[:2] - start[:2], seg) / max(np.dot(seg, seg), 1e-12), 0, 1)
    return float(np.hypot(*(start[:2] + t * seg - point[:2])))


def _path_clear(scene: Scene, start: np.ndarray, end: np.ndarray, clearance: float = 0.3) -> bool:
    return all(
        _distance_to_path(o.center, start, end) >= o.footprint_radius + clearance
        for o in scene.objects
    )


def object_motion(
    clip_id: str, scene: Scene, k: CameraIntrinsics, rng: np.random.Generator, n: int, fps: float
) -> Clip:
    """A fixed camera watches one object slide along the floor in a straight line."""
    half = np.array(scene.room_size[:2]) / 2 - 0.4
    for _ in range(200):
        mover: SceneObject = scene.objects[int(rng.integers(len(scene.objects)))]
        angle = rng.uniform(-np.pi, np.pi)
        end = mover.center + rng.uniform(1.0, 2.2) * np.array([np.cos(angle), np.sin(angle), 0.0])
        others = Scene(tuple(o for o in scene.objects if o.name != mover.name), scene.room_size)
        if np.any(np.abs(end[:2]) > half - mover.footprint_radius) or not _path_clear(
            others, mover.center, end, mover.footprint_radius + 0.15
        ):
            continue
        eye = _eye(rng, scene)
        if _distance_to_path(eye, mover.center, end) < mover.footprint_radius + 1.2:
            continue
        pose = look_at(eye, (mover.center + end) / 2)
        scenes = [
            scene.with_object(mover.moved_to(mover.center + (end - mover.center) * i / (n - 1)))
            for i in range(n)
        ]
        return Clip(
            clip_id,
            "video",
            "object_motion",
            scenes,
            [pose] * n,
            _times(n, fps),
            k,
            moving=mover.name,
        )
    raise ValueError("no clear straight path for a moving object in this scene")


def _mirror_scene(scene: Scene) -> Scene:
    objects = tuple(
        dataclasses.replace(o, center=_MIRROR @ o.center, yaw=-o.yaw) for o in scene.objects
    )
    return Scene(objects, scene.room_size, scene.name)


def _mirror_pose(pose: np.ndarray) -> np.ndarray:
    """Reflect the camera through the plane y = 0; negating the image x axis keeps a proper
    rotation, so the rendered image is exactly the original flipped left-right."""
    mirrored = np.eye(4)
    mirrored[:3, :3] = _MIRROR @ pose[:3, :3] @ np.diag([-1.0, 1.0, 1.0])
    mirrored[:3, 3] = _MIRROR @ pose[:3, 3]
    return mirrored


def variant(clip: Clip, name: str) -> Clip:
    """The clip as a DSI-style variant (unrendered): mirrored, reversed in time, or both."""
    if name not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {name!r}")
    scenes, poses = list(clip.scenes), list(clip.poses)
    if "mirrored" in name:
        scenes, poses = [_mirror_scene(s) for s in scenes], [_mirror_pose(p) for p in poses]
    if "reversed" in name:
        scenes, poses = scenes[::-1], poses[::-1]
    return dataclasses.replace(
        clip, id=f"{clip.id}_{name}", scenes=scenes, poses=poses, variant=name, frames=None
    )
