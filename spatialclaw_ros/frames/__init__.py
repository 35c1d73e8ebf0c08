"""Frames and frame sets: the images an episode sees, with depth, intrinsics and poses when known."""

from spatialclaw_ros.frames.types import CameraIntrinsics, Frame, FrameSet

__all__ = ["CameraIntrinsics", "Frame", "FrameSet"]
