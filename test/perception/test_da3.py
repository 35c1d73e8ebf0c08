"""DA3 through our wrapper: a randomly initialised da3-small, saved and loaded back offline."""

import dataclasses

import numpy as np
import pytest
import torch

from spatialclaw_ros.frames import CameraIntrinsics, FrameSet
from spatialclaw_ros.perception import FIRST_CAMERA, PerceptionError
from spatialclaw_ros.perception.da3 import DA3Reconstructor
from spatialclaw_ros.perception.fused import FusedReconstructor

# 80x60 input -> 112x84 processed (multiples of 14), so outputs must be mapped back
PROCESS_RES = 112


@pytest.fixture(scope="module")
def da3(da3_small_dir, hub_offline):
    return DA3Reconstructor(da3_small_dir, device="cpu", process_res=PROCESS_RES, chunk_size=8)


def test_loads_offline_from_a_saved_directory_and_refuses_an_unreachable_hub_id(
    da3, hub_offline, random_frames
):
    assert da3.network.model_name == "da3-small"
    assert next(da3.network.parameters()).dtype == torch.float32  # fp32 on CPU
    missing = DA3Reconstructor("depth-anything/DA3-NOT-CACHED", device="cpu")
    with pytest.raises(PerceptionError, match="DA3-NOT-CACHED"):
        missing.reconstruct(random_frames(1))


def test_shapes_conventions_and_resolution_mapping(da3, random_frames):
    frames = random_frames(3)
    reconstruction = da3.reconstruct(frames)
    assert reconstruction.depth.shape == (3, 60, 80) and reconstruction.depth.dtype == np.float32
    assert reconstruction.confidence.shape == (3, 60, 80)
    assert reconstruction.frame_indices == [10, 11, 12]
    assert reconstruction.world_frame == FIRST_CAMERA and reconstruction.backend == "da3"
    np.testing.assert_allclose(reconstruction.extrinsics[0], np.eye(4), atol=1e-5)
    for pose in reconstruction.extrinsics:
        np.testing.assert_allclose(pose[3], [0, 0, 0, 1])
        np.testing.assert_allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-4)
        assert np.linalg.det(pose[:3, :3]) == pytest.approx(1.0, abs=1e-4)

    raw = da3.network.inference(
        [f.image for f in frames], process_res=PROCESS_RES, ref_view_strategy="first"
    )
    assert raw.depth.shape == (3, 84, 112)
    # camera-to-world is the inverse of DA3's world-to-camera, re-based on the first camera
    w2c = np.tile(np.eye(4), (3, 1, 1))
    w2c[:, :3, :] = raw.extrinsics[:, :3, :]
    for i in range(3):
        np.testing.assert_allclose(
            np.linalg.inv(reconstruction.extrinsics[i]), w2c[i] @ np.linalg.inv(w2c[0]), atol=1e-4
        )
    # intrinsics are scaled from the 112x84 processed image to the 80x60 input
    np.testing.assert_allclose(
        reconstruction.intrinsics[:, 0, 0], raw.intrinsics[:, 0, 0] * 80 / 112, rtol=1e-5
    )
    np.testing.assert_allclose(
        reconstruction.intrinsics[:, 1, 2], raw.intrinsics[:, 1, 2] * 60 / 84, rtol=1e-5
    )
    assert np.nanmin(reconstruction.depth) >= raw.depth.min() - 1e-4
    assert np.nanmax(reconstruction.depth) <= raw.depth.max() + 1e-4
    # a mask's points back-project through those intrinsics: the centre pixel lies on the optical
    # axis
    mask = np.zeros((60, 80), bool)
    mask[30, 40] = True
    point = reconstruction.points_of(mask, frame_index=10)[0]
    k = reconstruction.intrinsics[0]
    np.testing.assert_allclose(
        point[:2],
        [(40 - k[0, 2]) / k[0, 0] * point[2], (30 - k[1, 2]) / k[1, 1] * point[2]],
        atol=1e-9,
    )


def test_known_intrinsics_win_over_the_estimate(da3, random_frames):
    known = CameraIntrinsics(70.0, 70.0, 39.5, 29.5, 80, 60)
    frames = FrameSet([dataclasses.replace(f, intrinsics=known) for f in random_frames(2)])
    reconstruction = da3.reconstruct(frames)
    np.testing.assert_allclose(reconstruction.intrinsics, np.stack([known.matrix()] * 2))


def test_long_frame_sets_are_chunked_and_chained(da3_small_dir, random_frames):
    frames = random_frames(3)
    chunked = DA3Reconstructor(da3_small_dir, device="cpu", process_res=PROCESS_RES, chunk_size=2)
    whole_first_pair = DA3Reconstructor(
        da3_small_dir, device="cpu", process_res=PROCESS_RES, chunk_size=8
    )
    whole_first_pair._network = chunked.network  # same weights, loaded once
    result = chunked.reconstruct(frames)
    pair = whole_first_pair.reconstruct(frames, [10, 11])
    assert result.depth.shape == (3, 60, 80)
    np.testing.assert_allclose(result.depth[:2], pair.depth, rtol=1e-4)
    np.testing.assert_allclose(result.extrinsics[:2], pair.extrinsics, atol=1e-4)
    second_pair = whole_first_pair.reconstruct(frames, [11, 12])
    # the second chunk starts at frame 11: its relative motion is carried over unchanged in
    # direction
    expected = result.extrinsics[1] @ second_pair.extrinsics[1]
    np.testing.assert_allclose(result.extrinsics[2][:3, :3], expected[:3, :3], atol=1e-4)


def test_fused_takes_scale_from_sensor_depth_and_poses_from_the_robot(da3, small_clip):
    partial = []
    for f in small_clip:
        depth = f.depth.copy()
        depth[:, :40] = np.nan  # the sensor sees only the right half
        partial.append(dataclasses.replace(f, depth=depth))
    frames = FrameSet(partial, world_frame=small_clip.world_frame)
    fused = FusedReconstructor(da3, prefer_sensor_depth=True).reconstruct(frames)
    assert fused.is_metric and fused.world_frame == "map" and fused.backend == "fused"
    np.testing.assert_allclose(fused.extrinsics, np.stack([f.pose for f in small_clip]))
    right = np.isfinite(frames[0].depth)
    np.testing.assert_allclose(fused.depth[0][right], frames[0].depth[right])
    assert np.isfinite(fused.depth[0][:, :40]).all()  # DA3 filled the holes
    relative = da3.reconstruct(frames)
    shared = np.isfinite(np.stack([f.depth for f in frames]))
    scale = np.median(np.stack([f.depth for f in frames])[shared] / relative.depth[shared])
    np.testing.assert_allclose(
        fused.depth[0][:, :40], relative.depth[0][:, :40] * scale, rtol=1e-4
    )


def test_fused_scale_from_a_straight_camera_path_without_depth(da3, small_clip):
    frames = FrameSet([dataclasses.replace(f, depth=None) for f in small_clip], world_frame="odom")
    fused = FusedReconstructor(da3).reconstruct(frames)
    relative = da3.reconstruct(frames)
    model_path = np.linalg.norm(np.diff(relative.extrinsics[:, :3, 3], axis=0), axis=1).sum()
    np.testing.assert_allclose(fused.depth, relative.depth * (0.6 / model_path), rtol=1e-4)
    assert fused.world_frame == "odom"
    unposed = FrameSet([dataclasses.replace(f, depth=None, pose=None) for f in small_clip])
    with pytest.raises(PerceptionError, match="metric cues"):
        FusedReconstructor(da3).reconstruct(unposed)


def test_frames_of_different_sizes_are_refused(da3, random_frames):
    mixed = FrameSet([random_frames(1)[0], random_frames(1, height=40)[0]])
    with pytest.raises(PerceptionError, match="share one size"):
        da3.reconstruct(mixed)
