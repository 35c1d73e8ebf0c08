"""The dataclasses that may cross the channel, by direction."""

from spatialclaw_ros.frames.types import CameraIntrinsics
from spatialclaw_ros.perception.types import (
    Box3D,
    ObjectDistance,
    ObjectMask,
    Reconstruction,
    Segmentation,
)
from spatialclaw_ros.tools.inputs import Metadata, VideoInfo
from spatialclaw_ros.wire import type_table

# Host -> worker (and worker -> worker-side decoding): results of perception and the metadata.
WIRE_TYPES = type_table(
    Box3D,
    ObjectDistance,
    ObjectMask,
    Segmentation,
    Reconstruction,
    CameraIntrinsics,
    VideoInfo,
    Metadata,
)

# Worker -> host: the host rebuilds only these, and checks their fields again.
RESULT_TYPES = type_table(Box3D, ObjectDistance)
