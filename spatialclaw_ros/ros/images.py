"""sensor_msgs Image / CompressedImage <-> numpy, without cv_bridge.

Raw images become views onto the message buffer where the encoding allows it (rgb8, 16UC1,
32FC1 ...): no copy is made until a colour conversion or a unit conversion needs one. Every
image is checked against its header (encoding known, step covers the row, buffer length matches)
and a bad one raises ImageError naming the problem, so the node can drop it and keep going.
"""

from __future__ import annotations

import cv2
import numpy as np
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from spatialclaw_ros.frames import CameraIntrinsics
from spatialclaw_ros.perception.depth import decode_depth

# encoding -> (numpy dtype, channels)
RAW_ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1),
    "8UC1": (np.dtype(np.uint8), 1),
    "mono16": (np.dtype(np.uint16), 1),
    "16UC1": (np.dtype(np.uint16), 1),
    "32FC1": (np.dtype(np.float32), 1),
    "32SC1": (np.dtype(np.int32), 1),
}
DEPTH_ENCODINGS = ("16UC1", "mono16", "32FC1")
LABEL_ENCODINGS = ("mono8", "8UC1", "mono16", "16UC1", "32SC1")

_TO_RGB = {"bgr8": cv2.COLOR_BGR2RGB, "rgba8": cv2.COLOR_RGBA2RGB, "bgra8": cv2.COLOR_BGRA2RGB, "mono8": cv2.COLOR_GRAY2RGB}
# compressedDepth (image_transport's depth plugin) prefixes the PNG with a 12-byte config header.
_COMPRESSED_DEPTH_HEADER = 12


class ImageError(ValueError):
    """An image message that cannot be decoded as it claims to be."""


def image_array(msg: Image) -> np.ndarray:
    """The pixels of a raw Image as H x W (x C) in the encoding's dtype; a view of msg.data when possible."""
    encoding = msg.encoding
    if encoding not in RAW_ENCODINGS:
        raise ImageError(f"unsupported encoding {encoding!r}; supported: {', '.join(RAW_ENCODINGS)}")
    dtype, channels = RAW_ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise ImageError(f"empty {width}x{height} image")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageError(f"step {step} is shorter than a {width}-pixel {encoding} row ({row_bytes} bytes)")
    if step % dtype.itemsize:
        raise ImageError(f"step {step} is not a multiple of the {encoding} sample size")
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size != step * height:
        raise ImageError(f"{data.size} data bytes for a {height}-row image with step {step} (expected {step * height})")
    rows = data.reshape(height, step)[:, :row_bytes]
    pixels = rows
    if dtype.itemsize > 1:
        pixels = rows.view(dtype.newbyteorder(">" if msg.is_bigendian else "<"))
        if not pixels.dtype.isnative:
            pixels = pixels.astype(dtype)
    return pixels.reshape(height, width, channels) if channels > 1 else pixels.reshape(height, width)


def rgb_from_image(msg: Image) -> np.ndarray:
    """H x W x 3 uint8 RGB from any supported colour or mono encoding."""
    return rgb_from_pixels(image_array(msg), msg.encoding)


def rgb_from_pixels(pixels: np.ndarray, encoding: str) -> np.ndarray:
    """H x W x 3 uint8 RGB from the `image_array` pixels of an image in `encoding`."""
    if encoding == "rgb8":
        return pixels
    if encoding in _TO_RGB:
        return cv2.cvtColor(np.ascontiguousarray(pixels), _TO_RGB[encoding])
    if encoding in ("mono16", "16UC1"):
        return cv2.cvtColor((pixels >> 8).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    raise ImageError(f"{encoding} is not a colour encoding")


def depth_from_image(msg: Image) -> np.ndarray:
    """H x W float32 metres, NaN where invalid, from 16UC1 / mono16 (mm) or 32FC1 (m)."""
    return decode_depth(depth_pixels(msg), msg.encoding)


def depth_pixels(msg: Image) -> np.ndarray:
    """The raw depth pixels (a view where possible), for `decode_depth` with the message's encoding."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise ImageError(f"depth must be one of {', '.join(DEPTH_ENCODINGS)}, got {msg.encoding!r}")
    return image_array(msg)


def labels_from_image(msg: Image) -> np.ndarray:
    """H x W int32 instance ids (0 = background)."""
    return ids_from_label_pixels(label_pixels(msg))


def label_pixels(msg: Image) -> np.ndarray:
    """The raw pixels of a label image (a view where possible), for `ids_from_label_pixels`."""
    if msg.encoding not in LABEL_ENCODINGS:
        raise ImageError(f"label images must be one of {', '.join(LABEL_ENCODINGS)}, got {msg.encoding!r}")
    return image_array(msg)


def ids_from_label_pixels(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.int32)


def rgb_from_compressed(msg: CompressedImage) -> np.ndarray:
    """H x W x 3 uint8 RGB from a JPEG or PNG CompressedImage."""
    decoded = _imdecode(msg, cv2.IMREAD_COLOR)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def depth_from_compressed(msg: CompressedImage) -> np.ndarray:
    """float32 metres from a compressedDepth (PNG 16-bit mm) or a plain 16-bit PNG CompressedImage."""
    fmt = msg.format.lower()
    if "compresseddepth" in fmt and "png" not in fmt:
        raise ImageError(f"only PNG compressedDepth is supported, got format {msg.format!r}")
    skip = _COMPRESSED_DEPTH_HEADER if "compresseddepth" in fmt else 0
    decoded = _imdecode(msg, cv2.IMREAD_UNCHANGED, skip=skip)
    if decoded.dtype == np.uint16 and decoded.ndim == 2:
        return decode_depth(decoded, "16UC1")
    raise ImageError(f"compressed depth must decode to 16-bit single-channel, got {decoded.dtype} {decoded.shape}")


def _imdecode(msg: CompressedImage, flags: int, skip: int = 0) -> np.ndarray:
    data = np.frombuffer(msg.data, dtype=np.uint8)[skip:]
    if data.size == 0:
        raise ImageError(f"empty compressed image (format {msg.format!r})")
    decoded = cv2.imdecode(data, flags)
    if decoded is None:
        raise ImageError(f"could not decode compressed image of format {msg.format!r}")
    return decoded


def image_from_rgb(rgb: np.ndarray, header=None) -> Image:
    """An rgb8 Image message from H x W x 3 uint8 RGB."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ImageError(f"expected H x W x 3 uint8 RGB, got {rgb.shape} {rgb.dtype}")
    return _raw_image(rgb, "rgb8", header)


def image_from_array(array: np.ndarray, encoding: str, header=None) -> Image:
    """An Image message holding `array` as `encoding` (any of RAW_ENCODINGS; no conversion is done)."""
    if encoding not in RAW_ENCODINGS:
        raise ImageError(f"unsupported encoding {encoding!r}")
    dtype, channels = RAW_ENCODINGS[encoding]
    array = np.asarray(array)
    expected_ndim = 2 if channels == 1 else 3
    if array.dtype != dtype or array.ndim != expected_ndim or (channels > 1 and array.shape[2] != channels):
        raise ImageError(f"{encoding} needs {dtype} with {channels} channel(s), got {array.shape} {array.dtype}")
    return _raw_image(array, encoding, header)


def _raw_image(array: np.ndarray, encoding: str, header) -> Image:
    array = np.ascontiguousarray(array)
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(array.shape[0]), int(array.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(array.strides[0])
    msg.data = array.tobytes()
    return msg


def intrinsics_from_camera_info(msg: CameraInfo) -> CameraIntrinsics | None:
    """Pinhole intrinsics from K; None for an uncalibrated camera (K all zero).

    Distortion is ignored: drivers publish rectified `image_rect` topics for geometry.
    """
    k = np.asarray(msg.k, dtype=np.float64).reshape(3, 3)
    if k[0, 0] <= 0 or k[1, 1] <= 0 or msg.width == 0 or msg.height == 0:
        return None
    return CameraIntrinsics.from_matrix(k, int(msg.width), int(msg.height))


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
