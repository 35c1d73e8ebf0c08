import pytest

from spatialclaw_ros.agent.answers import (
    extract_choice,
    normalize_answer,
    parse_number,
    parse_yes_no,
)

OPTIONS = ["red chair", "blue table", "front left", "left"]


@pytest.mark.parametrize(
    "text, letter",
    [
        ("B", "B"),
        ("(C)", "C"),
        ("the answer is (B).", "B"),
        # several letters: marker wins
        ("A looks plausible, but B fits the depth better.\nAnswer: C", "C"),
        ("\\boxed{D}", "D"),
        ("I considered A and B. \\boxed{A}", "A"),  # boxed beats earlier letters
        ("<answer>A</answer>", "A"),
        ("A chair is next to it, so B.", "B"),  # 'A chair' is an article, not a choice
        ("It is the blue table.", "B"),  # unique option text
        ("It is on the front left.", "C"),  # the longer option wins over the one it contains
        ("A and B are both plausible", None),  # two letters, no marker: undecided
        ("Options: A. red chair B. blue table ... Final answer: B", "B"),
        ("**C**", "C"),
        ("", None),
        ("E", None),  # not an option letter
    ],
)
def test_extract_choice(text, letter):
    assert extract_choice(text, OPTIONS) == letter


@pytest.mark.parametrize(
    "text, letter",
    [
        ("d", "D"),  # a lone lower-case letter
        ("A because the chair is nearer", "A"),  # 'because' cannot follow the article 'A'
        ("I think the answer is A because it is closer", "A"),
        ("The answer is D, not B.", "D"),  # a letter after 'not' is ruled out, not chosen
        ("C rather than A", "C"),
    ],
)
def test_lenient_reader_bugs_are_fixed(text, letter):
    assert extract_choice(text, OPTIONS) == letter


def test_option_text_matches_without_its_closing_period_or_its_article():
    assert extract_choice("left", ["A. left.", "B. right."]) == "A"
    assert extract_choice("green box", ["the red ball", "the green box"]) == "B"
    assert extract_choice("It is the green box.", ["the red ball", "the green box"]) == "B"
    # whole words only, longer options first
    assert extract_choice("a box", ["a box", "a boxer"]) == "A"


def test_extract_choice_accepts_lettered_options():
    assert extract_choice("I pick the blue table", ["A. red chair", "B. blue table"]) == "B"


@pytest.mark.parametrize(
    "text, unit, value",
    [
        ("about 2.5 meters", "m", 2.5),
        ("250 cm", "m", 2.5),
        ("The answer is 1,200 mm", "m", 1.2),
        ("six feet", "m", 6 * 0.3048),
        ("\\boxed{3}", None, 3.0),
        ("three chairs", None, 3.0),
        ("twenty-five", None, 25.0),
        ("one hundred and five", None, 105.0),
        ("90 degrees", "deg", 90.0),
        ("1.5708 rad", "deg", 90.0),
        ("2 minutes", "s", 120.0),
        ("Step 1: measure. Answer: 4.2 m", "m", 4.2),  # the marker beats the step number
        ("-3.5", None, -3.5),
        ("no number here", None, None),
    ],
)
def test_parse_number(text, unit, value):
    got = parse_number(text, unit)
    assert got == (pytest.approx(value, rel=1e-4) if value is not None else None)


@pytest.mark.parametrize(
    "text, answer",
    [
        ("Yes.", "yes"),
        ("No, it is not.", "no"),
        ("The answer is yes", "yes"),
        ("Answer: no. (yes would be wrong)", "no"),
        ("maybe", None),
        ("True", "yes"),
    ],
)
def test_parse_yes_no(text, answer):
    assert parse_yes_no(text) == answer


def test_normalize_answer():
    assert normalize_answer("I choose (B)", ["x", "y"], "mc") == "B"
    assert normalize_answer("2.50 m", [], "number") == "2.5"
    assert normalize_answer(3, [], "number") == "3"
    assert normalize_answer("  The Kitchen. ", [], "text") == "the kitchen"
    assert normalize_answer("garbage", ["x", "y"], "mc") == ""
    with pytest.raises(ValueError, match="unknown answer type"):
        normalize_answer("x", [], "essay")
