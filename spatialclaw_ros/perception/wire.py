"""Perception objects <-> npz bytes for the HTTP service. Never pickle.

One npz archive per message: numeric arrays under their own names, everything else as JSON in
the `meta` entry (stored as uint8 bytes). Decoding goes through `limits.read_npz`, which checks
sizes, dtypes (object arrays refused) and JSON depth before anything is decompressed, and every
field of `meta` is checked for its type and range here: bad input raises WireError with a message
naming the field, never another exception.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np

from spatialclaw_ros.frames import CameraIntrinsics, Frame, FrameSet
from spatialclaw_ros.perception.limits import (
    ZIP_MAGIC,
    DecodeLimits,
    LimitExceeded,
    WireError,
    parse_meta,
    read_npz,
)
from spatialclaw_ros.perception.types import (
    ObjectMask,
    Reconstruction,
    Segmentation,
    SegmentRequest,
)

__all__ = ["NPZ_MEDIA_TYPE", "ZIP_MAGIC", "LimitExceeded", "WireError", "pack", "unpack"]

NPZ_MEDIA_TYPE = "application/x-npz"
FRAME_ARRAYS = ("image", "depth", "pose", "labels")
FRAME_ARRAY_DIMS = {"image": 3, "depth": 2, "pose": 2, "labels": 2}
RECONSTRUCTION_ARRAYS = ("depth", "confidence", "intrinsics", "extrinsics")
DEFAULT_LIMITS = DecodeLimits()


def pack(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    # numeric arrays only: nothing is ever pickled
    meta_bytes = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(buffer, allow_pickle=False, meta=meta_bytes, **arrays)
    return buffer.getvalue()


def unpack(
    body: bytes, limits: DecodeLimits = DEFAULT_LIMITS
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    arrays = read_npz(body, limits)
    if "meta" not in arrays:
        raise WireError("the archive has no 'meta' entry (JSON as uint8 bytes)")
    return parse_meta(arrays.pop("meta"), limits), arrays


def encode_frames(
    frames: FrameSet, meta: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    arrays: dict[str, np.ndarray] = {}
    described = []
    for k, f in enumerate(frames):
        for name in FRAME_ARRAYS:
            value = getattr(f, name)
            if value is not None:
                arrays[f"{name}_{k}"] = value
        described.append(
            {
                "index": f.index,
                "timestamp": f.timestamp,
                "camera": f.camera,
                "intrinsics": None
                if f.intrinsics is None
                else [
                    f.intrinsics.fx,
                    f.intrinsics.fy,
                    f.intrinsics.cx,
                    f.intrinsics.cy,
                    f.intrinsics.width,
                    f.intrinsics.height,
                ],
                "label_names": None
                if f.label_names is None
                else {str(i): n for i, n in f.label_names.items()},
            }
        )
    header = {
        "frames": described,
        "world_frame": frames.world_frame,
        "name": frames.name,
        **(meta or {}),
    }
    return header, arrays


def decode_frames(
    meta: dict[str, Any], arrays: dict[str, np.ndarray], limits: DecodeLimits = DEFAULT_LIMITS
) -> FrameSet:
    described = meta.get("frames")
    if not isinstance(described, list) or not described:
        raise WireError("the request carries no frames")
    if len(described) > limits.max_frames:
        raise LimitExceeded(
            f"the request has {len(described)} frames; the limit is {limits.max_frames}"
        )
    frames = []
    for k, d in enumerate(described):
        if not isinstance(d, dict):
            raise WireError(f"frame {k} must be a JSON object")
        image = arrays.get(f"image_{k}")
        if image is None:
            raise WireError(f"frame {k} has no image array")
        for name, ndim in FRAME_ARRAY_DIMS.items():
            array = arrays.get(f"{name}_{k}")
            if array is not None and array.ndim != ndim:
                raise WireError(
                    f"frame {k}: {name} must have {ndim} dimensions, got shape {array.shape}"
                )
        if image.ndim >= 2 and image.shape[0] * image.shape[1] > limits.max_image_pixels:
            raise LimitExceeded(
                f"frame {k} has {image.shape[0] * image.shape[1]} pixels; the limit is "
                f"{limits.max_image_pixels}"
            )
        pose = arrays.get(f"pose_{k}")
        if pose is not None and not np.isfinite(pose).all():
            raise WireError(f"frame {k}: the camera pose has NaN or infinite entries")
        try:
            frames.append(
                Frame(
                    image=image,
                    index=_integer(d.get("index"), f"frames[{k}].index"),
                    timestamp=_number(d.get("timestamp", 0.0), f"frames[{k}].timestamp"),
                    camera=_text(d.get("camera", "camera"), f"frames[{k}].camera", limits),
                    depth=arrays.get(f"depth_{k}"),
                    intrinsics=_intrinsics(d.get("intrinsics"), k),
                    pose=pose,
                    labels=arrays.get(f"labels_{k}"),
                    label_names=_label_names(d.get("label_names"), k, limits),
                )
            )
        except WireError:
            raise
        except (ValueError, TypeError) as error:  # Frame's own shape and dtype checks
            raise WireError(f"frame {k}: {error}") from error
    try:
        return FrameSet(
            frames,
            world_frame=_text(meta.get("world_frame", ""), "world_frame", limits),
            name=_text(meta.get("name", ""), "name", limits),
        )
    except ValueError as error:
        raise WireError(str(error)) from error


def decode_frame_indices(
    meta: dict[str, Any], limits: DecodeLimits = DEFAULT_LIMITS
) -> list[int] | None:
    """`frame_indices`: absent or null (all frames), or a list of integers."""
    value = meta.get("frame_indices")
    return None if value is None else _indices(value, "frame_indices", limits)


def decode_name(meta: dict[str, Any], limits: DecodeLimits = DEFAULT_LIMITS) -> str:
    name = _text(meta.get("name"), "name", limits)
    if not name.strip():
        raise WireError("exists needs a non-empty 'name'")
    return name


def encode_reconstruction(r: Reconstruction) -> bytes:
    meta = {
        "is_metric": r.is_metric,
        "frame_indices": r.frame_indices,
        "backend": r.backend,
        "world_frame": r.world_frame,
    }
    return pack(meta, {name: getattr(r, name) for name in RECONSTRUCTION_ARRAYS})


def decode_reconstruction(body: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> Reconstruction:
    meta, arrays = unpack(body, limits)
    return Reconstruction(
        **{name: arrays[name] for name in RECONSTRUCTION_ARRAYS},
        is_metric=bool(meta["is_metric"]),
        frame_indices=[int(i) for i in meta["frame_indices"]],
        backend=meta["backend"],
        world_frame=meta["world_frame"],
    )


def encode_segmentation(s: Segmentation, shape: tuple[int, int]) -> bytes:
    masks = np.stack([m.mask for m in s.masks]) if s.masks else np.zeros((0, *shape), dtype=bool)
    meta = {
        "prompt": s.prompt,
        "masks": [
            {
                "label": m.label,
                "score": m.score,
                "frame_index": m.frame_index,
                "object_id": m.object_id,
            }
            for m in s.masks
        ],
    }
    return pack(meta, {"masks": masks})


def decode_segmentation(body: bytes, limits: DecodeLimits = DEFAULT_LIMITS) -> Segmentation:
    meta, arrays = unpack(body, limits)
    return Segmentation(
        [
            ObjectMask(
                arrays["masks"][k],
                d["label"],
                float(d["score"]),
                int(d["frame_index"]),
                int(d["object_id"]),
            )
            for k, d in enumerate(meta["masks"])
        ],
        meta["prompt"],
    )


def encode_request(r: SegmentRequest) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    meta = {
        "frame_indices": r.frame_indices,
        "text": r.text,
        "prompt_frame": r.prompt_frame,
        "threshold": r.threshold,
        "label": r.label,
    }
    arrays = {
        name: np.asarray(getattr(r, name))
        for name in ("points", "point_labels", "box")
        if getattr(r, name) is not None
    }
    return {"request": meta}, {f"request_{k}": v for k, v in arrays.items()}


def decode_request(
    meta: dict[str, Any], arrays: dict[str, np.ndarray], limits: DecodeLimits = DEFAULT_LIMITS
) -> SegmentRequest:
    fields = meta.get("request")
    if not isinstance(fields, dict):
        raise WireError("the segment request is missing ('request' must be a JSON object)")
    points = _finite_array(arrays.get("request_points"), "request_points")
    if points is not None and points.size > 2 * limits.max_points:
        raise LimitExceeded(
            f"the request has {points.size // 2} points; the limit is {limits.max_points}"
        )
    threshold = fields.get("threshold")
    if threshold is not None and not 0.0 <= _number(threshold, "request.threshold") <= 1.0:
        raise WireError(f"request.threshold must be between 0 and 1, got {threshold}")
    return SegmentRequest(
        frame_indices=_indices(fields.get("frame_indices"), "request.frame_indices", limits),
        text=_optional_text(fields.get("text"), "request.text", limits),
        points=points,
        point_labels=_finite_array(arrays.get("request_point_labels"), "request_point_labels"),
        box=_finite_array(arrays.get("request_box"), "request_box"),
        prompt_frame=None
        if fields.get("prompt_frame") is None
        else _integer(fields["prompt_frame"], "request.prompt_frame"),
        threshold=threshold,
        label=_optional_text(fields.get("label"), "request.label", limits),
    )


# ---- field checks: each names the field it refuses ---------------------------------------------


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


def _optional_text(value: Any, field: str, limits: DecodeLimits) -> str | None:
    return None if value is None else _text(value, field, limits)


def _indices(value: Any, field: str, limits: DecodeLimits) -> list[int]:
    if not isinstance(value, list):
        raise WireError(f"{field} must be a list of frame indices, got {_shown(value)}")
    if len(value) > limits.max_frames:
        raise LimitExceeded(f"{field} names {len(value)} frames; the limit is {limits.max_frames}")
    return [_integer(i, f"{field}[{k}]") for k, i in enumerate(value)]


def _intrinsics(value: Any, k: int) -> CameraIntrinsics | None:
    """Fx fy cx cy width height: focal lengths positive, centre finite, size positive integers."""
    if value is None:
        return None
    field = f"frames[{k}].intrinsics"
    if not isinstance(value, list) or len(value) != 6:
        raise WireError(f"{field} must be [fx, fy, cx, cy, width, height], got {_shown(value)}")
    fx, fy, cx, cy = (_number(v, field) for v in value[:4])
    width, height = (_integer(v, field) for v in value[4:])
    if fx <= 0 or fy <= 0 or width <= 0 or height <= 0:
        raise WireError(f"{field} needs positive focal lengths and image size, got {value}")
    return CameraIntrinsics(fx, fy, cx, cy, width, height)


def _label_names(value: Any, k: int, limits: DecodeLimits) -> dict[int, str] | None:
    if value is None:
        return None
    field = f"frames[{k}].label_names"
    if not isinstance(value, dict):
        raise WireError(f"{field} must map label ids to names, got {_shown(value)}")
    names = {}
    for key, name in value.items():
        if not key.lstrip("-").isdigit() or len(key) > 10:
            raise WireError(f"{field} has a key that is not a label id: {_shown(key)}")
        names[int(key)] = _text(name, f"{field}[{key}]", limits)
    return names


def _finite_array(value: np.ndarray | None, field: str) -> np.ndarray | None:
    if value is not None and not np.isfinite(value.astype(np.float64, copy=False)).all():
        raise WireError(f"{field} has NaN or infinite entries")
    return value


def _shown(value: Any) -> str:
    """A refused value as the error message shows it: its type and a short repr."""
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"
