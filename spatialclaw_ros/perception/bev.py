"""Bird's-eye-view rendering of a reconstruction (matplotlib, headless Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy.spatial import ConvexHull

MAX_SCENE_POINTS = 20_000


# What the view draws, described by shape so that this module needs nothing from perception.types
# (whose Reconstruction.bev calls it): a Reconstruction and its Box3Ds fit.
class Box(Protocol):
    @property
    def label(self) -> str: ...

    @property
    def center(self) -> np.ndarray: ...

    def corners(self) -> np.ndarray: ...


class Reconstruction(Protocol):
    @property
    def world_frame(self) -> str: ...

    @property
    def is_metric(self) -> bool: ...

    @property
    def depth(self) -> np.ndarray: ...

    @property
    def extrinsics(self) -> np.ndarray: ...

    @property
    def frame_indices(self) -> Sequence[int]: ...

    def __len__(self) -> int: ...

    def camera_centers(self) -> np.ndarray: ...

    def points_of(
        self, mask: np.ndarray, frame_index: int, *, allow_empty: bool = ...
    ) -> np.ndarray: ...


def ground_axes(reconstruction: Reconstruction) -> tuple[int, int, str, str]:
    """Which two world axes span the ground: x-y in a robot frame (REP-103, z up); x-z in the
    first camera's frame (OpenCV, y down)."""
    if reconstruction.world_frame and reconstruction.world_frame != "first_camera":
        return 0, 1, "x (m)", "y (m)"
    return 0, 2, "x, right", "z, forward"


def render_bev(
    reconstruction: Reconstruction,
    objects: Sequence[Box],
    highlighted: np.ndarray | None,
    size_px: int = 640,
    show_points: bool = True,
) -> np.ndarray:
    a, b, a_name, b_name = ground_axes(reconstruction)
    figure = Figure(figsize=(size_px / 100, size_px / 100), dpi=100)
    canvas = FigureCanvasAgg(figure)
    ax = figure.add_subplot(1, 1, 1)
    if show_points:
        scene = _scene_points(reconstruction)
        if len(scene):
            ax.scatter(scene[:, a], scene[:, b], s=0.5, c="0.7", linewidths=0)
    if highlighted is not None and len(highlighted):
        ax.scatter(highlighted[:, a], highlighted[:, b], s=1.5, c="tab:orange", linewidths=0)
    for k, box in enumerate(objects):
        colour = f"C{k % 10}"
        corners = box.corners()[:, [a, b]]
        hull = ConvexHull(corners, qhull_options="QJ")  # joggle: flat boxes project to a line
        footprint = corners[np.append(hull.vertices, hull.vertices[0])]
        ax.plot(footprint[:, 0], footprint[:, 1], color=colour, linewidth=1.5)
        ax.annotate(
            box.label, (box.center[a], box.center[b]), color=colour, fontsize=9, ha="center"
        )
    centres = reconstruction.camera_centers()
    forward = reconstruction.extrinsics[:, :3, 2]  # optical axis in world
    ax.plot(centres[:, a], centres[:, b], "-", color="tab:blue", linewidth=1)
    ax.quiver(
        centres[:, a],
        centres[:, b],
        forward[:, a],
        forward[:, b],
        color="tab:blue",
        angles="xy",
        scale_units="xy",
        scale=2.0 / max(_scene_extent(reconstruction), 1e-6),
        width=0.004,
    )
    for i, frame_index in enumerate(reconstruction.frame_indices):
        ax.annotate(str(frame_index), (centres[i, a], centres[i, b]), fontsize=7, color="tab:blue")
    ax.set_xlabel(a_name)
    ax.set_ylabel(b_name)
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(True, linewidth=0.3)
    ax.set_title(
        "bird's-eye view "
        f"({reconstruction.world_frame}{'' if reconstruction.is_metric else ', relative scale'})",
        fontsize=9,
    )
    figure.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[:, :, :3].copy()


def _scene_points(reconstruction: Reconstruction) -> np.ndarray:
    step = max(
        1, int(np.sqrt(reconstruction.depth[0].size * len(reconstruction) / MAX_SCENE_POINTS))
    )
    grid = np.zeros(reconstruction.depth.shape[1:], dtype=bool)
    grid[::step, ::step] = True  # every step-th pixel of every step-th row
    return np.concatenate(
        [reconstruction.points_of(grid, i, allow_empty=True) for i in reconstruction.frame_indices]
    )


def _scene_extent(reconstruction: Reconstruction) -> float:
    depth = reconstruction.depth[np.isfinite(reconstruction.depth)]
    return float(np.median(depth)) if depth.size else 1.0
