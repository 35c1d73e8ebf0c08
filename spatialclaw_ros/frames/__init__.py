"""Frames and frame sets: the images an episode sees, with depth, intrinsics and poses when known;
the ring buffer that collects them from live streams; camera pose histories."""

from spatialclaw_ros.frames.buffer import BufferLimits, FrameBuffer, SampleRequest
from spatialclaw_ros.frames.poses import PoseHistory
from spatialclaw_ros.frames.types import CameraIntrinsics, Frame, FrameSet

__all__ = [
    "BufferLimits",
    "CameraIntrinsics",
    "Frame",
    "FrameBuffer",
    "FrameSet",
    "PoseHistory",
    "SampleRequest",
]
