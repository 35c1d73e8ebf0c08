"""ROS image messages <-> numpy for every supported encoding, and clear errors for bad ones."""

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image

from spatialclaw_ros.frames import CameraIntrinsics
from spatialclaw_ros.ros.images import (
    ImageError,
    camera_info_from_intrinsics,
    depth_from_compressed,
    depth_from_image,
    image_array,
    image_from_array,
    image_from_rgb,
    intrinsics_from_camera_info,
    labels_from_image,
    rgb_from_compressed,
    rgb_from_image,
)

pytestmark = pytest.mark.ros

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)


def raw(array: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False) -> Image:
    """An Image message built by hand (not through our encoder), rows padded by `pad` bytes."""
    array = np.ascontiguousarray(array)
    if bigendian:
        array = array.astype(array.dtype.newbyteorder(">"))
    rows = array.reshape(array.shape[0], -1).view(np.uint8)
    padded = np.zeros((rows.shape[0], rows.shape[1] + pad), np.uint8)
    padded[:, : rows.shape[1]] = rows
    return Image(
        height=array.shape[0],
        width=array.shape[1],
        encoding=encoding,
        is_bigendian=int(bigendian),
        step=padded.shape[1],
        data=padded.tobytes(),
    )


@pytest.mark.parametrize(
    "encoding, pixels",
    [
        ("rgb8", RGB),
        ("bgr8", RGB[:, :, ::-1]),
        ("rgba8", np.dstack([RGB, np.full(RGB.shape[:2], 9, np.uint8)])),
        ("bgra8", np.dstack([RGB[:, :, ::-1], np.full(RGB.shape[:2], 9, np.uint8)])),
    ],
)
@pytest.mark.parametrize("pad", [0, 5])
def test_colour_encodings_decode_to_rgb(encoding, pixels, pad):
    assert np.array_equal(rgb_from_image(raw(pixels, encoding, pad)), RGB)


def test_rgb8_without_padding_is_a_view_of_the_message():
    msg = raw(RGB, "rgb8")
    out = rgb_from_image(msg)
    assert not out.flags.owndata and np.shares_memory(out, np.frombuffer(msg.data, np.uint8))


def test_mono_encodings_become_grey_rgb():
    grey = RGB[:, :, 0]
    out8 = rgb_from_image(raw(grey, "mono8"))
    assert np.array_equal(out8[:, :, 1], grey) and out8.shape == (5, 7, 3)
    out16 = rgb_from_image(raw(grey.astype(np.uint16) * 256, "mono16"))
    assert np.array_equal(out16[:, :, 2], grey)


@pytest.mark.parametrize("bigendian", [False, True])
def test_depth_16uc1_millimetres_and_32fc1_metres(bigendian):
    mm = np.array([[0, 1500, 65535]], dtype=np.uint16)
    depth = depth_from_image(raw(mm, "16UC1", pad=2, bigendian=bigendian))
    assert depth.dtype == np.float32 and np.isnan(depth[0, 0])
    assert depth[0, 1:] == pytest.approx([1.5, 65.535])
    mono16 = depth_from_image(raw(mm, "mono16", bigendian=bigendian))  # millimetres too
    assert np.isnan(mono16[0, 0]) and mono16[0, 1:] == pytest.approx([1.5, 65.535])
    metres = np.array([[np.nan, 2.25, 0.0]], dtype=np.float32)
    depth = depth_from_image(raw(metres, "32FC1", bigendian=bigendian))
    assert np.isnan(depth[0, 0]) and depth[0, 1] == 2.25 and np.isnan(depth[0, 2])


def test_labels_keep_instance_ids():
    ids = np.array([[0, 3], [700, 2]], dtype=np.uint16)
    assert labels_from_image(raw(ids, "16UC1")).tolist() == [[0, 3], [700, 2]]
    with pytest.raises(ImageError, match="unsupported label encoding"):
        labels_from_image(raw(RGB, "rgb8"))


def test_compressed_jpeg_png_and_compressed_depth():
    ok, png = cv2.imencode(".png", RGB[:, :, ::-1])
    assert np.array_equal(
        rgb_from_compressed(CompressedImage(format="png", data=png.tobytes())), RGB
    )
    smooth = np.full((16, 16, 3), (200, 40, 90), np.uint8)
    ok, jpeg = cv2.imencode(".jpg", smooth[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    decoded = rgb_from_compressed(
        CompressedImage(format="rgb8; jpeg compressed bgr8", data=jpeg.tobytes())
    )
    assert np.abs(decoded.astype(int) - smooth).max() <= 3
    mm = np.array([[0, 1234], [4000, 5]], dtype=np.uint16)
    ok, depth_png = cv2.imencode(".png", mm)
    msg = CompressedImage(
        format="16UC1; compressedDepth png", data=bytes(12) + depth_png.tobytes()
    )
    depth = depth_from_compressed(msg)
    assert np.isnan(depth[0, 0]) and depth[1, 0] == pytest.approx(4.0)


@pytest.mark.parametrize(
    "msg, problem",
    [
        (
            Image(height=2, width=3, encoding="yuv444", step=6, data=bytes(12)),
            "unsupported image encoding 'yuv444'",
        ),
        (Image(height=2, width=3, encoding="rgb8", step=6, data=bytes(12)), "step 6 is shorter"),
        (Image(height=2, width=3, encoding="rgb8", step=9, data=bytes(17)), "17 data bytes"),
        (Image(height=0, width=3, encoding="rgb8", step=9, data=b""), "empty"),
        (Image(height=2, width=3, encoding="16UC1", step=7, data=bytes(14)), "not a multiple"),
    ],
)
def test_bad_images_raise_a_clear_error(msg, problem):
    with pytest.raises(ImageError, match=problem):
        image_array(msg)


def test_bad_compressed_and_wrong_depth_encoding():
    with pytest.raises(ImageError, match="could not decode"):
        rgb_from_compressed(CompressedImage(format="jpeg", data=b"not a jpeg"))
    with pytest.raises(ImageError, match="unsupported depth encoding 'rgb8'"):
        depth_from_image(raw(RGB, "rgb8"))


def test_encoders_round_trip():
    assert np.array_equal(rgb_from_image(image_from_rgb(RGB)), RGB)
    mm = RNG.integers(1, 5000, size=(4, 6), dtype=np.uint16)
    assert depth_from_image(image_from_array(mm, "16UC1")) == pytest.approx(mm / 1000.0)
    with pytest.raises(ImageError):
        image_from_array(mm, "32FC1")
    k = CameraIntrinsics(500.0, 510.0, 319.5, 239.5, 640, 480)
    assert intrinsics_from_camera_info(camera_info_from_intrinsics(k)) == k
    uncalibrated = camera_info_from_intrinsics(k)
    uncalibrated.k = [0.0] * 9
    assert intrinsics_from_camera_info(uncalibrated) is None
