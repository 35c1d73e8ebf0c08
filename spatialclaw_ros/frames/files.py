"""Reading frames from files: single images, a folder of frames, a video (OpenCV)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from spatialclaw_ros.frames.sampling import evenly_spaced
from spatialclaw_ros.frames.types import Frame, FrameSet

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}


def read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_folder(folder: Path, max_frames: int, fps: float | None) -> FrameSet:
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    frames = [Frame(read_image(files[i]), index=i, timestamp=i / fps if fps else 0.0)
              for i in evenly_spaced(len(files), max_frames)]
    return FrameSet(frames, name=folder.name)


def read_video(path: Path, max_frames: int) -> FrameSet:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise FileNotFoundError(f"cannot open video {path}")
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
        wanted = set(evenly_spaced(max(total, 1), max_frames))  # a stream may not report its length
        frames, number = [], 0
        # read sequentially: seeking is unreliable for many codecs
        while len(frames) < len(wanted):
            ok, image = capture.read()
            if not ok:
                break
            if number in wanted:
                timestamp = number / fps if fps > 0 else float(number)
                frames.append(Frame(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), index=number, timestamp=timestamp))
            number += 1
    finally:
        capture.release()
    if not frames:
        raise ValueError(f"no frame could be decoded from {path}")
    return FrameSet(frames, name=path.stem)
