"""What kernel code calls: perception proxies (Reconstruct, SAM3) and light helpers (Geometry,
Mask, Time, Graph, Draw), plus the `vlm` proxy. `describe()` renders their reference."""

from spatialclaw_ros.tools.inputs import InputImage, Metadata, VideoInfo
from spatialclaw_ros.tools.link import HostLink, HostServiceError
from spatialclaw_ros.tools.reference import describe
from spatialclaw_ros.tools.toolbox import Toolbox
from spatialclaw_ros.tools.vlm import VLM

__all__ = [
    "HostLink",
    "HostServiceError",
    "InputImage",
    "Metadata",
    "Toolbox",
    "VLM",
    "VideoInfo",
    "describe",
]
