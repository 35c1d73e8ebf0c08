"""Bags: rendered frames survive a round trip through an mcap bag; questions carry replay times."""

from __future__ import annotations

import numpy as np
import pytest

from spatialclaw_ros.eval.records import read_samples
from spatialclaw_ros.eval.synthetic import default_intrinsics, look_at, random_scene, render
from spatialclaw_ros.eval.synthetic.bag import export_benchmark_bag, write_bag
from spatialclaw_ros.eval.synthetic.benchmark import SyntheticConfig, generate, write_benchmark
from spatialclaw_ros.frames.bags import BagError, read_frames


def _frames(seed: int, n: int):
    scene = random_scene(seed, 5)
    poses = [look_at([-3 + 0.2 * i, -2, 1.5], [0, 0, 0.4]) for i in range(n)]
    return render(
        scene, poses, default_intrinsics(96, 72), timestamps=[0.25 * i for i in range(n)]
    )


def test_frames_round_trip_through_an_mcap_bag(tmp_path):
    first, second = _frames(1, 3), _frames(2, 2)
    timeline = write_bag([first, second], tmp_path / "bag", start=100.0, gap_s=1.0)
    assert [(c.start, c.end, c.frames) for c in timeline] == [
        (100.0, 100.5, 3),
        (101.5, 101.75, 2),
    ]
    assert (tmp_path / "bag" / "metadata.yaml").exists() and list(
        (tmp_path / "bag").glob("*.mcap")
    )
    back = read_frames(tmp_path / "bag")[0]
    assert len(back) == 5 and back.world_frame == "map"
    assert back.timestamps == pytest.approx([100.0, 100.25, 100.5, 101.5, 101.75])
    for original, read in zip(list(first) + list(second), back, strict=True):
        np.testing.assert_array_equal(read.image, original.image)
        np.testing.assert_array_equal(read.depth, original.depth)
        np.testing.assert_array_equal(read.labels, original.labels)
        np.testing.assert_allclose(read.pose, original.pose, atol=1e-12)
        assert read.label_names == original.label_names and read.intrinsics == original.intrinsics
    window = read_frames(tmp_path / "bag", start=timeline[1].start, end=timeline[1].end)[0]
    np.testing.assert_array_equal(window[0].image, second[0].image)
    assert window.timestamps == pytest.approx([101.5, 101.75])  # both ends of the window included


def test_bad_bag_paths_are_refused(tmp_path):
    write_bag([_frames(1, 1)], tmp_path / "bag")
    with pytest.raises(FileExistsError):
        write_bag([_frames(1, 1)], tmp_path / "bag")
    with pytest.raises(FileNotFoundError):
        read_frames(tmp_path / "missing")
    with pytest.raises(
        BagError, match="no colour frames on /camera/color/image_raw between 50.0 and None"
    ):
        read_frames(tmp_path / "bag", start=50.0)


def test_benchmark_exports_to_a_bag_with_question_times(tmp_path):
    config = SyntheticConfig(
        seed=3, clips={"single_image": 2, "multi_view": 1}, width=96, height=72
    )
    samples_path = write_benchmark(generate(config), tmp_path / "bench")
    questions = export_benchmark_bag(samples_path, tmp_path / "replay")
    rows = read_samples(questions)
    assert [r.id for r in rows] == [s.id for s in read_samples(samples_path)]
    for row in rows:
        replay = row.extra["replay"]
        start, end = replay["window"]
        assert replay["stamp"] > end >= start
        clip = read_frames(tmp_path / "replay", start=start, end=end)[0]
        assert len(clip) == replay["frames"]
