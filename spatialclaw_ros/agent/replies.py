"""Reading the VLM's replies: the cell it wrote, or the tool call it made."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_THINKING = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_CODE_BLOCK = re.compile(r"```[ \t]*(python|py|python3)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_JSON_BLOCK = re.compile(r"```[ \t]*(?:json)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_FIELD = re.compile(r"^\s*\**\s*(purpose|reasoning|next goal)\s*\**\s*:\s*\**\s*(.*)$", re.IGNORECASE)


def strip_thinking(text: str) -> str:
    """Drop reasoning-model <think> sections (and an unclosed one left by a cut-off reply)."""
    text = _THINKING.sub("", text)
    if "<think>" in text.lower():
        text = text[: text.lower().index("<think>")]
    return text.strip()


@dataclass
class CellReply:
    """A cell writer's reply. `code` is None unless the reply held exactly one python block."""

    purpose: str = ""
    reasoning: str = ""
    next_goal: str = ""
    code: str | None = None
    code_blocks: int = 0


def parse_cell_reply(text: str) -> CellReply:
    text = strip_thinking(text)
    blocks = [m.group(2) for m in _CODE_BLOCK.finditer(text) if m.group(1) or _looks_like_python(m.group(2))]
    reply = CellReply(code_blocks=len(blocks))
    if len(blocks) == 1 and blocks[0].strip():
        reply.code = blocks[0].strip("\n")
    prose = _CODE_BLOCK.sub("", text)
    current = None
    sections: dict[str, list[str]] = {"purpose": [], "reasoning": [], "next goal": []}
    for line in prose.splitlines():
        match = _FIELD.match(line)
        if match:
            current = match.group(1).lower()
            sections[current].append(match.group(2).strip().strip("*"))
        elif current and line.strip():
            sections[current].append(line.strip())
    reply.purpose = " ".join(sections["purpose"]).strip()
    reply.reasoning = " ".join(sections["reasoning"]).strip()
    reply.next_goal = " ".join(sections["next goal"]).strip()
    return reply


def _looks_like_python(block: str) -> bool:
    """An unlabelled block counts as code unless it is plainly JSON or prose."""
    stripped = block.strip()
    return bool(stripped) and not stripped.startswith(("{", "["))


@dataclass
class ToolCall:
    tool: str
    args: dict[str, Any] = field(default_factory=dict)
    save_as: str | None = None


def parse_tool_call(text: str) -> ToolCall:
    """The one JSON tool call in a reply. Raises ValueError saying what is wrong with it."""
    text = strip_thinking(text)
    blocks = [m.group(1) for m in _JSON_BLOCK.finditer(text)]
    if not blocks:
        start, end = text.find("{"), text.rfind("}")
        blocks = [text[start : end + 1]] if 0 <= start < end else []
    if len(blocks) != 1:
        raise ValueError(f"found {len(blocks)} JSON blocks")
    try:
        data = json.loads(blocks[0])
    except json.JSONDecodeError as exc:
        raise ValueError(f"the JSON does not parse: {exc.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("tool"), str):
        raise ValueError('the JSON object needs a "tool" name')
    args = data.get("args") or {}
    if not isinstance(args, dict):
        raise ValueError('"args" must be an object')
    save_as = data.get("save_as")
    if save_as is not None and (not isinstance(save_as, str) or not save_as.isidentifier()):
        raise ValueError(f'"save_as" must be a Python identifier, got {save_as!r}')
    return ToolCall(tool=data["tool"], args=args, save_as=save_as)
