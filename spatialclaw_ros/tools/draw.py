"""tools.Draw: annotate images (returns new images; the frames themselves never change)."""

from __future__ import annotations

import cv2
import numpy as np

from spatialclaw_ros.tools.images import to_rgb

Color = tuple[int, int, int]


def _canvas(image) -> np.ndarray:
    return to_rgb(image).copy()


def _xy(point) -> tuple[int, int]:
    x, y = np.asarray(point, dtype=np.float64).reshape(2)
    return int(round(x)), int(round(y))


def _put_text(
    canvas: np.ndarray, text: str, position, color: Color, scale: float = 0.5
) -> np.ndarray:
    """Draw text onto `canvas` itself, with a dark outline for contrast; returns `canvas`."""
    for c, t in (((0, 0, 0), 3), (color, 1)):
        cv2.putText(
            canvas, text, _xy(position), cv2.FONT_HERSHEY_SIMPLEX, scale, c, t, cv2.LINE_AA
        )
    return canvas


class Draw:
    """Drawing on RGB images. Colours are (R, G, B); coordinates are pixels (x, y)."""

    @staticmethod
    def box(
        image, box, label: str = "", color: Color = (255, 0, 0), thickness: int = 2
    ) -> np.ndarray:
        """A rectangle (x0, y0, x1, y1) with an optional label above it."""
        canvas = _canvas(image)
        x0, y0, x1, y1 = (int(round(v)) for v in np.asarray(box, dtype=np.float64).reshape(4))
        cv2.rectangle(canvas, (x0, y0), (x1, y1), color, thickness)
        return _put_text(canvas, label, (x0, max(y0 - 4, 10)), color) if label else canvas

    @staticmethod
    def line(image, start, end, color: Color = (0, 255, 0), thickness: int = 2) -> np.ndarray:
        """A straight line between two pixels."""
        canvas = _canvas(image)
        cv2.line(canvas, _xy(start), _xy(end), color, thickness)
        return canvas

    @staticmethod
    def points(
        image, points, color: Color = (255, 255, 0), radius: int = 4, labels=None
    ) -> np.ndarray:
        """Filled dots at one or more pixels (N x 2), optionally labelled."""
        canvas = _canvas(image)
        for i, p in enumerate(np.asarray(points, dtype=np.float64).reshape(-1, 2)):
            cv2.circle(canvas, _xy(p), radius, color, -1)
            if labels is not None:
                _put_text(canvas, str(labels[i]), (p[0] + radius + 2, p[1]), color)
        return canvas

    @staticmethod
    def label(
        image, text: str, position, color: Color = (255, 255, 255), scale: float = 0.5
    ) -> np.ndarray:
        """Text at a pixel (bottom-left corner of the text), with a dark outline for contrast."""
        return _put_text(_canvas(image), text, position, color, scale)

    @staticmethod
    def mask(image, mask, color: Color = (255, 0, 0), alpha: float = 0.5) -> np.ndarray:
        """Tint the pixels of a mask (bool array or ObjectMask)."""
        canvas = _canvas(image)
        m = np.asarray(getattr(mask, "mask", mask)).astype(bool)
        if m.shape != canvas.shape[:2]:
            raise ValueError(f"mask is {m.shape} but the image is {canvas.shape[:2]}")
        tint = np.array(color, dtype=np.float64)
        canvas[m] = np.clip((1 - alpha) * canvas[m] + alpha * tint, 0, 255).astype(np.uint8)
        return canvas
