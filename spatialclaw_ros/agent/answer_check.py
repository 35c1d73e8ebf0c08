"""Whether a submitted answer can be right before the episode ends on it.

A multiple-choice answer must name one option ("front right" or "the closer one" cannot be
scored); a question that asks for a number needs a number; a yes/no question needs yes or no.
A refused answer does not end the episode: the model reads why and gets another step.

The kind of answer a question wants is guessed from its wording (`answer_kind`), and a guess can
be wrong: a number or yes/no refusal stands only once, the same answer sent again is taken.
Options are never guessed, so an answer that names none is always refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from spatialclaw_ros.agent.answers import extract_choice, parse_yes_no, read_number
from spatialclaw_ros.agent.final_answer import answer_kind
from spatialclaw_ros.agent.types import Question

Answer = str | int | float
_HEDGES = {
    "about",
    "around",
    "approximately",
    "roughly",
    "nearly",
    "almost",
    "maybe",
    "probably",
    "some",
}


def _states_a_number(text: str) -> bool:
    """Whether an answer gives a number: digits, or a number in words leading the answer
    ("three chairs", "about two metres"); "the closer one" holds the word "one" but no number."""
    if read_number(text) is None:
        return False
    if re.search(r"\d", text):
        return True
    words = [w for w in re.findall(r"[a-z]+", text.lower()) if w not in _HEDGES]
    return bool(words) and read_number(words[0]) is not None


def answer_problem(
    answer: Answer, question: Question, refused_before: Sequence[Answer] = ()
) -> str | None:
    """Why `answer` cannot stand for `question`, or None when it can. `refused_before`: answers
    already refused in this episode (a number or yes/no refusal is not repeated for the same
    answer)."""
    kind = answer_kind(question)
    shown = repr(answer)
    if kind.kind == "mc":
        if extract_choice(str(answer), question.choices):
            return None
        options = ", ".join(
            f"{letter} ({text})"
            for letter, text in zip(question.letters, question.choices, strict=True)
        )
        return (
            f"ReturnAnswer({shown}) names none of the options, so it cannot be scored. "
            "Decide which option your "
            "evidence supports and submit its letter, e.g. "
            f'ReturnAnswer("{question.letters[0]}"). Options: {options}.'
        )
    if answer in refused_before:
        return None  # asked twice: the question's wording may have misled the guess of its kind
    if kind.kind == "number":
        if isinstance(answer, (int, float)) and not isinstance(answer, bool):
            return (
                None if math.isfinite(answer) else f"ReturnAnswer({shown}) is not a finite number."
            )
        if _states_a_number(str(answer)):
            return None
        unit = {"count": "a count", "m": "metres", "deg": "degrees", "s": "seconds"}.get(
            kind.family or "", ""
        )
        unit = kind.unit if kind.unit and kind.unit not in ("m", "deg", "s", "count") else unit
        return (
            f"ReturnAnswer({shown}) holds no number, but the question asks for one "
            f"({unit}). Submit the number "
            "itself, e.g. ReturnAnswer(2.4). If you are sure the answer is not a "
            "number, send the same answer again."
        )
    if kind.kind == "yes_no" and parse_yes_no(str(answer)) is None:
        return (
            f'ReturnAnswer({shown}) is neither yes nor no. Submit ReturnAnswer("yes") '
            'or ReturnAnswer("no"). '
            "If you are sure the answer is something else, send the same answer again."
        )
    if kind.kind == "text" and not str(answer).strip():
        return "ReturnAnswer received an empty answer."
    return None
