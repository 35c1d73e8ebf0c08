"""Reading replies: the one python block, the JSON tool call, the final answer."""

from __future__ import annotations

import json

import pytest

from spatialclaw_ros.agent.cells import ToolCallCells
from spatialclaw_ros.agent.dispatch import NOT_VISIBLE, parse_points
from spatialclaw_ros.agent.final_answer import answer_kind, final_answer
from spatialclaw_ros.agent.replies import parse_cell_reply, parse_tool_call
from spatialclaw_ros.agent.types import Question
from spatialclaw_ros.agent.vlm_client import VLMReply


def test_cell_reply_fields_and_code():
    reply = parse_cell_reply(
        "<think>long musing ```python\nx=1\n```</think>\n**Purpose:** find the chair\n"
        "Reasoning: need a mask\n"
        "it is in frame 2\nNext goal: measure\n```python\n"
        "seg = tools.SAM3.segment(InputImages[2], text='chair')\n"
        "print(len(seg))\n```\n"
    )
    assert reply.code == "seg = tools.SAM3.segment(InputImages[2], text='chair')\nprint(len(seg))"
    assert reply.purpose == "find the chair"
    assert reply.reasoning == "need a mask it is in frame 2"
    assert reply.next_goal == "measure"
    assert reply.code_blocks == 1


@pytest.mark.parametrize(
    "text, blocks",
    [
        ("I think the answer is B.", 0),
        ("```python\na=1\n```\n```python\nb=2\n```", 2),
        ("```python\n\n```", 1),
    ],
)
def test_replies_without_exactly_one_cell_have_no_code(text, blocks):
    reply = parse_cell_reply(text)
    assert reply.code is None and reply.code_blocks == blocks


def test_unlabelled_block_counts_as_code_but_json_does_not():
    assert parse_cell_reply("```\nprint(1)\n```").code == "print(1)"
    assert parse_cell_reply('```\n{"a": 1}\n```').code is None


def test_tool_call_parsing_and_errors():
    call = parse_tool_call(
        'Need depth.\n```json\n{"tool": "reconstruct", "args": {"video": 1}, "save_as": '
        '"rec"}\n```'
    )
    assert (call.tool, call.args, call.save_as) == ("reconstruct", {"video": 1}, "rec")
    assert parse_tool_call('{"tool": "answer", "args": {"value": 2}}').tool == "answer"
    with pytest.raises(ValueError, match="found no JSON tool call"):
        parse_tool_call("no json here")
    with pytest.raises(ValueError, match="does not parse"):
        parse_tool_call("```json\n{tool: x}\n```")
    with pytest.raises(ValueError, match="identifier"):
        parse_tool_call('{"tool": "segment", "save_as": "os.system"}')


def test_tool_calls_name_videos_as_the_kernel_does():
    exists = (
        '```json\n{"tool": "exists", "args": {"video": %d, "name": "cup"}, "save_as": "seen"}\n```'
    )
    assert (
        ToolCallCells(1)
        .draft(VLMReply(exists % 1))
        .code.startswith("seen = tools.SAM3.exists(InputImages, 'cup')")
    )
    # with several videos the kernel's InputImages holds every video's frames; video 1 is
    # InputImages_1
    two = ToolCallCells(2)
    assert two.draft(VLMReply(exists % 1)).code.startswith(
        "seen = tools.SAM3.exists(InputImages_1, 'cup')"
    )
    assert two.draft(VLMReply(exists % 2)).code.startswith(
        "seen = tools.SAM3.exists(InputImages_2, 'cup')"
    )
    for number in (0, 3):
        draft = two.draft(VLMReply(exists % number))
        assert (
            draft.code is None and '"video" must be a video number from 1 to 2' in draft.correction
        )


def test_locate_points_parsing():
    assert parse_points('[{"point_2d": [512, 300]}, [10.5, 1200]]') == [
        (512.0, 300.0),
        (10.5, 1000.0),
    ]
    assert parse_points("not visible") == NOT_VISIBLE
    assert parse_points("I cannot tell") == NOT_VISIBLE


@pytest.mark.parametrize(
    "text, choices, kind, family",
    [
        ("How far is the chair from the door?", [], "number", "m"),
        ("How many boxes are there?", [], "number", "count"),
        ("How tall is the lamp, in centimeters?", [], "number", "m"),
        ("By how many degrees did the camera turn?", [], "number", "deg"),
        ("Is the cup on the table?", [], "yes_no", None),
        ("Which is closer?", ["cup", "plate"], "mc", None),
        ("What colour is the sofa?", [], "text", None),
    ],
)
def test_answer_kind(text, choices, kind, family):
    got = answer_kind(Question(text, choices))
    assert (got.kind, got.family) == (kind, family)


@pytest.mark.parametrize(
    "raw, text, choices, answer, value, unit",
    [
        ("B", "Which one?", ["red box", "blue box"], "B", None, ""),
        ("blue box", "Which one?", ["red box", "blue box"], "B", None, ""),
        (
            "After measuring: A is 2 m, B is 3 m. The answer is (B).",
            "Which is farther?",
            ["x", "y"],
            "B",
            None,
            "",
        ),
        ("Final answer: \\boxed{C}", "Pick", ["a", "b", "c"], "C", None, ""),
        (2.54, "How far is the chair from the door, in metres?", [], "2.54", 2.54, "m"),
        ("about 150 cm", "How far is the chair from the door?", [], "1.5", 1.5, "m"),
        ("1.5 meters", "How tall is it, in centimeters?", [], "150", 150.0, "cm"),
        # a unit written elsewhere in the text does not rescale a bare answer
        (
            "The table is 2 m wide. Answer: 150",
            "How wide is the table, in centimeters?",
            [],
            "150",
            150.0,
            "cm",
        ),
        ("Answer: three", "How many chairs are there?", [], "3", 3.0, "count"),
        (
            "The rotation is 0.5 radians",
            "By how many degrees did it rotate?",
            [],
            "28.6479",
            28.6479,
            "deg",
        ),
        ("Yes, it is.", "Is the cup on the table?", [], "yes", None, ""),
        ("Answer: the blue sofa", "What is next to the lamp?", [], "the blue sofa", None, ""),
        (None, "How far?", [], "", None, ""),
    ],
)
def test_final_answer(raw, text, choices, answer, value, unit):
    got = final_answer(raw, Question(text, choices))
    assert got.answer == answer and got.unit == unit
    assert got.value == pytest.approx(value, rel=1e-4) if value is not None else got.value is None


def test_bad_questions_are_refused():
    with pytest.raises(ValueError, match="empty"):
        Question("  ")
    with pytest.raises(ValueError, match="two choices"):
        Question("Which?", ["only one"])


def test_every_tool_call_template_is_valid_json_that_renders():
    from spatialclaw_ros.agent.cells import TOOL_SPECS
    from spatialclaw_ros.agent.replies import ToolCall

    cells = ToolCallCells(1)
    for spec in TOOL_SPECS:
        args = json.loads(spec.args)  # the prompt's example, exactly as the model reads it
        code = cells.render(ToolCall(spec.name, args, save_as="x"))
        compile(code, spec.name, "exec")


def test_segment_and_track_read_frames_as_positions():
    cells = ToolCallCells(1)
    track = cells.render(
        parse_tool_call('{"tool": "track", "args": {"text": "cup", "prompt_frame": 3}}')
    )
    segment = cells.render(
        parse_tool_call('{"tool": "segment", "args": {"text": "cup", "frame": 3}}')
    )
    assert "prompt_frame=InputImages[3]" in track and "segment(InputImages[3]" in segment


def test_planner_knows_the_tools():
    from spatialclaw_ros.agent.prompts import planner_system

    planner = planner_system()
    for name in (
        "tools.SAM3.propagate",
        "tools.Geometry.relative_direction",
        "vlm.locate",
        "recon.height",
    ):
        assert name in planner


@pytest.mark.parametrize(
    "reply, code, answer, problem",
    [
        ("thinking ```python\nx = 1\n```</think>\n```python\ny = 2\n```", "y = 2", None, ""),
        ("<think>plan</think><code>\nz = 3\n</code>", "z = 3", None, ""),
        ("<execute>print(4)</execute>", "print(4)", None, ""),
        ("```python\na = 1\nprint(a)", "a = 1\nprint(a)", None, ""),
        ('```json\n{"a": 1}\n```\n```text\nout\n```', None, None, "no_code"),
        ("We measured it.\n**Final answer:** B", None, "B", "no_code"),
        ("So \\boxed{2.5}", None, "2.5", "no_code"),
        ("```python\na = 1\n```\n```python\nb = 2\n```", None, None, "several_blocks"),
    ],
)
def test_reply_shapes_read(reply, code, answer, problem):
    parsed = parse_cell_reply(reply)
    assert (parsed.code, parsed.answer, parsed.problem) == (code, answer, problem)


def test_cut_replies_run_nothing_unfinished():
    cut = parse_cell_reply(VLMReply("```python\nrecon = tools.Reconstr", finish_reason="length"))
    assert cut.code is None and cut.problem == "cut_off"
    closed = parse_cell_reply(
        VLMReply("```python\nprint(1)\n```\nNext I will", finish_reason="length")
    )
    assert closed.code == "print(1)"


def test_lenient_json():
    from spatialclaw_ros.agent.replies import lenient_json

    assert lenient_json("{'a': [1, 2,], 'b': true, 'c': null,}") == {
        "a": [1, 2],
        "b": True,
        "c": None,
    }
    with pytest.raises(ValueError, match="does not parse"):
        lenient_json("{tool: x}")


@pytest.mark.parametrize(
    "answer, text, choices, refused_before, refused",
    [
        ("B", "Which is taller?", ["box", "lamp"], [], False),
        ("the lamp", "Which is taller?", ["box", "lamp"], [], False),  # an option's text names it
        ("front right", "Where is it?", ["left", "back"], [], True),
        # never for options
        ("front right", "Where is it?", ["left", "back"], ["front right"], True),
        (2.5, "How far is the door, in metres?", [], [], False),
        ("about 2.5 m", "How far is the door, in metres?", [], [], False),
        ("the closer one", "How far is the door, in metres?", [], [], True),
        # insisted
        ("the closer one", "How far is the door, in metres?", [], ["the closer one"], False),
        (float("nan"), "How many chairs are there?", [], [], True),
        ("about three chairs", "How many chairs are there?", [], [], False),
        ("maybe", "Is the cup on the table?", [], [], True),
        ("No, it is not.", "Is the cup on the table?", [], [], False),
        ("a blue sofa", "What is next to the lamp?", [], [], False),
    ],
)
def test_answer_check(answer, text, choices, refused_before, refused):
    from spatialclaw_ros.agent.answer_check import answer_problem

    problem = answer_problem(answer, Question(text, choices), refused_before)
    assert (problem is not None) == refused, problem
