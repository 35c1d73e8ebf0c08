"""What agent code sees of the episode's frames: images that know where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spatialclaw_ros.frames.types import CameraIntrinsics


class InputImage(np.ndarray):
    """An RGB uint8 frame (H x W x 3) that remembers its video, frame index, time and camera.

    It is a numpy array, so every numpy/OpenCV function takes it directly. Arrays derived
    from it (slices, arithmetic) drop the provenance so they are not mistaken for frames.
    """

    video: int
    frame_index: int
    timestamp: float
    camera: str

    def __new__(
        cls, pixels: np.ndarray, video: int, frame_index: int, timestamp: float, camera: str
    ) -> InputImage:
        image = np.asarray(pixels).view(cls)
        image.video, image.frame_index, image.timestamp, image.camera = (
            video,
            frame_index,
            timestamp,
            camera,
        )
        image.flags.writeable = False  # shared with every cell: nothing may paint over a frame
        return image

    def __array_finalize__(self, obj) -> None:
        self.video, self.frame_index, self.timestamp, self.camera = -1, -1, float("nan"), ""

    def __array_wrap__(self, out_arr, context=None, return_scalar=False):
        plain = np.asarray(out_arr).view(np.ndarray)
        return plain[()] if return_scalar else plain

    def __repr__(self) -> str:
        if self.frame_index < 0:
            return repr(self.view(np.ndarray))
        h, w = self.shape[:2]
        return (
            f"InputImage(video={self.video}, frame_index={self.frame_index}, "
            f"t={self.timestamp:.3f}s, "
            f"camera={self.camera!r}, {w}x{h})"
        )

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("frames cannot be pickled inside the kernel")


@dataclass
class VideoInfo:
    """One input video (or camera stream)."""

    name: str
    frame_count: int
    fps: float | None
    duration: float  # seconds from the first to the last frame
    timestamps: list[float]  # seconds, relative to the video's first frame
    frame_indices: list[int]
    cameras: list[str]
    width: int
    height: int
    intrinsics: CameraIntrinsics | None = None  # of the first frame, when known
    has_depth: bool = False
    has_poses: bool = False
    world_frame: str = ""


@dataclass
class Metadata:
    """Facts about the episode's inputs. For one video the top-level fields describe it;
    with several, `videos[i]` describes `InputImages_{i+1}`."""

    videos: list[VideoInfo]
    options: list[str] = field(default_factory=list)

    @property
    def frame_count(self) -> int:
        return self.videos[0].frame_count

    @property
    def fps(self) -> float | None:
        return self.videos[0].fps

    @property
    def duration(self) -> float:
        return self.videos[0].duration

    @property
    def timestamps(self) -> list[float]:
        return self.videos[0].timestamps

    @property
    def cameras(self) -> list[str]:
        return sorted({c for v in self.videos for c in v.cameras})

    @property
    def intrinsics(self) -> CameraIntrinsics | None:
        return self.videos[0].intrinsics

    def describe(self) -> str:
        """A few lines for a prompt: what the inputs are, without any pixels."""
        lines = []
        for i, v in enumerate(self.videos):
            name = "InputImages" if len(self.videos) == 1 else f"InputImages_{i + 1}"
            fps = f"{v.fps:.2f} fps" if v.fps else "fps unknown"
            known = [k for k, flag in (("depth", v.has_depth), ("poses", v.has_poses)) if flag]
            lines.append(
                f"{name}: {v.frame_count} frames {v.width}x{v.height}, {fps}, {v.duration:.2f} s, "
                f"cameras {', '.join(v.cameras)}"
                + (f", sensor {' + '.join(known)}" if known else "")
            )
            if v.intrinsics is not None:
                k = v.intrinsics
                lines.append(
                    f"  intrinsics fx={k.fx:.1f} fy={k.fy:.1f} cx={k.cx:.1f} cy={k.cy:.1f}"
                )
        if self.options:
            lines.append("options: " + " | ".join(self.options))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.describe()
