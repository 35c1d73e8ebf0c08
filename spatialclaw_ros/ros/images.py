"""rclpy sensor_msgs messages <-> numpy. Decoding is `spatialclaw_ros.frames.codec` (one codec for
the node, the bag reader and the command line; re-exported here for the nodes); this module only
builds rclpy messages.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from spatialclaw_ros.frames import CameraIntrinsics
from spatialclaw_ros.frames.codec import (  # noqa: F401  (re-exported)
    CameraCalibration,
    ImageError,
    depth_from_compressed,
    depth_from_image,
    depth_pixels,
    encode_compressed,
    encode_compressed_depth,
    encode_image,
    image_array,
    label_pixels,
    labels_from_image,
    labels_from_pixels,
    rgb_from_compressed,
    rgb_from_image,
    rgb_from_pixels,
)


def image_from_rgb(rgb: np.ndarray, header=None) -> Image:
    """An rgb8 Image message from H x W x 3 uint8 RGB."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ImageError(f"expected H x W x 3 uint8 RGB, got {rgb.shape} {rgb.dtype}")
    return image_from_array(rgb, "rgb8", header)


def image_from_array(array: np.ndarray, encoding: str, header=None) -> Image:
    """An Image message holding `array` as `encoding` (no conversion is done)."""
    raw = encode_image(array, encoding)
    msg = Image(
        height=raw.height,
        width=raw.width,
        encoding=raw.encoding,
        is_bigendian=raw.is_bigendian,
        step=raw.step,
        data=raw.data,
    )
    if header is not None:
        msg.header = header
    return msg


def compressed_from_rgb(rgb: np.ndarray, kind: str = "jpeg", header=None) -> CompressedImage:
    packed = encode_compressed(rgb, kind)
    msg = CompressedImage(format=packed.format, data=packed.data)
    if header is not None:
        msg.header = header
    return msg


def intrinsics_from_camera_info(
    msg: CameraInfo, rectified: bool = False
) -> CameraIntrinsics | None:
    """Pinhole intrinsics of the (undistorted) images; None for an uncalibrated camera (K all
    zero)."""
    calibration = CameraCalibration.from_message(msg, rectified)
    return calibration.intrinsics() if calibration.calibrated else None


def camera_info_from_intrinsics(intrinsics: CameraIntrinsics, header=None) -> CameraInfo:
    msg = CameraInfo()
    if header is not None:
        msg.header = header
    msg.width, msg.height = intrinsics.width, intrinsics.height
    k = intrinsics.matrix()
    msg.k = k.flatten().tolist()
    msg.p = np.hstack([k, np.zeros((3, 1))]).flatten().tolist()
    msg.r = np.eye(3).flatten().tolist()
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    return msg
