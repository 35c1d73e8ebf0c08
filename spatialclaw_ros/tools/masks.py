"""tools.Mask: measurements on binary masks (numpy bool arrays or ObjectMask)."""

from __future__ import annotations

import cv2
import numpy as np


def _bool(mask) -> np.ndarray:
    array = np.asarray(getattr(mask, "mask", mask))
    if array.ndim != 2:
        raise ValueError(f"a mask must be a 2-D array, got shape {array.shape}")
    return array.astype(bool, copy=False)


class Mask:
    """Binary mask helpers. Every function takes an H x W bool array or a SAM3 ObjectMask."""

    @staticmethod
    def area(mask) -> int:
        """Number of pixels in the mask."""
        return int(_bool(mask).sum())

    @staticmethod
    def centroid(mask) -> tuple[float, float]:
        """(x, y) pixel centroid; raises ValueError for an empty mask."""
        moments = cv2.moments(_bool(mask).astype(np.uint8), binaryImage=True)
        if moments["m00"] == 0:
            raise ValueError("the mask is empty")
        return moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]

    @staticmethod
    def bbox(mask) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) inclusive pixel bounds; raises ValueError for an empty mask."""
        ys, xs = np.nonzero(_bool(mask))
        if len(xs) == 0:
            raise ValueError("the mask is empty")
        return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())

    @staticmethod
    def intersection(a, b) -> np.ndarray:
        """Pixels in both masks."""
        return _bool(a) & _bool(b)

    @staticmethod
    def union(a, b) -> np.ndarray:
        """Pixels in either mask."""
        return _bool(a) | _bool(b)

    @staticmethod
    def iou(a, b) -> float:
        """Intersection over union (0 when both are empty)."""
        a, b = _bool(a), _bool(b)
        union = int((a | b).sum())
        return float((a & b).sum()) / union if union else 0.0

    @staticmethod
    def largest_component(mask) -> np.ndarray:
        """The largest 8-connected blob of the mask (drops speckles)."""
        m = _bool(mask).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        if count <= 1:
            return np.zeros_like(m, dtype=bool)
        return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
