import pytest

from spatialclaw_ros.eval.records import Prediction, Sample
from spatialclaw_ros.eval.scoring import aggregate, mean_relative_accuracy, score_response, video_mme_v2_group_credit


@pytest.mark.parametrize(
    "error, score",
    [(0.0, 1.0), (0.04, 1.0), (0.10, 0.9), (0.199, 0.7), (0.50, 0.1), (0.6, 0.0)],  # 0.199: see below for 0.2
)
def test_mra_worked_values(error, score):
    assert mean_relative_accuracy(10.0 * (1 + error), 10.0) == pytest.approx(score)
    assert mean_relative_accuracy(10.0 * (1 - error), 10.0) == pytest.approx(score)


def test_mra_exact_twenty_percent_matches_official_float_arithmetic():
    # VSI-Bench's code compares 0.2 <= 1 - 0.8, and 1 - 0.8 is 0.19999999999999996 in floats,
    # so an error of exactly 20% passes 6 thresholds, not 7.
    assert mean_relative_accuracy(12.0, 10.0) == pytest.approx(0.6)
    # where the error itself rounds just under 0.2, as |1.2 - 1| / 1 does, it passes 7: the 0.7 of the worked values
    assert mean_relative_accuracy(1.2, 1.0) == pytest.approx(0.7)
    assert mean_relative_accuracy(2.4, 2.0) == pytest.approx(0.7)


def _number(answer, **extra):
    return Sample(id="n", benchmark="b", question="how far?", answer=answer, answer_type="number", metric="mra",
                  unit="m", extra=extra)


def test_numeric_response_is_parsed_with_units():
    assert score_response(_number(2.0), "It is 220 cm away").score == pytest.approx(0.9)
    assert score_response(_number(2.0), "no idea").score == 0.0


def test_zero_answer_follows_the_osi_rule():
    thresholded = _number(0.0, zero_threshold=0.3)
    assert score_response(thresholded, "0.05").score == 1.0
    assert score_response(thresholded, "0.40").score == pytest.approx(0.4)  # MRA against 0.3
    assert score_response(thresholded, "0.9").score == 0.0
    exact = _number(0.0, zero_threshold=0.0)
    assert score_response(exact, "0").score == 1.0
    assert score_response(exact, "0.01").score == 0.0
    with pytest.raises(ValueError, match="zero_threshold"):
        score_response(_number(0.0), "0")


def test_count_accuracy_and_choices():
    count = Sample(id="c", benchmark="b", question="how many?", answer=3, answer_type="number", metric="accuracy")
    assert score_response(count, "three").score == 1.0
    assert score_response(count, "4").score == 0.0
    mc = Sample(id="m", benchmark="b", question="?", answer="B", answer_type="mc", options=["x", "y"])
    assert score_response(mc, "the answer is B").score == 1.0
    assert score_response(mc, "x").score == 0.0
    yn = Sample(id="y", benchmark="b", question="?", answer="no", answer_type="yes_no")
    assert score_response(yn, "No.").score == 1.0


def _pred(sid, score, category="", group=None, **info):
    return Prediction(sid, "b", "x", "", "", score, category=category, group_id=group, group_info=info)


def test_aggregations():
    rows = [_pred("1", 1, "a"), _pred("2", 0, "a"), _pred("3", 0, "a"), _pred("4", 1, "b")]
    assert aggregate("b", rows, "mean").score == pytest.approx(0.5)
    assert aggregate("b", rows, "category_macro").score == pytest.approx((1 / 3 + 1) / 2)
    parents = {"a": "ab", "b": "ab"}
    three = rows + [_pred("5", 1, "c")]
    assert aggregate("b", three, "category_macro", parents).score == pytest.approx(((1 / 3 + 1) / 2 + 1) / 2)
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
    assert video_mme_v2_group_credit([bool(r) for r in right], group_type, structure) == pytest.approx(credit)


def test_video_mme_v2_groups_average_group_credits_in_question_order():
    rows = [_pred(f"v1-{i}", s, group="v1", type="relevance", position=i) for i, s in enumerate([1, 1, 0, 0], 1)]
    rows += [_pred(f"v2-{i}", s, group="v2", type="logic", structure="[1, 2, 3, 4]", position=i)
             for i, s in reversed(list(enumerate([1, 1, 1, 0], 1)))]
    assert aggregate("b", rows, "video_mme_v2_groups").score == pytest.approx((4 / 16 + 9 / 16) / 2)
    with pytest.raises(ValueError, match="group type"):
        aggregate("b", [_pred("x", 1, group="g")], "video_mme_v2_groups")


def test_bad_samples_are_rejected_clearly():
    with pytest.raises(ValueError, match="not one of the letters"):
        Sample(id="m", benchmark="b", question="?", answer="C", answer_type="mc", options=["x", "y"])
    with pytest.raises(ValueError, match="mra metric needs a numeric"):
        Sample(id="m", benchmark="b", question="?", answer="yes", answer_type="yes_no", metric="mra")
