"""Synthetic scenes: named coloured primitives of real size standing in a room.

World frame "map" (REP-103): x forward, y left, z up, metres; the floor is z = 0 and the room is
centred on the origin. Cameras use OpenCV optical axes (x right, y down, z forward), so a pose
from `look_at` can go straight into `Frame.pose`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

WORLD_FRAME = "map"
SHAPES = ("box", "sphere", "cylinder")

# Saturated colours only: the room is neutral grey/beige, so no object can blend into a wall.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (205, 40, 40),
    "green": (40, 165, 65),
    "blue": (45, 75, 210),
    "yellow": (235, 205, 40),
    "orange": (245, 135, 30),
    "purple": (135, 55, 175),
    "cyan": (40, 195, 205),
    "pink": (245, 125, 185),
    "brown": (125, 75, 35),
}


def rot_z(yaw: float) -> np.ndarray:
    """The 3x3 rotation by `yaw` radians about the z axis (counter-clockwise seen from above)."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class SceneObject:
    """One primitive. `size` is its full extent along its own x, y, z axes (metres); `yaw` turns
    it about the world z axis (radians). A sphere with unequal sizes is an ellipsoid; a cylinder
    stands upright with an elliptical section of size[0] x size[1]."""

    name: str
    shape: str
    color: tuple[int, int, int]
    center: np.ndarray
    size: np.ndarray
    yaw: float = 0.0

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ValueError(
                f"object {self.name!r}: shape must be one of {SHAPES}, got {self.shape!r}"
            )
        center = np.asarray(self.center, dtype=np.float64).reshape(-1)
        size = np.asarray(self.size, dtype=np.float64).reshape(-1)
        if center.shape != (3,) or size.shape != (3,):
            raise ValueError(f"object {self.name!r}: center and size must have 3 values")
        if not np.all(np.isfinite(center)) or not np.all(size > 0):
            raise ValueError(
                f"object {self.name!r}: center must be finite and sizes positive, got {size}"
            )
        color = tuple(int(c) for c in self.color)
        if len(color) != 3 or not all(0 <= c <= 255 for c in color):
            raise ValueError(
                f"object {self.name!r}: color must be 3 values in 0-255, got {self.color}"
            )
        object.__setattr__(self, "center", center)
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "color", color)
        object.__setattr__(self, "yaw", float(self.yaw))

    @property
    def rotation(self) -> np.ndarray:
        """Object-to-world rotation (columns: the object's axes in the world)."""
        return rot_z(self.yaw)

    @property
    def footprint_radius(self) -> float:
        """Radius of a vertical cylinder around the centre that contains the whole object."""
        return float(np.hypot(self.size[0], self.size[1]) / 2)

    @property
    def height(self) -> float:
        return float(self.size[2])

    def moved_to(self, center: np.ndarray) -> SceneObject:
        return dataclasses.replace(self, center=np.asarray(center, dtype=np.float64))

    def surface_points(self, n: int = 400, seed: int = 0) -> np.ndarray:
        """Points on the object's surface (world frame), for closest-distance measurements."""
        rng = np.random.default_rng(seed)
        unit = rng.normal(size=(n, 3))
        unit /= np.linalg.norm(unit, axis=1, keepdims=True)
        half = self.size / 2
        if self.shape == "sphere":
            local = unit * half
        elif self.shape == "box":
            local = unit / np.max(np.abs(unit) / half, axis=1, keepdims=True)
        else:
            ring = unit[:, :2] / np.linalg.norm(unit[:, :2], axis=1, keepdims=True)
            local = np.column_stack([ring * half[:2], rng.uniform(-half[2], half[2], n)])
        return local @ self.rotation.T + self.center


@dataclass(frozen=True)
class Scene:
    """Objects in a room of `room_size` = (x length, y width, height) metres centred on the
    origin."""

    objects: tuple[SceneObject, ...]
    room_size: tuple[float, float, float] = (8.0, 6.0, 3.0)
    name: str = ""
    _index: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        objects = tuple(self.objects)
        room = tuple(float(v) for v in self.room_size)
        if len(room) != 3 or min(room) <= 0:
            raise ValueError(f"room_size must be 3 positive lengths, got {self.room_size}")
        names = [o.name for o in objects]
        if len(set(names)) != len(names):
            raise ValueError(f"object names must be unique in a scene, got {names}")
        object.__setattr__(self, "objects", objects)
        object.__setattr__(self, "room_size", room)
        self._index.update({n: i for i, n in enumerate(names)})

    def __getitem__(self, name: str) -> SceneObject:
        try:
            return self.objects[self._index[name]]
        except KeyError:
            raise KeyError(
                f"no object {name!r} in the scene; it has {sorted(self._index)}"
            ) from None

    def label_id(self, name: str) -> int:
        """Instance id of an object in rendered label images (0 is the room)."""
        self[name]
        return self._index[name] + 1

    @property
    def names(self) -> list[str]:
        return [o.name for o in self.objects]

    def with_object(self, obj: SceneObject) -> Scene:
        """The same scene with the object of the same name replaced (e.g. moved)."""
        i = self._index[obj.name]
        objects = self.objects[:i] + (obj,) + self.objects[i + 1 :]
        return Scene(objects, self.room_size, self.name)


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Camera-to-world pose of a camera at `eye` looking at `target`, OpenCV optical axes."""
    eye = np.asarray(eye, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - eye
    if np.linalg.norm(forward) < 1e-9:
        raise ValueError("look_at: eye and target coincide")
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, dtype=np.float64))
    if np.linalg.norm(right) < 1e-9:
        raise ValueError("look_at: viewing direction is parallel to the up vector")
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, down, forward, eye
    return pose


def _random_object(
    rng: np.random.Generator, name: str, color: tuple[int, int, int], shape: str
) -> SceneObject:
    if shape == "box":
        size = np.array([rng.uniform(0.3, 1.0), rng.uniform(0.3, 1.0), rng.uniform(0.3, 1.1)])
    elif shape == "sphere":
        size = np.full(3, rng.uniform(0.3, 0.8))
    else:
        diameter = rng.uniform(0.25, 0.7)
        size = np.array([diameter, diameter, rng.uniform(0.4, 1.2)])
    yaw = rng.uniform(-np.pi, np.pi) if shape == "box" else 0.0
    return SceneObject(name, shape, color, np.array([0.0, 0.0, size[2] / 2]), size, yaw)


def random_scene(
    seed: int,
    n_objects: int = 6,
    room_size: tuple[float, float, float] = (8.0, 6.0, 3.0),
    gap: float = 0.4,
) -> Scene:
    """Objects standing on the floor at random, at least `gap` metres apart and off the walls.
    Names are `<colour>_<shape>`, unique per scene."""
    kinds = [(c, s) for c in PALETTE for s in SHAPES]
    if not 1 <= n_objects <= len(kinds):
        raise ValueError(f"n_objects must be 1..{len(kinds)}, got {n_objects}")
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(kinds), size=n_objects, replace=False)
    half = np.array(room_size[:2]) / 2 - 0.6
    placed: list[SceneObject] = []
    for k in picks:
        colour, shape = kinds[k]
        obj = _random_object(rng, f"{colour}_{shape}", PALETTE[colour], shape)
        for _ in range(500):
            xy = rng.uniform(-half, half)
            if all(
                np.hypot(*(xy - o.center[:2])) > obj.footprint_radius + o.footprint_radius + gap
                for o in placed
            ):
                break
        else:
            raise ValueError(
                f"could not place {n_objects} objects in a {room_size[0]}x{room_size[1]} m room"
            )
        placed.append(obj.moved_to(np.array([xy[0], xy[1], obj.center[2]])))
    return Scene(tuple(placed), room_size, name=f"scene_{seed}")
