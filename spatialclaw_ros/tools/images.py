"""Turning whatever agent code wants to look at into RGB uint8 images."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import cv2
import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.backends.backend_agg import FigureCanvasAgg


def figure_to_rgb(figure: Figure) -> np.ndarray:
    """Render a matplotlib figure (Agg canvas) to an H x W x 3 uint8 array."""
    figure.canvas.draw()
    canvas = cast("FigureCanvasAgg", figure.canvas)  # the worker's backend is Agg
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def to_rgb(image) -> np.ndarray:
    """An RGB uint8 image from an array or a matplotlib figure. Arrays: H x W (gray, bool, or a
    map such as depth), H x W x 3 RGB or H x W x 4 RGBA. Colour arrays that are not uint8 are
    taken as 0-255, or 0-1 when no value is above 1; a single-channel map with values outside
    0-1 is stretched from its minimum to its maximum, as plt.imshow does. NaN and inf are black."""
    if isinstance(image, Figure):
        return figure_to_rgb(image)
    if not isinstance(image, (np.ndarray, list, tuple)):
        raise TypeError(
            "an image must be an array, a frame or a matplotlib figure, not "
            f"{type(image).__name__}"
        )
    array = np.asarray(image)
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if (
        array.ndim not in (2, 3)
        or (array.ndim == 3 and array.shape[2] not in (3, 4))
        or 0 in array.shape
    ):
        raise ValueError(
            "an image must be H x W, H x W x 3 or H x W x 4 and not empty, got shape "
            f"{array.shape}"
        )
    if array.dtype.kind not in "biuf":
        raise TypeError(f"an image needs a numeric dtype, got {array.dtype}")
    if array.dtype != np.uint8:
        array = _to_uint8(array.astype(np.float64), stretch=array.ndim == 2)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    return np.ascontiguousarray(array[..., :3].view(np.ndarray))


def _to_uint8(values: np.ndarray, stretch: bool) -> np.ndarray:
    finite = np.isfinite(values)
    values = np.where(finite, values, 0.0)
    low, high = (values[finite].min(), values[finite].max()) if finite.any() else (0.0, 0.0)
    if stretch and (low < 0.0 or high > 1.0):
        values = (values - low) / (high - low) if high > low else np.zeros_like(values)
        values[~finite] = 0.0
    if high <= 1.0 or stretch:
        values = values * 255.0
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def cap_long_edge(image: np.ndarray, max_edge: int) -> np.ndarray:
    """Shrink (never enlarge) so that the longer side is at most `max_edge` pixels."""
    h, w = image.shape[:2]
    scale = max_edge / max(h, w)
    if scale >= 1.0:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
