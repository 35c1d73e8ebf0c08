"""`official` answer reading: each benchmark's own way of reading a reply, as its evaluation code
does it, down to the odd corners (OmniSpatial reads an empty reply as "A"; SPAR-Bench counts a
reply whose first character is the right letter). The paper's table comes from the evaluators in
NVlabs/SpatialClaw (`spatial_agent/evals/<benchmark>.py`), which follow each benchmark's own code;
docs/eval.md names the file and function behind every rule here. Those evaluators are under a
non-commercial licence: these are our own implementations of the rules they apply.

A rule takes a sample and the reply and returns the read answer with its score; the metrics
(MRA, Omni3D-Bench's thresholds, view-change MRA, zero rules) are the shared ones of `scoring`.
What a rule needs beyond the Sample's own fields comes from the adapters through `extra`:
SpatialTree's `question_type`, `metricfunc` and `answer_text`, Omni3D-Bench's `answer_kind`,
SPAR-Bench's `last_number` (multi-view numeric tasks read the last number of the reply).
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable

from spatialclaw_ros.eval.records import Sample
from spatialclaw_ros.eval.scoring import (
    STRUCTURED_ANSWER,
    SampleScore,
    numeric_score,
    view_change_score,
)

OfficialRule = Callable[[Sample, str], SampleScore]


# --- shared pieces ------------------------------------------------------------------------------


def _first(text: str, patterns: Iterable[str], flags: int = 0, last: bool = False) -> str | None:
    """Group 1 of the first pattern that matches (of its last match when `last`), else None."""
    for pattern in patterns:
        found = list(re.finditer(pattern, text, flags))
        if found:
            return found[-1 if last else 0].group(1)
    return None


def _float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _first_token(reply: str) -> str:
    """VSI-Bench's `fuzzy_matching`: the text up to the first space, without trailing periods."""
    return reply.split(" ")[0].rstrip(".").strip()


def _letter_marks(text: str, letters: str = "A-D") -> str | None:
    """'X.', '(X)' or 'X:' in that order of preference, either case (VSI-Bench family)."""
    return _first(
        text, (rf"\b([{letters}])\.", rf"\(([{letters}])\)", rf"\b([{letters}]):"), re.IGNORECASE
    )


def _boxed_letter(text: str, letters: str = "A-Da-d", flags: int = 0) -> str | None:
    return _first(text, (rf"\\boxed{{\s*([{letters}])\s*}}",), flags)


def _only_letter(text: str, keep: str) -> str | None:
    """The reply's one letter when, after dropping every character not in `keep`, one is left."""
    kept = re.sub(f"[^{keep}]", "", text)
    return kept.upper() if len(kept) == 1 else None


def _vsi_choice(reply: str, options: list[str], first_token: Callable[[str], str]) -> str:
    """The multiple-choice reading of VSI-Bench, OSI-Bench and SPBench: a boxed letter, a marked
    letter, a first token that is a letter, the exact text of an option; else the first token."""
    reply = reply.strip()
    if not reply:
        return ""
    letter = _boxed_letter(reply) or _letter_marks(reply)
    if letter:
        return letter.upper()
    token = first_token(reply)
    if len(token) == 1 and token.upper() in "ABCD":
        return token.upper()
    for i, option in enumerate(options):
        if reply.lower() == option.lower().strip():
            return chr(ord("A") + i)
    return token


def _letter_score(sample: Sample, read: str, right: bool | None = None) -> SampleScore:
    return SampleScore(read, float(read == str(sample.answer) if right is None else right))


def _base_letter(reply: str) -> str:
    """The default reading of the SpatialClaw evaluators (`BaseBenchmark.extract_answer`), used
    by MMSI-Video and Video-MME: a boxed letter, the first letter followed by '.', ':' or ')',
    the reply's only letter, else the whole reply."""
    if not reply:
        return ""
    # no spaces inside the braces
    letter = _first(reply, (r"\\boxed\{([A-Za-z])\}", r"\(?([A-Za-z])\)?[.:)]"))
    if letter:
        return letter.upper()
    return _only_letter(reply, "A-Za-z") or reply.strip()


# Number words that SPBench's and SpatialTree's readers look for before digits, in their order.
_NUMBER_WORDS = (
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "zero",
)


def _spbench_number(reply: str) -> float | None:
    """SPBench's `_fuzzy_matching_num`: the first number word of the list found anywhere, else
    the first unsigned decimal."""
    text = reply.strip().lower()
    for value, word in enumerate(_NUMBER_WORDS, 1):
        if re.search(rf"\b{word}\b", text):
            return 0.0 if word == "zero" else float(value)
    return _float(_first(text, (r"(\d+(?:\.\d+)?)",)))


# --- the rules, by benchmark --------------------------------------------------------------------


def vsi_bench(sample: Sample, reply: str) -> SampleScore:
    if sample.answer_type == "number":
        return numeric_score(sample, _float(_first_token(reply.strip())))
    read = _vsi_choice(reply, sample.options, _first_token)
    return _letter_score(sample, read, read.lower() == str(sample.answer).lower())


def vstibench(sample: Sample, reply: str) -> SampleScore:
    token = _first_token(reply) if reply else ""
    if sample.answer_type == "number":
        return numeric_score(sample, _float(token))
    return _letter_score(sample, token, token.upper() == str(sample.answer).upper())


def _spbench_first_token(reply: str) -> str:
    """SPBench's `_fuzzy_matching_mc`: the first token when it is a letter (with or without a
    period), else the whole reply."""
    token = reply.split(" ")[0].strip()
    return token.rstrip(".").upper() if re.fullmatch(r"[A-Da-d]\.?", token) else reply.strip()


def spbench(sample: Sample, reply: str) -> SampleScore:
    if sample.answer_type == "number":
        return numeric_score(sample, _spbench_number(reply) if reply.strip() else None)
    read = _vsi_choice(reply, sample.options, _spbench_first_token)
    return _letter_score(sample, read, read.lower() == str(sample.answer).lower())


def osi_bench(sample: Sample, reply: str) -> SampleScore:
    reply = reply.strip()
    if sample.answer_type == "number":
        number = _first(reply, (r"\\boxed{\s*([+-]?\d+\.?\d*)\s*}", r"([+-]?\d+\.?\d*)"))
        return numeric_score(
            sample, _float(number) if number is not None else _float(_first_token(reply))
        )
    read = _vsi_choice(reply, sample.options, _first_token)
    return _letter_score(sample, read, read.upper() == str(sample.answer).upper())


def spar_bench(sample: Sample, reply: str) -> SampleScore:
    reply = reply.strip()
    if sample.metric == "vci":
        return SampleScore(
            reply, view_change_score(reply, str(sample.answer)), (STRUCTURED_ANSWER,)
        )
    if sample.answer_type == "number":
        numbers = re.findall(r"(?<!\^)\d+\.\d+|(?<!\^)\d+", reply)
        value = float(numbers[-1 if sample.extra.get("last_number") else 0]) if numbers else None
        return numeric_score(sample, value)
    read = _spar_letter(reply)
    truth = str(sample.answer).strip().lower()
    low = read.strip().lower()
    # SPAR-Bench's lenient exact match: equal, contained in the truth, or starting with it
    return _letter_score(
        sample, read, bool(low) and (low == truth or low in truth or low[0] == truth)
    )


def _spar_letter(reply: str) -> str:
    if not reply:
        return ""
    # no spaces inside the braces
    letter = _first(reply, (r"\\boxed\{([A-Da-d])\}", r"\(?([A-Da-d])\)?[.:)]"))
    if letter:
        return letter.upper()
    only = _only_letter(reply, "A-Da-d")
    if only:
        return only
    return reply[0].upper() if reply[0].upper() in "ABCD" else reply


# SpatialTree metric functions that need a judge model, a mask or a simulator: left out.
SPATIALTREE_UNSCORABLE = frozenset(
    {"gpteval", "cogmapeval", "affmask", "manipulateeval", "agenticnaveval", "gravityeval"}
)
_SPATIALTREE_MRA = frozenset(
    {"meanrelativeacc", "meanrelativeacc2", "angulardifference", "l2distance"}
)


def spatialtree(sample: Sample, reply: str) -> SampleScore:
    reply = reply.strip()
    kind, metric = sample.extra.get("question_type"), sample.extra.get("metricfunc")
    truth = str(sample.extra.get("answer_text", sample.answer)).strip()
    if kind == "multiple-choice":
        read = _spatialtree_letter(reply)
        return _letter_score(sample, read, read == truth.upper())
    number = _spbench_number(reply) if reply else None
    if metric in _SPATIALTREE_MRA:
        return (
            numeric_score(sample, number)
            if sample.answer_type == "number"
            else SampleScore("", 0.0)
        )
    if kind == "judge":
        low = reply.lower()
        yes, no = low.rfind("yes"), low.rfind("no")  # the later of the two words, as substrings
        read = "yes" if yes > no else "no" if no > yes else low
        return SampleScore(read, float(read == truth.lower()))
    if sample.answer_type == "number" and number is not None and float(sample.answer) != 0:
        return numeric_score(sample, number)
    return SampleScore(reply.lower(), float(reply.lower() == truth.lower()))


def _spatialtree_letter(reply: str) -> str:
    if not reply:
        return ""
    letter = _boxed_letter(reply, "A-Za-z") or _letter_marks(reply, "A-K")
    if letter:
        return letter.upper()
    token = reply.split(" ")[0].strip()
    token = token.rstrip(".") if re.fullmatch(r"[A-Za-z]\.?", token) else reply
    return token.upper() if len(token) == 1 and token.isalpha() else token


def omni3d_bench(sample: Sample, reply: str) -> SampleScore:
    """Floats: the share of thresholds 0.50 ... 0.05 the relative error is strictly below; ints:
    exact after rounding; words and yes/no: exact, case-insensitive."""
    read = _omni3d_read(reply)
    kind = sample.extra.get("answer_kind", "str")
    if kind in ("float", "int"):
        return numeric_score(sample, _float(read))
    return SampleScore(read, float(read.strip().lower() == str(sample.answer).strip().lower()))


def _omni3d_read(reply: str) -> str:
    """The boxed content or the reply; a number when it holds one (the whole text if it is one,
    else its last number); else the text in lower case without quotes."""
    if not reply:
        return ""
    text = reply.strip()
    boxed = _first(text, (r"\\boxed\{([^}]+)\}",))
    if boxed:
        text = boxed.strip()
    numbers = re.findall(r"-?\d+\.?\d*", text)
    if numbers:
        whole = text.strip().strip(".")
        return whole if _float(whole) is not None else numbers[-1]
    return text.strip().strip("\"'").lower()


def cvbench(sample: Sample, reply: str) -> SampleScore:
    tagged = re.findall(r"<answer>\s*(.*?)\s*</answer>", reply or "", re.DOTALL)
    text = (tagged[-1].strip() if tagged else "") or reply or ""
    if sample.answer_type == "yes_no":
        word = _first(text, (r"\b(yes|no)\b",), re.IGNORECASE)
        read = word.lower() if word else ""
        return _letter_score(sample, read, bool(read) and read == str(sample.answer).lower())
    read = _cvbench_letter(text.strip(), sample.options)
    return _letter_score(sample, read, bool(read) and read == str(sample.answer).upper())


def _cvbench_letter(text: str, options: list[str]) -> str:
    if not text:
        return ""
    letter = _boxed_letter(text) or _first(
        text, (r"\b([A-D])\.", r"\(([A-D])\)", r"\b([A-D]):", r"^\s*([A-D])\b"), re.IGNORECASE
    )
    if letter:
        return letter.upper()
    only = _only_letter(text, "A-Da-d")
    if only:
        return only
    low = text.lower().strip().rstrip(".")
    for i, option in enumerate(options):
        if low == option.lower().strip().rstrip("."):
            return chr(ord("A") + i)
    return ""


def erqa(sample: Sample, reply: str) -> SampleScore:
    """ERQA's harness: the reply without periods, trimmed and lower-cased, equals the answer."""
    read = (reply or "").replace(".", "").strip().lower()
    return _letter_score(sample, read, bool(read) and read == str(sample.answer).strip().lower())


def omnispatial(sample: Sample, reply: str) -> SampleScore:
    return _letter_score(sample, _omnispatial_letter(reply).upper())


def _omnispatial_letter(reply: str) -> str:
    """The last 'Answer: X'; else the default reading when it gives one letter A-D; else the
    reply's first character when it is one; else "A" (an empty reply included)."""
    if not reply:
        return "A"
    marked = _first(reply, (r"Answer\s*:\s*([A-D])\b",), re.IGNORECASE, last=True)
    if marked:
        return marked
    base = _base_letter(reply)
    if len(base) == 1 and base in "ABCD":
        return base
    head = reply.strip().upper()[:1]
    return head if head in "ABCD" else "A"  # a blank reply gives "" here, as `"" in "ABCD"` holds


def mindcube(sample: Sample, reply: str) -> SampleScore:
    return _letter_score(sample, _mindcube_letter(reply))


def _mindcube_letter(reply: str) -> str:
    """MindCube's extractor: boxed; the last 'X.'; inside <Answer> tags; answer phrases; the last
    standalone letter A-E."""
    text = (reply or "").strip()
    if not text:
        return ""
    letter = _boxed_letter(text, "A-E", re.IGNORECASE) or _first(
        text, (r"\b([A-E])\.",), last=True
    )
    if letter:
        return letter.upper()
    for tag in ("Answer", "answer"):
        section = re.search(f"<{tag}>(.*?)</{tag}>", text, re.DOTALL)
        if section:
            inner = _first(section.group(1), (r"\b([A-E])\.", r"\b([A-E])\b"), last=True)
            if inner:
                return inner
    phrased = _first(
        text,
        (
            r"[Mm]y answer is ([A-E])",
            r"[Tt]he answer is ([A-E])",
            r"(?:Answer|answer):\s*([A-E])",
            r"\b([A-E])\s*[:.]\s*[A-Z]",
        ),
        last=True,
    )
    return phrased or _first(text, (r"\b([A-E])\b",), last=True) or ""


def _backtick_letter(reply: str) -> str:
    """MMSI-Bench's extractor (PAI-Bench uses the same): a letter inside ``double`` or `single`
    backticks, boxed, marked, standalone and not followed by a word, or the reply's only
    character besides punctuation and spaces."""
    text = (reply or "").strip()
    if not text:
        return ""
    for fenced in (r"``([^`]*)``", r"`([^`]*)`"):
        inside = re.search(fenced, text)
        if inside:
            letter = _first(inside.group(1), (r"\b([A-D])\b",))
            if letter:
                return letter
    letter = (
        _boxed_letter(text, "A-D", re.IGNORECASE)
        or _letter_marks(text)
        or _first(text, (r"\b([A-D])\b(?!\s[a-zA-Z])",))
    )
    if letter:
        return letter.upper()
    bare = text.translate(str.maketrans("", "", string.punctuation)).replace(" ", "")
    return bare.upper() if len(bare) == 1 and bare.upper() in "ABCD" else ""


def mmsi_bench(sample: Sample, reply: str) -> SampleScore:
    return _letter_score(sample, _backtick_letter(reply))


def pai_bench(sample: Sample, reply: str) -> SampleScore:
    return _letter_score(sample, _backtick_letter(reply))


def blink(sample: Sample, reply: str) -> SampleScore:
    read = _blink_choice(reply)
    return _letter_score(sample, read, read == f"({sample.answer})")


def _blink_choice(reply: str) -> str:
    """BLINK's extractor, answers written '(X)'; '(Z)' when nothing is found."""
    if not reply:
        return "(Z)"
    text = reply.strip()
    marked = {f"({c})" for c in "ABCDE"}
    if text.upper() in "ABCDE" and len(text) == 1:
        return f"({text.upper()})"
    if text.upper() in marked:
        return text.upper()
    boxed = re.findall(r"\\boxed\{([A-Ea-e])\}", text)
    if boxed:
        return f"({boxed[-1].upper()})"
    for part in (text, text.split("\n\n")[-1]):
        tokens = set(part.split()) & marked
        if len(tokens) == 1:
            return tokens.pop()
    letter = _first(text, (r"\(([A-E])\)",), last=True) or _first(
        text, (r"(?:answer|choice|option)\s+(?:is\s+)?([A-E])\b",), re.IGNORECASE
    )
    if letter:
        return f"({letter.upper()})"
    if text[0].upper() in "ABCDE" and (len(text) == 1 or not text[1].isalpha()):
        return f"({text[0].upper()})"
    return "(Z)"


_MARKED_ANSWER = (
    r"(?:final\s+answer|correct\s+answer|answer\s+is|the\s+answer|best\s+answer|best\s+option|"
    r"correct\s+option|correct\s+choice|answer{extra})\b\s*[:\-=]?\s*\*{{0,2}}\(?\s*([A-Da-d])\b"
)


def viewspatial(sample: Sample, reply: str) -> SampleScore:
    read = _viewspatial_letter(reply)
    return _letter_score(sample, read, bool(read) and read == str(sample.answer))


def _viewspatial_letter(reply: str) -> str:
    text = (reply or "").strip()
    if not text:
        return ""
    letter = _first(
        text,
        (
            r"\\boxed\{\s*\(?\s*([A-Da-d])\s*[.)]?\s*\}",
            r"<answer>\s*\(?\s*([A-Da-d])\s*[.)]?\s*</answer>",
        ),
        re.IGNORECASE | re.DOTALL,
    )
    if letter:
        return letter.upper()
    letter = _first(text, (_MARKED_ANSWER.format(extra=""),), re.IGNORECASE, last=True) or _first(
        text, (r"\(([A-Da-d])\)", r"\b([A-Da-d])\.", r"\b([A-Da-d]):"), last=True
    )
    if letter:
        return letter.upper()
    only = _only_letter(text, "A-Da-d")
    if only:
        return only
    return _first(text[-400:], (r"\b([A-D])\b",), last=True) or ""


def dsi_bench(sample: Sample, reply: str) -> SampleScore:
    read = _dsi_letter(reply)
    return _letter_score(sample, read, bool(read) and read == str(sample.answer))


def _dsi_letter(reply: str) -> str:
    text = (reply or "").strip()
    if not text:
        return ""
    letter = (
        _first(text, (r"\\boxed\{\s*\(?\s*([A-Da-d])\s*[.)]?\s*\}",))
        or _first(text, (_MARKED_ANSWER.format(extra="|option"),), re.IGNORECASE, last=True)
        or _first(text[-400:], (r"(?:^|[\s*(\n])([A-Da-d])(?:[.):]|\s*\n|\s*\*\*|$)",), last=True)
    )
    if letter:
        return letter.upper()
    return text[0].upper() if text[0].upper() in "ABCD" else ""


def perceptioncomp(sample: Sample, reply: str) -> SampleScore:
    return _letter_score(sample, _perceptioncomp_letter(reply))


def _perceptioncomp_letter(reply: str) -> str:
    if not reply:
        return ""
    letter = _first(
        reply,
        (
            r"<answer>\s*([A-Ea-e])\s*</answer>",
            r"\\boxed\{([A-Ea-e])\}",
            r"[Aa]nswer[\s:]*([A-Ea-e])\b",
        ),
    ) or _first(reply, (r"\b([A-Ea-e])\b",), last=True)
    if letter:
        return letter.upper()
    only = _only_letter(reply, "A-Za-z")
    return only if only and only in "ABCDE" else reply.strip()


def mmsi_video(sample: Sample, reply: str) -> SampleScore:
    return _letter_score(sample, _base_letter(reply))


def video_mme(sample: Sample, reply: str) -> SampleScore:
    return _letter_score(sample, _base_letter(reply))


# Phrases Video-MME-v2's extractor deletes before looking for a letter, in its order.
_V2_PREFIXES = (
    "Final Answer:",
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    "The best option is",
    "The correct option is",
    "Best answer:",
    "Best option:",
    "Answer:",
    "Option:",
)


def video_mme_v2(sample: Sample, reply: str) -> SampleScore:
    return _letter_score(sample, _video_mme_v2_letter(reply))


def _video_mme_v2_letter(reply: str) -> str:
    """The first capital A-H after the answer phrases are deleted (a boxed one first); nothing
    for a reply of more than ten words without one."""
    text = (reply or "").strip()
    for prefix in _V2_PREFIXES:
        text = text.replace(prefix, "")
    boxed = _first(text, (r"\\boxed\{([A-H])\}",))
    if boxed:
        return boxed
    found = re.search(r"[A-H]", text)
    return found.group(0) if found else ""


OFFICIAL_RULES: dict[str, OfficialRule] = {
    rule.__name__: rule
    for rule in (
        erqa,
        omni3d_bench,
        omnispatial,
        spbench,
        mindcube,
        mmsi_bench,
        spar_bench,
        blink,
        spatialtree,
        viewspatial,
        mmsi_video,
        osi_bench,
        pai_bench,
        vsi_bench,
        vstibench,
        dsi_bench,
        cvbench,
        perceptioncomp,
        video_mme,
        video_mme_v2,
    )
}
