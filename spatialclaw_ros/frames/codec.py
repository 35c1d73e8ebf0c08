"""The one image codec: sensor_msgs Image / CompressedImage / CameraInfo fields <-> numpy, no ROS.

The agent node (rclpy messages), the bag reader (rosbags messages) and the command line all
decode through here. Messages are read by their field names only (`encoding`, `height`, `width`,
`step`, `is_bigendian`, `data`; `format`, `data`; `k`, `d`, `p`, `distortion_model`), so any
message object with those fields works, whichever library built it.

What comes out follows frames.types: colour is H x W x 3 uint8 RGB, depth H x W float32 metres
with NaN where invalid (REP-118: 16UC1 / mono16 millimetres with 0 invalid, 32FC1 metres with
NaN, inf or <= 0 invalid), labels H x W int32 ids.

Distortion: a camera whose CameraInfo has non-zero distortion coefficients is undistorted here
(OpenCV remap: bilinear for colour, nearest for depth and labels, so no depth or id is invented
between pixels), and the frame gets the pinhole intrinsics of the undistorted image: the
projection matrix P where the driver filled it, else K. Images from `image_rect*` topics are
already rectified by image_proc and are used as they are, with P. Perception therefore always
sees a pinhole camera.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from spatialclaw_ros.frames.types import CameraIntrinsics

MILLIMETRES_PER_METRE = 1000.0

# encoding -> (sample dtype, channels). Names as sensor_msgs/image_encodings.hpp spells them.
RAW_ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    **{name: (np.dtype(np.uint8), 3) for name in ("rgb8", "bgr8", "8UC3")},
    **{name: (np.dtype(np.uint8), 4) for name in ("rgba8", "bgra8", "8UC4")},
    **{name: (np.dtype(np.uint8), 1) for name in ("mono8", "8UC1")},
    **{
        name: (np.dtype(np.uint8), 1)
        for name in ("bayer_rggb8", "bayer_bggr8", "bayer_gbrg8", "bayer_grbg8")
    },
    **{name: (np.dtype(np.uint8), 2) for name in ("yuv422", "uyvy", "yuv422_yuy2", "yuyv")},
    **{name: (np.dtype(np.uint16), 3) for name in ("rgb16", "bgr16", "16UC3")},
    **{name: (np.dtype(np.uint16), 4) for name in ("rgba16", "bgra16")},
    **{name: (np.dtype(np.uint16), 1) for name in ("mono16", "16UC1")},
    "8SC1": (np.dtype(np.int8), 1),
    "16SC1": (np.dtype(np.int16), 1),
    "32SC1": (np.dtype(np.int32), 1),
    "32FC1": (np.dtype(np.float32), 1),
    "64FC1": (np.dtype(np.float64), 1),
}
DEPTH_ENCODINGS = ("16UC1", "mono16", "32FC1", "64FC1")
LABEL_ENCODINGS = ("mono8", "8UC1", "mono16", "16UC1", "16SC1", "32SC1")

# 8-bit conversions to RGB. 8UCn carries no channel order; drivers that use it (and OpenCV)
# store BGR, so it is read as BGR. OpenCV names Bayer patterns by the second row's first two
# pixels, hence the apparent mismatch (ROS rggb = OpenCV BG).
_TO_RGB = {
    "bgr8": cv2.COLOR_BGR2RGB,
    "8UC3": cv2.COLOR_BGR2RGB,
    "rgba8": cv2.COLOR_RGBA2RGB,
    "bgra8": cv2.COLOR_BGRA2RGB,
    "8UC4": cv2.COLOR_BGRA2RGB,
    "mono8": cv2.COLOR_GRAY2RGB,
    "8UC1": cv2.COLOR_GRAY2RGB,
    "bayer_rggb8": cv2.COLOR_BayerBG2RGB,
    "bayer_bggr8": cv2.COLOR_BayerRG2RGB,
    "bayer_gbrg8": cv2.COLOR_BayerGR2RGB,
    "bayer_grbg8": cv2.COLOR_BayerGB2RGB,
    "yuv422": cv2.COLOR_YUV2RGB_UYVY,
    "uyvy": cv2.COLOR_YUV2RGB_UYVY,
    "yuv422_yuy2": cv2.COLOR_YUV2RGB_YUY2,
    "yuyv": cv2.COLOR_YUV2RGB_YUY2,
}
_WIDE_TO_RGB = {
    "rgb16": None,
    "bgr16": cv2.COLOR_BGR2RGB,
    "16UC3": cv2.COLOR_BGR2RGB,
    "rgba16": cv2.COLOR_RGBA2RGB,
    "bgra16": cv2.COLOR_BGRA2RGB,
    "mono16": cv2.COLOR_GRAY2RGB,
}

# image_transport's compressedDepth prefixes the PNG with a 12-byte header: int32 format, then two
# float32 quantisation parameters used for 32FC1 depth (stored as quantised inverse depth).
_COMPRESSED_DEPTH_HEADER = struct.Struct("<iff")


class ImageError(ValueError):
    """An image that cannot be decoded as its message claims; the message says what is wrong."""


def _supported(kind: str, names) -> str:
    return f"supported {kind} encodings: {', '.join(names)}"


# ---- raw sensor_msgs/Image ---------------------------------------------------------------------


def image_array(msg) -> np.ndarray:
    """H x W (x C) samples of a raw Image in its encoding's dtype; a view of msg.data when
    possible.

    The header is checked against the data (known encoding, step covering a row, buffer length)."""
    encoding = msg.encoding
    if encoding not in RAW_ENCODINGS:
        raise ImageError(
            f"unsupported image encoding {encoding!r}; {_supported('image', RAW_ENCODINGS)}"
        )
    dtype, channels = RAW_ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise ImageError(f"empty {width}x{height} image")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ImageError(
            f"step {step} is shorter than a {width}-pixel {encoding} row ({row_bytes} bytes)"
        )
    if step % dtype.itemsize:
        raise ImageError(f"step {step} is not a multiple of the {encoding} sample size")
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size != step * height:
        raise ImageError(
            f"{data.size} data bytes for a {height}-row image with step {step} "
            f"(expected {step * height})"
        )
    pixels = data.reshape(height, step)[:, :row_bytes]
    if dtype.itemsize > 1:
        pixels = pixels.view(dtype.newbyteorder(">" if msg.is_bigendian else "<"))
        if not pixels.dtype.isnative:
            pixels = pixels.astype(dtype)
    return (
        pixels.reshape(height, width, channels) if channels > 1 else pixels.reshape(height, width)
    )


def rgb_from_pixels(pixels: np.ndarray, encoding: str) -> np.ndarray:
    """H x W x 3 uint8 RGB from the `image_array` of an image in `encoding`."""
    if encoding == "rgb8":
        return pixels
    if encoding in _TO_RGB:
        return cv2.cvtColor(np.ascontiguousarray(pixels), _TO_RGB[encoding])
    if encoding in _WIDE_TO_RGB:
        narrow = (pixels >> 8).astype(np.uint8)  # keep the high byte: 16-bit colour -> 8-bit
        code = _WIDE_TO_RGB[encoding]
        return narrow if code is None else cv2.cvtColor(np.ascontiguousarray(narrow), code)
    colour = [*_TO_RGB, *_WIDE_TO_RGB, "rgb8"]
    raise ImageError(f"{encoding} is not a colour encoding; {_supported('colour', colour)}")


def rgb_from_image(msg) -> np.ndarray:
    """H x W x 3 uint8 RGB from any colour, mono, Bayer or YUV raw Image."""
    return rgb_from_pixels(image_array(msg), msg.encoding)


def depth_pixels(msg) -> np.ndarray:
    """The raw samples of a depth Image (a view where possible), for `depth_from_pixels`."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise ImageError(
            f"unsupported depth encoding {msg.encoding!r}; {_supported('depth', DEPTH_ENCODINGS)}"
        )
    return image_array(msg)


def depth_from_pixels(pixels: np.ndarray, encoding: str) -> np.ndarray:
    """float32 metres, NaN where invalid (REP-118), from 16UC1 / mono16 millimetres (0: no
    return) or 32FC1 / 64FC1 metres (NaN, inf, 0 or negative: no return)."""
    pixels = np.asarray(pixels)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim != 2:
        raise ImageError(f"a depth image must be H x W, got shape {pixels.shape}")
    if encoding in ("16UC1", "mono16"):
        if pixels.dtype != np.uint16:
            raise ImageError(f"{encoding} depth must be uint16 millimetres, got {pixels.dtype}")
        metres = pixels.astype(np.float32) / MILLIMETRES_PER_METRE
        metres[pixels == 0] = np.nan
        return metres
    if encoding in ("32FC1", "64FC1"):
        if pixels.dtype.kind != "f":
            raise ImageError(f"{encoding} depth must be floating-point metres, got {pixels.dtype}")
        return metres_from_float(pixels)
    raise ImageError(
        f"unsupported depth encoding {encoding!r}; {_supported('depth', DEPTH_ENCODINGS)}"
    )


def metres_from_float(depth: np.ndarray) -> np.ndarray:
    """float32 metres (a copy) with every non-return (NaN, inf, zero, negative) turned into
    NaN."""
    metres = np.array(depth, dtype=np.float32, copy=True)
    metres[~np.isfinite(metres) | (metres <= 0)] = np.nan
    return metres


def depth_from_image(msg) -> np.ndarray:
    return depth_from_pixels(depth_pixels(msg), msg.encoding)


def label_pixels(msg) -> np.ndarray:
    if msg.encoding not in LABEL_ENCODINGS:
        raise ImageError(
            f"unsupported label encoding {msg.encoding!r}; {_supported('label', LABEL_ENCODINGS)}"
        )
    return image_array(msg)


def labels_from_pixels(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.int32)


def labels_from_image(msg) -> np.ndarray:
    """H x W int32 instance ids (0 = background)."""
    return labels_from_pixels(label_pixels(msg))


@dataclass(frozen=True)
class RawImage:
    """The fields of a sensor_msgs/Image, for building a message of either library."""

    encoding: str
    height: int
    width: int
    step: int
    data: bytes
    is_bigendian: int = 0


def encode_image(array: np.ndarray, encoding: str) -> RawImage:
    """`array` as a raw Image of `encoding` (no conversion: the dtype and channels must match
    it)."""
    if encoding not in RAW_ENCODINGS:
        raise ImageError(
            f"unsupported image encoding {encoding!r}; {_supported('image', RAW_ENCODINGS)}"
        )
    dtype, channels = RAW_ENCODINGS[encoding]
    array = np.ascontiguousarray(array)
    shape_ok = (
        array.ndim == 2 if channels == 1 else (array.ndim == 3 and array.shape[2] == channels)
    )
    if array.dtype != dtype or not shape_ok:
        raise ImageError(
            f"{encoding} needs {dtype} with {channels} channel(s), got {array.shape} {array.dtype}"
        )
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    return RawImage(
        encoding, int(array.shape[0]), int(array.shape[1]), int(array.strides[0]), array.tobytes()
    )


def millimetres_from_metres(depth_m: np.ndarray) -> np.ndarray:
    """16UC1 millimetres (0 = invalid) from float metres (NaN = invalid), as RGB-D drivers
    publish."""
    depth_m = np.asarray(depth_m, dtype=np.float64)
    return (
        np.where(np.isfinite(depth_m), np.rint(depth_m * MILLIMETRES_PER_METRE), 0)
        .clip(0, 65535)
        .astype(np.uint16)
    )


# ---- sensor_msgs/CompressedImage ---------------------------------------------------------------


def _imdecode(data: np.ndarray, flags: int, fmt: str) -> np.ndarray:
    if data.size == 0:
        raise ImageError(f"empty compressed image (format {fmt!r})")
    decoded = cv2.imdecode(data, flags)
    if decoded is None:
        raise ImageError(
            f"could not decode compressed image of format {fmt!r} (expected JPEG or PNG data)"
        )
    return decoded


def rgb_from_compressed(msg) -> np.ndarray:
    """H x W x 3 uint8 RGB from a JPEG or PNG CompressedImage (8 or 16 bit, grey or colour)."""
    decoded = _imdecode(np.frombuffer(msg.data, dtype=np.uint8), cv2.IMREAD_COLOR, msg.format)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def depth_from_compressed(msg) -> np.ndarray:
    """float32 metres from image_transport's compressedDepth (16UC1 PNG in millimetres, or 32FC1
    stored as quantised inverse depth) or from a plain 16-bit PNG of millimetres."""
    fmt = msg.format
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if "compresseddepth" not in fmt.lower():
        decoded = _imdecode(data, cv2.IMREAD_UNCHANGED, fmt)
        if decoded.dtype != np.uint16 or decoded.ndim != 2:
            raise ImageError(
                "compressed depth must decode to 16-bit single-channel, got "
                f"{decoded.dtype} {decoded.shape}"
            )
        return depth_from_pixels(decoded, "16UC1")
    if "rvl" in fmt.lower():
        raise ImageError(
            f"compressedDepth format {fmt!r}: only PNG is supported (republish with png)"
        )
    if data.size < _COMPRESSED_DEPTH_HEADER.size:
        raise ImageError(f"compressedDepth message of {data.size} bytes has no header")
    _, quant_a, quant_b = _COMPRESSED_DEPTH_HEADER.unpack(
        data[: _COMPRESSED_DEPTH_HEADER.size].tobytes()
    )
    decoded = _imdecode(data[_COMPRESSED_DEPTH_HEADER.size :], cv2.IMREAD_UNCHANGED, fmt)
    if decoded.dtype != np.uint16 or decoded.ndim != 2:
        raise ImageError(
            "compressedDepth must hold a 16-bit single-channel PNG, got "
            f"{decoded.dtype} {decoded.shape}"
        )
    source_encoding = fmt.split(";")[0].strip()
    if source_encoding == "32FC1":
        metres = np.full(decoded.shape, np.nan, np.float32)
        valid = decoded != 0
        metres[valid] = quant_a / (decoded[valid].astype(np.float32) - quant_b)
        return depth_from_pixels(metres, "32FC1")
    return depth_from_pixels(decoded, "16UC1")


@dataclass(frozen=True)
class CompressedData:
    """The fields of a sensor_msgs/CompressedImage."""

    format: str
    data: bytes


def encode_compressed(rgb: np.ndarray, kind: str = "jpeg", quality: int = 95) -> CompressedData:
    """A JPEG or PNG CompressedImage of H x W x 3 RGB, format as image_transport writes it."""
    if kind not in ("jpeg", "png"):
        raise ImageError(f"compressed kind must be jpeg or png, got {kind!r}")
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if kind == "jpeg" else []
    ok, buffer = cv2.imencode(
        f".{'jpg' if kind == 'jpeg' else 'png'}", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params
    )
    if not ok:
        raise ImageError(f"could not encode a {kind} image")
    return CompressedData(f"rgb8; {kind} compressed bgr8", buffer.tobytes())


def encode_compressed_depth(depth_m: np.ndarray) -> CompressedData:
    """image_transport compressedDepth of 16UC1 millimetres (the header's quantisation unused)."""
    ok, png = cv2.imencode(".png", millimetres_from_metres(depth_m))
    if not ok:
        raise ImageError("could not encode a compressedDepth PNG")
    return CompressedData(
        "16UC1; compressedDepth png", _COMPRESSED_DEPTH_HEADER.pack(0, 0.0, 0.0) + png.tobytes()
    )


# ---- sensor_msgs/CameraInfo --------------------------------------------------------------------

_OPENCV_MODELS = ("plumb_bob", "rational_polynomial")
_FISHEYE_MODELS = ("equidistant", "fisheye")


@dataclass(frozen=True)
class CameraCalibration:
    """A CameraInfo's calibration. `rectified`: the images it describes are already undistorted
    (an image_rect topic), so only P applies."""

    width: int
    height: int
    k: tuple[float, ...]
    d: tuple[float, ...] = ()
    distortion_model: str = ""
    p: tuple[float, ...] = ()
    rectified: bool = False

    @classmethod
    def from_message(cls, msg, rectified: bool = False) -> CameraCalibration:
        """From a CameraInfo of ROS 2 (k, d, p) or ROS 1 (K, D, P)."""

        def values(name: str) -> tuple[float, ...]:
            field_value = getattr(msg, name, None)
            return tuple(
                float(v)
                for v in (field_value if field_value is not None else getattr(msg, name.upper()))
            )

        return cls(
            int(msg.width),
            int(msg.height),
            values("k"),
            values("d"),
            str(msg.distortion_model),
            values("p"),
            rectified,
        )

    @property
    def calibrated(self) -> bool:
        k = self.k
        return len(k) == 9 and k[0] > 0 and k[4] > 0 and self.width > 0 and self.height > 0

    @property
    def needs_undistortion(self) -> bool:
        return not self.rectified and any(v != 0.0 for v in self.d)

    def _projection(self) -> np.ndarray:
        """The pinhole matrix of the undistorted image: P's left 3x3 where filled, else K."""
        if len(self.p) == 12 and self.p[0] > 0 and self.p[5] > 0:
            return np.asarray(self.p, dtype=np.float64).reshape(3, 4)[:, :3]
        return np.asarray(self.k, dtype=np.float64).reshape(3, 3)

    def intrinsics(self) -> CameraIntrinsics:
        """Pinhole intrinsics of the images after `undistorter()` (if any) was applied."""
        if not self.calibrated:
            raise ImageError("CameraInfo has K all zero (an uncalibrated camera)")
        matrix = (
            self._projection()
            if (self.rectified or self.needs_undistortion)
            else np.asarray(self.k).reshape(3, 3)
        )
        return CameraIntrinsics.from_matrix(matrix, self.width, self.height)

    def undistorter(self) -> Undistorter | None:
        """What turns this camera's images into pinhole ones; None when they already are."""
        if not self.calibrated or not self.needs_undistortion:
            return None
        return Undistorter(self)


@dataclass(frozen=True)
class Undistorter:
    """Remaps images of one distorted camera onto its pinhole model (maps computed once)."""

    calibration: CameraCalibration

    @cached_property
    def maps(self) -> tuple[np.ndarray, np.ndarray]:
        c = self.calibration
        k = np.asarray(c.k, dtype=np.float64).reshape(3, 3)
        d = np.asarray(c.d, dtype=np.float64)
        new_k = c._projection()
        size = (c.width, c.height)
        if c.distortion_model in _FISHEYE_MODELS:
            return cv2.fisheye.initUndistortRectifyMap(
                k, d[:4], np.eye(3), new_k, size, cv2.CV_32FC1
            )
        if c.distortion_model in _OPENCV_MODELS or not c.distortion_model:
            return cv2.initUndistortRectifyMap(k, d, np.eye(3), new_k, size, cv2.CV_32FC1)
        raise ImageError(
            f"distortion model {c.distortion_model!r} is not supported; "
            f"supported: {', '.join(_OPENCV_MODELS + _FISHEYE_MODELS)} (or publish image_rect)"
        )

    def _remap(self, image: np.ndarray, interpolation: int) -> np.ndarray:
        if image.shape[:2] != (self.calibration.height, self.calibration.width):
            raise ImageError(
                f"image is {image.shape[1]}x{image.shape[0]} but its CameraInfo says "
                f"{self.calibration.width}x{self.calibration.height}"
            )
        map_x, map_y = self.maps
        return cv2.remap(
            image, map_x, map_y, interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )

    def colour(self, rgb: np.ndarray) -> np.ndarray:
        return self._remap(np.ascontiguousarray(rgb), cv2.INTER_LINEAR)

    def depth(self, metres: np.ndarray) -> np.ndarray:
        # NaN survives a nearest-neighbour remap; pixels mapped from outside the image become 0 ->
        # NaN.
        remapped = self._remap(np.ascontiguousarray(metres, dtype=np.float32), cv2.INTER_NEAREST)
        remapped[remapped <= 0] = np.nan
        return remapped

    def labels(self, ids: np.ndarray) -> np.ndarray:
        return self._remap(np.ascontiguousarray(ids, dtype=np.int32), cv2.INTER_NEAREST)
