"""PerceptionClient: the Perception protocol over HTTP, for a perception service on a GPU
machine."""

from __future__ import annotations

from typing import TypeVar

import httpx

from spatialclaw_ros.frames import FrameSet
from spatialclaw_ros.perception import wire
from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.inputs import select_frames
from spatialclaw_ros.perception.types import Reconstruction, Segmentation, SegmentRequest
from spatialclaw_ros.perception.wire import (
    ExistsAnswer,
    ExistsCall,
    ReconstructCall,
    SegmentCall,
)

AnswerT = TypeVar("AnswerT")


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
            headers={"Authorization": f"Bearer {token}", "Content-Type": wire.MEDIA_TYPE},
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
        call = ReconstructCall(_subset(frames, frame_indices), frame_indices)
        return self._post("/reconstruct", call, Reconstruction)

    def segment(self, frames: FrameSet, request: SegmentRequest) -> Segmentation:
        request.validate(frames)
        call = SegmentCall(_subset(frames, request.frame_indices), request)
        return self._post("/segment", call, Segmentation)

    def exists(self, frames: FrameSet, name: str, frame_indices: list[int] | None = None) -> bool:
        call = ExistsCall(_subset(frames, frame_indices), name, frame_indices)
        return self._post("/exists", call, ExistsAnswer).exists

    def _post(self, path: str, call: wire.Call, answer: type[AnswerT]) -> AnswerT:
        try:
            response = self._http.post(path, content=wire.encode(call))
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
        try:
            # a bytearray: the arrays decoded in place are writable, as in-process results are
            return wire.decode_answer(bytearray(response.content), answer)
        except wire.WireError as error:
            raise PerceptionError(
                f"perception service {path} answered a malformed message: {error}"
            ) from error


def _subset(frames: FrameSet, frame_indices: list[int] | None) -> FrameSet:
    if frame_indices is None:
        return frames
    return FrameSet(
        select_frames(frames, frame_indices), world_frame=frames.world_frame, name=frames.name
    )
