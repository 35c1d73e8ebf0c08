import pytest

from spatialclaw_ros.eval.records import Prediction, Sample
from spatialclaw_ros.eval.scoring import (
    aggregate,
    mean_relative_accuracy,
    score_response,
    strict_threshold_accuracy,
    video_mme_v2_group_credit,
    view_change_score,
)


@pytest.mark.parametrize(
    "error, score",
    # 0.199: see below for 0.2
    [(0.0, 1.0), (0.04, 1.0), (0.10, 0.9), (0.199, 0.7), (0.50, 0.1), (0.6, 0.0)],
)
def test_mra_worked_values(error, score):
    assert mean_relative_accuracy(10.0 * (1 + error), 10.0) == pytest.approx(score)
    assert mean_relative_accuracy(10.0 * (1 - error), 10.0) == pytest.approx(score)


def test_mra_exact_twenty_percent_matches_official_float_arithmetic():
    # VSI-Bench's code compares 0.2 <= 1 - 0.8, and 1 - 0.8 is 0.19999999999999996 in floats,
    # so an error of exactly 20% passes 6 thresholds, not 7.
    assert mean_relative_accuracy(12.0, 10.0) == pytest.approx(0.6)
    # where the error itself rounds just under 0.2, as |1.2 - 1| / 1 does, it passes 7: the 0.7 of
    # the worked values
    assert mean_relative_accuracy(1.2, 1.0) == pytest.approx(0.7)
    assert mean_relative_accuracy(2.4, 2.0) == pytest.approx(0.7)


def _number(answer, **extra):
    return Sample(
        id="n",
        benchmark="b",
        question="how far?",
        answer=answer,
        answer_type="number",
        metric="mra",
        unit="m",
        extra=extra,
    )


def test_numeric_response_is_parsed_with_units():
    assert score_response(_number(2.0), "It is 220 cm away").score == pytest.approx(0.9)
    assert score_response(_number(2.0), "no idea").score == 0.0


@pytest.mark.parametrize(
    "rule, reply, score",
    [
        ("below:0.3", "0.05", 1.0),  # OSI-Bench motion: below the threshold is right
        # ... else MRA against the threshold: error 1/3 passes 0.50 ... 0.65
        ("below:0.3", "0.40", 0.4),
        ("below:0.3", "0.9", 0.0),
        ("exact", "0", 1.0),  # OSI-Bench other categories
        ("exact", "0.01", 0.0),
        ("no_credit", "0", 0.0),  # VSI-Bench: a true 0 is never credited
        # SPAR-Bench: 0.12 <= 1 - t holds for t = 0.50 ... 0.85: 8 of 10
        ("absolute_error", "0.12", 0.8),
        ("absolute_error", "0.32", 0.4),  # 0.32 <= 1 - t for t = 0.50 ... 0.65: 4 of 10
    ],
)
def test_zero_answer_rules(rule, reply, score):
    scored = score_response(_number(0.0, zero_answer=rule), reply)
    assert scored.score == pytest.approx(score)
    assert scored.flags == ("zero_answer",)


def test_a_zero_answer_without_a_rule_is_scored_exactly_and_never_raises():
    assert score_response(_number(0.0), "0").score == 1.0
    assert score_response(_number(0.0), "0.2").score == 0.0
    with pytest.raises(ValueError, match="zero-answer rule"):
        score_response(_number(0.0, zero_answer="half"), "1")


@pytest.mark.parametrize(
    "truth, reply, score", [(2.0, 2.5, 0.5), (2.0, 2.2, 0.8), (2.0, 2.0, 1.0), (0.0, 0.07, 0.9)]
)
def test_omni3d_thresholds_are_strict(truth, reply, score):
    # spatial_agent/evals/omni3d.py Omni3DBench.evaluate: error < t for t in 0.5 ... 0.05.
    # 2.5 vs 2.0: error 0.25 is below 0.5, 0.45, 0.4, 0.35, 0.3 and not below 0.25 -> 5/10 (<=
    # would give 6/10).
    # 2.2 vs 2.0: error 0.1 (0.10000000000000009 in floats) is below 0.5 ... 0.15 -> 8/10.
    # truth 0: the error is |reply| (_float_relative_error); 0.07 is below 0.5 ... 0.1, not 0.05 ->
    # 9/10.
    assert strict_threshold_accuracy(reply, truth) == pytest.approx(score)


def test_view_change_answers_are_scored_per_axis():
    # spatial_agent/evals/sparbench.py _vci_metric: opposite axes fold into one signed value, an
    # unnamed axis is 0, and an axis whose truth is 0 scores by the absolute error.
    truth = "move_right:0.5,move_down:0.2,turn_left:10"
    assert view_change_score(truth, truth) == pytest.approx(1.0)
    # move_right exact (1), move_up -0.2 vs -0.2 (1), move_forward 0 vs 0 (1), turn_right 0 vs -10
    # (error 1 -> 0), turn_up 0 vs 0 (1): 4/5
    assert view_change_score("move_right:0.5,move_up:-0.2", truth) == pytest.approx(0.8)
    # only move_right is wrong
    assert view_change_score("garbage", "move_right:1") == pytest.approx(0.8)
    vci = Sample(
        id="v",
        benchmark="spar_bench",
        question="?",
        answer=truth,
        answer_type="text",
        metric="vci",
    )
    scored = score_response(vci, f"<answer>{truth}</answer>")
    assert scored.score == pytest.approx(1.0) and scored.flags == ("structured_answer",)


def test_count_accuracy_and_choices():
    count = Sample(
        id="c",
        benchmark="b",
        question="how many?",
        answer=3,
        answer_type="number",
        metric="accuracy",
    )
    assert score_response(count, "three").score == 1.0
    assert score_response(count, "4").score == 0.0
    mc = Sample(
        id="m", benchmark="b", question="?", answer="B", answer_type="mc", options=["x", "y"]
    )
    assert score_response(mc, "the answer is B").score == 1.0
    assert score_response(mc, "x").score == 0.0
    yn = Sample(id="y", benchmark="b", question="?", answer="no", answer_type="yes_no")
    assert score_response(yn, "No.").score == 1.0


def _pred(sid, score, category="", group=None, **info):
    return Prediction(
        sid, "b", "x", "", "", score, category=category, group_id=group, group_info=info
    )


def test_aggregations():
    rows = [_pred("1", 1, "a"), _pred("2", 0, "a"), _pred("3", 0, "a"), _pred("4", 1, "b")]
    assert aggregate("b", rows, "mean").score == pytest.approx(0.5)
    assert aggregate("b", rows, "category_macro").score == pytest.approx((1 / 3 + 1) / 2)
    parents = {"a": "ab", "b": "ab"}
    three = rows + [_pred("5", 1, "c")]
    assert aggregate("b", three, "category_macro", parents).score == pytest.approx(
        ((1 / 3 + 1) / 2 + 1) / 2
    )
    with pytest.raises(ValueError):
        aggregate("b", rows, "median")


@pytest.mark.parametrize(
    "right, group_type, structure, credit",
    [
        ([1, 1, 1, 0], "relevance", "[1, 2, 3, 4]", 9 / 16),
        ([0, 1, 1, 1], "logic", "[1, 2, 3, 4]", 0.0),  # the chain breaks at the first question
        ([1, 1, 0, 1], "logic", "[1, 2, 3, 4]", 4 / 16),
        ([1, 0, 1, 0], "logic", "[1, [2, 3], 4]", 4 / 12),  # 2 and 3 are parallel steps
        ([0, 1, 0, 0], "logic", "[[1, 2], 3, 4]", 1 / 10),  # 1 and 2 are parallel steps
        ([1, 1, 1, 1], "logic", "[[1,2],3,4]", 1.0),
    ],
)
def test_video_mme_v2_group_credit(right, group_type, structure, credit):
    assert video_mme_v2_group_credit(
        [bool(r) for r in right], group_type, structure
    ) == pytest.approx(credit)


def test_video_mme_v2_groups_average_group_credits_in_question_order():
    rows = [
        _pred(f"v1-{i}", s, group="v1", type="relevance", position=i)
        for i, s in enumerate([1, 1, 0, 0], 1)
    ]
    rows += [
        _pred(f"v2-{i}", s, group="v2", type="logic", structure="[1, 2, 3, 4]", position=i)
        for i, s in reversed(list(enumerate([1, 1, 1, 0], 1)))
    ]
    assert aggregate("b", rows, "video_mme_v2_groups").score == pytest.approx(
        (4 / 16 + 9 / 16) / 2
    )
    with pytest.raises(ValueError, match="group type"):
        aggregate("b", [_pred("x", 1, group="g")], "video_mme_v2_groups")


def test_bad_samples_are_rejected_clearly():
    with pytest.raises(ValueError, match="not one of the letters"):
        Sample(
            id="m", benchmark="b", question="?", answer="C", answer_type="mc", options=["x", "y"]
        )
    with pytest.raises(ValueError, match="mra metric needs a numeric"):
        Sample(
            id="m", benchmark="b", question="?", answer="yes", answer_type="yes_no", metric="mra"
        )


def test_answers_from_fewer_frames_than_asked_are_counted_as_a_flag():
    rows = [_pred("a", 1.0), _pred("b", 0.0), _pred("c", 1.0)]
    rows[1].frames_note = "camera 'front': 5 of 8 frames in the window"
    rows[2].flags = ["zero_answer"]
    assert aggregate("b", rows, "mean").flags == {"fewer_frames": 1, "zero_answer": 1}
    assert aggregate("b", rows[:1], "mean").flags == {}  # no zero counts
