"""tools.Time: frame <-> seconds for the episode's videos."""

from __future__ import annotations

import numpy as np

from spatialclaw_ros.frames.sampling import evenly_spaced
from spatialclaw_ros.tools.inputs import InputImage


class Time:
    """Frame <-> time conversions. Times are seconds since the video's first frame; `video` is
    0 for InputImages (or InputImages_1), 1 for InputImages_2, ..."""

    def __init__(self, videos: list[list[InputImage]]) -> None:
        self._videos = videos

    def _frames(self, video: int) -> list[InputImage]:
        if not 0 <= video < len(self._videos):
            raise IndexError(f"video {video} does not exist (there are {len(self._videos)})")
        return self._videos[video]

    def seconds(self, frame) -> float:
        """Time of a frame (an InputImage) since its video's first frame."""
        if not isinstance(frame, InputImage) or frame.frame_index < 0:
            raise TypeError("seconds() takes one of the InputImages")
        return float(frame.timestamp - self._frames(frame.video)[0].timestamp)

    def frame_to_seconds(self, frame_index: int, video: int = 0) -> float:
        """Time of the frame with this `.frame_index`."""
        for frame in self._frames(video):
            if frame.frame_index == frame_index:
                return self.seconds(frame)
        raise KeyError(f"no frame with frame_index {frame_index} in video {video}")

    def frame_at(self, seconds: float, video: int = 0) -> InputImage:
        """The frame nearest to a time (seconds since the video's first frame)."""
        frames = self._frames(video)
        times = np.array([f.timestamp - frames[0].timestamp for f in frames])
        return frames[int(np.argmin(np.abs(times - seconds)))]

    def seconds_to_frame(self, seconds: float, video: int = 0) -> int:
        """`.frame_index` of the frame nearest to a time."""
        return self.frame_at(seconds, video).frame_index

    def key_frames(self, count: int = 16, video: int = 0) -> list[InputImage]:
        """`count` frames spread evenly over a video, its first and last included (every frame
        when it has fewer): what to give tools.Reconstruct (8-32 frames cover a scene; more
        cost time, fewer leave gaps)."""
        if count < 1:
            raise ValueError("key_frames needs a count of at least 1")
        frames = self._frames(video)
        return [frames[i] for i in evenly_spaced(len(frames), count)]

    def duration(self, video: int = 0) -> float:
        """Seconds from the first to the last frame."""
        frames = self._frames(video)
        return float(frames[-1].timestamp - frames[0].timestamp)
