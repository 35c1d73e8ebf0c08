"""From what an executor produced (a ReturnAnswer value or a VLM's text) to the episode's answer.

The reading rules themselves live in `answers.py` (shared with scoring); this module decides
which rule a question calls for and in which unit a number is wanted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spatialclaw_ros.agent.answers import as_unit, extract_choice, parse_yes_no, read_number
from spatialclaw_ros.agent.types import Question

_ANSWER_LINE = re.compile(r"(?:final\s+)?answer\s*[:=]\s*(.+)$", re.IGNORECASE | re.MULTILINE)

# A unit the question names explicitly: spelling -> (family parse_number converts to, how many
# of it make one canonical unit, label).
_ASKED_UNITS: list[tuple[str, tuple[str, float, str]]] = [
    (r"centimet(?:er|re)s?|\bcm\b", ("m", 100.0, "cm")),
    (r"millimet(?:er|re)s?|\bmm\b", ("m", 1000.0, "mm")),
    (r"\bfeet\b|\bfoot\b|\bft\b", ("m", 1 / 0.3048, "ft")),
    (r"\binch(?:es)?\b", ("m", 1 / 0.0254, "in")),
    (r"met(?:er|re)s?\b", ("m", 1.0, "m")),
    (r"degrees?\b", ("deg", 1.0, "deg")),
    (r"radians?\b", ("deg", 3.141592653589793 / 180, "rad")),
    (r"milliseconds?\b", ("s", 1000.0, "ms")),
    (r"minutes?\b", ("s", 1 / 60, "min")),
    (r"seconds?\b", ("s", 1.0, "s")),
]
_DISTANCE_WORDS = (
    r"\b(?:how far|distance|how "
    r"(?:tall|high|wide|long|big|deep|thick)|height|width|length|size|dimension)"
)
_ANGLE_WORDS = r"\b(?:angle|rotat\w*|turn\w*|how many degrees)"
_TIME_WORDS = r"\b(?:how long (?:did|does|was|is it)|duration|how much time|how many seconds|when)"
_COUNT_WORDS = r"\bhow many\b"
_YES_NO_START = re.compile(
    r"^(?:is|are|was|were|does|do|did|can|could|will|would|has|have|had|should)\b", re.IGNORECASE
)


@dataclass
class FinalAnswer:
    answer: str
    value: float | None = None
    unit: str = ""


@dataclass
class AnswerKind:
    """What sort of answer the question wants: "mc", "number", "yes_no" or "text"; for numbers
    the canonical family ("m", "deg", "s" or "count") and the unit asked for."""

    kind: str
    family: str | None = None
    factor: float = 1.0  # asked unit per canonical unit
    unit: str = ""


def answer_kind(question: Question) -> AnswerKind:
    text = question.text.lower()
    if question.choices:
        return AnswerKind("mc")
    for pattern, (family, factor, label) in _ASKED_UNITS:
        if re.search(pattern, text):
            return AnswerKind("number", family, factor, label)
    if re.search(_COUNT_WORDS, text) and not re.search(
        r"how many (?:meters|metres|degrees|seconds)", text
    ):
        return AnswerKind("number", "count", 1.0, "count")
    if _YES_NO_START.match(text):
        return AnswerKind("yes_no")
    if re.search(_ANGLE_WORDS, text):
        return AnswerKind("number", "deg", 1.0, "deg")
    if re.search(_DISTANCE_WORDS, text):
        return AnswerKind("number", "m", 1.0, "m")
    if re.search(_TIME_WORDS, text):
        return AnswerKind("number", "s", 1.0, "s")
    return AnswerKind("text")


def final_answer(raw: str | int | float | None, question: Question) -> FinalAnswer:
    """The answer as the episode reports it: a letter, a number in the asked unit, yes/no, or
    text."""
    if raw is None:
        return FinalAnswer("")
    kind = answer_kind(question)
    text = str(raw).strip()
    if kind.kind == "mc":
        return FinalAnswer(extract_choice(text, question.choices) or _stated(text))
    if kind.kind == "yes_no":
        return FinalAnswer(parse_yes_no(text) or _stated(text))
    if kind.kind == "number":
        family = as_unit(kind.family)
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            # a ReturnAnswer number is already in the unit the question asked for
            value = float(raw)
        else:
            found = read_number(text, family)
            if found is None:
                return FinalAnswer(_stated(text))
            value, converted_from = found
            if converted_from is not None:
                value *= kind.factor  # the written unit was converted to the canonical one
        return FinalAnswer(format(round(value, 4), "g"), value, kind.unit)
    return FinalAnswer(_stated(text))


def _stated(text: str) -> str:
    """The text after the last "Answer:" marker, else the whole text."""
    found = _ANSWER_LINE.findall(text)
    return (found[-1] if found else text).strip().strip("*").strip()
