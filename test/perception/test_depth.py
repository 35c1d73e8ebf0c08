import numpy as np
import pytest

from spatialclaw_ros.perception.depth import decode_depth
from spatialclaw_ros.perception.errors import PerceptionError


def test_16uc1_millimetres_become_metres_with_zero_invalid():
    raw = np.array([[0, 1500], [65535, 1]], dtype=np.uint16)
    depth = decode_depth(raw, "16UC1")
    assert depth.dtype == np.float32
    assert np.isnan(depth[0, 0])
    np.testing.assert_allclose(depth[0, 1], 1.5)
    np.testing.assert_allclose(depth[1, 0], 65.535, rtol=1e-6)
    np.testing.assert_allclose(depth[1, 1], 0.001)


def test_32fc1_metres_keep_values_and_mark_nan_zero_inf_negative_invalid():
    raw = np.array([[np.nan, 0.0, 2.25], [np.inf, -1.0, 0.5]], dtype=np.float32)
    depth = decode_depth(raw, "32FC1")
    assert np.isnan(depth[[0, 0, 1, 1], [0, 1, 0, 1]]).all()
    np.testing.assert_allclose(depth[[0, 1], [2, 2]], [2.25, 0.5])
    assert raw[0, 1] == 0.0  # the input is not modified


@pytest.mark.parametrize(
    "raw, encoding, message",
    [
        (np.zeros((2, 2), np.float32), "16UC1", "uint16"),
        (np.zeros((2, 2), np.uint16), "32FC1", "float32"),
        (np.zeros((2, 2), np.uint8), "8UC1", "unsupported depth encoding"),
        (np.zeros((2, 2, 3), np.float32), "32FC1", "H x W"),
    ],
)
def test_bad_depth_input_is_named(raw, encoding, message):
    with pytest.raises(PerceptionError, match=message):
        decode_depth(raw, encoding)
