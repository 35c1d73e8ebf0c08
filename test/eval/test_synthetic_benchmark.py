"""The synthetic benchmark: answers follow from geometry, borderline cases are dropped, the
self-check catches a wrong answer, letters are balanced, generation is reproducible."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from spatialclaw_ros.eval.records import read_samples
from spatialclaw_ros.eval.synthetic import Scene, SceneObject, default_intrinsics, look_at
from spatialclaw_ros.eval.synthetic.benchmark import (
    SyntheticConfig,
    generate,
    self_check,
    write_benchmark,
)
from spatialclaw_ros.eval.synthetic.clips import Clip, variant
from spatialclaw_ros.eval.synthetic.questions import Facts, measure

SMALL = {"width": 192, "height": 144, "video_frames": (8, 10)}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    config = SyntheticConfig(
        seed=5, clips={"single_image": 6, "multi_view": 6, "video": 4}, **SMALL
    )
    bench = generate(config)
    return bench, write_benchmark(bench, tmp_path_factory.mktemp("synthetic"))


def _clip(scene: Scene, poses, kind="single", family="single_image") -> Facts:
    k = default_intrinsics(192, 144, 90.0)
    return Facts(
        Clip(
            "hand",
            family,
            kind,
            [scene] * len(poses),
            poses,
            [0.5 * i for i in range(len(poses))],
            k,
        ).rendered()
    )


def _obj(name, x, y, size=0.5):
    shape = name.split("_")[1]
    return SceneObject(name, shape, (200, 30, 30), [x, y, size / 2], [size, size, size])


def test_hand_built_scene_gives_the_answers_worked_out_by_hand():
    # Camera at the origin looking along +x (map): +y is to the camera's left.
    scene = Scene(
        (_obj("red_box", 3, 1), _obj("blue_sphere", 2, -1), _obj("green_cylinder", 4.2, -0.3)),
        (12, 8, 3),
    )
    facts = _clip(scene, [look_at([-1, 0, 0.8], [3, 0, 0.25])])
    assert set(facts.visible()) == {"red_box", "blue_sphere", "green_cylinder"}
    assert measure(
        "distance", facts, {"objects": ["red_box", "blue_sphere"]}
    ).answer == pytest.approx(np.hypot(1, 2), abs=0.005)
    assert measure("size", facts, {"object": "green_cylinder"}).answer == 0.5
    assert measure("count", facts, {"shape": "sphere"}).answer == 1.0
    assert (
        measure("side_from_camera", facts, {"objects": ["red_box", "blue_sphere"]}).answer
        == "left"
    )
    nearest = measure("nearest", facts, {"objects": ["red_box", "green_cylinder"]})
    assert nearest.answer == "red box" and nearest.borderline is None
    # Standing at the blue sphere facing the red box (heading +x+2y), the cylinder lies to the
    # right, ahead.
    at = {"at": "blue_sphere", "facing": "red_box", "target": "green_cylinder"}
    assert measure("standpoint_side", facts, at).answer == "right"
    assert measure("standpoint_quadrant", facts, at).answer == "front-right"


def test_borderline_cases_are_flagged():
    # Two objects at nearly the same distance and bearing from the camera.
    scene = Scene((_obj("red_box", 3, 0.2), _obj("blue_sphere", 3.1, 0.45)), (12, 8, 3))
    facts = _clip(scene, [look_at([-1, 0, 0.8], [3, 0, 0.25])])
    assert measure("nearest", facts, {"objects": ["red_box", "blue_sphere"]}).borderline
    assert measure("side_from_camera", facts, {"objects": ["red_box", "blue_sphere"]}).borderline
    # Standing at one object facing another with the third almost straight ahead.
    line = Scene(
        (_obj("red_box", 1, 0), _obj("blue_sphere", 3, 0), _obj("green_cylinder", 4.5, 0.2)),
        (12, 8, 3),
    )
    facts = _clip(line, [look_at([-1, -2, 1.2], [3, 0, 0.25])])
    assert measure(
        "standpoint_side",
        facts,
        {"at": "red_box", "facing": "blue_sphere", "target": "green_cylinder"},
    ).borderline


def test_camera_turn_and_motion_variants_flip_the_answer():
    scene = Scene((_obj("red_box", 3, 1), _obj("blue_sphere", 3, -1)), (12, 8, 3))
    poses = [look_at([0, 0, 1.2], [3, 0.4 * i, 0.25]) for i in range(8)]  # panning left
    for i, p in enumerate(poses):
        p[:3, 3] = [0.25 * i, 0, 1.2]  # walking forward
    base = Clip(
        "walk",
        "video",
        "camera_motion",
        [scene] * 8,
        poses,
        [0.25 * i for i in range(8)],
        default_intrinsics(192, 144),
    )
    answers = {}
    for name in ("original", "mirrored", "reversed", "mirrored_reversed"):
        facts = Facts(variant(base, name).rendered() if name != "original" else base.rendered())
        answers[name] = (
            measure("camera_turn", facts, {"from": 0, "to": 7}).answer,
            measure("camera_direction", facts, {"from": 0, "to": 7}).answer,
        )
    assert answers == {
        "original": ("left", "forward"),
        "mirrored": ("right", "forward"),
        "reversed": ("right", "backward"),
        "mirrored_reversed": ("left", "backward"),
    }
    mirrored = variant(base, "mirrored").rendered()
    np.testing.assert_array_equal(
        mirrored.frames[3].image, base.rendered().frames[3].image[:, ::-1]
    )


def test_generated_benchmark_passes_its_self_check_and_covers_every_family(written):
    bench, path = written
    assert self_check(path) == []
    samples = read_samples(path)
    assert len(samples) == len(bench.samples) > 60
    assert {s.extra["family"] for s in samples} == {"single_image", "multi_view", "video"}
    categories = Counter(s.category for s in samples)
    for name in (
        "count",
        "distance",
        "size",
        "nearest",
        "standpoint_side",
        "camera_rotation",
        "camera_turn",
        "approach",
    ):
        assert categories[name] > 0, name
    groups = Counter(s.group_id for s in samples if s.group_id)
    # every video question in four DSI-style variants
    assert groups and set(groups.values()) == {4}
    assert all(
        len(f) in range(8, 11)
        for s in samples
        if s.extra["family"] == "video"
        for f in bench.frames_for(s)
    )


def test_answer_letters_are_balanced(written):
    bench, _ = written
    by_n: dict[int, Counter] = {}
    for s in bench.samples:
        if s.answer_type == "mc":
            by_n.setdefault(len(s.options), Counter())[s.answer] += 1
    assert 2 in by_n
    for n, used in by_n.items():
        counts = [used[chr(65 + i)] for i in range(n)]
        assert max(counts) - min(counts) <= 1, (n, counts)


def test_self_check_catches_a_wrong_answer_and_a_borderline_case(written, tmp_path):
    _, path = written
    lines = path.read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    number = next(i for i, r in enumerate(rows) if r["category"] == "distance")
    rows[number]["answer"] += 0.3
    choice = next(i for i, r in enumerate(rows) if r["category"] == "side_from_camera")
    rows[choice]["answer"] = "B" if rows[choice]["answer"] == "A" else "A"
    broken = path.parent / "broken.jsonl"
    broken.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    problems = self_check(broken)
    assert any(rows[number]["id"] in p for p in problems)
    assert any(rows[choice]["id"] in p for p in problems)


def test_generation_is_reproducible_from_the_seed():
    config = SyntheticConfig(seed=9, clips={"single_image": 2, "multi_view": 1}, **SMALL)
    a, b = generate(config), generate(config)
    assert [s.to_dict() for s in a.samples] == [s.to_dict() for s in b.samples]
    other = generate(SyntheticConfig(seed=10, clips={"single_image": 2, "multi_view": 1}, **SMALL))
    assert [s.question for s in other.samples] != [s.question for s in a.samples]


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="families"):
        SyntheticConfig(clips={"panorama": 1})
    with pytest.raises(ValueError, match="video_frames"):
        SyntheticConfig(video_frames=(4, 8))
