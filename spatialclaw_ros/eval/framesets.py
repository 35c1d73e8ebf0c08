"""A frame set on disk: one compressed `.npz` holding images, depth, poses, intrinsics and labels.

Benchmarks with exact ground truth (the synthetic one, bag exports) store their views this way
so that depth, poses and label images survive next to the colour images. Only plain arrays are
stored (`allow_pickle=False` on load), never pickled objects.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from spatialclaw_ros.frames import CameraIntrinsics, Frame, FrameSet


def save_frameset(frames: FrameSet, path: str | Path) -> Path:
    """Write `frames` to `path` (.npz). Optional parts are stored only when every frame has
    them."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {
        "images": np.stack([f.image for f in frames]),
        "indices": np.array([f.index for f in frames], dtype=np.int64),
        "timestamps": np.array([f.timestamp for f in frames], dtype=np.float64),
    }
    if frames.has_depth:
        arrays["depth"] = np.stack([f.depth for f in frames]).astype(np.float32)
    if frames.has_poses:
        arrays["poses"] = np.stack([f.pose for f in frames])
    if frames.has_intrinsics:
        arrays["intrinsics"] = np.array(
            [[f.intrinsics.fx, f.intrinsics.fy, f.intrinsics.cx, f.intrinsics.cy] for f in frames]
        )
    if frames.has_labels:
        arrays["labels"] = np.stack([f.labels for f in frames])
    meta = {
        "world_frame": frames.world_frame,
        "name": frames.name,
        "cameras": [f.camera for f in frames],
        "label_names": [{str(k): v for k, v in (f.label_names or {}).items()} for f in frames],
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez_compressed(path, allow_pickle=False, **arrays)  # numeric arrays only
    return path


def load_frameset(path: str | Path) -> FrameSet:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"frame set file not found: {path}")
    with np.load(path, allow_pickle=False) as data:
        try:
            meta = json.loads(bytes(data["meta"]).decode())
            images = data["images"]
        except KeyError as exc:
            raise ValueError(f"{path} is not a saved frame set (missing {exc})") from None
        n, h, w = images.shape[:3]
        optional = {k: data[k] for k in ("depth", "poses", "intrinsics", "labels") if k in data}
        indices, timestamps = data["indices"], data["timestamps"]
    frames = []
    for i in range(n):
        intrinsics = None
        if "intrinsics" in optional:
            fx, fy, cx, cy = optional["intrinsics"][i]
            intrinsics = CameraIntrinsics(
                float(fx), float(fy), float(cx), float(cy), int(w), int(h)
            )
        names = meta["label_names"][i] if i < len(meta["label_names"]) else {}
        frames.append(
            Frame(
                image=images[i],
                index=int(indices[i]),
                timestamp=float(timestamps[i]),
                camera=meta["cameras"][i],
                depth=optional["depth"][i] if "depth" in optional else None,
                intrinsics=intrinsics,
                pose=optional["poses"][i] if "poses" in optional else None,
                labels=optional["labels"][i] if "labels" in optional else None,
                label_names={int(k): v for k, v in names.items()}
                if "labels" in optional
                else None,
            )
        )
    return FrameSet(frames, world_frame=meta["world_frame"], name=meta["name"])
