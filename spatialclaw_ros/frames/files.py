"""Reading frames from files: single images, a folder of frames, a video (OpenCV)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from spatialclaw_ros.frames.sampling import evenly_spaced
from spatialclaw_ros.frames.types import Frame, FrameSet

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


# Words in file names that mark depth or label images, which a folder of colour frames must not
# hold.
_NOT_COLOUR = ("depth", "label", "mask", "segmentation", "instance", "semantic")


def read_image(path: Path) -> np.ndarray:
    """H x W x 3 uint8 RGB of a colour (or grey) image file; a 16-bit single-channel file is
    refused: that is a depth or label image, which cannot stand in for a colour frame."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    if image.ndim == 2 and image.dtype != np.uint8:
        raise ValueError(
            f"{path} is a {image.dtype} single-channel image (depth or labels?), not a "
            "colour frame; RGB-D frames go in a TUM RGB-D or nerfstudio folder (see docs/ros.md)"
        )
    if image.dtype == np.uint16:
        image = (image // 256).astype(np.uint8)  # the high byte
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB if image.shape[2] == 4 else cv2.COLOR_BGR2RGB)


def read_folder(folder: Path, max_frames: int, fps: float | None) -> FrameSet:
    """A folder of colour frames sorted by name; RGB-D folders (TUM RGB-D, nerfstudio) are read
    with their depth, intrinsics and poses by `frames.folders`."""
    from spatialclaw_ros.frames.folders import is_rgbd_folder, read_rgbd_folder

    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    if is_rgbd_folder(folder):
        return read_rgbd_folder(folder, max_frames)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        hint = (
            " (it has rgb/ and depth/ folders: add rgb.txt and depth.txt as TUM RGB-D does)"
            if (folder / "rgb").is_dir()
            else ""
        )
        raise ValueError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}{hint}")
    not_colour = [p.name for p in files if any(word in p.stem.lower() for word in _NOT_COLOUR)]
    if not_colour:
        raise ValueError(
            f"{folder} mixes colour frames with depth or label images ({', '.join(not_colour[:3])}"
            f"{', ...' if len(not_colour) > 3 else ''}); put RGB-D frames in the TUM RGB-D layout "
            "(rgb.txt, depth.txt) or nerfstudio's transforms.json (see docs/ros.md)"
        )
    frames = [
        Frame(read_image(files[i]), index=i, timestamp=i / fps if fps else 0.0)
        for i in evenly_spaced(len(files), max_frames)
    ]
    return FrameSet(frames, name=folder.name)


def read_video(path: Path, max_frames: int) -> FrameSet:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open video {path}")
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        # a stream may not report its length
        wanted = set(evenly_spaced(max(total, 1), max_frames))
        frames: list[Frame] = []
        number = 0
        # read sequentially: seeking is unreliable for many codecs
        while len(frames) < len(wanted):
            ok, image = capture.read()
            if not ok:
                break
            if number in wanted:
                timestamp = number / fps if fps > 0 else float(number)
                frames.append(
                    Frame(
                        cv2.cvtColor(image, cv2.COLOR_BGR2RGB), index=number, timestamp=timestamp
                    )
                )
            number += 1
    finally:
        capture.release()
    if not frames:
        raise ValueError(f"no frame could be decoded from {path}")
    return FrameSet(frames, name=path.stem)
