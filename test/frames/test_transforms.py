"""TF buffer contract: the fallback TfTree here, and tf2_ros's Buffer (through the node's adapter)
wherever tf2_ros is installed, give the same answers and refuse the same lookups."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from spatialclaw_ros.frames.poses import rigid_transform
from spatialclaw_ros.frames.transforms import TfTree, TransformLookupError


def _tf2_buffer():
    pytest.importorskip("tf2_ros")
    from spatialclaw_ros.ros.tf import Tf2Buffer

    return Tf2Buffer()


@pytest.fixture(params=["fallback", "tf2_ros"])
def buffer(request):
    return TfTree() if request.param == "fallback" else _tf2_buffer()


def yaw(angle: float, xyz=(0.0, 0.0, 0.0)) -> np.ndarray:
    return rigid_transform(xyz, Rotation.from_euler("z", angle).as_quat())


# map -> odom (static) -> base_link (dynamic, 0..2 s) -> camera_link (static) -> camera_optical
# (static)
MOUNT = rigid_transform([0.2, 0.0, 1.1], Rotation.from_euler("y", 0.3).as_quat())
OPTICAL = rigid_transform([0, 0, 0], [-0.5, 0.5, -0.5, 0.5])
MAP_ODOM = yaw(0.4, (1.0, -2.0, 0.0))


def robot(buffer) -> None:
    buffer.set_transform("map", "odom", 0.0, MAP_ODOM, static=True)
    buffer.set_transform("base_link", "camera_link", 0.0, MOUNT, static=True)
    buffer.set_transform("camera_link", "camera_optical", 0.0, OPTICAL, static=True)
    for t in (0.0, 1.0, 2.0):
        buffer.set_transform("odom", "base_link", 10.0 + t, yaw(0.5 * t, (2.0 * t, 0.0, 0.0)))


def test_a_four_hop_chain_composes_every_link(buffer):
    robot(buffer)
    expected = MAP_ODOM @ yaw(0.5, (2.0, 0.0, 0.0)) @ MOUNT @ OPTICAL
    np.testing.assert_allclose(buffer.lookup("map", "camera_optical", 11.0), expected, atol=1e-9)
    # the other way round is the inverse; a frame in itself is the identity
    np.testing.assert_allclose(
        buffer.lookup("camera_optical", "map", 11.0), np.linalg.inv(expected), atol=1e-9
    )
    np.testing.assert_allclose(buffer.lookup("odom", "odom", 11.0), np.eye(4), atol=1e-12)


def test_dynamic_links_interpolate_translation_linearly_and_rotation_by_slerp(buffer):
    robot(buffer)
    quarter = buffer.lookup("odom", "base_link", 10.25)
    np.testing.assert_allclose(quarter[:3, 3], [0.5, 0.0, 0.0], atol=1e-9)
    assert Rotation.from_matrix(quarter[:3, :3]).as_euler("xyz")[2] == pytest.approx(
        0.125, abs=1e-9
    )
    # between two frames that both move: still the composition of the interpolated links
    np.testing.assert_allclose(
        buffer.lookup("map", "camera_optical", 11.5),
        MAP_ODOM @ yaw(0.75, (3.0, 0.0, 0.0)) @ MOUNT @ OPTICAL,
        atol=1e-9,
    )


def test_static_links_hold_at_any_time(buffer):
    robot(buffer)
    for stamp in (0.0, 10.5, 1e6):
        np.testing.assert_allclose(
            buffer.lookup("base_link", "camera_optical", stamp), MOUNT @ OPTICAL, atol=1e-9
        )


def test_extrapolation_is_refused_naming_the_link(buffer):
    robot(buffer)
    for stamp in (9.5, 12.5):
        with pytest.raises(
            TransformLookupError, match="odom -> base_link|base_link.*odom|extrapolat"
        ):
            buffer.lookup("map", "camera_optical", stamp)


def test_a_broken_chain_is_refused_naming_the_frames(buffer):
    robot(buffer)
    buffer.set_transform("head", "head_camera", 10.0, np.eye(4), static=True)
    with pytest.raises(TransformLookupError, match="head"):
        buffer.lookup("map", "head_camera", 10.5)
    with pytest.raises(TransformLookupError, match="nowhere"):
        buffer.lookup("map", "nowhere", 10.5)


def test_fallback_messages_name_the_missing_link_and_roots():
    tree = TfTree()
    robot(tree)
    with pytest.raises(
        TransformLookupError,
        match=r"TF link odom -> base_link has transforms from 10.000 to 12.000 s",
    ):
        tree.lookup("map", "camera_optical", 12.5)
    tree.set_transform("head", "head_camera", 10.0, np.eye(4), static=True)
    with pytest.raises(TransformLookupError, match=r"ends at 'head'.*ends at 'map'"):
        tree.lookup("map", "head_camera", 10.5)
    assert (
        tree.world_frame("camera_optical") == "map" and tree.world_frame("head_camera") == "head"
    )
    rates = {(link.parent, link.child): link.rate_hz for link in tree.links()}
    assert rates[("odom", "base_link")] == pytest.approx(1.0) and rates[("map", "odom")] is None


def test_the_fallback_cache_drops_old_samples_but_keeps_interpolating():
    tree = TfTree(cache_s=1.0)
    for t in range(6):
        tree.set_transform("odom", "base_link", float(t), yaw(0.0, (t, 0, 0)))
    np.testing.assert_allclose(tree.lookup("odom", "base_link", 4.5)[:3, 3], [4.5, 0, 0])
    with pytest.raises(TransformLookupError):
        tree.lookup("odom", "base_link", 1.0)


def test_a_lookup_waits_up_to_its_timeout_for_a_transform_on_its_way():
    """As tf2's lookup_transform(..., timeout): TF that lags the image it belongs to is waited for,
    briefly; what does not come in time is refused as before."""
    import threading
    import time

    tree = TfTree(timeout_s=1.0)
    robot(tree)
    late = threading.Timer(
        0.3, lambda: tree.set_transform("odom", "base_link", 13.0, yaw(1.5, (6.0, 0.0, 0.0)))
    )
    late.start()
    started = time.monotonic()
    found = tree.lookup("odom", "base_link", 12.5)
    waited = time.monotonic() - started
    late.join()
    np.testing.assert_allclose(found[:3, 3], [5.0, 0.0, 0.0], atol=1e-9)
    assert 0.2 < waited < 0.9
    started = time.monotonic()
    with pytest.raises(TransformLookupError, match="extrapolation refused"):
        tree.lookup("odom", "base_link", 14.0)
    assert 0.9 < time.monotonic() - started < 2.0
