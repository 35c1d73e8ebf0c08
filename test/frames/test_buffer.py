"""FrameBuffer: bounded by count and age, pairs streams by stamp, samples evenly over a window."""

import threading

import numpy as np
import pytest

from spatialclaw_ros.frames import CameraIntrinsics
from spatialclaw_ros.frames.buffer import (
    BufferLimits,
    FrameBuffer,
    FrameRejected,
    NoFramesError,
    SampleRequest,
    UnknownCameraError,
)

H, W = 6, 8
K = CameraIntrinsics(10.0, 10.0, 3.5, 2.5, W, H)


def rgb(value: int) -> np.ndarray:
    return np.full((H, W, 3), value % 256, dtype=np.uint8)


def filled(cameras=("front",), n=10, rate=10.0, limits=BufferLimits(), t0=100.0) -> FrameBuffer:
    buffer = FrameBuffer(list(cameras), limits)
    for camera in cameras:
        buffer.add_intrinsics(camera, t0, K)
        for i in range(n):
            stamp = t0 + i / rate
            buffer.add_color(camera, stamp, rgb(i))
            buffer.add_depth(camera, stamp + 0.004, np.full((H, W), 1.0 + i, dtype=np.float32))
    return buffer


def test_sample_spreads_frames_over_the_window_and_ends_at_the_newest():
    buffer = filled(n=30)  # 100.0 .. 102.9 s
    frames = buffer.sample("front", SampleRequest(window_s=2.0, count=5))
    assert [round(f.timestamp, 2) for f in frames] == [100.9, 101.4, 101.9, 102.4, 102.9]
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert frames.name == "front" and frames.cameras == ["front"]
    # each colour frame got the depth captured 4 ms after it, not another one
    for f in frames:
        assert f.depth[0, 0] == pytest.approx(1.0 + round((f.timestamp - 100.0) * 10))
        assert f.intrinsics == K


def test_sample_at_a_past_time_and_count_larger_than_available():
    buffer = filled(n=30)
    frames = buffer.sample("front", SampleRequest(window_s=0.35, count=50, at_time=101.0))
    assert [round(f.timestamp, 2) for f in frames] == [100.7, 100.8, 100.9, 101.0]


def test_depth_outside_the_sync_tolerance_is_not_paired():
    buffer = FrameBuffer(["front"], BufferLimits(sync_tolerance_s=0.01))
    buffer.add_color("front", 1.0, rgb(1))
    buffer.add_depth("front", 1.05, np.ones((H, W), np.float32))
    frames = buffer.sample("front", SampleRequest(window_s=1.0, count=1))
    assert frames[0].depth is None and not frames.has_depth


def test_the_newest_frame_waits_for_depth_on_its_way_but_not_for_lost_depth():
    buffer = filled(n=10)  # colour and depth 100.0 .. 100.9 s
    buffer.add_color("front", 101.0, rgb(10))  # its depth is still on its way
    frames = buffer.sample("front", SampleRequest(window_s=0.25, count=3))
    assert [round(f.timestamp, 2) for f in frames] == [100.7, 100.8, 100.9] and frames.has_depth
    buffer.add_depth("front", 101.004, np.full((H, W), 11.0, dtype=np.float32))
    frames = buffer.sample("front", SampleRequest(window_s=0.25, count=3))
    assert [round(f.timestamp, 2) for f in frames] == [100.8, 100.9, 101.0] and frames[-1].depth[
        0, 0
    ] == 11.0
    # depth stops: once the newest colour frame is more than half a second ahead, it is sampled
    # without
    for i in range(11, 18):
        buffer.add_color("front", 100.0 + i / 10, rgb(i))
    newest = buffer.sample("front", SampleRequest(window_s=0.0, count=1))
    assert round(newest[0].timestamp, 2) == 101.7 and newest[0].depth is None


def test_a_frame_whose_depth_was_lost_is_swapped_for_its_nearest_neighbour_with_depth():
    buffer = FrameBuffer(["front"], BufferLimits())
    for i in range(10):
        buffer.add_color("front", 100.0 + i / 10, rgb(i))
        if i != 6:  # a depth message lost on a best-effort topic
            buffer.add_depth("front", 100.0 + i / 10, np.full((H, W), float(i), dtype=np.float32))
    frames = buffer.sample("front", SampleRequest(window_s=0.9, count=4))
    assert [round(f.timestamp, 2) for f in frames] == [
        100.0,
        100.3,
        100.7,
        100.9,
    ] and frames.has_depth
    # frame 6 was picked: swapped for 7
    assert [f.depth[0, 0] for f in frames] == [0.0, 3.0, 7.0, 9.0]
    # with no frame to spare the gap stays, for the caller to report
    every = buffer.sample("front", SampleRequest(window_s=0.9, count=10))
    assert [f.depth is None for f in every] == [i == 6 for i in range(10)]


def test_bounded_by_count_and_by_age():
    by_count = filled(n=50, limits=BufferLimits(max_frames=12))
    assert by_count.count("front") == 12
    by_age = filled(n=50, rate=10.0, limits=BufferLimits(max_age_s=1.0))
    frames = by_age.sample("front", SampleRequest(window_s=100.0, count=100))
    assert len(frames) == 11  # 103.9 back to 104.9 - 1.0
    assert frames[0].timestamp == pytest.approx(103.9)


def test_out_of_order_frames_are_kept_in_stamp_order():
    buffer = FrameBuffer(["front"])
    for stamp in (1.0, 3.0, 2.0, 0.5):
        buffer.add_color("front", stamp, rgb(int(stamp * 10)))
    frames = buffer.sample("front", SampleRequest(window_s=10.0, count=10))
    assert frames.timestamps == [0.5, 1.0, 2.0, 3.0]
    assert frames[2].image[0, 0, 0] == 20


def test_errors_name_the_problem():
    buffer = filled()
    with pytest.raises(UnknownCameraError, match="'rear'.*front"):
        buffer.sample("rear", SampleRequest(window_s=1.0, count=1))
    with pytest.raises(NoFramesError, match="holds 100.000 s to 100.900 s"):
        buffer.sample("front", SampleRequest(window_s=1.0, count=1, at_time=50.0))
    with pytest.raises(NoFramesError, match="no frames received yet"):
        FrameBuffer(["a"]).sample("a", SampleRequest(window_s=1.0, count=1))
    with pytest.raises(ValueError):
        SampleRequest(window_s=1.0, count=0)


def test_mismatched_images_are_rejected_and_nothing_is_lost():
    buffer = filled(n=3)
    with pytest.raises(FrameRejected, match="4x3 but its colour images are 8x6"):
        buffer.add_depth("front", 100.1, np.ones((3, 4), np.float32))
    with pytest.raises(FrameRejected):
        buffer.add_color("front", 200.0, np.zeros((H, W), np.uint8))
    frames = buffer.sample("front", SampleRequest(window_s=10, count=10))
    assert len(frames) == 3 and frames.has_depth and frames[-1].timestamp == pytest.approx(100.2)


def test_labels_and_names_travel_with_the_frame():
    buffer = FrameBuffer(["sim"])
    buffer.add_color("sim", 1.0, rgb(0))
    labels = np.zeros((H, W), np.int32)
    labels[2:4, 2:5] = 7
    buffer.add_labels("sim", 1.0, labels, {7: "red chair"})
    frame = buffer.sample("sim", SampleRequest(window_s=1.0, count=1))[0]
    assert frame.label_names == {7: "red chair"} and (frame.labels == 7).sum() == 6


def test_poses_come_from_the_callable_and_a_partly_posed_set_gets_none():
    buffer = filled(n=5)
    posed = buffer.sample(
        "front",
        SampleRequest(window_s=10, count=5),
        pose_at=lambda t: np.eye(4) * 1,
        world_frame="odom",
    )
    assert posed.has_poses and posed.world_frame == "odom"
    partly = buffer.sample(
        "front",
        SampleRequest(window_s=10, count=5),
        pose_at=lambda t: np.eye(4) if t > 100.25 else None,
        world_frame="odom",
    )
    assert not any(f.pose is not None for f in partly) and partly.world_frame == ""


def test_concurrent_ingest_and_sampling():
    buffer = FrameBuffer(["front"], BufferLimits(max_frames=20))
    errors = []

    def publish():
        for i in range(2000):
            buffer.add_color("front", i * 0.01, rgb(i))

    def sample():
        for _ in range(200):
            try:
                frames = buffer.sample("front", SampleRequest(window_s=0.1, count=4))
                assert frames.timestamps == sorted(frames.timestamps)
            except NoFramesError:
                pass
            except Exception as error:  # noqa: BLE001 - report any failure from the thread
                errors.append(error)

    threads = [threading.Thread(target=publish), threading.Thread(target=sample)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors and buffer.count("front") == 20


def test_a_fast_camera_is_thinned_to_one_frame_per_interval_with_its_depth():
    buffer = FrameBuffer(["front"], BufferLimits(min_interval_s=0.1))
    kept = []
    for i in range(31):  # 30 Hz for one second; depth arrives first for odd frames
        stamp = 100.0 + i / 30
        depth = np.full((H, W), float(i), np.float32)
        if i % 2:
            buffer.add_depth("front", stamp, depth)
        if buffer.add_color("front", stamp, rgb(i)):
            kept.append(i)
        if not i % 2:
            buffer.add_depth("front", stamp, depth)
    assert kept == list(range(0, 31, 3))  # every third frame: 10 Hz
    frames = buffer.sample("front", SampleRequest(window_s=10.0, count=100))
    # each kept frame has its own depth
    assert [f.depth[0, 0] for f in frames] == [float(i) for i in kept]
    # depth of skipped frames is not kept, whichever arrived first: memory is bounded like colour's
    assert len(buffer._streams["front"].depth) == len(kept)


def test_only_kept_frames_are_decoded():
    """Colour given as a decoder is decoded only when thinning keeps the frame; labels given as raw
    pixels with a decoder, like depth, only when a question samples them."""
    buffer = FrameBuffer(["front"], BufferLimits(min_interval_s=0.1))
    decoded = []

    def colour(i):
        def decode():
            decoded.append(i)
            return rgb(i)

        return decode

    def as_ids(pixels):
        decoded.append("labels")
        return pixels.astype(np.int32)

    kept = [i for i in range(7) if buffer.add_color("front", 100.0 + i / 30, colour(i))]
    for i in range(7):
        buffer.add_labels("front", 100.0 + i / 30, np.full((H, W), i, np.uint8), decode=as_ids)
    assert kept == [0, 3, 6] and decoded == kept
    with pytest.raises(FrameRejected):  # a decoder's image is checked like a given one
        buffer.add_color("front", 101.0, lambda: np.zeros((H, W), np.uint8))
    frames = buffer.sample("front", SampleRequest(window_s=1.0, count=2))
    assert decoded == [*kept, "labels", "labels"]
    assert [f.labels.dtype for f in frames] == [np.int32, np.int32] and [
        f.labels[0, 0] for f in frames
    ] == [0, 6]


def test_interval_rule_for_late_frames_and_when_off():
    buffer = FrameBuffer(["front"], BufferLimits(min_interval_s=0.5))
    for stamp in (1.0, 2.0):
        assert buffer.add_color("front", stamp, rgb(1))
    assert not buffer.add_color("front", 1.7, rgb(2))  # late, and 0.3 s before a kept frame
    assert buffer.add_color("front", 1.5, rgb(3))  # late, 0.5 s from both neighbours
    assert not buffer.add_color("front", 2.2, rgb(4))
    assert buffer.sample("front", SampleRequest(window_s=10.0, count=10)).timestamps == [
        1.0,
        1.5,
        2.0,
    ]
    every = FrameBuffer(["front"], BufferLimits(min_interval_s=0.0))
    assert (
        all(every.add_color("front", 1.0 + i * 0.001, rgb(i)) for i in range(10))
        and every.count("front") == 10
    )
    with pytest.raises(ValueError):
        BufferLimits(min_interval_s=-1.0)


def test_a_single_frame_sample_is_the_newest_in_the_window():
    buffer = filled(n=10)
    assert buffer.sample("front", SampleRequest(window_s=0.5, count=1))[
        0
    ].timestamp == pytest.approx(100.9)


def test_label_names_are_merged_and_each_frame_names_the_ids_it_shows():
    buffer = FrameBuffer(["sim"])
    buffer.update_label_names("sim", {1: "red box", 2: "blue ball"})
    for stamp, ids in ((1.0, (1,)), (2.0, (1, 2))):
        labels = np.zeros((H, W), np.int32)
        for k, instance in enumerate(ids):
            labels[k, :] = instance
        buffer.add_color("sim", stamp, rgb(0))
        buffer.add_labels("sim", stamp, labels)
    buffer.update_label_names("sim", {2: "green cone"})  # the id named again: the new name wins
    frames = buffer.sample("sim", SampleRequest(window_s=5.0, count=2))
    assert [f.label_names for f in frames] == [{1: "red box"}, {1: "red box", 2: "green cone"}]
