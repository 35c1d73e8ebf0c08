"""The perception service's messages: what each HTTP body holds, in the one wire codec
(`spatialclaw_ros.wire`, media type `MEDIA_TYPE`). Never pickle.

A request is one call dataclass (`ReconstructCall`, `SegmentCall`, `ExistsCall`) holding the
frames as `FrameSet` / `Frame` / `CameraIntrinsics` and, for segment, the `SegmentRequest`; an
answer is a `Reconstruction`, a `Segmentation` or an `ExistsAnswer`. The codec bounds the body
and rebuilds only these types; `request_checks` adds what the service requires of each one
as it is rebuilt (types, ranges, finite arrays, shapes, intrinsics, label names, and the content
limits: frames per request, pixels per image, points, text), each refusal naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from spatialclaw_ros import wire
from spatialclaw_ros.frames import CameraIntrinsics, Frame, FrameSet
from spatialclaw_ros.perception.limits import DecodeLimits, LimitExceeded, WireError
from spatialclaw_ros.perception.types import (
    ObjectMask,
    Reconstruction,
    Segmentation,
    SegmentRequest,
)

__all__ = [
    "MEDIA_TYPE",
    "ExistsAnswer",
    "ExistsCall",
    "LimitExceeded",
    "ReconstructCall",
    "SegmentCall",
    "WireError",
    "decode_answer",
    "decode_request",
    "encode",
]

MEDIA_TYPE = wire.MEDIA_TYPE
AnswerT = TypeVar("AnswerT")


@dataclass
class ReconstructCall:
    frames: FrameSet
    frame_indices: list[int] | None = None  # None: all frames


@dataclass
class SegmentCall:
    frames: FrameSet
    request: SegmentRequest


@dataclass
class ExistsCall:
    frames: FrameSet
    name: str
    frame_indices: list[int] | None = None


@dataclass
class ExistsAnswer:
    exists: bool


Call = ReconstructCall | SegmentCall | ExistsCall
Answer = Reconstruction | Segmentation | ExistsAnswer
# What each side rebuilds: a request holds no answer types, an answer no request types.
REQUEST_TYPES = wire.type_table(
    ReconstructCall, SegmentCall, ExistsCall, FrameSet, Frame, CameraIntrinsics, SegmentRequest
)
ANSWER_TYPES = wire.type_table(Reconstruction, Segmentation, ObjectMask, ExistsAnswer)

# Answers come from the service the client was configured with and carry whole depth stacks:
# bounds far above a request's, still refusing a message that declares more than memory holds.
ANSWER_LIMITS = wire.WireLimits(
    max_body_bytes=256 << 20, max_buffers=100_000, max_total_bytes=64 << 30, max_depth=8
)


def encode(message: Call | Answer) -> bytes:
    return wire.pack(message, {**REQUEST_TYPES, **ANSWER_TYPES})


def decode_request(body: bytes | bytearray, expected: type, limits: DecodeLimits) -> Any:
    """The call in a request body, checked field by field; it must be of type `expected`."""
    message = wire.unpack(body, REQUEST_TYPES, limits.wire_limits(), request_checks(limits))
    if not isinstance(message, expected):
        raise WireError(f"this operation takes a {expected.__name__}, got {_shown(message)}")
    return message


def decode_answer(body: bytes | bytearray, expected: type[AnswerT]) -> AnswerT:
    """The answer in a response body, which must be of type `expected`."""
    message = wire.unpack(body, ANSWER_TYPES, ANSWER_LIMITS)
    if not isinstance(message, expected):
        raise WireError(f"expected a {expected.__name__}, got {_shown(message)}")
    return message


def request_checks(limits: DecodeLimits) -> dict[type, Callable[[Any], None]]:
    """What a request's objects must satisfy, per type, checked as the codec rebuilds them
    (innermost first: a frame's intrinsics before the frame)."""

    def intrinsics(k: CameraIntrinsics) -> None:
        """Focal lengths positive, centre finite, size positive integers."""
        for name in ("fx", "fy"):
            if _number(getattr(k, name), name) <= 0:
                raise WireError(f"{name} must be positive, got {getattr(k, name)}")
        _number(k.cx, "cx")
        _number(k.cy, "cy")
        for name in ("width", "height"):
            if _integer(getattr(k, name), name) <= 0:
                raise WireError(f"{name} must be positive, got {getattr(k, name)}")

    def frame(f: Frame) -> None:
        pixels = f.height * f.width
        if pixels > limits.max_image_pixels:
            raise LimitExceeded(
                f"the image has {pixels} pixels; the limit is {limits.max_image_pixels}"
            )
        _integer(f.index, "index")
        _number(f.timestamp, "timestamp")
        _text(f.camera, "camera", limits)
        if f.intrinsics is not None and not isinstance(f.intrinsics, CameraIntrinsics):
            raise WireError(f"intrinsics must be a CameraIntrinsics, got {_shown(f.intrinsics)}")
        if f.pose is not None and not np.isfinite(f.pose).all():
            raise WireError("the camera pose has NaN or infinite entries")
        if f.label_names is not None:
            if not isinstance(f.label_names, dict):
                raise WireError(f"label_names must map label ids to names, got {f.label_names}")
            for key, name in f.label_names.items():
                _integer(key, "label_names key")
                _text(name, f"label_names[{key}]", limits)

    def frame_set(frames: FrameSet) -> None:
        if not isinstance(frames.frames, list):
            raise WireError(f"frames must be a list of frames, got {_shown(frames.frames)}")
        if len(frames.frames) > limits.max_frames:
            raise LimitExceeded(
                f"the request has {len(frames.frames)} frames; the limit is {limits.max_frames}"
            )
        for k, f in enumerate(frames.frames):
            if not isinstance(f, Frame):
                raise WireError(f"frames[{k}] must be a Frame, got {_shown(f)}")
        _text(frames.world_frame, "world_frame", limits)
        _text(frames.name, "name", limits)

    def segment_request(r: SegmentRequest) -> None:
        _indices(r.frame_indices, "frame_indices", limits)
        for name in ("text", "label"):
            if getattr(r, name) is not None:
                _text(getattr(r, name), name, limits)
        for name in ("points", "point_labels", "box"):
            value = getattr(r, name)
            if value is not None:
                _finite_array(value, name)
        if r.points is not None and r.points.size > 2 * limits.max_points:
            raise LimitExceeded(
                f"the request has {r.points.size // 2} points; the limit is {limits.max_points}"
            )
        if r.prompt_frame is not None:
            _integer(r.prompt_frame, "prompt_frame")
        if r.threshold is not None and not 0.0 <= _number(r.threshold, "threshold") <= 1.0:
            raise WireError(f"threshold must be between 0 and 1, got {r.threshold}")

    def reconstruct_call(call: ReconstructCall) -> None:
        _frame_set(call.frames)
        if call.frame_indices is not None:
            _indices(call.frame_indices, "frame_indices", limits)

    def segment_call(call: SegmentCall) -> None:
        _frame_set(call.frames)
        if not isinstance(call.request, SegmentRequest):
            raise WireError(f"request must be a SegmentRequest, got {_shown(call.request)}")

    def exists_call(call: ExistsCall) -> None:
        _frame_set(call.frames)
        if not _text(call.name, "name", limits).strip():
            raise WireError("name must not be empty")
        if call.frame_indices is not None:
            _indices(call.frame_indices, "frame_indices", limits)

    return {
        CameraIntrinsics: intrinsics,
        Frame: frame,
        FrameSet: frame_set,
        SegmentRequest: segment_request,
        ReconstructCall: reconstruct_call,
        SegmentCall: segment_call,
        ExistsCall: exists_call,
    }


# ---- field checks: each names the field it refuses ---------------------------------------------


def _frame_set(value: Any) -> None:
    if not isinstance(value, FrameSet):
        raise WireError(f"frames must be a FrameSet, got {_shown(value)}")


def _integer(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise WireError(f"{field} must be an integer, got {_shown(value)}")
    if abs(value) >= 1 << 62:
        raise WireError(f"{field} is out of range: {value}")
    return value


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise WireError(f"{field} must be a finite number, got {_shown(value)}")
    return float(value)


def _text(value: Any, field: str, limits: DecodeLimits) -> str:
    if not isinstance(value, str):
        raise WireError(f"{field} must be a string, got {_shown(value)}")
    if len(value) > limits.max_text_chars:
        raise LimitExceeded(
            f"{field} has {len(value)} characters; the limit is {limits.max_text_chars}"
        )
    return value


def _indices(value: Any, field: str, limits: DecodeLimits) -> list[int]:
    if not isinstance(value, list):
        raise WireError(f"{field} must be a list of frame indices, got {_shown(value)}")
    if len(value) > limits.max_frames:
        raise LimitExceeded(f"{field} names {len(value)} frames; the limit is {limits.max_frames}")
    return [_integer(i, f"{field}[{k}]") for k, i in enumerate(value)]


def _finite_array(value: Any, field: str) -> None:
    if not isinstance(value, np.ndarray):
        raise WireError(f"{field} must be an array, got {_shown(value)}")
    if not np.isfinite(value).all():
        raise WireError(f"{field} has NaN or infinite entries")


def _shown(value: Any) -> str:
    """A refused value as the error message shows it: its type and a short repr."""
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"
