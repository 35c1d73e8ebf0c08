"""`official` and `lenient` answer reading side by side."""

from __future__ import annotations

import pytest

from spatialclaw_ros.eval.benchmarks import score_sample
from spatialclaw_ros.eval.records import Sample


def _mc(benchmark: str, answer: str = "B", category: str = "") -> Sample:
    return Sample(
        id="q",
        benchmark=benchmark,
        question="?",
        options=["left", "right"],
        answer=answer,
        answer_type="mc",
        category=category,
    )


@pytest.mark.parametrize(
    "sample, reply, official, lenient",
    [
        # VSI-Bench reads the first token (vsibench.py _fuzzy_matching): "I" is no letter
        (_mc("vsi_bench", category="object_rel_direction_easy"), "I think it is B", 0.0, 1.0),
        # ERQA compares the whole reply without periods (erqa.py ERQABench.extract_answer)
        (_mc("erqa"), "The answer is B.", 0.0, 1.0),
        (_mc("erqa"), "B.", 1.0, 1.0),
        # BLINK does not read option text (blink.py BLINKBench.extract_answer)
        (_mc("blink"), "right", 0.0, 1.0),
        # our synthetic benchmark has no other reading: official is ours
        (_mc("synthetic"), "I think it is B", 1.0, 1.0),
    ],
)
def test_the_two_modes_read_messy_replies_differently(sample, reply, official, lenient):
    assert score_sample(sample, reply, "official").score == official
    assert score_sample(sample, reply, "lenient").score == lenient


def test_an_unknown_mode_is_a_clear_error():
    with pytest.raises(ValueError, match="answer-reading mode 'strict'"):
        score_sample(_mc("erqa"), "B", "strict")  # type: ignore[arg-type]
