"""RGB-D folders with intrinsics and poses, in the two layouts people already have on disk.

TUM RGB-D (the benchmark's own layout, as its tools write it):
    rgb.txt          "timestamp rgb/<file>.png" lines ('#' comments)
    depth.txt        "timestamp depth/<file>.png": 16-bit PNG, 5000 units per metre (TUM's scale)
    groundtruth.txt  "timestamp tx ty tz qx qy qz qw": the colour camera's optical frame in
                     the world (optional; without it the reconstruction estimates poses)
    calibration.txt  "fx fy cx cy" (TUM does not ship intrinsics in the folder: write the ones of
                     your sequence, e.g. 517.3 516.5 318.6 255.3 for freiburg1; optional)
Depth and poses are matched to each colour image by timestamp (depth within 20 ms, poses
interpolated between the two samples around it, never extrapolated).

nerfstudio (`transforms.json` as ns-process-data writes it): fl_x, fl_y, cx, cy, w, h and per frame
file_path, transform_matrix (camera-to-world, OpenGL axes: converted to OpenCV's) and optionally
depth_file_path (16-bit PNG millimetres, nerfstudio's default depth scale). Distortion
coefficients in the file are refused: undistort first (ns-process-data does).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from spatialclaw_ros.frames.codec import depth_from_pixels
from spatialclaw_ros.frames.files import read_image
from spatialclaw_ros.frames.poses import rigid_transform
from spatialclaw_ros.frames.sampling import evenly_spaced
from spatialclaw_ros.frames.transforms import TfTree, TransformLookupError
from spatialclaw_ros.frames.types import CameraIntrinsics, Frame, FrameSet

TUM_DEPTH_UNITS_PER_METRE = 5000.0
_TUM_DEPTH_SYNC_S = 0.02
_OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])  # nerfstudio cameras look down -z with y up


def is_rgbd_folder(folder: Path) -> bool:
    return (folder / "rgb.txt").is_file() or (folder / "transforms.json").is_file()


def read_rgbd_folder(folder: str | Path, max_frames: int) -> FrameSet:
    folder = Path(folder)
    if (folder / "transforms.json").is_file():
        return read_nerfstudio(folder, max_frames)
    if (folder / "rgb.txt").is_file():
        return read_tum(folder, max_frames)
    raise ValueError(
        f"{folder} has neither rgb.txt (TUM RGB-D layout) nor transforms.json (nerfstudio layout)"
    )


def _stamped_lines(path: Path, fields: int) -> list[list[str]]:
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != fields:
            raise ValueError(
                f"{path}:{number}: expected {fields} fields, got {len(parts)}: {line!r}"
            )
        rows.append(parts)
    if not rows:
        raise ValueError(f"{path} lists nothing")
    return rows


def _tum_depth(path: Path) -> np.ndarray:
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None:
        raise FileNotFoundError(f"cannot read depth image {path}")
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise ValueError(
            f"{path}: TUM depth must be a 16-bit single-channel PNG, got {raw.dtype} {raw.shape}"
        )
    # The codec's millimetre decoding, rescaled from TUM's 5000 units per metre.
    return depth_from_pixels(raw, "16UC1") * np.float32(1000.0 / TUM_DEPTH_UNITS_PER_METRE)


def read_tum(folder: Path, max_frames: int) -> FrameSet:
    colour = [(float(t), folder / name) for t, name in _stamped_lines(folder / "rgb.txt", 2)]
    depth = (
        [(float(t), folder / name) for t, name in _stamped_lines(folder / "depth.txt", 2)]
        if (folder / "depth.txt").is_file()
        else []
    )
    intrinsics = None
    if (folder / "calibration.txt").is_file():
        values = [float(v) for v in (folder / "calibration.txt").read_text().split()]
        if len(values) != 4:
            raise ValueError(
                f"{folder / 'calibration.txt'}: expected 'fx fy cx cy', got {len(values)} numbers"
            )
        intrinsics = values
    poses = None
    if (folder / "groundtruth.txt").is_file():
        poses = TfTree(cache_s=None)
        for row in _stamped_lines(folder / "groundtruth.txt", 8):
            t, x, y, z, qx, qy, qz, qw = (float(v) for v in row)
            poses.set_transform("world", "camera", t, rigid_transform([x, y, z], [qx, qy, qz, qw]))
    if depth:  # only colour images with a depth image close enough become frames
        stamps = np.array([t for t, _ in depth])
        colour = [(t, p) for t, p in colour if np.min(np.abs(stamps - t)) <= _TUM_DEPTH_SYNC_S]
        if not colour:
            raise ValueError(
                f"{folder}: no depth image within {_TUM_DEPTH_SYNC_S} s of any colour image"
            )
    frames = []
    for index, i in enumerate(evenly_spaced(len(colour), max_frames)):
        t, path = colour[i]
        image = read_image(path)
        frame_depth = _tum_depth(depth[int(np.argmin(np.abs(stamps - t)))][1]) if depth else None
        k = None
        if intrinsics is not None:
            fx, fy, cx, cy = intrinsics
            k = CameraIntrinsics(fx, fy, cx, cy, image.shape[1], image.shape[0])
        pose = None
        if poses is not None:
            try:
                pose = poses.lookup("world", "camera", t)
            except TransformLookupError as error:
                raise ValueError(
                    f"{folder}: no ground-truth pose for the image at {t:.4f} s ({error})"
                ) from None
        frames.append(
            Frame(image, index=index, timestamp=t, depth=frame_depth, intrinsics=k, pose=pose)
        )
    return FrameSet(frames, world_frame="world" if poses is not None else "", name=folder.name)


def read_nerfstudio(folder: Path, max_frames: int) -> FrameSet:
    meta = json.loads((folder / "transforms.json").read_text())
    distortion = {k: meta[k] for k in ("k1", "k2", "k3", "k4", "p1", "p2") if meta.get(k)}
    if distortion:
        raise ValueError(
            f"{folder / 'transforms.json'} has distortion {distortion}: undistort the images first"
        )
    entries = meta.get("frames") or []
    if not entries:
        raise ValueError(f"{folder / 'transforms.json'} lists no frames")
    frames = []
    for index, i in enumerate(evenly_spaced(len(entries), max_frames)):
        entry = entries[i]
        image = read_image(folder / entry["file_path"])
        fields = {k: entry.get(k, meta.get(k)) for k in ("fl_x", "fl_y", "cx", "cy", "w", "h")}
        missing = [k for k, v in fields.items() if v is None]
        if missing:
            raise ValueError(
                f"{folder / 'transforms.json'}: frame {entry['file_path']} has no "
                f"{', '.join(missing)}"
            )
        k = CameraIntrinsics(
            float(fields["fl_x"]),
            float(fields["fl_y"]),
            float(fields["cx"]),
            float(fields["cy"]),
            int(fields["w"]),
            int(fields["h"]),
        )
        depth = None
        if entry.get("depth_file_path"):
            raw = cv2.imread(str(folder / entry["depth_file_path"]), cv2.IMREAD_UNCHANGED)
            if raw is None or raw.dtype != np.uint16:
                raise ValueError(
                    f"{folder / entry['depth_file_path']}: expected a 16-bit PNG of millimetres"
                )
            depth = depth_from_pixels(raw, "16UC1")
        pose = np.asarray(entry["transform_matrix"], dtype=np.float64) @ _OPENGL_TO_OPENCV
        frames.append(
            Frame(image, index=index, timestamp=float(index), depth=depth, intrinsics=k, pose=pose)
        )
    return FrameSet(frames, world_frame="world", name=folder.name)
