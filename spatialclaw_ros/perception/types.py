"""What perception returns. Pure numpy: these objects cross into the kernel's worker process.

World frame: `Reconstruction.world_frame` names it. With robot poses (sensor/fused backends)
it is the robot's frame (e.g. "map"); otherwise it is the first reconstructed frame's camera
("first_camera"), OpenCV axes (x right, y down, z forward).

Frame indices everywhere are `Frame.index` values (the frame's number in its video), not
positions in a list. Up: `Reconstruction.up` is the world's up direction (+z in a robot frame,
REP-103; the cameras' mean -y in a camera-first world).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from spatialclaw_ros.frames import Frame, FrameSet
from spatialclaw_ros.perception import geometry
from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.inputs import select_frames

FIRST_CAMERA = "first_camera"
ROBOT_UP = np.array([0.0, 0.0, 1.0])  # REP-103: z up in map, odom, base_link and the like


class FrameArray(np.ndarray):
    """A per-frame array of a Reconstruction whose first axis is indexed by frame number
    (`.frame_index`), like every other frame reference: `recon.extrinsics[12]` is frame 12's
    pose whichever row holds it, and a number that is not one of the frames is refused rather
    than read as a row. Slices and boolean masks index rows; results are plain arrays."""

    frame_indices: tuple[int, ...]

    def __new__(cls, array: np.ndarray, frame_indices: Sequence[int]) -> FrameArray:
        framed = np.asarray(array).view(cls)
        framed.frame_indices = tuple(int(i) for i in frame_indices)
        return framed

    def __array_finalize__(self, obj) -> None:
        # only the array built in __new__ has frames along its first axis: views and copies that
        # numpy makes internally (ravel, partition, ...) index plainly
        self.frame_indices = ()

    def __array_wrap__(self, out_arr, context=None, return_scalar=False):
        plain = np.asarray(out_arr).view(np.ndarray)  # arithmetic and reductions: plain arrays
        return plain[()] if return_scalar else plain

    def _row(self, frame) -> int:
        frame = int(frame)
        if frame not in self.frame_indices:
            raise IndexError(
                f"frame {frame} is not in this reconstruction: its arrays are indexed "
                "by frame number "
                f"(.frame_index), and its frames are {list(self.frame_indices)}; the n-th one is "
                "recon.frame_indices[n]"
            )
        return self.frame_indices.index(frame)

    def __getitem__(self, key):
        if not self.frame_indices:
            return self.view(np.ndarray)[key]
        head, rest = (key[0], key[1:]) if isinstance(key, tuple) and key else (key, ())
        if isinstance(head, (int, np.integer)) and not isinstance(head, (bool, np.bool_)):
            head = self._row(head)
        elif isinstance(head, (list, np.ndarray)) and np.asarray(head).dtype.kind in "iu":
            head = [self._row(i) for i in np.asarray(head).reshape(-1)]
        return self.view(np.ndarray)[(head, *rest) if isinstance(key, tuple) else head]

    def __iter__(self):
        return iter(self.view(np.ndarray))

    def __repr__(self) -> str:
        plain = repr(self.view(np.ndarray))
        return (
            f"{plain} (indexed by frame number: {list(self.frame_indices)})"
            if self.frame_indices
            else plain
        )

    def __str__(self) -> str:
        return str(self.view(np.ndarray))

    def __reduce__(self):
        return np.asarray(self).__reduce__()


@dataclass
class Box3D:
    """An object's 3D extent: centre, size along its axes, and axes as a rotation (world frame)."""

    label: str
    center: np.ndarray  # (3,)
    size: np.ndarray  # (3,) metres when the reconstruction is metric
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))  # columns = box axes in world
    confidence: float = 1.0
    frame_indices: list[int] = field(default_factory=list)
    world_frame: str = FIRST_CAMERA

    def corners(self) -> np.ndarray:
        """(8, 3) corner points in the world frame."""
        return geometry.box_corners(self.center, self.size, self.rotation)

    def extent_along(self, direction) -> float:
        """The box's extent along a world direction, e.g. `box.extent_along(recon.up)` for its
        height. `size` is along the box's own axes (`rotation` columns), not the world's."""
        unit = np.asarray(direction, dtype=np.float64) / np.linalg.norm(direction)
        along = self.corners() @ unit
        return float(along.max() - along.min())

    def __repr__(self) -> str:
        def vector(v) -> str:
            return "(" + ", ".join(f"{x:.3f}" for x in np.asarray(v).reshape(-1)) + ")"

        return (
            f"Box3D({self.label!r}, center={vector(self.center)}, "
            f"size={vector(self.size)} along its axes, "
            f"frames={self.frame_indices}, world={self.world_frame!r})"
        )


@dataclass
class ObjectDistance:
    """The distance between two objects: closest points and centroids."""

    label_a: str
    label_b: str
    closest: float  # smallest point-to-point distance
    point_a: np.ndarray  # (3,) closest point on a
    point_b: np.ndarray  # (3,) closest point on b
    centroid_distance: float
    centroid_a: np.ndarray
    centroid_b: np.ndarray
    world_frame: str = FIRST_CAMERA

    @classmethod
    def between(
        cls,
        points_a: np.ndarray,
        points_b: np.ndarray,
        label_a: str,
        label_b: str,
        world_frame: str = FIRST_CAMERA,
    ) -> ObjectDistance:
        """Closest points and centroids of two non-empty point sets (N x 3, M x 3)."""
        closest, point_a, point_b = geometry.closest_points(points_a, points_b)
        centroid_a, centroid_b = points_a.mean(axis=0), points_b.mean(axis=0)
        return cls(
            label_a,
            label_b,
            closest,
            point_a,
            point_b,
            float(np.linalg.norm(centroid_a - centroid_b)),
            centroid_a,
            centroid_b,
            world_frame,
        )


@dataclass
class ObjectMask:
    """One object in one frame."""

    mask: np.ndarray  # (H, W) bool at the frame's input resolution
    label: str
    score: float
    frame_index: int
    object_id: int = 0

    @property
    def area(self) -> int:
        return int(np.count_nonzero(self.mask))

    def __repr__(self) -> str:
        h, w = np.shape(self.mask)
        return (
            f"ObjectMask({self.label!r}, frame_index={self.frame_index}, "
            f"object_id={self.object_id}, "
            f"score={self.score:.2f}, area={self.area} px of {w}x{h})"
        )


@dataclass
class Segmentation:
    """The masks one SAM3 call produced: possibly several objects, possibly several frames."""

    masks: list[ObjectMask]
    prompt: str = ""

    def __len__(self) -> int:
        return len(self.masks)

    def __repr__(self) -> str:
        if not self.masks:
            return (
                f"Segmentation({self.prompt!r}: 0 masks; rephrase the prompt, or find "
                "the object with "
                "vlm.locate and prompt with points)"
            )
        return (
            f"Segmentation({self.prompt!r}: {len(self.masks)} masks, labels {self.labels}, "
            f"frames {self.frame_indices}, objects {self.object_ids})"
        )

    @property
    def labels(self) -> list[str]:
        return sorted({m.label for m in self.masks})

    @property
    def frame_indices(self) -> list[int]:
        return sorted({m.frame_index for m in self.masks})

    @property
    def object_ids(self) -> list[int]:
        return sorted({m.object_id for m in self.masks})

    def for_frame(self, frame_index: int) -> list[ObjectMask]:
        """The masks on one frame, best score first."""
        return sorted(
            (m for m in self.masks if m.frame_index == frame_index), key=lambda m: -m.score
        )

    def for_object(self, object_id: int) -> list[ObjectMask]:
        """One tracked object through the frames, in frame order."""
        return sorted(
            (m for m in self.masks if m.object_id == object_id), key=lambda m: m.frame_index
        )

    def best(self, label: str | None = None) -> ObjectMask:
        """The highest-scoring mask (of `label` if given)."""
        candidates = [m for m in self.masks if label is None or m.label == label]
        if not candidates:
            known = ", ".join(self.labels) or "none"
            raise PerceptionError(
                f"no mask{' labelled ' + repr(label) if label else ''} in this result "
                f"(labels: {known})"
            )
        return max(candidates, key=lambda m: (m.score, m.area))

    def points(
        self, reconstruction: Reconstruction, object_id: int | None = None
    ) -> dict[int, np.ndarray]:
        """World points of the masks (of one object if given), per frame index, for frames the
        reconstruction covers."""
        per_frame: dict[int, list[np.ndarray]] = {}
        for m in self.masks:
            if (
                object_id is None or m.object_id == object_id
            ) and m.frame_index in reconstruction.frame_indices:
                per_frame.setdefault(m.frame_index, []).append(
                    reconstruction.points_of(m, allow_empty=True)
                )
        return {i: np.concatenate(p) for i, p in sorted(per_frame.items())}


MaskLike = ObjectMask | np.ndarray | Segmentation | Sequence[ObjectMask]


@dataclass
class Reconstruction:
    """Per-frame depth, intrinsics and camera-to-world poses for a set of frames of one scene.
    In the kernel its per-frame arrays are indexed by frame number: extrinsics[f] is frame f's."""

    depth: np.ndarray  # (N, H, W) float32; metres if is_metric; NaN invalid
    confidence: np.ndarray  # (N, H, W) float32, higher is better
    intrinsics: np.ndarray  # (N, 3, 3) at input resolution
    extrinsics: np.ndarray  # (N, 4, 4) camera-to-world, OpenCV axes
    is_metric: bool
    frame_indices: list[int]  # Frame.index of each entry
    backend: str
    world_frame: str = FIRST_CAMERA

    def __len__(self) -> int:
        return len(self.frame_indices)

    def __repr__(self) -> str:
        n, h, w = np.shape(self.depth)
        scale = "metric" if self.is_metric else "relative scale"
        return (
            f"Reconstruction({n} frames {self.frame_indices}, {w}x{h}, {scale}, backend "
            f"{self.backend!r}, "
            f"world {self.world_frame!r}, up {tuple(round(float(v), 3) for v in self.up)})"
        )

    @property
    def up(self) -> np.ndarray:
        """Unit vector of the world's up direction: +z in a robot frame (map, odom, ...); in a
        camera-first world the mean of the cameras' up (-y) axes, as cameras are held roughly
        level (fit the floor with tools.Geometry.fit_plane where that is not so)."""
        if self.world_frame != FIRST_CAMERA:
            return ROBOT_UP.copy()
        mean = -np.asarray(self.extrinsics)[:, :3, 1].mean(axis=0)
        norm = np.linalg.norm(mean)
        return mean / norm if norm > 1e-9 else -np.asarray(self.extrinsics)[0, :3, 1]

    def height(self, mask: MaskLike, frame_index: int | None = None, trim: float = 0.0) -> float:
        """An object's height: the extent of its masked points along `up` (metres if metric).
        `trim` drops that fraction of points at the bottom and the top (stray depth pixels)."""
        along = self._object_points(mask, frame_index)[1] @ self.up
        low, high = (
            np.quantile(along, [trim, 1 - trim]) if trim > 0 else (along.min(), along.max())
        )
        return float(high - low)

    def indexed_by_frame(self) -> Reconstruction:
        """The same reconstruction with its per-frame arrays indexed by frame number
        (FrameArray)."""
        arrays: dict[str, Any] = {
            name: FrameArray(getattr(self, name), self.frame_indices) for name in _PER_FRAME
        }
        return replace(self, **arrays)

    def _positional(self) -> Reconstruction:
        """The same reconstruction with plain row-indexed arrays, for code that walks the rows."""
        arrays: dict[str, Any] = {name: np.asarray(getattr(self, name)) for name in _PER_FRAME}
        return replace(self, **arrays)

    def row(self, frame_index: int) -> int:
        """Position of a frame index in the arrays."""
        try:
            return self.frame_indices.index(frame_index)
        except ValueError:
            raise PerceptionError(
                f"frame {frame_index} is not in this reconstruction (frames: {self.frame_indices})"
            ) from None

    def camera_centers(self) -> np.ndarray:
        """(N, 3) camera positions in the world frame."""
        return self.extrinsics[:, :3, 3].copy()

    def point_map(self, frame_index: int) -> np.ndarray:
        """(H, W, 3) world point per pixel of one frame, NaN where depth is invalid."""
        i, rows = self.row(frame_index), self._positional()
        return geometry.point_map(rows.depth[i], rows.intrinsics[i], rows.extrinsics[i])

    def points_of(
        self,
        mask: ObjectMask | np.ndarray,
        frame_index: int | None = None,
        min_confidence: float | None = None,
        allow_empty: bool = False,
    ) -> np.ndarray:
        """World points (K, 3) under a mask. A bare bool array needs `frame_index` unless the
        reconstruction has one frame."""
        array, frame_index = self._mask_and_frame(mask, frame_index)
        i, rows = self.row(frame_index), self._positional()
        if min_confidence is not None:
            array = array & (rows.confidence[i] >= min_confidence)
        points = geometry.backproject(rows.depth[i], rows.intrinsics[i], rows.extrinsics[i], array)
        if len(points) == 0 and not allow_empty:
            raise PerceptionError(
                f"the mask on frame {frame_index} covers no pixel with valid depth"
            )
        return points

    def centroid(self, mask: MaskLike, frame_index: int | None = None) -> np.ndarray:
        """Mean world position of the masked points (over all frames given)."""
        return self._object_points(mask, frame_index)[1].mean(axis=0)

    def box_3d(
        self,
        mask: MaskLike,
        frame_index: int | None = None,
        oriented: bool = True,
        trim: float = 0.0,
        label: str | None = None,
        upright: bool = False,
    ) -> Box3D:
        """A 3D box around the masked points: oriented by PCA, or aligned with the world axes.
        `size` is along the box's own axes (`rotation` columns), so size[2] is a height only for
        an upright box: upright=True stands the box on `up` (size[2] is then the height along up)
        and turns it about up to fit the object's footprint."""
        name, points, frames, confidence = self._object_points(mask, frame_index)
        if upright:
            axes = self._upright_axes(points)
            local_center, size, _ = geometry.fit_box(points @ axes, oriented=False, trim=trim)
            center, rotation = axes @ local_center, axes
        else:
            center, size, rotation = geometry.fit_box(points, oriented=oriented, trim=trim)
        return Box3D(label or name, center, size, rotation, confidence, frames, self.world_frame)

    def _upright_axes(self, points: np.ndarray) -> np.ndarray:
        """Columns: the footprint's main horizontal direction, the other horizontal one, up."""
        up = self.up
        flat = points - np.outer(points @ up, up)
        flat = flat - flat.mean(axis=0)
        _, vectors = np.linalg.eigh(flat.T @ flat)
        first = vectors[:, -1] - (vectors[:, -1] @ up) * up
        if np.linalg.norm(first) < 1e-9:  # a single point or a vertical line: any horizontal axis
            first = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
        first /= np.linalg.norm(first)
        return np.column_stack([first, np.cross(up, first), up])

    def distance_between(
        self, a: MaskLike, b: MaskLike, frame_index: int | None = None
    ) -> ObjectDistance:
        """Closest points and centroids of two masked objects."""
        label_a, points_a, _, _ = self._object_points(a, frame_index)
        label_b, points_b, _, _ = self._object_points(b, frame_index)
        return ObjectDistance.between(points_a, points_b, label_a, label_b, self.world_frame)

    def bev(
        self,
        objects: Sequence[Box3D] = (),
        masks: MaskLike | None = None,
        size_px: int = 640,
        show_points: bool = True,
    ) -> np.ndarray:
        """Bird's-eye view (RGB uint8): scene points, object footprints with labels, camera
        path."""
        from spatialclaw_ros.perception.bev import render_bev  # matplotlib only when asked

        highlighted = self._object_points(masks, None)[1] if masks is not None else None
        return render_bev(
            self._positional(),
            list(objects),
            highlighted,
            size_px=size_px,
            show_points=show_points,
        )

    def _mask_and_frame(
        self, mask: ObjectMask | np.ndarray, frame_index: int | None
    ) -> tuple[np.ndarray, int]:
        if isinstance(mask, ObjectMask):
            array, frame_index = (
                mask.mask,
                mask.frame_index if frame_index is None else frame_index,
            )
        else:
            array = np.asarray(mask)
            if frame_index is None:
                if len(self.frame_indices) != 1:
                    raise PerceptionError(
                        "a bare mask array needs frame_index= when the reconstruction "
                        "has several frames"
                    )
                frame_index = self.frame_indices[0]
        if array.dtype != bool:
            raise PerceptionError(f"a mask must be a bool array, got {array.dtype}")
        if array.shape != self.depth.shape[1:]:
            h, w = self.depth.shape[1:]
            raise PerceptionError(
                f"mask is {array.shape[1]}x{array.shape[0]} but the frames are {w}x{h}"
            )
        return array, frame_index

    def _object_points(
        self, mask: MaskLike, frame_index: int | None
    ) -> tuple[str, np.ndarray, list[int], float]:
        """Label, world points, frame indices and mean score of one object given in any mask
        form."""
        given: Sequence[ObjectMask | np.ndarray]
        if isinstance(mask, Segmentation):
            given = mask.masks
        elif isinstance(mask, (ObjectMask, np.ndarray)):
            given = [mask]
        else:
            given = mask
        masks = list(given)
        if not masks:
            raise PerceptionError("no mask given: the segmentation is empty")
        points, frames, scores, label = [], [], [], "object"
        for m in masks:
            points.append(self.points_of(m, frame_index, allow_empty=True))
            if isinstance(m, ObjectMask):
                label = m.label
                scores.append(m.score)
                frames.append(m.frame_index if frame_index is None else frame_index)
            else:
                frames.append(self._mask_and_frame(m, frame_index)[1])
        stacked = np.concatenate(points)
        if len(stacked) == 0:
            raise PerceptionError(
                f"the mask(s) on frame(s) {sorted(set(frames))} cover no pixel with valid depth"
            )
        return label, stacked, sorted(set(frames)), float(np.mean(scores)) if scores else 1.0


_PER_FRAME = ("depth", "confidence", "intrinsics", "extrinsics")


@dataclass
class SegmentRequest:
    """A SAM3 prompt. Exactly one of text / points / box. `frame_indices` of length 1 = one image;
    longer = propagate through that clip starting at `prompt_frame`."""

    frame_indices: list[int]
    text: str | None = None
    points: np.ndarray | None = None  # (K, 2) pixels x, y on prompt_frame
    point_labels: np.ndarray | None = None  # (K,) 1 positive, 0 negative
    box: np.ndarray | None = None  # (4,) x0, y0, x1, y1 pixels on prompt_frame
    prompt_frame: int | None = None  # defaults to frame_indices[0]
    threshold: float | None = None
    # name given to point/box results (text prompts are named by the text)
    label: str | None = None

    def validate(self, frames: FrameSet) -> list[Frame]:
        """Raise PerceptionError unless the request is well formed for these frames; return the
        frames it names, in its order."""
        given = [
            name
            for name, value in (("text", self.text), ("points", self.points), ("box", self.box))
            if value is not None
        ]
        if len(given) != 1:
            raise PerceptionError(
                f"give exactly one of text, points or box (got {', '.join(given) or 'none'})"
            )
        # no frames named is an error, not "all"
        chosen = select_frames(frames, self.frame_indices or [])
        if self.prompt_frame is not None and self.prompt_frame not in self.frame_indices:
            raise PerceptionError(
                f"prompt_frame {self.prompt_frame} is not among frame_indices {self.frame_indices}"
            )
        if self.text is not None and not self.text.strip():
            raise PerceptionError("the text prompt is empty")
        if self.points is not None:
            points = np.asarray(self.points, dtype=np.float64)
            if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0:
                raise PerceptionError(
                    f"points must be (K, 2) pixel x, y, got shape {points.shape}"
                )
            if self.point_labels is not None and np.asarray(self.point_labels).shape != (
                len(points),
            ):
                raise PerceptionError("point_labels must have one entry (1 or 0) per point")
        if self.box is not None:
            box = np.asarray(self.box, dtype=np.float64)
            if box.shape != (4,) or box[2] <= box[0] or box[3] <= box[1]:
                raise PerceptionError(
                    "box must be x0, y0, x1, y1 pixels with x1 > x0 and y1 > y0, got "
                    f"{box.tolist()}"
                )
        return chosen

    @property
    def first_frame(self) -> int:
        return self.frame_indices[0] if self.prompt_frame is None else self.prompt_frame

    def positive_labels(self) -> np.ndarray:
        n = len(np.asarray(self.points))
        return (
            np.ones(n, dtype=np.int64)
            if self.point_labels is None
            else np.asarray(self.point_labels, dtype=np.int64)
        )


class Perception(Protocol):
    """What the kernel's host side needs: in-process backends and the HTTP client both fit."""

    def reconstruct(
        self, frames: FrameSet, frame_indices: list[int] | None = None
    ) -> Reconstruction: ...

    def segment(self, frames: FrameSet, request: SegmentRequest) -> Segmentation: ...

    def exists(
        self, frames: FrameSet, name: str, frame_indices: list[int] | None = None
    ) -> bool: ...
