"""The one image codec, ROS-free: every encoding cameras and simulators publish, compressed colour
and depth, CameraInfo distortion. Messages are plain objects with the sensor_msgs field names, as
rosbags and rclpy both build them."""

from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from spatialclaw_ros.frames.codec import (
    CameraCalibration,
    ImageError,
    depth_from_compressed,
    depth_from_image,
    depth_from_pixels,
    encode_compressed,
    encode_compressed_depth,
    encode_image,
    labels_from_image,
    rgb_from_compressed,
    rgb_from_image,
)

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)


def message(array: np.ndarray, encoding: str, bigendian: bool = False):
    array = np.ascontiguousarray(
        array.astype(array.dtype.newbyteorder(">")) if bigendian else array
    )
    return SimpleNamespace(
        encoding=encoding,
        height=array.shape[0],
        width=array.shape[1],
        step=array.strides[0],
        is_bigendian=int(bigendian),
        data=array.tobytes(),
    )


@pytest.mark.parametrize(
    "encoding, pixels",
    [
        ("rgb8", RGB),
        ("bgr8", RGB[:, :, ::-1]),
        ("8UC3", RGB[:, :, ::-1]),
        ("rgba8", np.dstack([RGB, np.full(RGB.shape[:2], 7, np.uint8)])),
        ("bgra8", np.dstack([RGB[:, :, ::-1], np.full(RGB.shape[:2], 7, np.uint8)])),
        ("rgb16", RGB.astype(np.uint16) * 257),
        ("bgr16", RGB[:, :, ::-1].astype(np.uint16) * 257),
    ],
)
def test_colour_encodings_decode_to_the_same_rgb(encoding, pixels):
    np.testing.assert_array_equal(rgb_from_image(message(pixels, encoding)), RGB)


def test_grey_bayer_and_yuv_decode_to_rgb():
    grey = RGB[:, :, 0]
    for encoding, pixels in (
        ("mono8", grey),
        ("8UC1", grey),
        ("mono16", grey.astype(np.uint16) * 257),
    ):
        out = rgb_from_image(message(pixels, encoding))
        assert out.shape == (6, 8, 3) and np.array_equal(out[:, :, 1], grey)
    # a flat grey scene looks the same through any Bayer pattern
    flat = np.full((6, 8), 200, np.uint8)
    for pattern in ("rggb", "bggr", "gbrg", "grbg"):
        assert np.all(
            np.abs(rgb_from_image(message(flat, f"bayer_{pattern}8")).astype(int) - 200) <= 1
        )
    # a uniform red in YUYV (Y=81, U=90, V=240), the channel order in which red comes out first
    yuyv = np.tile(np.array([[81, 90], [81, 240]], np.uint8).reshape(1, 2, 2), (6, 4, 1)).reshape(
        6, 8, 2
    )
    red = rgb_from_image(message(yuyv, "yuv422_yuy2"))
    assert red[0, 0, 0] > 200 and red[0, 0, 1] < 40 and red[0, 0, 2] < 40


@pytest.mark.parametrize("bigendian", [False, True])
def test_depth_encodings_become_metres_with_nan_where_invalid(bigendian):
    mm = np.array([[0, 1500], [65535, 250]], np.uint16)
    for encoding in ("16UC1", "mono16"):
        depth = depth_from_image(message(mm, encoding, bigendian))
        assert (
            np.isnan(depth[0, 0])
            and depth[0, 1] == pytest.approx(1.5)
            and depth[1, 1] == pytest.approx(0.25)
        )
    metres = np.array([[np.nan, 2.5], [-1.0, np.inf]], np.float32)
    for encoding, dtype in (("32FC1", np.float32), ("64FC1", np.float64)):
        depth = depth_from_image(message(metres.astype(dtype), encoding, bigendian))
        assert depth.dtype == np.float32 and depth[0, 1] == pytest.approx(2.5)
        assert np.isnan(depth[[0, 1, 1], [0, 0, 1]]).all()


def test_label_encodings_keep_ids():
    ids = np.array([[0, 3], [700, 2]])
    for encoding, dtype in (
        ("16UC1", np.uint16),
        ("32SC1", np.int32),
        ("mono16", np.uint16),
        ("16SC1", np.int16),
    ):
        assert labels_from_image(message(ids.astype(dtype), encoding)).tolist() == ids.tolist()
    with pytest.raises(
        ImageError, match="unsupported label encoding 'rgb8'; supported label encodings: mono8"
    ):
        labels_from_image(message(RGB, "rgb8"))


def test_unknown_and_misused_encodings_name_the_encoding_and_the_supported_list():
    with pytest.raises(
        ImageError, match="unsupported image encoding 'nv12'; supported image encodings: rgb8"
    ):
        rgb_from_image(
            SimpleNamespace(
                encoding="nv12", height=2, width=2, step=2, is_bigendian=0, data=bytes(4)
            )
        )
    with pytest.raises(ImageError, match="unsupported depth encoding 'rgb8'"):
        depth_from_image(message(RGB, "rgb8"))
    with pytest.raises(ImageError, match="32FC1 is not a colour encoding"):
        rgb_from_image(message(np.zeros((2, 2), np.float32), "32FC1"))
    with pytest.raises(ImageError, match="48 data bytes"):
        rgb_from_image(
            SimpleNamespace(
                encoding="rgb8", height=3, width=4, step=12, is_bigendian=0, data=bytes(48)
            )
        )


def test_encoded_images_round_trip():
    depth_mm = RNG.integers(1, 5000, size=(4, 5)).astype(np.uint16)
    for array, encoding in (
        (RGB, "rgb8"),
        (depth_mm, "16UC1"),
        (RNG.random((4, 5)).astype(np.float32), "32FC1"),
    ):
        raw = encode_image(array, encoding)
        decoded = rgb_from_image(raw) if encoding == "rgb8" else depth_from_image(raw)
        expected = (
            array if encoding == "rgb8" else (array / 1000.0 if encoding == "16UC1" else array)
        )
        np.testing.assert_allclose(decoded, expected, rtol=1e-6)
    with pytest.raises(ImageError, match="16UC1 needs uint16"):
        encode_image(np.zeros((2, 2), np.float32), "16UC1")


def test_compressed_colour_jpeg_and_png():
    smooth = cv2.GaussianBlur(RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8), (9, 9), 3)
    png = encode_compressed(smooth, "png")
    assert png.format == "rgb8; png compressed bgr8"
    np.testing.assert_array_equal(rgb_from_compressed(png), smooth)
    jpeg = rgb_from_compressed(encode_compressed(smooth, "jpeg"))
    assert np.abs(jpeg.astype(int) - smooth).mean() < 3
    with pytest.raises(ImageError, match="could not decode compressed image of format 'jpeg'"):
        rgb_from_compressed(SimpleNamespace(format="jpeg", data=b"not a jpeg"))


def test_compressed_depth_16uc1_and_32fc1():
    depth = np.array([[np.nan, 1.234], [4.0, 0.5]], np.float32)
    packed = encode_compressed_depth(depth)
    assert packed.format == "16UC1; compressedDepth png"
    back = depth_from_compressed(packed)
    assert (
        np.isnan(back[0, 0])
        and back[0, 1] == pytest.approx(1.234)
        and back[1, 0] == pytest.approx(4.0)
    )
    # 32FC1 compressedDepth stores quantised inverse depth: q = A / d + B, with 0 meaning invalid
    quant_a, quant_b = 100.0, 10.0
    inverse = np.array(
        [[0, quant_a / 2.0 + quant_b], [quant_a / 0.8 + quant_b, quant_a / 5.0 + quant_b]]
    )
    _, png = cv2.imencode(".png", np.rint(inverse).astype(np.uint16))
    header = np.array([0], "<i4").tobytes() + np.array([quant_a, quant_b], "<f4").tobytes()
    metres = depth_from_compressed(
        SimpleNamespace(format="32FC1; compressedDepth png", data=header + png.tobytes())
    )
    assert np.isnan(metres[0, 0])
    np.testing.assert_allclose(metres[[0, 1, 1], [1, 0, 1]], [2.0, 0.8, 5.0], rtol=2e-3)
    with pytest.raises(ImageError, match="only PNG"):
        depth_from_compressed(SimpleNamespace(format="16UC1; compressedDepth rvl", data=bytes(20)))


def _camera_info(d, model="plumb_bob", p=None):
    k = [300.0, 0, 160, 0, 300.0, 120, 0, 0, 1]
    return SimpleNamespace(
        width=320,
        height=240,
        k=k,
        d=d,
        distortion_model=model,
        p=p if p is not None else [300.0, 0, 160, 0, 0, 300.0, 120, 0, 0, 0, 1, 0],
    )


def test_camera_info_without_distortion_is_used_as_is():
    calibration = CameraCalibration.from_message(_camera_info([0.0] * 5))
    assert calibration.undistorter() is None
    assert (calibration.intrinsics().fx, calibration.intrinsics().cx) == (300.0, 160.0)
    with pytest.raises(ImageError, match="uncalibrated"):
        CameraCalibration.from_message(
            SimpleNamespace(**{**vars(_camera_info([])), "k": [0.0] * 9})
        ).intrinsics()


@pytest.mark.parametrize(
    "model, d",
    [
        ("plumb_bob", [-0.25, 0.08, 0.001, -0.002, 0.0]),
        ("rational_polynomial", [-0.2, 0.05, 0, 0, 0, 0.01, 0, 0]),
        ("equidistant", [0.05, -0.01, 0.002, 0.0]),
    ],
)
def test_distorted_images_are_undistorted_onto_the_pinhole_model(model, d):
    info = _camera_info(d, model)
    calibration = CameraCalibration.from_message(info)
    undistorter = calibration.undistorter()
    assert undistorter is not None
    k, dist = np.asarray(info.k).reshape(3, 3), np.asarray(d)
    # a bright dot where the distorted camera sees a known ray lands where the pinhole model
    # projects it
    ray = np.array([[[0.3, -0.2, 1.0]]])
    if model == "equidistant":
        seen, _ = cv2.fisheye.projectPoints(ray, np.zeros(3), np.zeros(3), k, dist)
    else:
        seen, _ = cv2.projectPoints(ray, np.zeros(3), np.zeros(3), k, dist)
    u, v = np.rint(seen.reshape(2)).astype(int)
    image = np.zeros((240, 320, 3), np.uint8)
    cv2.circle(image, (int(u), int(v)), 3, (255, 255, 255), -1)
    out = undistorter.colour(image)
    ys, xs = np.nonzero(out[:, :, 0] > 128)
    intrinsics = calibration.intrinsics()
    expected = (intrinsics.fx * 0.3 + intrinsics.cx, intrinsics.fy * -0.2 + intrinsics.cy)
    assert abs(xs.mean() - expected[0]) < 1.5 and abs(ys.mean() - expected[1]) < 1.5
    # depth and labels are remapped nearest-neighbour: no invented values
    depth = np.where(image[:, :, 0] > 0, 2.0, 5.0).astype(np.float32)
    assert set(np.unique(undistorter.depth(depth)[~np.isnan(undistorter.depth(depth))])) <= {
        2.0,
        5.0,
    }
    assert set(np.unique(undistorter.labels((image[:, :, 0] > 0).astype(np.int32) * 7))) <= {0, 7}


def test_rectified_topics_use_p_and_are_not_undistorted_again():
    p = [280.0, 0, 150, 0, 0, 280.0, 110, 0, 0, 0, 1, 0]
    calibration = CameraCalibration.from_message(
        _camera_info([-0.2, 0.1, 0, 0, 0], p=p), rectified=True
    )
    assert calibration.undistorter() is None
    assert (calibration.intrinsics().fx, calibration.intrinsics().cx) == (280.0, 150.0)
    with pytest.raises(ImageError, match="distortion model 'kannala'"):
        _ = (
            CameraCalibration.from_message(_camera_info([0.1, 0, 0, 0], "kannala"))
            .undistorter()
            .maps
        )


@pytest.mark.parametrize(
    "pixels, encoding, message",
    [
        (np.zeros((2, 2), np.float32), "16UC1", "16UC1 depth must be uint16 millimetres"),
        (np.zeros((2, 2), np.uint16), "32FC1", "32FC1 depth must be floating-point metres"),
        (np.zeros((2, 2), np.uint8), "8UC1", "unsupported depth encoding '8UC1'"),
        (np.zeros((2, 2, 3), np.float32), "32FC1", "must be H x W, got shape"),
    ],
)
def test_depth_pixels_that_do_not_match_their_encoding_are_named(pixels, encoding, message):
    with pytest.raises(ImageError, match=message):
        depth_from_pixels(pixels, encoding)


def test_depth_conversion_leaves_its_input_alone():
    pixels = np.array([[0.0, np.inf, 2.25]], np.float32)
    depth = depth_from_pixels(pixels, "32FC1")
    assert np.isnan(depth[0, :2]).all() and depth[0, 2] == 2.25 and pixels[0, 0] == 0.0
