"""How a VLM reply becomes a kernel cell: written python (`code`, `single_pass`) or a JSON tool
call rendered into python (`tool_calls`). Both feed the same loop and the same kernel."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spatialclaw_ros.agent import prompts
from spatialclaw_ros.agent.graph import CellDraft
from spatialclaw_ros.agent.replies import ToolCall, parse_cell_reply, parse_tool_call


class CodeCells:
    """The VLM writes the cell itself."""

    def __init__(self, tools_doc: str, single_pass: bool = False) -> None:
        self.tools_doc = tools_doc
        self.single_pass = single_pass

    def system_prompt(self, max_steps: int) -> str:
        return prompts.code_system(self.tools_doc, max_steps, self.single_pass)

    def draft(self, reply: str) -> CellDraft:
        parsed = parse_cell_reply(reply)
        if parsed.code is None:
            return CellDraft(None, prompts.NO_CODE_FEEDBACK.format(found=parsed.code_blocks))
        return CellDraft(parsed.code, summary=parsed.purpose)


# -- structured tool calls --------------------------------------------------------------------


@dataclass(frozen=True)
class ToolSpec:
    name: str
    args: str  # how the VLM reads the arguments
    doc: str
    render: Callable[[dict[str, Any], int], str]  # validated args, number of videos -> python expression


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
    flat = value if key == "box" else [c for p in value for c in (p if isinstance(p, list) else [p])]
    if not isinstance(value, list) or not all(isinstance(c, (int, float)) for c in flat):
        raise ValueError(f'"{key}" must hold pixel numbers')
    return f"{key}={json.dumps(value)}"


def _answer(args: dict[str, Any], videos: int) -> str:
    value = args.get("value")
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError('"value" must be a string or a number')
    return f"ReturnAnswer({value!r})"


TOOL_SPECS: tuple[ToolSpec, ...] = (
    ToolSpec("reconstruct", '{"video": 1, "frames": [0, 4]?}', "depth, camera poses and point maps of the frames",
             lambda a, n: f"tools.Reconstruct({_frames(a, n)})"),
    ToolSpec("segment", '{"video": 1, "frame": 0, "text": "red chair" | "points": [[x, y]] | "box": [x0, y0, x1, y1]}',
             "masks of an object in one frame", lambda a, n: f"tools.SAM3.segment({_video(a, n)}[{_frame(a)}], {_prompt(a)})"),
    ToolSpec("track", '{"video": 1, "text": "red chair", "prompt_frame": 0}', "masks of an object through the video",
             lambda a, n: f"tools.SAM3.propagate({_video(a, n)}, {_prompt(a)}, prompt_frame={_frame(a, 'prompt_frame')})"),
    ToolSpec("exists", '{"video": 1, "frames": [0]?, "name": "red chair"}', "whether an object is visible",
             lambda a, n: f"tools.SAM3.exists({_frames(a, n)}, {_text(a, 'name')})"),
    ToolSpec("box_3d", '{"reconstruction": "<saved>", "mask": "<saved segmentation>"}', "an object's 3D box",
             lambda a, n: f"{_var(a, 'reconstruction')}.box_3d({_var(a, 'mask')})"),
    ToolSpec("distance", '{"reconstruction": "<saved>", "a": "<saved>", "b": "<saved>"}',
             "distance between two segmented objects (closest points and centroids)",
             lambda a, n: f"{_var(a, 'reconstruction')}.distance_between({_var(a, 'a')}, {_var(a, 'b')})"),
    ToolSpec("locate", '{"video": 1, "frames": [0], "query": "the door handle"}',
             "points (0-1000) of something described in words", lambda a, n: f"vlm.locate({_frames(a, n)}, {_text(a, 'query')})"),
    ToolSpec("ask", '{"video": 1, "frames": [0, 1], "query": "..."}', "a sub-question to a vision model",
             lambda a, n: f"vlm.ask({_frames(a, n)}, {_text(a, 'query')})"),
    ToolSpec("answer", '{"value": "B" | 2.5 | "yes"}', "submit the final answer (ends the episode)", _answer),
)  # fmt: skip


class ToolCallCells:
    """The VLM emits JSON tool calls; each becomes a small cell that saves and prints its result.
    `videos`: how many videos the kernel holds (tool calls name them by number, from 1)."""

    def __init__(self, videos: int = 1) -> None:
        self.videos = videos
        self.specs = {spec.name: spec for spec in TOOL_SPECS}
        self._results = 0

    def system_prompt(self, max_steps: int) -> str:
        listing = "\n".join(f"- {s.name} {s.args}: {s.doc}" for s in TOOL_SPECS)
        return prompts.tool_calls_system(listing, max_steps)

    def draft(self, reply: str) -> CellDraft:
        try:
            call = parse_tool_call(reply)
            code = self.render(call)
        except ValueError as exc:
            return CellDraft(None, prompts.NO_TOOL_CALL_FEEDBACK.format(problem=exc))
        return CellDraft(code, summary=f"{call.tool} {json.dumps(call.args)}")

    def render(self, call: ToolCall) -> str:
        spec = self.specs.get(call.tool)
        if spec is None:
            raise ValueError(f"unknown tool {call.tool!r}; tools are {', '.join(self.specs)}")
        expression = spec.render(call.args, self.videos)
        if spec.name == "answer":
            return expression
        self._results += 1
        name = call.save_as or f"result_{self._results}"
        return f"{name} = {expression}\nprint({name!r}, '=', {name})"
