"""`vlm`: ask the vision-language model a sub-question from inside agent code."""

from __future__ import annotations

import numpy as np

from spatialclaw_ros.tools.images import to_rgb
from spatialclaw_ros.tools.link import HostLink

MAX_LOCATE_IMAGES = 8
MAX_ASK_IMAGES = 64


def _images(images, limit: int) -> list[np.ndarray]:
    items = [images] if isinstance(images, np.ndarray) and images.ndim in (2, 3) else list(images)
    if not items:
        raise ValueError("give at least one image")
    if len(items) > limit:
        raise ValueError(f"at most {limit} images per call, got {len(items)}")
    return [to_rgb(i) for i in items]


class VLM:
    """Each call is a fresh VLM session that sees only the images and the query given."""

    def __init__(self, link: HostLink) -> None:
        self._link = link

    def locate(self, images, query: str) -> list[tuple[float, float]] | str:
        """Points (x, y), normalised 0-1000 on the first image, where `query` is (e.g. "the door
        handle"), or the string "not visible". Up to 8 images. Convert with
        tools.Geometry.normalized_to_pixel(points, width, height)."""
        result = self._link.call(
            "vlm_locate", images=_images(images, MAX_LOCATE_IMAGES), query=str(query)
        )
        return result if isinstance(result, str) else [tuple(p) for p in result]

    def ask(self, images, query: str) -> str:
        """A free-text answer to `query` about the images (up to 64)."""
        return self._link.call("vlm_ask", images=_images(images, MAX_ASK_IMAGES), query=str(query))
