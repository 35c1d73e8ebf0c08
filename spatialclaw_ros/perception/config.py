"""Which perception backends run, with which weights, where.

Sources, later ones win (spatialclaw_ros/settings.py): the defaults below < a YAML file
(config/perception.yaml, the `perception:` mapping) < environment variables
SPATIALCLAW_PERCEPTION_<FIELD> < explicit values (flags, ROS parameters).
"""

from __future__ import annotations

from pydantic import model_validator
from pydantic_settings import SettingsConfigDict

from spatialclaw_ros.perception.devices import check_device_name
from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.limits import DecodeLimits
from spatialclaw_ros.settings import FileSettings

RECONSTRUCT_BACKENDS = ("da3", "sensor", "fused")
SEGMENT_BACKENDS = ("sam3", "labels")
ENV_PREFIX = "SPATIALCLAW_PERCEPTION_"


class PerceptionConfig(FileSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX)
    area = "perception"
    error = PerceptionError
    yaml_section = "perception"

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

    @model_validator(mode="after")
    def _consistent(self) -> PerceptionConfig:
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
        return self

    def decode_limits(self) -> DecodeLimits:
        """What one request to the perception service (or the perception node's ROS services) may
        hold."""
        return DecodeLimits.from_megabytes(
            self.max_request_megabytes,
            self.max_decoded_megabytes,
            max_frames=self.max_frames_per_request,
        )
