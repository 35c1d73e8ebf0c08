"""How a VLM reply becomes a kernel cell: written python (`code`, `single_pass`) or a JSON tool
call rendered into python (`tool_calls`). Both feed the same loop and the same kernel."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spatialclaw_ros.agent import prompts
from spatialclaw_ros.agent.graph import CellDraft
from spatialclaw_ros.agent.replies import (
    ToolCall,
    calls_as_text,
    native_calls_as_text,
    parse_cell_reply,
    parse_tool_calls,
    stated_answer,
    visible_text,
)
from spatialclaw_ros.agent.vlm_client import VLMReply


class CodeCells:
    """The VLM writes the cell itself. `max_tokens`: the reply limit, named in corrections."""

    def __init__(
        self, tools_doc: str, single_pass: bool = False, max_tokens: int | None = None
    ) -> None:
        self.tools_doc = tools_doc
        self.single_pass = single_pass
        self.max_tokens = max_tokens

    def system_prompt(self, max_steps: int) -> str:
        return prompts.code_system(self.tools_doc, max_steps, self.single_pass)

    def function_tools(self) -> None:
        return None

    def draft(self, reply: VLMReply) -> CellDraft:
        parsed = parse_cell_reply(reply)
        echo = visible_text(reply)
        if not reply.content.strip():  # the reply was read from the reasoning: keep only its cell
            echo = f"```python\n{parsed.code}\n```" if parsed.code is not None else ""
        if parsed.code is not None:
            return CellDraft(parsed.code, summary=parsed.purpose, echo=echo)
        if parsed.answer is not None:
            return _stated_answer(parsed.answer, echo)
        correction = prompts.code_correction(parsed.problem, parsed.code_blocks, self.max_tokens)
        return CellDraft(None, correction, echo=echo)


# -- structured tool calls --------------------------------------------------------------------


@dataclass(frozen=True)
class ToolSpec:
    name: str
    args: str  # how the VLM reads the arguments
    doc: str
    # validated args, number of videos -> python expression
    render: Callable[[dict[str, Any], int], str]


def _video(args: dict[str, Any], videos: int) -> str:
    number = args.get("video", 1)
    if not isinstance(number, int) or not 1 <= number <= videos:
        raise ValueError(f'"video" must be a video number from 1 to {videos}')
    return prompts.video_name(number, videos)


def _var(args: dict[str, Any], key: str) -> str:
    name = args.get(key)
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f'"{key}" must name a saved result, got {name!r}')
    return name


def _text(args: dict[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f'"{key}" must be a non-empty string')
    return repr(value.strip())


def _frame(args: dict[str, Any], key: str = "frame") -> str:
    value = args.get(key, 0)
    if not isinstance(value, int):
        raise ValueError(f'"{key}" must be a frame position (an integer)')
    return str(value)


def _frames(args: dict[str, Any], videos: int) -> str:
    """A list of frame positions as a python expression over the video, or the whole video."""
    positions = args.get("frames")
    video = _video(args, videos)
    if positions is None:
        return video
    if not isinstance(positions, list) or not all(isinstance(p, int) for p in positions):
        raise ValueError('"frames" must be a list of frame positions')
    return f"[{video}[i] for i in {positions!r}]"


def _prompt(args: dict[str, Any]) -> str:
    """Exactly one SAM 3 prompt: text, a point list or a box."""
    given = [k for k in ("text", "points", "box") if args.get(k) is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of text, points or box")
    key = given[0]
    if key == "text":
        return f"text={_text(args, 'text')}"
    value = args[key]
    flat = (
        value if key == "box" else [c for p in value for c in (p if isinstance(p, list) else [p])]
    )
    if not isinstance(value, list) or not all(isinstance(c, (int, float)) for c in flat):
        raise ValueError(f'"{key}" must hold pixel numbers')
    return f"{key}={json.dumps(value)}"


def _answer(args: dict[str, Any], videos: int) -> str:
    value = args.get("value")
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError('"value" must be a string or a number')
    return f"ReturnAnswer({value!r})"


# Every `args` example is valid JSON that renders (a test checks it); the doc says what varies.
# "frame"/"frames"/"prompt_frame" are positions in the video's frame list (0 = its first frame).
TOOL_SPECS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "reconstruct",
        '{"video": 1, "frames": [0, 2, 4]}',
        "depth, camera poses and point maps; frames optional (default: all; 8-32 "
        "spread-out frames are best)",
        lambda a, n: f"tools.Reconstruct({_frames(a, n)})",
    ),
    ToolSpec(
        "segment",
        '{"video": 1, "frame": 0, "text": "red chair"}',
        'masks of an object in one frame; instead of text: "points": [[x, y]] or "box": '
        "[x0, y0, x1, y1] pixels",
        lambda a, n: f"tools.SAM3.segment({_video(a, n)}[{_frame(a)}], {_prompt(a)})",
    ),
    ToolSpec(
        "track",
        '{"video": 1, "text": "red chair", "prompt_frame": 0}',
        "masks of an object through the whole video, prompted on prompt_frame (text, "
        "points or box)",
        lambda a, n: (
            f"tools.SAM3.propagate({_video(a, n)}, {_prompt(a)}, "
            f"prompt_frame={_video(a, n)}[{_frame(a, 'prompt_frame')}])"
        ),
    ),
    ToolSpec(
        "exists",
        '{"video": 1, "frames": [0], "name": "red chair"}',
        "whether an object is visible in any of the frames (default: all)",
        lambda a, n: f"tools.SAM3.exists({_frames(a, n)}, {_text(a, 'name')})",
    ),
    ToolSpec(
        "box_3d",
        '{"reconstruction": "rec", "mask": "chair"}',
        "an object's upright 3D box from a saved reconstruction and a saved segmentation",
        lambda a, n: f"{_var(a, 'reconstruction')}.box_3d({_var(a, 'mask')}, upright=True)",
    ),
    ToolSpec(
        "height",
        '{"reconstruction": "rec", "mask": "chair"}',
        "an object's height (its extent along the world's up axis), metres",
        lambda a, n: f"{_var(a, 'reconstruction')}.height({_var(a, 'mask')})",
    ),
    ToolSpec(
        "distance",
        '{"reconstruction": "rec", "a": "chair", "b": "door"}',
        "distance between two saved segmentations (closest points and centroids)",
        lambda a, n: (
            f"{_var(a, 'reconstruction')}.distance_between({_var(a, 'a')}, {_var(a, 'b')})"
        ),
    ),
    ToolSpec(
        "locate",
        '{"video": 1, "frames": [0], "query": "the door handle"}',
        "points (0-1000) of something described in words, on the first frame given",
        lambda a, n: f"vlm.locate({_frames(a, n)}, {_text(a, 'query')})",
    ),
    ToolSpec(
        "ask",
        '{"video": 1, "frames": [0, 1], "query": "What colour is the mug?"}',
        "a self-contained sub-question to a fresh vision model session",
        lambda a, n: f"vlm.ask({_frames(a, n)}, {_text(a, 'query')})",
    ),
    ToolSpec(
        "answer",
        '{"value": "B"}',
        "submit the final answer: an option letter, a number in the asked unit, yes/no "
        "or a short phrase",
        _answer,
    ),
)


def _stated_answer(answer: str, echo: str) -> CellDraft:
    """A reply that concluded in prose ("Final answer: B"): submitted as it is, for the answer
    check to accept or refuse like any other."""
    return CellDraft(
        f"ReturnAnswer({answer!r})", summary="the answer stated in the reply", echo=echo
    )


_JSON_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def function_definition(spec: ToolSpec) -> dict:
    example = json.loads(spec.args)
    properties: dict[str, Any] = {
        key: {"type": _JSON_TYPES[type(value)]} for key, value in example.items()
    }
    if spec.name != "answer":
        properties["save_as"] = {
            "type": "string",
            "description": "variable name to keep the result under",
        }
    else:
        properties["value"] = {"type": ["string", "number"]}
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": f"{spec.doc}. Example arguments: {spec.args}",
            "parameters": {"type": "object", "properties": properties},
        },
    }


class ToolCallCells:
    """The VLM emits JSON tool calls; each becomes a small cell that saves and prints its result.
    `videos`: how many videos the kernel holds (tool calls name them by number, from 1)."""

    def __init__(self, videos: int = 1, native: bool = False) -> None:
        self.videos = videos
        self.native = native
        self.specs = {spec.name: spec for spec in TOOL_SPECS}
        self._results = 0

    def system_prompt(self, max_steps: int) -> str:
        listing = "\n".join(f"- {s.name} {s.args}: {s.doc}" for s in TOOL_SPECS)
        return prompts.tool_calls_system(listing, max_steps)

    def function_tools(self) -> list[dict] | None:
        """The tools as OpenAI function definitions (when `native`), their parameters read off
        the same examples the prompt shows, plus the optional `save_as`."""
        return [function_definition(spec) for spec in TOOL_SPECS] if self.native else None

    def draft(self, reply: VLMReply) -> CellDraft:
        # the history keeps the visible reply; calls that came natively or inside the reasoning
        # are added written out as JSON, and reasoning is never kept
        visible = visible_text(reply) if reply.content.strip() else ""
        try:
            calls = parse_tool_calls(reply)
            if any(call.tool == "answer" for call in calls[:-1]):
                raise ValueError("the answer call must come last, after the calls it depends on")
            code = "\n".join(self.render(call) for call in calls)
        except ValueError as exc:
            echo = "\n".join(
                part for part in (visible, native_calls_as_text(reply.tool_calls)) if part
            )
            stated = None if reply.cut_off or reply.tool_calls else stated_answer(visible)
            if stated is not None:
                return _stated_answer(stated, echo)
            return CellDraft(
                None, prompts.tool_call_correction(str(exc), reply.cut_off), echo=echo
            )
        written = calls_as_text(calls) if reply.tool_calls or not visible else ""
        summary = "; ".join(f"{call.tool} {json.dumps(call.args)}" for call in calls)
        return CellDraft(
            code, summary=summary, echo="\n".join(part for part in (visible, written) if part)
        )

    def render(self, call: ToolCall) -> str:
        spec = self.specs.get(call.tool)
        if spec is None:
            raise ValueError(f"unknown tool {call.tool!r}; tools are {', '.join(self.specs)}")
        expression = spec.render(call.args, self.videos)
        if spec.name == "answer":
            return expression
        self._results += 1
        name = call.save_as or f"result_{self._results}"
        return f"{name} = {expression}\nprint({name!r}, '=', repr({name}))"
