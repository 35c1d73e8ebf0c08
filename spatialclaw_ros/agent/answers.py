r"""Reading an answer out of free text: option letters, numbers with units, yes/no.

Multiple choice follows the order strong evaluation harnesses use, most explicit first:
1. a boxed answer (`\boxed{B}`),
2. an explicit answer marker or tag (`<answer>B</answer>`, "the answer is (B)", "Answer: B"),
3. one option letter standing alone near the end of the text,
4. a unique match of one option's text.
Each step only decides when it finds exactly one option; otherwise the next step is tried.
Numbers and yes/no look at the boxed answer, then the answer marker, then the whole text.
"""

from __future__ import annotations

import re
from typing import Literal

Unit = Literal["m", "deg", "s"]
_CANONICAL_UNITS: dict[str, Unit] = {"m": "m", "deg": "deg", "s": "s"}


def as_unit(name: str | None) -> Unit | None:
    """`name` when it is one of the canonical units, else None."""
    return None if name is None else _CANONICAL_UNITS.get(name)


_BOXED = re.compile(r"\\boxed\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
_TAG = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)
# "answer is (B)", "Final answer: B", "correct option is B", "I choose B", "Option: B"
# The text after a marker is captured in a lookahead so that a later marker inside it still counts.
_MARKER = re.compile(
    r"\b(?:final\s+answer|answer|correct\s+(?:option|choice)|best\s+(?:option|choice)|my\s+choice|"
    r"(?:i\s+)?(?:choose|pick|select)|option|choice)\b\s*(?:is|would\s+be|should\s+be|:|=|-)?\s*[:\-]?\s*"
    r"(?=(.{0,200}))",
    re.IGNORECASE | re.DOTALL,
)
_OPTION_PREFIX = re.compile(r"^\s*\(?([A-Z])[\).:]\s+")


def _strip_option_prefix(option: str) -> str:
    """'A. red chair' / '(A) red chair' -> 'red chair'."""
    return _OPTION_PREFIX.sub("", option, count=1).strip()


def answer_spans(text: str) -> list[str]:
    """Pieces of text that state an answer explicitly (boxed, tagged, after an answer marker),
    most explicit first."""
    spans = [m.group(1) for m in _BOXED.finditer(text)][::-1]
    spans += [m.group(1) for m in _TAG.finditer(text)][::-1]
    markers = list(_MARKER.finditer(text))
    # The last marker is the conclusion; earlier ones are often "the answer could be A or B".
    spans += [_first_sentence(m.group(1)) for m in reversed(markers)]
    return [s.strip() for s in spans if s.strip()]


def _first_sentence(text: str) -> str:
    match = re.match(r"(.*?)(?:\.\s|\n|$)", text, re.DOTALL)
    return match.group(1) if match else text


# Words that may follow a choice letter but never the article "A" or the pronoun "I": "A and B",
# "A is correct", "A because the cup is nearer".
_AFTER_A_CHOICE = {
    "and",
    "or",
    "is",
    "was",
    "seems",
    "looks",
    "vs",
    "versus",
    "nor",
    "because",
    "since",
    "as",
    "given",
    "due",
    "so",
    "fits",
    "matches",
}
# A letter right after one of these is ruled out, not chosen: "D, not B", "C rather than A".
_NEGATED = re.compile(
    r"(?:\bnot|\brather\s+than|\binstead\s+of|\bexcept|\bunlike)\s*(?:option\s+|choice\s+)?[(*]*$",
    re.IGNORECASE,
)


def _standalone_letters(text: str, letters: list[str]) -> list[str]:
    """Option letters written as a token of their own: 'B', '(B)', 'B.', 'B)', '**B**'.

    An 'A' or 'I' followed by a lower-case word is English ("A chair is ...", "I think"), not a
    choice, unless that word can only follow a choice (`_AFTER_A_CHOICE`). A letter after "not",
    "rather than", "instead of" is one the text rules out, and is skipped.
    """
    found = []
    for match in re.finditer(r"(?<![A-Za-z0-9])([A-Z])(?![A-Za-z0-9])", text):
        letter = match.group(1)
        if letter not in letters:
            continue
        word = re.match(r"\s+([a-z]+)", text[match.end() :])
        if letter in ("A", "I") and word and word.group(1) not in _AFTER_A_CHOICE:
            continue
        if _NEGATED.search(text[: match.start()]):
            continue
        found.append(letter)
    return found


def _option_core(option: str) -> str:
    """What of an option's text a reply must contain: no letter prefix, no leading article, no
    closing punctuation ("A. The green box." -> "green box")."""
    core = _strip_option_prefix(option).lower().rstrip(" .!?;,")
    return re.sub(r"^(?:the|a|an)\s+", "", core)


def _option_text_match(text: str, options: list[str], letters: list[str]) -> str | None:
    """The one option whose text occurs in `text` (longer options win over ones they contain)."""
    lowered = text.lower()
    spans: dict[str, list[tuple[int, int]]] = {}
    for letter, option in zip(letters, options, strict=True):
        needle = _option_core(option)
        if not needle:
            continue
        pattern = r"(?<![a-z0-9])" + re.escape(needle) + r"(?![a-z0-9])"
        spans[letter] = [m.span() for m in re.finditer(pattern, lowered)]
    longer_first = sorted(spans, key=lambda k: -len(_option_core(options[letters.index(k)])))
    taken: list[tuple[int, int]] = []
    matched = []
    for letter in longer_first:
        free = [s for s in spans[letter] if not any(t[0] <= s[0] and s[1] <= t[1] for t in taken)]
        if free:
            matched.append(letter)
        taken.extend(spans[letter])
    return matched[0] if len(matched) == 1 else None


def _choice_in(span: str, options: list[str], letters: list[str]) -> str | None:
    found = set(_standalone_letters(span, letters))
    if len(found) == 1:
        return found.pop()
    if not found:
        return _option_text_match(span, options, letters)
    return None


def extract_choice(text: str, options: list[str]) -> str | None:
    """The option letter `text` chooses among `options` (texts, with or without 'A.' prefixes)."""
    if not text or not options:
        return None
    letters = [chr(ord("A") + i) for i in range(len(options))]
    for span in answer_spans(text):
        choice = _choice_in(span, options, letters)
        if choice:
            return choice
    stripped = text.strip().strip("*().:[] ")
    if len(stripped) == 1 and stripped.upper() in letters:  # a lone letter, in either case
        return stripped.upper()
    tail = _tail(text)
    found = _standalone_letters(tail, letters)
    if found and len(set(found)) == 1:
        return found[0]
    return _option_text_match(text, options, letters)


def _tail(text: str) -> str:
    """The last non-empty line, or the last two sentences of a one-line text."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    sentences = re.split(r"(?<=[.!?])\s+", last)
    return " ".join(sentences[-2:])


# --- numbers ---------------------------------------------------------------------------------

_SMALL = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip  # a table, kept in rows
_SCALES = {"hundred": 100, "thousand": 1000}
_WORD = "|".join(sorted(list(_SMALL) + list(_SCALES), key=len, reverse=True))
_WORD_NUMBER = re.compile(rf"\b(?:{_WORD})(?:[\s-]+(?:and[\s-]+)?(?:{_WORD}))*\b", re.IGNORECASE)
_NUMBER = re.compile(
    r"(?<![\w.])([-+−]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?)"
)

# factor to the canonical unit of each family; longer spellings are matched first
_UNITS: dict[str, tuple[str, float]] = {
    "millimeters": ("m", 1e-3), "millimetres": ("m", 1e-3), "millimeter": ("m", 1e-3),
    "millimetre": ("m", 1e-3),
    "centimeters": ("m", 1e-2), "centimetres": ("m", 1e-2), "centimeter": ("m", 1e-2),
    "centimetre": ("m", 1e-2),
    "kilometers": ("m", 1e3), "kilometres": ("m", 1e3), "kilometer": ("m", 1e3),
    "kilometre": ("m", 1e3),
    "meters": ("m", 1.0), "metres": ("m", 1.0), "meter": ("m", 1.0), "metre": ("m", 1.0),
    "inches": ("m", 0.0254), "inch": ("m", 0.0254), "feet": ("m", 0.3048), "foot": ("m", 0.3048),
    "yards": ("m", 0.9144), "yard": ("m", 0.9144),
    "mm": ("m", 1e-3), "cm": ("m", 1e-2), "km": ("m", 1e3), "ft": ("m", 0.3048),
    "in": ("m", 0.0254),
    "m": ("m", 1.0),
    "degrees": ("deg", 1.0), "degree": ("deg", 1.0), "deg": ("deg", 1.0), "°": ("deg", 1.0),
    "radians": ("deg", 57.29577951308232), "radian": ("deg", 57.29577951308232),
    "rad": ("deg", 57.29577951308232),
    "milliseconds": ("s", 1e-3), "millisecond": ("s", 1e-3), "ms": ("s", 1e-3),
    "seconds": ("s", 1.0), "second": ("s", 1.0), "secs": ("s", 1.0), "sec": ("s", 1.0),
    "s": ("s", 1.0),
    "minutes": ("s", 60.0), "minute": ("s", 60.0), "mins": ("s", 60.0), "min": ("s", 60.0),
    "hours": ("s", 3600.0), "hour": ("s", 3600.0), "h": ("s", 3600.0),
}  # fmt: skip  # a table, kept in rows
_UNIT_AFTER = re.compile(
    r"\s*("
    + "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
    + r")(?![a-zA-Z])",
    re.IGNORECASE,
)


def _words_to_number(words: str) -> float | None:
    total, current = 0, 0
    seen = False
    for word in re.split(r"[\s-]+", words.lower()):
        if word == "and" or not word:
            continue
        if word in _SMALL:
            current += _SMALL[word]
        elif word in _SCALES:
            current = max(current, 1) * _SCALES[word]
            if _SCALES[word] >= 1000:
                total, current = total + current, 0
        else:
            return None
        seen = True
    return float(total + current) if seen else None


def _numbers_in(text: str) -> list[tuple[int, float, str | None]]:
    """(position, value, unit spelled after it or None) for every number, digits or words."""
    found = []
    for match in _NUMBER.finditer(text):
        raw = match.group(1)
        if not re.search(r"\d", raw):
            continue
        value = float(raw.replace(",", "").replace("−", "-"))
        unit = _UNIT_AFTER.match(text, match.end())
        found.append((match.start(), value, unit.group(1) if unit else None))
    for match in _WORD_NUMBER.finditer(text):
        spelled = _words_to_number(match.group(0))
        if spelled is None:
            continue
        unit = _UNIT_AFTER.match(text, match.end())
        found.append((match.start(), spelled, unit.group(1) if unit else None))
    return sorted(found)


def _convert(value: float, spelled: str | None, unit: Unit | None) -> tuple[float, str | None]:
    """The value in `unit`'s canonical unit, and the spelling it was converted from (None when
    the number is kept as written: no unit asked, none spelled, or one of another kind)."""
    if unit is None or spelled is None:
        return value, None
    key = spelled if spelled in _UNITS else spelled.lower()
    family, factor = _UNITS.get(key, (None, 1.0))
    if family != unit:
        # a unit of another kind ("2 m" when seconds are asked): keep the number
        return value, None
    return value * factor, spelled


def read_number(text: str, unit: Unit | None = None) -> tuple[float, str | None] | None:
    """`parse_number`'s value together with the spelled unit it converted from (None if none)."""
    for span in [*answer_spans(text), text]:
        numbers = _numbers_in(span)
        if numbers:
            _, value, spelled = numbers[0]
            return _convert(value, spelled, unit)
    return None


def parse_number(text: str | float | None, unit: Unit | None = None) -> float | None:
    """The number `text` answers with, converted to `unit` when a unit is spelled after it.

    Takes the first number of the boxed answer, else of the last answer marker, else of the text
    (VSI-Bench scores the first token of a reply). Numbers in words ("three") count.
    """
    if text is None:
        return None
    if isinstance(text, (int, float)):
        return float(text)
    found = read_number(text, unit)
    return None if found is None else found[0]


# --- yes / no --------------------------------------------------------------------------------

_YES_NO = re.compile(r"\b(yes|no|true|false)\b", re.IGNORECASE)


def parse_yes_no(text: str) -> Literal["yes", "no"] | None:
    """'yes' or 'no' from the explicit answer, else from the first word, else a unique mention."""
    if not text:
        return None
    for span in [*answer_spans(text), text.strip().split("\n")[0][:20], text]:
        words = {m.group(1).lower() for m in _YES_NO.finditer(span)}
        if words and words <= {"yes", "true"}:
            return "yes"
        if words and words <= {"no", "false"}:
            return "no"
    return None


def normalize_answer(text: str | float | int | None, options: list[str], answer_type: str) -> str:
    """The canonical string a scorer compares: a letter, a number, 'yes'/'no', or folded text.
    Returns "" when nothing can be read."""
    if text is None:
        return ""
    if answer_type == "mc":
        return extract_choice(str(text), options) or ""
    if answer_type == "number":
        value = parse_number(text if isinstance(text, (int, float)) else str(text))
        return "" if value is None else format(value, "g")
    if answer_type == "yes_no":
        return parse_yes_no(str(text)) or ""
    if answer_type == "text":
        return re.sub(r"\s+", " ", str(text)).strip().strip(".").lower()
    raise ValueError(f"unknown answer type {answer_type!r}; expected mc, number, yes_no or text")
