"""What one perception request may hold, for the HTTP service and the perception node's ROS
services.

HTTP bodies are messages of the one wire codec (`spatialclaw_ros.wire`): `wire_limits()` maps
these limits onto its bounded decoder (body, buffers, containers, nesting, total bytes, all
checked before anything is allocated), and the checks in perception/wire.py add the content
limits (frames per request, pixels per image, points, text) on the decoded objects. A refusal is
a `WireError` (malformed, HTTP 400) or a `LimitExceeded` (too large, HTTP 413), with a message
that names the limit or the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.wire import LimitExceeded, WireError, WireLimits

__all__ = ["MEGABYTE", "DecodeLimits", "LimitExceeded", "WireError"]

MEGABYTE = 1 << 20


@dataclass(frozen=True)
class DecodeLimits:
    """What one perception request may hold. Defaults fit 256 frames of 1920x1080 RGB-D."""

    max_body_bytes: int = 512 * MEGABYTE  # the request body as sent
    max_decoded_bytes: int = 2048 * MEGABYTE  # all arrays together (ROS: the images' data)
    max_structure_bytes: int = 1 * MEGABYTE  # the msgpack part: numbers, text, structure
    max_buffers: int = 1100  # arrays in one request (4 per frame + the request's)
    max_containers: int = 100_000  # lists, maps and dataclasses in one request
    max_depth: int = 16  # nesting of lists, maps and dataclasses
    max_frames: int = 256  # frames in one request
    max_image_pixels: int = 4096 * 4096  # pixels of one frame
    max_points: int = 1024  # SAM 3 point prompts in one request
    max_text_chars: int = 1000  # text prompts, names, labels

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not value > 0:
                raise PerceptionError(f"decode limit {name} must be positive, got {value}")

    @classmethod
    def from_megabytes(
        cls, request_mb: int, decoded_mb: int | None = None, **other: Any
    ) -> DecodeLimits:
        decoded = decoded_mb if decoded_mb is not None else cls.max_decoded_bytes // MEGABYTE
        return cls(
            max_body_bytes=request_mb * MEGABYTE, max_decoded_bytes=decoded * MEGABYTE, **other
        )

    def wire_limits(self) -> WireLimits:
        """The bounds of the shared decoder for one request body. The body is the message, so the
        total may not exceed either the body limit or the decoded-size limit."""
        return WireLimits(
            max_body_bytes=self.max_structure_bytes,
            max_buffers=self.max_buffers,
            max_total_bytes=min(self.max_body_bytes, self.max_decoded_bytes),
            max_containers=self.max_containers,
            max_depth=self.max_depth,
        )
