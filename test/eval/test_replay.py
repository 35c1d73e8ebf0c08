"""Offline replay: the synthetic questions answered from an exported bag score as they do from
the benchmark's own frame sets (the online path through the ROS node is tested in test/ros/)."""

from __future__ import annotations

from spatialclaw_ros.agent import Question
from spatialclaw_ros.agent.rules import plan_for
from spatialclaw_ros.eval.answerers import build_answerer
from spatialclaw_ros.eval.records import read_samples
from spatialclaw_ros.eval.replay import frames_for, replay_offline
from spatialclaw_ros.eval.runner import run_samples


def test_offline_replay_from_a_bag_scores_like_the_frame_sets(tmp_path):
    from spatialclaw_ros.eval.synthetic.bag import export_benchmark_bag
    from spatialclaw_ros.eval.synthetic.benchmark import SyntheticConfig, generate, write_benchmark

    bench = generate(
        SyntheticConfig(
            seed=11, clips={"single_image": 2, "multi_view": 1, "video": 0}, width=160, height=120
        )
    )
    samples_path = write_benchmark(bench, tmp_path / "bench")
    questions = read_samples(export_benchmark_bag(samples_path, tmp_path / "bag"))
    samples = {s.id: s for s in read_samples(samples_path)}
    covered = [
        q for q in questions if plan_for(Question(q.question, list(q.options))) is not None
    ][:8]
    assert len(covered) >= 4
    # each question sees only its own clip's frames
    for q in covered:
        assert [len(v) for v in frames_for(tmp_path / "bag", q)] == [q.extra["replay"]["frames"]]

    answerer = build_answerer(
        "rules",
        reconstruct_backend="sensor",
        segment_backend="labels",
        trace_dir=str(tmp_path / "traces"),
    )
    replayed = replay_offline(
        tmp_path / "bag", covered, answerer, tmp_path / "replay", "rules", concurrency=2
    ).predictions
    direct = run_samples(
        [samples[q.id] for q in covered],
        answerer,
        tmp_path / "direct",
        "rules",
        concurrency=2,
        progress=False,
    ).predictions
    assert not any(p.error for p in replayed + direct), [
        p.error for p in replayed + direct if p.error
    ]
    assert [(p.sample_id, p.prediction, p.score) for p in replayed] == [
        (p.sample_id, p.prediction, p.score) for p in direct
    ]


def _write_lines(path, *rows):
    import json

    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_questions_files_are_checked_against_the_schema(tmp_path, capsys):
    from spatialclaw_ros.cli import main
    from spatialclaw_ros.eval.replay import check_questions

    good = _write_lines(
        tmp_path / "good.jsonl",
        {"id": "a", "question": "Which way?", "options": ["A. left", "B. right"], "answer": "B"},
        {
            "id": "b",
            "question": "Nearest?",
            "options": ["the red box", "the green box"],
            "answer": "the green box",
            "window": [1.0, 3.0],
        },
        {"id": "c", "question": "How far?", "answer": 25, "unit": "cm", "frames": 4},
    )
    assert check_questions(good) == []
    assert main(["questions", "check", str(good)]) == 0
    bad = _write_lines(
        tmp_path / "bad.jsonl",
        {"id": "a", "question": "Q?", "stamp": 3.0},
        {"id": "b", "question": "Q?", "options": ["left", "right"], "answer": "up"},
        {"id": "c", "question": "Q?", "frames": 0},
        {"id": "c", "question": "Q?"},
    )
    problems = check_questions(bad)
    assert len(problems) == 4, problems
    assert (
        "bad.jsonl:1: unknown field(s) stamp; allowed: id, question, answer, options"
        in problems[0]
    )
    assert "answer 'up' is neither a letter (A, B) nor one option's text" in problems[1]
    assert "frames: 0 is less than the minimum of 1" in problems[2]
    assert "id 'c' appears twice" in problems[3]
    assert main(["questions", "check", str(bad)]) == 1
    assert "4 problem(s)" in capsys.readouterr().err


def test_question_times_resolve_against_the_bag_and_option_letters_are_dropped(tmp_path):
    from spatialclaw_ros.eval.replay import load_questions
    from spatialclaw_ros.eval.synthetic import default_intrinsics, look_at, random_scene, render
    from spatialclaw_ros.eval.synthetic.bag import write_bag

    scene = random_scene(1, 3)
    frames = render(
        scene,
        [look_at([-3, -2, 1.5], [0, 0, 0.4])] * 3,
        default_intrinsics(32, 24),
        timestamps=[0, 1, 2],
    )
    write_bag([frames], tmp_path / "bag", start=500.0)
    questions = _write_lines(
        tmp_path / "q.jsonl",
        {"id": "relative", "question": "Q?", "window": [0.5, 1.5], "answer": "yes"},
        {
            "id": "absolute",
            "question": "Q?",
            "window": [500.5, 501.5],
            "ask_at": 501.8,
            "answer": 2.0,
            "unit": "m",
        },
        {
            "id": "forced",
            "question": "Q?",
            "window": [0.5, 1.5],
            "time_base": "bag",
            "answer": "x",
        },
        {"id": "whole", "question": "Q?", "options": ["(A) near", "(B) far"], "answer": "far"},
    )
    samples = {s.id: s for s in load_questions(questions, tmp_path / "bag")}
    assert samples["relative"].extra["replay"] == {"window": [500.5, 501.5], "stamp": 502.0}
    assert samples["relative"].answer_type == "yes_no"
    assert samples["absolute"].extra["replay"]["window"] == [500.5, 501.5]
    assert (
        samples["absolute"].extra["replay"]["stamp"] == 501.8
        and samples["absolute"].metric == "mra"
    )
    assert samples["forced"].extra["replay"]["window"] == [0.5, 1.5]
    assert samples["whole"].options == ["near", "far"] and samples["whole"].answer == "B"
    assert samples["whole"].extra["replay"]["window"] == [500.0, 502.0]


def test_replay_prints_the_real_cause_and_exits_non_zero_when_every_question_fails(
    tmp_path, capsys
):
    from spatialclaw_ros.cli import main
    from spatialclaw_ros.eval.records import read_predictions
    from spatialclaw_ros.eval.synthetic import default_intrinsics, look_at, random_scene, render
    from spatialclaw_ros.eval.synthetic.bag import write_bag

    frames = render(
        random_scene(2, 3), [look_at([-3, -2, 1.5], [0, 0, 0.4])] * 2, default_intrinsics(32, 24)
    )
    write_bag([frames], tmp_path / "bag")
    questions = _write_lines(
        tmp_path / "q.jsonl",
        {"id": "a", "question": "How many boxes are there?", "cameras": ["left_cam"], "answer": 1},
        {"id": "b", "question": "How far did the camera move?", "window": [50, 60], "answer": 1},
    )
    code = main(
        [
            "replay",
            str(tmp_path / "bag"),
            "--questions",
            str(questions),
            "--out",
            str(tmp_path / "out"),
            "--concurrency",
            "1",
        ]
    )
    err = capsys.readouterr().err
    assert code != 0 and "every question failed (bad_request)" in err
    assert "a: camera(s) left_cam not in" in err and "its cameras: camera" in err
    assert "b: no colour frames on /camera/color/image_raw between" in err
    assert {p.error for p in read_predictions(tmp_path / "out" / "predictions.jsonl")} == {
        "bad_request"
    }
