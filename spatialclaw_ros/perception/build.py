"""build_perception: the configured backends in-process, or a client for a remote service."""

from __future__ import annotations

from spatialclaw_ros.perception.cache import ResultCache
from spatialclaw_ros.perception.config import PerceptionConfig
from spatialclaw_ros.perception.types import Perception

MEGABYTE = 1 << 20


def build_perception(config: PerceptionConfig | None = None) -> Perception:
    """Models load lazily on first use, so building is cheap."""
    config = config or PerceptionConfig()
    if config.service_url:
        from spatialclaw_ros.perception.client import PerceptionClient

        return PerceptionClient(config.service_url, config.token, timeout_s=config.timeout_s)
    from spatialclaw_ros.perception.local import LocalPerception

    return LocalPerception(
        build_reconstructor(config),
        build_segmenter(config),
        ResultCache(config.cache_entries, config.cache_megabytes * MEGABYTE),
    )


def build_reconstructor(config: PerceptionConfig):
    if config.reconstruct_backend == "sensor":
        from spatialclaw_ros.perception.sensor import SensorReconstructor

        return SensorReconstructor()
    from spatialclaw_ros.perception.da3 import DA3Reconstructor

    depth_model = DA3Reconstructor(
        config.da3_model, config.device, config.process_res, config.chunk_size
    )
    if config.reconstruct_backend == "da3":
        return depth_model
    from spatialclaw_ros.perception.fused import FusedReconstructor

    return FusedReconstructor(depth_model, config.prefer_sensor_depth)


def build_segmenter(config: PerceptionConfig):
    if config.segment_backend == "labels":
        from spatialclaw_ros.perception.labels import LabelSegmenter

        return LabelSegmenter()
    from spatialclaw_ros.perception.sam3 import Sam3Segmenter

    return Sam3Segmenter(
        config.sam3_model, config.device, config.sam3_threshold, config.mask_threshold
    )
