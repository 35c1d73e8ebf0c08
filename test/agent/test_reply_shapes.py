"""A corpus of reply shapes that real models produce (Qwen3-VL thinking templates with and
without vLLM's reasoning parser, Gemma, OpenAI-style servers), each driving a whole episode
through the scripted VLM server and the real kernel to the right answer on a synthetic scene.

The question is the green cylinder's height (1.0 m in the scene). Every reply's reasoning holds
a marker that must never be sent back to the model.
"""

from __future__ import annotations

import json
import re

import pytest

from spatialclaw_ros.agent import Agent, Question
from spatialclaw_ros.agent.trace import read_events
from spatialclaw_ros.testing.scripted_vlm import ScriptedReply, ScriptedVLM

from .conftest import RoleScript, role_of, text_of

SECRET = "PRIVATE-REASONING-7Q"  # in every reasoning text; must never reach a later request
HEIGHT = (
    "seg = tools.SAM3.segment(InputImages[0], text='green cylinder')\n"
    "h = recon.height(seg)\nprint('height', round(h, 3))"
)
ANSWER = "ReturnAnswer(round(h, 2))"
RECON = "recon = tools.Reconstruct(InputImages)\nprint(recon)"
FIELDS = (
    "Purpose: measure.\nReasoning: the mask's extent along up is the height.\nNext goal: answer."
)


def fenced(code: str, word: str = "python") -> str:
    return f"```{word}\n{code}\n```"


def thinking(draft: str = "") -> str:
    return f"{SECRET} Let me think. A first idea:\n{draft}\nNo, better the other way."


CODE_SHAPES = {
    # Qwen thinking template, reasoning parser off: the opening tag is in the prompt, only the
    # closing one comes back, after reasoning that holds a draft code block
    "orphan_think_close_with_draft": [
        f"{thinking(fenced('print(1)'))}\n</think>\n{FIELDS}\n{fenced(RECON)}",
        f"{thinking(fenced('x = 1'))}</think>{FIELDS}\n{fenced(HEIGHT + chr(10) + ANSWER)}",
    ],
    "think_tags": [
        f"<think>{thinking(fenced('print(2)'))}</think>\n{FIELDS}\n"
        f"{fenced(RECON + chr(10) + HEIGHT + chr(10) + ANSWER)}"
    ],
    # reasoning parser on: the reasoning arrives in its own field
    "reasoning_field": [
        ScriptedReply(
            f"{FIELDS}\n{fenced(RECON + chr(10) + HEIGHT + chr(10) + ANSWER)}",
            reasoning=thinking(),
        )
    ],
    # the whole reply inside the reasoning, content empty (null)
    "content_null_reasoning_only": [
        ScriptedReply(
            None, reasoning=f"{SECRET}\n{fenced(RECON + chr(10) + HEIGHT + chr(10) + ANSWER)}"
        )
    ],
    "unclosed_fence": [f"{FIELDS}\n```python\n{RECON}\n{HEIGHT}\n{ANSWER}\n"],
    "unlabelled_fence_and_output_block": [
        f"{FIELDS}\n```\n{RECON}\n{HEIGHT}\n```\nExpected output:\n```text\nheight 1.0\n"
        f'```\n```json\n{{"h": 1}}\n```',
        fenced(ANSWER),
    ],
    "code_tags": [f"{FIELDS}\n<code>\n{RECON}\n{HEIGHT}\n{ANSWER}\n</code>"],
    "execute_tags": [
        f"<think>{thinking()}</think><execute>\n{RECON}\n{HEIGHT}\n{ANSWER}\n</execute>"
    ],
    # cut at max_tokens mid-cell: not run, the correction names the limit, the retry is shorter
    "cut_at_max_tokens": [
        ScriptedReply(
            f"{FIELDS}\n```python\n{RECON}\nseg = tools.SAM3.segm",
            reasoning=thinking(),
            finish_reason="length",
        ),
        f"{FIELDS}\n{fenced(RECON + chr(10) + HEIGHT + chr(10) + ANSWER)}",
    ],
    # prose that ends in a final answer instead of a cell
    "prose_final_answer": [
        f"{FIELDS}\n{fenced(RECON + chr(10) + HEIGHT)}",
        "The cylinder measured 1.0 m.\n\nFinal answer: 1.0",
    ],
    "boxed_answer": [
        f"{FIELDS}\n{fenced(RECON + chr(10) + HEIGHT)}",
        "So the height is \\boxed{1.0}",
    ],
    # no code at all: the correction says why and mentions ReturnAnswer
    "no_code_then_cell": [
        "I need to measure the cylinder first.",
        f"{FIELDS}\n{fenced(RECON + chr(10) + HEIGHT + chr(10) + ANSWER)}",
    ],
    "two_blocks_then_one": [
        f"{FIELDS}\n{fenced(RECON)}\n{fenced(HEIGHT)}",
        f"{FIELDS}\n{fenced(RECON + chr(10) + HEIGHT + chr(10) + ANSWER)}",
    ],
    # an answer that is no number for a question that wants one: refused, then corrected
    "non_numeric_answer_refused": [
        f"{FIELDS}\n" + fenced(f"{RECON}\n{HEIGHT}\nReturnAnswer({'about as tall as a table'!r})"),
        fenced(ANSWER),
    ],
}


def _run_episode(make_config, perception, view, replies, question, **overrides):
    script = RoleScript(cells=list(replies))
    with ScriptedVLM(script) as vlm:
        episode = Agent(make_config(vlm.base_url, **overrides), perception).run(question, [view])
        requests = vlm.requests
    return episode, requests, script


def _sent_after_first_cell(requests) -> str:
    return json.dumps([r["messages"] for r in requests[2:]])


@pytest.mark.parametrize("shape", sorted(CODE_SHAPES))
def test_code_executor_reply_shapes(shape, make_config, perception, view):
    question = Question("How tall is the green cylinder, in metres?")
    episode, requests, script = _run_episode(
        make_config, perception, view, CODE_SHAPES[shape], question
    )
    assert episode.error is None, episode.error
    assert episode.value == pytest.approx(1.0, abs=0.06) and not episode.used_fallback
    assert script.cells == []  # every scripted reply was used, none more
    assert SECRET not in _sent_after_first_cell(requests)
    corrections = [text_of(r["messages"][-1]) for r in requests[2:] if role_of(r) == "cell"]
    if shape == "cut_at_max_tokens":
        assert "cut off at the token limit (16384 tokens)" in corrections[0]
    if shape == "no_code_then_cell":
        assert "no python code block" in corrections[0] and "ReturnAnswer(" in corrections[0]
    if shape == "two_blocks_then_one":
        assert "2 python code blocks" in corrections[0]
    if shape == "non_numeric_answer_refused":
        assert "Answer not accepted" in corrections[0] and "holds no number" in corrections[0]
    if shape == "reasoning_field":  # the trace keeps what the model is never sent again
        cells = [
            e
            for e in read_events(episode.trace_path)
            if e["event"] == "vlm" and e["purpose"] == "cell"
        ]
        assert SECRET in cells[0]["reasoning"] and cells[0]["finish_reason"] == "stop"


def test_multiple_choice_answer_must_name_an_option(make_config, perception, view):
    question = Question("Which is taller?", ["the red box", "the green cylinder"])
    measure = (
        RECON + "\nh = {n: recon.height(tools.SAM3.segment(InputImages[0], text=n)) for n in "
        "('red box', 'green cylinder')}"
        "\nprint(h)\nReturnAnswer('the closer one')"
    )
    replies = [fenced(measure), fenced("ReturnAnswer('front right')"), "Final answer: B"]
    episode, requests, _ = _run_episode(make_config, perception, view, replies, question)
    assert episode.error is None and episode.answer == "B" and episode.steps == 3
    refusal = text_of(requests[2]["messages"][-1])
    assert (
        "names none of the options" in refusal
        and "A (the red box), B (the green cylinder)" in refusal
    )


# -- the tool_calls executor ------------------------------------------------------------------

CALLS = [
    ("reconstruct", {"video": 1}, "rec"),
    ("segment", {"frame": 0, "text": "green cylinder"}, "cyl"),
    ("height", {"reconstruction": "rec", "mask": "cyl"}, "h"),
]


def json_call(tool, args, save_as=None) -> str:
    return json.dumps({"tool": tool, "args": args} | ({"save_as": save_as} if save_as else {}))


def answer_call(value=1.0) -> str:
    return f"```json\n{json_call('answer', {'value': value})}\n```"


TOOL_SHAPES = {
    "json_blocks": [f"Step.\n```json\n{json_call(*c)}\n```" for c in CALLS] + [answer_call()],
    "openai_tool_calls": [
        ScriptedReply(None, tool_calls=((tool, json.dumps(args | {"save_as": save})),))
        for tool, args, save in CALLS
    ]
    + [ScriptedReply("", tool_calls=(("answer", '{"value": 1.0}'),))],
    "qwen_tool_call_tags": [
        f"<think>{thinking()}</think>\n<tool_call>\n"
        f"{json.dumps({'name': t, 'arguments': a | {'save_as': s}})}\n</tool_call>"
        for t, a, s in CALLS
    ]
    + ['<tool_call>{"name": "answer", "arguments": {"value": 1.0}}</tool_call>'],
    "single_quotes_and_trailing_commas": [
        "```json\n{'tool': 'reconstruct', 'args': {'video': 1,}, 'save_as': 'rec',}\n```",
        "{'tool': 'segment', 'args': {'frame': 0, 'text': 'green cylinder'}, 'save_as': 'cyl'}",
        '```json\n{"tool": "height", "args": {"reconstruction": "rec", "mask": "cyl",}, '
        '"save_as": "h"}\n```',
        "{'tool': 'answer', 'args': {'value': 1.0}}",
    ],
    "two_calls_in_one_reply": [
        "\n".join(f"```json\n{json_call(*c)}\n```" for c in CALLS[:2]),
        f"```json\n{json_call(*CALLS[2])}\n```\n{answer_call()}",
    ],
    "orphan_think_close_with_draft": [
        f"{thinking(json_call('ask', {'query': 'x'}))}</think>\n```json\n{json_call(*c)}\n```"
        for c in CALLS
    ]
    + [answer_call()],
    "content_null_reasoning_only": [
        ScriptedReply(None, reasoning=f"{SECRET} {json_call(*c)}") for c in CALLS
    ]
    + [answer_call()],
    "prose_final_answer": [f"```json\n{json_call(*c)}\n```" for c in CALLS]
    + ["The height is 1.0 m.\nFinal answer: 1.0"],
    "cut_at_max_tokens": [ScriptedReply(f"<think>{SECRET} I will first", finish_reason="length")]
    + [f"```json\n{json_call(*c)}\n```" for c in CALLS]
    + [answer_call()],
}


@pytest.mark.parametrize("shape", sorted(TOOL_SHAPES))
def test_tool_calls_executor_reply_shapes(shape, make_config, perception, view):
    question = Question("How tall is the green cylinder, in metres?")
    episode, requests, script = _run_episode(
        make_config, perception, view, TOOL_SHAPES[shape], question, executor="tool_calls"
    )
    assert episode.error is None, episode.error
    assert episode.answer == "1" and script.cells == []
    history = [h.code for h in episode.history]
    assert any("rec.height(cyl)" in code for code in history)
    measured = [text_of(r["messages"][-1]) for r in requests if role_of(r) == "cell"]
    assert any(re.match(r"h = (0\.9[5-9]|1\.0)", h.observation) for h in episode.history), (
        episode.history
    )
    assert SECRET not in _sent_after_first_cell(requests)
    if shape == "cut_at_max_tokens":
        assert "cut off at the token limit" in measured[1]


def test_native_tools_are_offered_when_configured(make_config, perception, view):
    replies = TOOL_SHAPES["openai_tool_calls"]
    question = Question("How tall is the green cylinder, in metres?")
    episode, requests, _ = _run_episode(
        make_config,
        perception,
        view,
        replies,
        question,
        executor="tool_calls",
        **{"vlm.native_tools": True},
    )
    assert episode.error is None and episode.answer == "1"
    cell_requests = [r for r in requests if role_of(r) == "cell"]
    offered = {t["function"]["name"] for t in cell_requests[0]["tools"]}
    assert {"reconstruct", "segment", "height", "answer"} <= offered
    height = next(
        t["function"] for t in cell_requests[0]["tools"] if t["function"]["name"] == "height"
    )
    assert height["parameters"]["properties"]["reconstruction"] == {"type": "string"}
    assert all("tools" not in r for r in requests if role_of(r) != "cell")  # the planner gets none
    _, plain, _ = _run_episode(
        make_config, perception, view, replies, question, executor="tool_calls"
    )
    # off by default: servers without a tool parser refuse them
    assert all("tools" not in r for r in plain)
