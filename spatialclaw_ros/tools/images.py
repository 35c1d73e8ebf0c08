"""Turning whatever agent code wants to look at into RGB uint8 images."""

from __future__ import annotations

import cv2
import numpy as np
from matplotlib.figure import Figure


def figure_to_rgb(figure: Figure) -> np.ndarray:
    """Render a matplotlib figure (Agg canvas) to an H x W x 3 uint8 array."""
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


def to_rgb(image) -> np.ndarray:
    """An RGB uint8 image from an array (H x W gray/bool, H x W x 3 RGB, H x W x 4 RGBA; floats in
    [0, 1] are scaled to 0-255) or a matplotlib figure."""
    if isinstance(image, Figure):
        return figure_to_rgb(image)
    array = np.asarray(image)
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4) or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"an image must be H x W, H x W x 3 or H x W x 4, got shape {array.shape}")
    array = array[..., :3]
    if array.dtype != np.uint8:
        values = np.nan_to_num(array.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        if values.size and values.max() <= 1.0:
            values = values * 255.0
        array = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array.view(np.ndarray))


def cap_long_edge(image: np.ndarray, max_edge: int) -> np.ndarray:
    """Shrink (never enlarge) so that the longer side is at most `max_edge` pixels."""
    h, w = image.shape[:2]
    scale = max_edge / max(h, w)
    if scale >= 1.0:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
