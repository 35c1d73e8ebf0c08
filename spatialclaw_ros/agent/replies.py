r"""Reading the VLM's replies as real models write them: the cell it wrote, or the tool call(s).

What real replies look like, and what is done with each shape:
- reasoning first: `<think>...</think>answer`, or only the closing `</think>` (a Qwen thinking
  template whose opening tag sits in the prompt, served with the reasoning parser off). All text
  up to the last `</think>` is reasoning; so is everything after an unclosed `<think>`. Code
  drafted inside the reasoning never runs, and the reasoning is never sent back in the history.
- the reply in `reasoning_content` and an empty `content`: the reasoning is the reply
  (`VLMReply.text`).
- code in a ```python fence, an unlabelled fence, `<code>`, `<execute>` or `<python>` tags; a
  fence left open at the end of the reply is taken up to the end, unless the server cut the
  reply at its token limit (then the code is incomplete and is not run).
- other fenced blocks (```json, ```text, ```bash, printed output) are not code.
- no code but an explicit final answer ("Final answer: A", `\boxed{A}`): submitted as
  `ReturnAnswer` (the answer check then decides whether it stands).
- tool calls: OpenAI `tool_calls`, Qwen `<tool_call>{...}</tool_call>`, ```json blocks or a bare
  object; `{"tool": .., "args": ..}` or `{"name": .., "arguments": ..}`; JSON read leniently
  (single quotes, trailing commas, Python literals); several calls in one reply run in order.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

from spatialclaw_ros.agent.vlm_client import NativeToolCall, VLMReply

_THINK_OPEN = re.compile(r"<think(?:ing)?>", re.IGNORECASE)
_THINK_CLOSE = re.compile(r"</think(?:ing)?>", re.IGNORECASE)
# a fence, its language word, its body, and whether it was closed (an open one runs to the end)
_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(```|\Z)", re.DOTALL)
_CODE_TAG = re.compile(r"<(code|execute|python)>\s*(.*?)\s*(</\1>|\Z)", re.DOTALL | re.IGNORECASE)
_PYTHON_WORDS = {"python", "py", "python3", "ipython", "py3"}
_FIELD = re.compile(
    r"^\s*[#*]*\s*(purpose|reasoning|next goal)\s*\**\s*:\s*\**\s*(.*)$", re.IGNORECASE
)
_BOXED = re.compile(r"\\boxed\s*\{([^{}]+)\}")
_FINAL_LINE = re.compile(r"^\W*(?:final\s+answer|answer)\W*\s*[:=]\s*(.+?)\s*$", re.IGNORECASE)
_TOOL_CALL_TAG = re.compile(
    r"<tool_call>\s*(.*?)\s*(?:</tool_call>|\Z)", re.DOTALL | re.IGNORECASE
)


def split_reasoning(text: str) -> tuple[str, str]:
    """(reasoning, reply): everything up to the last closing think tag (with or without its
    opening tag) is reasoning, and so is an unclosed `<think>` section at the end."""
    reasoning = ""
    closes = list(_THINK_CLOSE.finditer(text))
    if closes:
        reasoning, text = text[: closes[-1].start()], text[closes[-1].end() :]
    opened = _THINK_OPEN.search(text)
    if opened:  # cut off while thinking: what follows the tag is unfinished reasoning
        reasoning, text = reasoning + text[opened.end() :], text[: opened.start()]
    return _THINK_OPEN.sub("", reasoning).strip(), text.strip()


def strip_thinking(text: str) -> str:
    """The reply without its reasoning."""
    return split_reasoning(text)[1]


def visible_text(reply: VLMReply) -> str:
    """What the model answered, without reasoning: the text kept in the conversation history."""
    return strip_thinking(reply.text)


@dataclass
class CellReply:
    """A cell writer's reply. `code` is None unless the reply held exactly one code block (or a
    final answer, rendered as a ReturnAnswer cell); `problem` then says why, for the correction."""

    purpose: str = ""
    reasoning: str = ""
    next_goal: str = ""
    code: str | None = None
    code_blocks: int = 0
    answer: str | None = None  # the final answer stated in prose, when the reply had no code
    problem: str = ""  # "no_code", "several_blocks", "empty_block" or "cut_off"


@dataclass(frozen=True)
class _Block:
    code: str
    closed: bool


def _code_blocks(text: str) -> list[_Block]:
    blocks = []
    for match in _FENCE.finditer(text):
        word, body, end = match.group(1).lower(), match.group(2), match.group(3)
        if word in _PYTHON_WORDS or (not word and _looks_like_python(body)):
            blocks.append(_Block(body.strip("\n"), bool(end)))
    if blocks:
        return blocks
    for match in _CODE_TAG.finditer(text):
        body = match.group(2)
        inner = _code_blocks(body) if "```" in body else []
        blocks += inner or [_Block(body.strip("\n"), bool(match.group(3)))]
    return blocks


def _looks_like_python(block: str) -> bool:
    """An unlabelled block counts as code unless it is plainly JSON or printed output."""
    stripped = block.strip()
    return bool(stripped) and not stripped.startswith(
        ("{", "[", ">>>", "Traceback", "output", "Output")
    )


def stated_answer(text: str) -> str | None:
    r"""An explicit final answer in prose: the last `\boxed{..}`, else a last line such as
    "Final answer: A" or "**Answer:** 2.5 m"."""
    boxed = _BOXED.findall(text)
    if boxed:
        return boxed[-1].strip()
    lines = [line for line in text.strip().splitlines() if line.strip()]
    match = _FINAL_LINE.match(lines[-1]) if lines else None
    return match.group(1).strip().strip("*").strip() or None if match else None


def parse_cell_reply(reply: VLMReply | str) -> CellReply:
    if isinstance(reply, str):
        reply = VLMReply(reply)
    _, text = split_reasoning(reply.text)
    if not text:  # a reply that never left its reasoning: the reasoning is all there is
        text = split_reasoning(reply.text)[0] if not reply.cut_off else ""
    blocks = _code_blocks(text)
    parsed = CellReply(code_blocks=len(blocks))
    if len(blocks) == 1 and blocks[0].code.strip():
        if blocks[0].closed or not reply.cut_off:
            parsed.code = blocks[0].code
        else:
            parsed.problem = "cut_off"
    elif len(blocks) > 1:
        parsed.problem = "several_blocks"
    elif blocks:
        parsed.problem = "empty_block"
    else:
        parsed.answer = None if reply.cut_off else stated_answer(text)
        parsed.problem = "cut_off" if reply.cut_off else "no_code"
    _read_fields(_FENCE.sub("", text), parsed)
    return parsed


def _read_fields(prose: str, parsed: CellReply) -> None:
    current = None
    sections: dict[str, list[str]] = {"purpose": [], "reasoning": [], "next goal": []}
    for line in prose.splitlines():
        match = _FIELD.match(line)
        if match:
            current = match.group(1).lower()
            sections[current].append(match.group(2).strip().strip("*"))
        elif current and line.strip():
            sections[current].append(line.strip())
    parsed.purpose = " ".join(sections["purpose"]).strip()
    parsed.reasoning = " ".join(sections["reasoning"]).strip()
    parsed.next_goal = " ".join(sections["next goal"]).strip()


# -- tool calls -------------------------------------------------------------------------------


@dataclass
class ToolCall:
    tool: str
    args: dict[str, Any] = field(default_factory=dict)
    save_as: str | None = None


def lenient_json(text: str) -> Any:
    """JSON as models write it: strict JSON, else the same text read as a Python literal (single
    quotes, trailing commas, True/False/None as well as true/false/null). Raises ValueError with
    the strict parser's complaint when neither reads."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        complaint = f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
    pythonic = re.sub(
        r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", re.sub(r"\bnull\b", "None", text))
    )
    try:
        return ast.literal_eval(pythonic.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ValueError(f"the JSON does not parse: {complaint}") from None


def _objects(text: str) -> list[str]:
    """The top-level {...} spans of a text, in order (braces inside strings are skipped)."""
    spans, depth, start, quote = [], 0, -1, ""
    escaped = False
    for i, char in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'" and depth:
            quote = char
        elif char == "{":
            start = i if depth == 0 else start
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                spans.append(text[start : i + 1])
    return spans


def _call_texts(text: str) -> list[str]:
    tagged = _TOOL_CALL_TAG.findall(text)
    if tagged:
        return tagged
    fenced = [
        m.group(2)
        for m in _FENCE.finditer(text)
        if m.group(1).lower() in ("", "json", "json5", "tool_call")
    ]
    fenced = [body for body in fenced if body.strip().startswith("{")]
    return fenced or _objects(text)


def _as_call(data: Any) -> ToolCall:
    if not isinstance(data, dict):
        raise ValueError("a tool call must be a JSON object")
    name = data.get("tool", data.get("name"))
    if not isinstance(name, str) or not name:
        raise ValueError('the JSON object needs a "tool" name')
    args = data.get("args", data.get("arguments")) or {}
    if isinstance(args, str):  # OpenAI style: the arguments as JSON text
        args = lenient_json(args) if args.strip() else {}
    if not isinstance(args, dict):
        raise ValueError('"args" must be an object')
    args = dict(args)
    save_as = data.get("save_as", args.pop("save_as", None))
    if save_as is not None and (not isinstance(save_as, str) or not save_as.isidentifier()):
        raise ValueError(f'"save_as" must be a Python identifier, got {save_as!r}')
    return ToolCall(tool=name, args=args, save_as=save_as)


def parse_tool_calls(reply: VLMReply | str) -> list[ToolCall]:
    """Every tool call of a reply, in order. Raises ValueError saying what is wrong."""
    if isinstance(reply, str):
        reply = VLMReply(reply)
    if reply.tool_calls:
        return [_as_call({"name": c.name, "arguments": c.arguments}) for c in reply.tool_calls]
    text = strip_thinking(reply.text) or split_reasoning(reply.text)[0]
    texts = _call_texts(text)
    if not texts:
        if reply.cut_off:
            raise ValueError("the reply was cut off at the token limit before any tool call")
        raise ValueError("found no JSON tool call")
    return [_as_call(lenient_json(t)) for t in texts]


def parse_tool_call(text: VLMReply | str) -> ToolCall:
    """The one tool call of a reply. Raises ValueError unless there is exactly one."""
    calls = parse_tool_calls(text)
    if len(calls) != 1:
        raise ValueError(f"found {len(calls)} tool calls, expected one")
    return calls[0]


def calls_as_text(calls: list[ToolCall]) -> str:
    """Tool calls written out in the JSON the prompt asks for: how they go back into the history
    when they came in another form (native `tool_calls`, or inside the reasoning)."""
    return "\n".join(
        "```json\n"
        + json.dumps(
            {"tool": c.tool, "args": c.args} | ({"save_as": c.save_as} if c.save_as else {})
        )
        + "\n```"
        for c in calls
    )


def native_calls_as_text(calls: list[NativeToolCall]) -> str:
    """Native calls as the server passed them on, for the history of a reply that failed to
    read."""
    return "\n".join(
        f'```json\n{{"tool": {json.dumps(c.name)}, "args": {c.arguments}}}\n```' for c in calls
    )
