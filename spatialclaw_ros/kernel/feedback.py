"""The observation text the VLM reads after each step. The format is documented in
docs/kernel.md and fixed by tests: change both together."""

from __future__ import annotations

from collections import Counter

from spatialclaw_ros.kernel.types import StepResult

ROLLED_BACK = "The cell's new and changed variables were rolled back."
QUOTED_LINE_CHARS = 300  # of the failing line an error quotes


def split_limit(limit: int) -> tuple[int, int]:
    """How many characters of a capped text are kept from its start and from its end."""
    head = max(limit, 0) // 2
    return head, max(limit, 0) - head


def join_cut(head: str, tail: str, cut: int) -> str:
    """The kept start and end of a text, with the size of the cut between them."""
    return head + tail if cut <= 0 else f"{head}\n... [{cut} characters cut] ...\n{tail}"


def cap_middle(text: str, limit: int) -> str:
    """Keep the head and tail of a long text and say how much of the middle was cut."""
    if len(text) <= limit:
        return text
    head, tail = split_limit(limit)
    return join_cut(text[:head], text[len(text) - tail :], len(text) - limit)


def count_calls(calls: list[str]) -> str:
    """Calls counted, e.g. "tools.A, tools.B x2", in first-call order."""
    return ", ".join(name if n == 1 else f"{name} x{n}" for name, n in Counter(calls).items())


def error_location(line_number: int | None, line: str | None) -> str:
    """The "Error on line N: <line>" lead of an error, the line shortened like long output."""
    if not line_number:
        return ""
    return f"Error on line {line_number}: {cap_middle((line or '').strip(), QUOTED_LINE_CHARS)}\n"


def render(result: StepResult, images_left: int) -> str:
    status = "success" if result.status == "success" else f"error ({result.error_kind})"
    lines = [f"[step {result.step}] {status}"]
    if result.error:
        lines.append(result.error)
    if result.stdout:
        lines += ["output:", result.stdout.rstrip("\n")]
    if result.warnings:
        lines += ["warnings:"] + [f"- {w}" for w in result.warnings]
    if result.vlm_queries:
        lines += ["vlm queries:"] + [f"- {q}" for q in result.vlm_queries]
    if result.variables:
        lines += ["variables:"] + [
            f"- {name}: {summary}" for name, summary in result.variables.items()
        ]
    if result.images:
        lines.append(f"images attached: {len(result.images)} ({images_left} left)")
    if result.tool_calls:
        lines.append(f"tool calls: {count_calls(result.tool_calls)}")
    if result.status == "success" and result.answer is not None:
        lines.append(f"answer submitted: {result.answer}")
    if result.status == "error":
        lines.append(ROLLED_BACK)
    if len(lines) == 1:
        lines.append("(no output)")
    if result.note:
        lines.append(f"note: {result.note}")
    return "\n".join(lines)
