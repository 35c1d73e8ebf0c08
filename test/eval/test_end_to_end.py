"""End to end on the synthetic benchmark through the real agent, kernel and perception (sensor
depth + label masks, exact for rendered scenes), the seeded random answerer and the no-tools
executor against the scripted VLM."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spatialclaw_ros.agent import Question
from spatialclaw_ros.agent.rules import plan_for
from spatialclaw_ros.eval.answerers import RandomAnswerer, build_answerer
from spatialclaw_ros.eval.records import read_samples
from spatialclaw_ros.eval.runner import run_samples


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from spatialclaw_ros.eval.synthetic.benchmark import SyntheticConfig, generate, write_benchmark

    out = tmp_path_factory.mktemp("synthetic")
    bench = generate(
        SyntheticConfig(
            seed=7,
            clips={"single_image": 6, "multi_view": 3, "video": 1},
            width=160,
            height=120,
            video_frames=(8, 8),
        )
    )
    return read_samples(write_benchmark(bench, out))


def test_rules_with_exact_perception_scores_at_least_90_percent_on_the_templates_it_covers(
    synthetic, tmp_path
):
    # Coverage is what the rules executor itself declares: a question its templates match.
    covered = [s for s in synthetic if plan_for(Question(s.question, list(s.options))) is not None]
    assert len(covered) >= 10, (
        f"the rules executor covers only {len(covered)} of {len(synthetic)} questions"
    )
    answerer = build_answerer(
        "rules",
        reconstruct_backend="sensor",
        segment_backend="labels",
        trace_dir=str(tmp_path / "traces"),
    )
    result = run_samples(
        covered, answerer, tmp_path / "rules", "rules", concurrency=2, progress=False
    )
    assert not [p for p in result.predictions if p.error], [
        p.error for p in result.predictions if p.error
    ]
    scores = [p.score for p in result.predictions]
    wrong = [(p.sample_id, p.category, p.response) for p in result.predictions if p.score < 1]
    assert np.mean(scores) >= 0.9, wrong


def test_random_lands_at_chance(synthetic, tmp_path):
    choice = [s for s in synthetic if s.answer_type in ("mc", "yes_no")]
    result = run_samples(
        choice, RandomAnswerer(seed=3), tmp_path / "random", "random", progress=False
    )
    p = [1 / len(s.options) if s.options else 0.5 for s in choice]
    # the mean of independent Bernoulli(p_i) draws has standard deviation sqrt(sum p(1-p)) / n
    sd = math.sqrt(sum(q * (1 - q) for q in p)) / len(p)
    assert abs(np.mean([r.score for r in result.predictions]) - np.mean(p)) < 3 * sd


def test_no_tools_runs_through_against_the_scripted_vlm(synthetic, tmp_path):
    from spatialclaw_ros.testing.scripted_vlm import ScriptedVLM

    picked = [s for s in synthetic if s.answer_type == "mc"][:6]
    with ScriptedVLM(lambda body: "Answer: A", latency_s=0.0) as vlm:
        answerer = build_answerer(
            "no_tools",
            overrides={"vlm": {"base_url": vlm.base_url}},
            reconstruct_backend="sensor",
            segment_backend="labels",
            trace_dir=str(tmp_path / "traces"),
        )
        result = run_samples(
            picked, answerer, tmp_path / "no_tools", "no_tools", concurrency=3, progress=False
        )
    assert len(result.predictions) == 6 and not any(p.error for p in result.predictions)
    assert [p.prediction for p in result.predictions] == ["A"] * 6
    assert [p.score for p in result.predictions] == [float(s.answer == "A") for s in picked]
    assert len(vlm.requests) >= 6
