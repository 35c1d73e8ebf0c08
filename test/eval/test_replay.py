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

    bench = generate(SyntheticConfig(seed=11, clips={"single_image": 2, "multi_view": 1, "video": 0}, width=160, height=120))
    samples_path = write_benchmark(bench, tmp_path / "bench")
    questions = read_samples(export_benchmark_bag(samples_path, tmp_path / "bag"))
    samples = {s.id: s for s in read_samples(samples_path)}
    covered = [q for q in questions if plan_for(Question(q.question, list(q.options))) is not None][:8]
    assert len(covered) >= 4
    # each question sees only its own clip's frames
    for q in covered:
        assert [len(v) for v in frames_for(tmp_path / "bag", q)] == [q.extra["replay"]["frames"]]

    answerer = build_answerer("rules", reconstruct_backend="sensor", segment_backend="labels",
                              trace_dir=str(tmp_path / "traces"))
    replayed = replay_offline(tmp_path / "bag", covered, answerer, tmp_path / "replay", "rules", concurrency=2).predictions
    direct = run_samples([samples[q.id] for q in covered], answerer, tmp_path / "direct", "rules", concurrency=2,
                         progress=False).predictions
    assert not any(p.error for p in replayed + direct), [p.error for p in replayed + direct if p.error]
    assert [(p.sample_id, p.prediction, p.score) for p in replayed] == [(p.sample_id, p.prediction, p.score) for p in direct]
