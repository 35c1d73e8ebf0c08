"""Every text the agent sends to the VLM. The same for every question: no routing by type."""

from __future__ import annotations

from spatialclaw_ros.agent.examples import render_examples
from spatialclaw_ros.agent.types import Question
from spatialclaw_ros.frames import FrameSet
from spatialclaw_ros.tools.reference import summarize_tools

ANSWER_RULES = """\
How to answer:
- multiple choice: the option letter only (e.g. "B");
- a number: the number alone, in the unit the question asks for (metres for distances and sizes,
  degrees for angles, seconds for durations, unless the question says otherwise);
- yes/no: "yes" or "no";
- otherwise a short phrase."""

CODE_SYSTEM = """\
You answer spatial questions about what cameras saw. You do it by writing Python into a
persistent kernel, one cell per reply, and reading what each cell prints before writing the next.
Measure instead of guessing: depth, camera poses and object masks are one call away.

The kernel holds the frames (InputImages), their Metadata, the perception and geometry
toolbox (tools), show(), the vlm helper for sub-questions and ReturnAnswer(); all documented
below, with the types the tools return.

Tool documentation:
{tools_doc}

{conventions}

Every reply has this shape, with exactly one python block:
Purpose: what this cell is for, in one line.
Reasoning: what you learned so far and why this is the next step, briefly.
Next goal: what you will do after this cell.
```python
# the cell
```

Rules:
- Variables persist between cells; a cell that fails keeps none of the variables it created.
- Print the values you need; long output is cut in the middle.
- Cells run in a sandbox: no files, network, subprocesses or installs.
- You have {max_steps} cells. Call ReturnAnswer as soon as two lines of evidence agree.
{answer_rules}

Worked examples (one per kind of question; each cell is one reply, the Purpose/Reasoning lines
are left out here):

{examples}"""

CONVENTIONS = """\
Conventions:
- World and up. recon.world_frame names the world; recon.up is its up direction (+z in a robot
  frame such as "map"; about the cameras' -y in "first_camera"). Camera poses are 4x4
  camera-to-world matrices with OpenCV camera axes: x right, y down, z forward (the optical axis
  is extrinsics[f][:3, 2]).
- Directions. Left/right/front/behind from a standpoint are decided in 3D, seen from above:
  tools.Geometry.relative_direction(standpoint, facing, target, up=recon). Image left/right only
  answers "as seen in this image"; a standpoint elsewhere, or the camera's own motion, needs 3D.
  Left/right as the camera sees it: transform a point into the camera (Geometry.transform(p,
  Geometry.invert(recon.extrinsics[f]))): x > 0 is to its right.
- Sizes. recon.height(mask) is the extent along up; box_3d(..., upright=True).size is (length,
  width, height). A box's size is along its own axes, so size[2] of another box is no height.
  recon.is_metric False: only ratios between lengths are meaningful.
- Frames. .frame_index is a frame's number in its video, and every tool and result uses it
  (recon.extrinsics[f] is frame f's pose). Reconstruct 8-32 frames spread over the video
  (tools.Time.key_frames(16)); segment those same frames to measure them in 3D.
- Check before trusting. Print each segmentation: the number of masks and their areas. Zero masks:
  rephrase (a simpler noun) or find the object with vlm.locate and prompt SAM3 with points.
  A mask of a few dozen pixels, or far more masks than objects, means the wrong thing was found;
  show() tools.Draw.mask(frame, mask) when unsure.
- Robust numbers. Per-frame measurements disagree: take the median, not the mean, and drop
  views where the object is cut by the image edge or tiny.
- Two lines of evidence. Before answering, confirm with a second, independent route: another
  frame, another measure, a look with show(), or a neutral vlm.ask. If they disagree, find out why.
- vlm.locate / vlm.ask start a fresh session that knows nothing of this one: make the query
  self-contained and neutral ("Where is the mug relative to the plate?", not "Is the mug on the
  left?"), and give it only the images it needs. locate returns 0-1000 points on the first
  image: tools.Geometry.normalized_to_pixel(points, width, height) gives pixels."""

SINGLE_PASS_NOTE = """\
You get exactly ONE cell and no feedback: write the complete program in it, handle the case
where an object is not found, and end by calling ReturnAnswer."""

PLANNER_SYSTEM = """\
You plan how to answer a spatial question with perception tools before the images are shown.
You get the question and a description of the input (no images). Reply with a short numbered
plan (at most 6 steps): which objects to find, which tools measure what is asked, which
quantities to compare, and what could go wrong (an object out of view, several instances, scale
ambiguity, a standpoint that is not the camera's). No code.
The tools the executor will have (it writes Python calling them):
{tools}"""

TOOL_CALLS_SYSTEM = """\
You answer spatial questions about what cameras saw by calling tools and reading each result
before the next call. Reply with a short line of reasoning followed by one JSON object in a
```json block (several blocks run in order):
{{"tool": "<name>", "args": {{...}}, "save_as": "<variable name for the result>"}}

Tools (each with an example of its args):
{tool_list}

Results are kept under their save_as names; pass those names where a tool takes a
reconstruction or a segmentation. Frame numbers in args ("frame", "frames", "prompt_frame") are
positions in the video: 0 is its first frame. Heights come from "height" (the extent along the
world's up axis); check that a segmentation found the object you meant before measuring it.
You have {max_steps} calls.
{answer_rules}"""

FALLBACK_SYSTEM = """\
You answer a spatial question about the images directly. Earlier tool-based attempts did not
reach an answer; their notes are given for what they are worth. Think briefly, then finish with
a last line "Answer: <answer>".
{answer_rules}"""

DIRECT_SYSTEM = """\
You answer spatial questions about images. Think briefly, step by step, then finish with a last
line "Answer: <answer>".
{answer_rules}"""

LOCATE_PROMPT = """\
Find: {query}
Reply with the point(s) on the first image as JSON, a list of [x, y] pairs in 0-1000 normalised
image coordinates (x from the left edge, y from the top edge), e.g. [[512, 300]]. Any further
images are context only. If it is not visible in the first image, reply exactly: not visible"""

CELL_SHAPE = """\
Purpose: <one line>
Reasoning: <briefly>
Next goal: <one line>
```python
<the cell>
```"""

_CODE_PROBLEMS = {
    "no_code": "Your reply had no python code block, so nothing ran.",
    "several_blocks": (
        "Your reply had {found} python code blocks; one reply runs one cell. "
        "Merge them into one block."
    ),
    "empty_block": "Your reply's python block was empty, so nothing ran.",
    "cut_off": (
        "Your reply was cut off at the token limit{limit} before its cell was complete, "
        "so nothing ran. Think more briefly and write the cell sooner."
    ),
}


def code_correction(problem: str, found: int, max_tokens: int | None) -> str:
    """What went wrong with a reply that ran no cell, the shape expected, and how to answer."""
    limit = f" ({max_tokens} tokens)" if max_tokens else ""
    cause = _CODE_PROBLEMS[problem].format(found=found, limit=limit)
    return (
        f"{cause} Reply in this shape, with exactly one python block:\n{CELL_SHAPE}\n"
        'If you already know the answer, submit it from a cell: ReturnAnswer("B") (or the number, '
        "yes/no, or short phrase)."
    )


def tool_call_correction(problem: str, cut_off: bool) -> str:
    cause = "Your reply was cut off at the token limit. " if cut_off else ""
    return (
        f"{cause}Your reply did not hold a valid tool call ({problem}), so nothing ran. "
        "Reply with one "
        '```json block such as {"tool": "segment", "args": {"video": 1, "frame": 0, '
        '"text": "chair"}, '
        '"save_as": "chair"}. To submit the final answer: {"tool": "answer", "args": '
        '{"value": "B"}}.'
    )


def code_system(tools_doc: str, max_steps: int, single_pass: bool) -> str:
    text = CODE_SYSTEM.format(
        tools_doc=tools_doc.strip(),
        conventions=CONVENTIONS,
        max_steps=max_steps,
        answer_rules=ANSWER_RULES,
        examples=render_examples(),
    )
    return text + "\n\n" + SINGLE_PASS_NOTE if single_pass else text


def planner_system() -> str:
    return PLANNER_SYSTEM.format(tools=summarize_tools())


def tool_calls_system(tool_list: str, max_steps: int) -> str:
    return TOOL_CALLS_SYSTEM.format(
        tool_list=tool_list.strip(), max_steps=max_steps, answer_rules=ANSWER_RULES
    )


def video_name(number: int, count: int) -> str:
    """What kernel code calls video `number` (from 1) of `count`: InputImages when it is the only
    one; with several, InputImages_<number> (InputImages then holds every video's frames)."""
    return "InputImages" if count == 1 else f"InputImages_{number}"


def describe_input(videos: list[FrameSet]) -> str:
    """What the frames are, in words: counts, cameras, timing, and what the robot knows of them."""
    lines = []
    for i, video in enumerate(videos, 1):
        name = video_name(i, len(videos))
        first = video.frames[0]
        fps = video.fps
        timing = (
            f"{video.timestamps[-1] - video.timestamps[0]:.2f} s at {fps:.2f} fps"
            if fps
            else "no timing (stills)"
        )
        known = [
            label
            for label, present in (
                ("sensor depth", video.has_depth),
                ("camera poses", video.has_poses),
                ("intrinsics", video.has_intrinsics),
                ("instance labels", video.has_labels),
            )
            if present
        ]
        lines.append(
            f"- {name}: {len(video)} frame(s), {first.width}x{first.height}, camera(s) "
            f"{', '.join(video.cameras)}, "
            f"{timing}; known: {', '.join(known) or 'images only'}"
            + (f"; world frame {video.world_frame}" if video.world_frame else "")
        )
    return "Input:\n" + "\n".join(lines)


def planner_request(question: Question, videos: list[FrameSet]) -> str:
    return f"Question:\n{question.render()}\n\n{describe_input(videos)}"


def first_cell_request(
    question: Question, videos: list[FrameSet], plan: str, shown: list[list[int]]
) -> str:
    """The opening user turn of the cell writer; `shown` lists which frame positions are
    attached."""
    image_notes = []
    for i, positions in enumerate(shown, 1):
        image_notes.append(f"{video_name(i, len(videos))}[{', '.join(str(p) for p in positions)}]")
    return (
        f"Question:\n{question.render()}\n\n{describe_input(videos)}\n\n"
        f"Plan:\n{plan.strip() or '(none)'}\n\n"
        f"Attached, in order: {'; '.join(image_notes)}.\nWrite the first cell."
    )


def feedback_turn(feedback: str, step: int, max_steps: int) -> str:
    left = max_steps - step
    budget = f"[{step} of {max_steps} steps used; {left} left]"
    if left == 1:
        budget += " The next cell is the last one: it must call ReturnAnswer."
    return "\n\n".join(part for part in (feedback.strip(), budget) if part)


def fallback_request(question: Question, notes: str) -> str:
    notes = notes.strip() or "(no notes)"
    return f"Question:\n{question.render()}\n\nNotes from the tool-based attempt:\n{notes}"


def direct_request(question: Question, videos: list[FrameSet]) -> str:
    return (
        f"Question:\n{question.render()}\n\n{describe_input(videos)}\n"
        "The images follow in time order."
    )
