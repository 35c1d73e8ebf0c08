"""Perception objects <-> npz bytes for the HTTP service. Never pickle.

One npz archive per message: numeric arrays under their own names, everything else as JSON in
the `meta` entry (stored as uint8 bytes). Decoding uses `np.load(allow_pickle=False)`, so object
arrays are refused.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np

from spatialclaw_ros.frames import CameraIntrinsics, Frame, FrameSet
from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.types import ObjectMask, Reconstruction, Segmentation, SegmentRequest

ZIP_MAGIC = b"PK\x03\x04"
NPZ_MEDIA_TYPE = "application/x-npz"
FRAME_ARRAYS = ("image", "depth", "pose", "labels")
RECONSTRUCTION_ARRAYS = ("depth", "confidence", "intrinsics", "extrinsics")


class WireError(PerceptionError):
    """A message that is not a well-formed perception archive."""


def pack(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    return buffer.getvalue()


def unpack(body: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    if not body.startswith(ZIP_MAGIC):
        raise WireError("the body is not an npz archive (pickled and other payloads are refused)")
    try:
        with np.load(io.BytesIO(body), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as error:
        raise WireError(f"the archive holds object arrays, which are refused (no pickle): {error}") from error
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise WireError(f"the npz archive is malformed: {error}") from error
    if "meta" not in arrays or arrays["meta"].dtype != np.uint8:
        raise WireError("the archive has no 'meta' entry (JSON as uint8 bytes)")
    try:
        meta = json.loads(arrays.pop("meta").tobytes())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WireError(f"the 'meta' entry is not JSON: {error}") from error
    if not isinstance(meta, dict):
        raise WireError("the 'meta' entry must be a JSON object")
    return meta, arrays


def encode_frames(frames: FrameSet, meta: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    arrays: dict[str, np.ndarray] = {}
    described = []
    for k, f in enumerate(frames):
        for name in FRAME_ARRAYS:
            value = getattr(f, name)
            if value is not None:
                arrays[f"{name}_{k}"] = value
        described.append({
            "index": f.index, "timestamp": f.timestamp, "camera": f.camera,
            "intrinsics": None if f.intrinsics is None else [f.intrinsics.fx, f.intrinsics.fy, f.intrinsics.cx,
                                                               f.intrinsics.cy, f.intrinsics.width, f.intrinsics.height],
            "label_names": None if f.label_names is None else {str(i): n for i, n in f.label_names.items()},
        })
    header = {"frames": described, "world_frame": frames.world_frame, "name": frames.name, **(meta or {})}
    return header, arrays


def decode_frames(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> FrameSet:
    described = meta.get("frames")
    if not isinstance(described, list) or not described:
        raise WireError("the request carries no frames")
    frames = []
    try:
        for k, d in enumerate(described):
            if f"image_{k}" not in arrays:
                raise WireError(f"frame {k} has no image array")
            intrinsics = None if d.get("intrinsics") is None else CameraIntrinsics(*d["intrinsics"])
            names = None if d.get("label_names") is None else {int(i): str(n) for i, n in d["label_names"].items()}
            frames.append(Frame(
                image=arrays[f"image_{k}"], index=int(d["index"]), timestamp=float(d.get("timestamp", 0.0)),
                camera=str(d.get("camera", "camera")), depth=arrays.get(f"depth_{k}"), intrinsics=intrinsics,
                pose=arrays.get(f"pose_{k}"), labels=arrays.get(f"labels_{k}"), label_names=names,
            ))
        return FrameSet(frames, world_frame=str(meta.get("world_frame", "")), name=str(meta.get("name", "")))
    except WireError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise WireError(f"malformed frame data: {error}") from error


def encode_reconstruction(r: Reconstruction) -> bytes:
    meta = {"is_metric": r.is_metric, "frame_indices": r.frame_indices, "backend": r.backend,
            "world_frame": r.world_frame}
    return pack(meta, {name: getattr(r, name) for name in RECONSTRUCTION_ARRAYS})


def decode_reconstruction(body: bytes) -> Reconstruction:
    meta, arrays = unpack(body)
    return Reconstruction(**{name: arrays[name] for name in RECONSTRUCTION_ARRAYS}, is_metric=bool(meta["is_metric"]),
                          frame_indices=[int(i) for i in meta["frame_indices"]], backend=meta["backend"],
                          world_frame=meta["world_frame"])


def encode_segmentation(s: Segmentation, shape: tuple[int, int]) -> bytes:
    masks = np.stack([m.mask for m in s.masks]) if s.masks else np.zeros((0, *shape), dtype=bool)
    meta = {"prompt": s.prompt, "masks": [{"label": m.label, "score": m.score, "frame_index": m.frame_index,
                                           "object_id": m.object_id} for m in s.masks]}
    return pack(meta, {"masks": masks})


def decode_segmentation(body: bytes) -> Segmentation:
    meta, arrays = unpack(body)
    return Segmentation([ObjectMask(arrays["masks"][k], d["label"], float(d["score"]), int(d["frame_index"]),
                                    int(d["object_id"])) for k, d in enumerate(meta["masks"])], meta["prompt"])


def encode_request(r: SegmentRequest) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    meta = {"frame_indices": r.frame_indices, "text": r.text, "prompt_frame": r.prompt_frame,
            "threshold": r.threshold, "label": r.label}
    arrays = {name: np.asarray(getattr(r, name)) for name in ("points", "point_labels", "box")
              if getattr(r, name) is not None}
    return {"request": meta}, {f"request_{k}": v for k, v in arrays.items()}


def decode_request(meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> SegmentRequest:
    fields = meta.get("request")
    if not isinstance(fields, dict):
        raise WireError("the segment request is missing")
    try:
        return SegmentRequest(
            frame_indices=[int(i) for i in fields["frame_indices"]], text=fields.get("text"),
            points=arrays.get("request_points"), point_labels=arrays.get("request_point_labels"),
            box=arrays.get("request_box"), prompt_frame=fields.get("prompt_frame"),
            threshold=fields.get("threshold"), label=fields.get("label"),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise WireError(f"malformed segment request: {error}") from error
