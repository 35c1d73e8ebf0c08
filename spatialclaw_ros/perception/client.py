"""PerceptionClient: the Perception protocol over HTTP, for a perception service on a GPU
machine."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np

from spatialclaw_ros.frames import FrameSet
from spatialclaw_ros.perception import wire
from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.inputs import select_frames
from spatialclaw_ros.perception.limits import DecodeLimits
from spatialclaw_ros.perception.types import Reconstruction, Segmentation, SegmentRequest

# Answers come from the service this client was configured with, and carry whole depth stacks:
# limits far above a request's, still refusing an archive that declares more than memory holds.
RESPONSE_LIMITS = DecodeLimits(
    max_body_bytes=64 << 30, max_decoded_bytes=64 << 30, max_array_elements=1 << 34, max_entries=16
)


class PerceptionClient:
    def __init__(self, url: str, token: str | None, timeout_s: float = 300.0):
        if not token:
            raise PerceptionError(
                "the perception client needs the service token (SPATIALCLAW_PERCEPTION_TOKEN)"
            )
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout_s,
            headers={"Authorization": f"Bearer {token}", "Content-Type": wire.NPZ_MEDIA_TYPE},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PerceptionClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def reconstruct(
        self, frames: FrameSet, frame_indices: list[int] | None = None
    ) -> Reconstruction:
        # Only the frames the call needs travel; the service caches by their content.
        subset = _subset(frames, frame_indices)
        meta, arrays = wire.encode_frames(subset, {"frame_indices": frame_indices})
        return wire.decode_reconstruction(
            self._post("/reconstruct", meta, arrays), RESPONSE_LIMITS
        )

    def segment(self, frames: FrameSet, request: SegmentRequest) -> Segmentation:
        request.validate(frames)
        subset = _subset(frames, request.frame_indices)
        meta, arrays = wire.encode_frames(subset)
        request_meta, request_arrays = wire.encode_request(request)
        body = self._post("/segment", {**meta, **request_meta}, {**arrays, **request_arrays})
        return wire.decode_segmentation(body, RESPONSE_LIMITS)

    def exists(self, frames: FrameSet, name: str, frame_indices: list[int] | None = None) -> bool:
        subset = _subset(frames, frame_indices)
        meta, arrays = wire.encode_frames(subset, {"name": name, "frame_indices": frame_indices})
        answer, _ = wire.unpack(self._post("/exists", meta, arrays), RESPONSE_LIMITS)
        return bool(answer["exists"])

    def _post(self, path: str, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
        try:
            response = self._http.post(path, content=wire.pack(meta, arrays))
        except httpx.HTTPError as error:
            raise PerceptionError(
                f"perception service at {self.url} unreachable: {error}"
            ) from error
        if response.status_code != 200:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise PerceptionError(
                f"perception service {path} answered {response.status_code}: {detail}"
            )
        return response.content


def _subset(frames: FrameSet, frame_indices: list[int] | None) -> FrameSet:
    if frame_indices is None:
        return frames
    return FrameSet(
        select_frames(frames, frame_indices), world_frame=frames.world_frame, name=frames.name
    )
