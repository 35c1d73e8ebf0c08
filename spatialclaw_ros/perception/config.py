"""Which perception backends run, with which weights, where.

Loaded from YAML (config/perception.yaml), environment variables SPATIALCLAW_PERCEPTION_<FIELD>,
then explicit overrides, in that order of precedence (later wins).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from spatialclaw_ros.perception.devices import check_device_name
from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.limits import DecodeLimits

RECONSTRUCT_BACKENDS = ("da3", "sensor", "fused")
SEGMENT_BACKENDS = ("sam3", "labels")
ENV_PREFIX = "SPATIALCLAW_PERCEPTION_"


@dataclass
class PerceptionConfig:
    reconstruct_backend: str = "da3"
    segment_backend: str = "sam3"
    # Hub id or local directory. DA3-BASE and DA3METRIC-LARGE are Apache-2.0; LARGE/GIANT are CC
    # BY-NC 4.0.
    # "random:<preset>" (e.g. random:da3-large) builds random weights, for benchmarks only.
    da3_model: str = "depth-anything/DA3-BASE"
    sam3_model: str = "facebook/sam3"
    device: str = "auto"  # "auto" (cuda when available), "cpu", "cuda", "cuda:1"
    # set -> use the HTTP perception service instead of in-process models
    service_url: str | None = None
    token: str | None = None  # bearer token for the service (client and server)
    process_res: int = 504  # DA3 long-edge processing resolution (rounded to multiples of 14)
    # DA3 frames per forward pass; longer sets are chained through one shared frame
    chunk_size: int = 32
    sam3_threshold: float = 0.5  # minimum instance score kept
    mask_threshold: float = 0.5
    prefer_sensor_depth: bool = True  # fused: keep sensor depth where valid, DA3 fills the holes
    cache_entries: int = 32
    cache_megabytes: int = 2048
    timeout_s: float = 300.0  # client request timeout
    max_request_megabytes: int = 512  # service: larger request bodies get 413
    max_decoded_megabytes: int = 2048  # service: bodies that decompress to more get 413
    # service and ROS services: more frames in one call get 413 / an error
    max_frames_per_request: int = 256

    def __post_init__(self) -> None:
        if self.reconstruct_backend not in RECONSTRUCT_BACKENDS:
            raise PerceptionError(
                f"reconstruct_backend must be one of {', '.join(RECONSTRUCT_BACKENDS)}, "
                f"got {self.reconstruct_backend!r}"
            )
        if self.segment_backend not in SEGMENT_BACKENDS:
            raise PerceptionError(
                f"segment_backend must be one of {', '.join(SEGMENT_BACKENDS)}, got "
                f"{self.segment_backend!r}"
            )
        if self.chunk_size < 2:
            raise PerceptionError("chunk_size must be at least 2 (chunks share one frame)")
        if self.process_res < 14:
            raise PerceptionError("process_res must be at least 14 pixels")
        check_device_name(self.device)
        # positive sizes, or a named error now rather than at the first request
        self.decode_limits()

    def decode_limits(self) -> DecodeLimits:
        """What one request to the perception service (or the perception node's ROS services) may
        hold."""
        return DecodeLimits.from_megabytes(
            self.max_request_megabytes,
            self.max_decoded_megabytes,
            max_frames=self.max_frames_per_request,
        )

    @classmethod
    def load(
        cls, path: str | Path | None = None, overrides: dict[str, Any] | None = None
    ) -> PerceptionConfig:
        values: dict[str, Any] = {}
        if path is not None:
            data = yaml.safe_load(Path(path).read_text()) or {}
            values.update(data.get("perception", data))
        names = {f.name: f for f in dataclasses.fields(cls)}
        for name, f in names.items():
            raw = os.environ.get(ENV_PREFIX + name.upper())
            if raw is not None:
                values[name] = yaml.safe_load(raw) if f.type not in ("str", "str | None") else raw
        values.update({k: v for k, v in (overrides or {}).items() if v is not None})
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise PerceptionError(
                f"unknown perception settings: {', '.join(unknown)}; known: {', '.join(names)}"
            )
        return cls(**values)
