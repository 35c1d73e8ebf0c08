"""`vlm.locate` and `vlm.ask` from inside the kernel, served on the host by the episode's client.

Each call is a fresh conversation: the sub-question alone, with its images, nothing of the
episode. The kernel reports the queries in its step feedback; the trace gets the full exchange.
"""

from __future__ import annotations

import re

import numpy as np

from spatialclaw_ros.agent.prompts import LOCATE_PROMPT
from spatialclaw_ros.agent.replies import strip_thinking
from spatialclaw_ros.agent.vlm_client import ChatMessage, VLMClient
from spatialclaw_ros.tools.vlm import MAX_ASK_IMAGES, MAX_LOCATE_IMAGES

NOT_VISIBLE = "not visible"
_PAIR = re.compile(r"[\[(]\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*[\])]")


class HostVLMDispatch:
    """The kernel's VLMDispatch: sub-questions to the same endpoint, one fresh session each."""

    def __init__(self, client: VLMClient, deadline: float | None = None) -> None:
        self.client = client
        self.deadline = deadline

    def locate(self, images: list[np.ndarray], query: str) -> list[tuple[float, float]] | str:
        images = _checked(images, MAX_LOCATE_IMAGES, "vlm.locate")
        reply = self.client.chat(
            [ChatMessage("user", LOCATE_PROMPT.format(query=query.strip()), images)],
            purpose="locate",
            deadline=self.deadline,
        )
        return parse_points(reply)

    def ask(self, images: list[np.ndarray], query: str) -> str:
        images = _checked(images, MAX_ASK_IMAGES, "vlm.ask")
        reply = self.client.chat(
            [ChatMessage("user", query.strip(), images)], purpose="ask", deadline=self.deadline
        )
        return strip_thinking(reply)


def parse_points(reply: str) -> list[tuple[float, float]] | str:
    """[x, y] pairs in 0-1000 (clipped); "not visible" when the reply names none."""
    text = strip_thinking(reply)
    points = [(float(x), float(y)) for x, y in _PAIR.findall(text)]
    if not points:
        return NOT_VISIBLE
    return [(min(max(x, 0.0), 1000.0), min(max(y, 0.0), 1000.0)) for x, y in points]


def _checked(images: list[np.ndarray] | np.ndarray, limit: int, name: str) -> list[np.ndarray]:
    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = [images]
    images = [np.asarray(im) for im in images]
    if not images:
        raise ValueError(f"{name} needs at least one image")
    if len(images) > limit:
        raise ValueError(
            f"{name} takes at most {limit} images, got {len(images)}; pick key frames"
        )
    return images
