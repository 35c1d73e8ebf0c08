"""Loading a sample's media into frame sets: image files, videos (evenly sampled), saved frame
sets."""

from __future__ import annotations

from pathlib import Path

from spatialclaw_ros.eval.framesets import load_frameset
from spatialclaw_ros.eval.records import MediaGroup, Sample
from spatialclaw_ros.frames import Frame, FrameSet
from spatialclaw_ros.frames.files import read_image, read_video


def load_group(group: MediaGroup, max_frames: int = 32) -> FrameSet:
    if group.kind == "frameset":
        return load_frameset(group.paths[0])
    if group.kind == "images":
        frames = [
            Frame(read_image(Path(p)), index=i, camera=group.camera)
            for i, p in enumerate(group.paths)
        ]
        return FrameSet(frames, name=group.camera)
    video = read_video(Path(group.paths[0]), max_frames)
    for frame in video:
        frame.camera = group.camera
    return FrameSet(video.frames, name=group.camera)


def load_sample_media(sample: Sample, max_frames: int = 32) -> list[FrameSet]:
    if not sample.media:
        raise ValueError(f"sample {sample.id} has no media")
    return [load_group(g, max_frames) for g in sample.media]
