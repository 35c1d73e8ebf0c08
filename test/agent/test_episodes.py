"""Whole episodes through the real kernel and a real HTTP endpoint serving scripted replies."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from spatialclaw_ros.agent import Agent, AgentConfig, Question
from spatialclaw_ros.testing.scripted_vlm import ScriptedVLM

from .conftest import RoleScript, cell, image_count, role_of, text_of


def _run(make_config, perception, script, videos, question, vlm_setup=None, **overrides):
    with ScriptedVLM(script) as vlm:
        if vlm_setup:
            vlm_setup(vlm)
        episode = Agent(make_config(vlm.base_url, **overrides), perception).run(question, videos)
    return episode, vlm.requests


def test_multi_step_episode_ends_in_return_answer(make_config, perception, view):
    script = RoleScript(
        cells=[
            cell(
                "recon = tools.Reconstruct(InputImages)\n"
                "print('frames:', len(recon), recon.world_frame)"
            ),
            cell(
                "box = recon.box_3d(tools.SAM3.segment(InputImages[0], text='green "
                "cylinder'), oriented=False)\n"
                "print('height', round(float(box.size[2]), 2))\n"
                "ReturnAnswer(round(float(box.size[2]), 2))"
            ),
        ]
    )
    events = []
    with ScriptedVLM(script) as vlm:
        agent = Agent(make_config(vlm.base_url), perception)
        episode = agent.run(
            Question("How tall is the green cylinder, in metres?"),
            [view],
            on_progress=events.append,
        )
        requests = vlm.requests
    assert episode.error is None, episode.error
    assert episode.value == pytest.approx(1.0, abs=0.05) and episode.unit == "m"
    assert episode.steps == 2 and not episode.used_fallback
    assert [role_of(r) for r in requests] == ["plan", "cell", "cell"]
    # the planner sees no images; the cell writer sees the frames, the plan and earlier feedback
    assert all(image_count(m) == 0 for m in requests[0]["messages"])
    opening = requests[1]["messages"][1]
    assert image_count(opening) == 1 and script.plan in text_of(opening)
    last_turn = text_of(requests[2]["messages"][-1])
    assert "frames: 1 map" in last_turn and "1 of 30 steps used" in last_turn
    assert any(b.label for b in episode.objects)  # the Box3D the cell made comes back
    assert [e.stage for e in events][:2] == ["planning", "coding"] and events[
        -1
    ].stage == "answering"
    trace = Path(episode.trace_path)
    kinds = [
        json.loads(line)["event"] for line in (trace / "trace.jsonl").read_text().splitlines()
    ]
    assert kinds.count("vlm") == 3 and kinds.count("step") == 2 and kinds[-1] == "episode_end"
    report = (trace / "report.md").read_text()
    assert "ReturnAnswer" in report and "## Step 2: success" in report
    assert list((trace / "images").glob("*.png"))
    # where the time went: three VLM calls, two cells, and the parts add up to no more than the
    # whole
    t = episode.timings
    assert (
        t.total_s == pytest.approx(episode.elapsed)
        and t.vlm_s > 0
        and t.cells_s > 0
        and t.trace_s > 0
    )
    assert t.vlm_s + t.cells_s + t.kernel_wait_s + t.trace_s + t.agent_s == pytest.approx(
        t.total_s
    )


def test_error_cell_then_fix(make_config, perception, view):
    script = RoleScript(
        cells=[cell("value = undefined_name + 1"), cell("value = 41 + 1\nReturnAnswer(value)")]
    )
    episode, requests = _run(
        make_config, perception, script, [view], Question("How many boxes are there?")
    )
    assert episode.error is None and episode.answer == "42"
    assert [h.status for h in episode.history] == ["error", "success"]
    assert "NameError" in text_of(requests[2]["messages"][-1])


def test_budget_exhaustion_falls_back_to_a_direct_answer(make_config, perception, view):
    script = RoleScript(
        cells=[cell("print('still looking')")] * 2, fallback=["The box is nearer.\nAnswer: B"]
    )
    question = Question("Which is closer to the camera?", ["green cylinder", "red box"])
    episode, requests = _run(make_config, perception, script, [view], question, max_steps=2)
    assert episode.error is None and episode.answer == "B" and episode.used_fallback
    assert [role_of(r) for r in requests] == ["plan", "cell", "cell", "fallback"]
    fallback = requests[-1]["messages"]
    assert (
        len(fallback) == 2
        and image_count(fallback[1]) == 1
        and "still looking" in text_of(fallback[1])
    )


def test_reply_without_code_gets_a_correction(make_config, perception, view):
    script = RoleScript(cells=["I believe the answer is 3.", cell("ReturnAnswer(3)")])
    episode, requests = _run(
        make_config, perception, script, [view], Question("How many objects are there?")
    )
    assert episode.error is None and episode.answer == "3" and episode.steps == 1
    correction = text_of(requests[2]["messages"][-1])
    assert "exactly one" in correction and requests[2]["messages"][-2]["role"] == "assistant"


def test_server_errors_and_timeouts_are_recovered_by_retry(make_config, perception, view):
    script = RoleScript(cells=[cell("ReturnAnswer('yes')")])

    def flaky(vlm):
        vlm.fail_next(2, status=502)
        vlm.stall_next(1, seconds=3.0)

    episode, requests = _run(
        make_config,
        perception,
        script,
        [view],
        Question("Is there a red box?"),
        vlm_setup=flaky,
        **{"vlm.timeout_s": 0.5},
    )
    assert episode.error is None and episode.answer == "yes"
    assert len(requests) == 5  # 2 failed + 1 stalled planner tries, then plan and cell


def test_a_vlm_lost_mid_episode_keeps_the_steps_already_taken(make_config, perception, view):
    # the second cell request finds nothing: HTTP 500
    script = RoleScript(cells=[cell("x = 6 * 7\nprint(x)")])
    episode, requests = _run(
        make_config,
        perception,
        script,
        [view],
        Question("How tall is it?"),
        **{"vlm.max_retries": 1},
    )
    assert episode.error is not None and episode.error.code == "vlm_unavailable"
    assert episode.steps == 1 and episode.history[0].status == "success" and episode.answer == ""
    assert script.seen == ["plan", "cell", "cell", "cell"]  # the failed request and its one retry


def test_unreachable_vlm_ends_with_a_clear_error(make_config, perception, view):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    episode = Agent(make_config(url, **{"vlm.max_retries": 1}), perception).run(
        Question("How tall is it?"), [view]
    )
    assert episode.error is not None and episode.error.code == "vlm_unavailable"
    assert "cannot connect" in episode.error.message and episode.answer == ""
    assert episode.trace_path and (Path(episode.trace_path) / "report.md").exists()


def test_vlm_locate_from_a_cell_is_a_separate_session(make_config, perception, view):
    script = RoleScript(
        cells=[
            cell(
                "pts = vlm.locate([InputImages[0]], 'the red box')\nprint(pts)\n"
                "ReturnAnswer(str(pts[0][0]))"
            )
        ],
        sub=["[[250, 600]]"],
    )
    episode, requests = _run(
        make_config, perception, script, [view], Question("Where is the red box?")
    )
    assert episode.error is None and episode.answer == "250.0"
    sub = [r for r in requests if role_of(r) == "sub"]
    assert len(sub) == 1 and len(sub[0]["messages"]) == 1  # nothing of the episode's conversation
    assert (
        "the red box" in text_of(sub[0]["messages"][0]) and image_count(sub[0]["messages"][0]) == 1
    )
    assert script.seen == ["plan", "cell", "sub"]


def test_cancel_between_steps(make_config, perception, view):
    script = RoleScript(cells=[cell("print(1)")] * 3)
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 2

    with ScriptedVLM(script) as vlm:
        episode = Agent(make_config(vlm.base_url), perception).run(
            Question("How far?"), [view], should_cancel=cancel
        )
    assert episode.error is not None and episode.error.code == "canceled"
    # checked before the episode, after the plan and after the first cell's feedback: that one
    # stops it
    assert len(calls) == 3 and script.seen == ["plan", "cell"]
    # the step it took before it stopped is still reported
    assert episode.steps == 1 and episode.answer == ""


def test_episode_timeout(make_config, perception, view):
    script = RoleScript(cells=[cell("print(1)")] * 5)
    with ScriptedVLM(script, latency_s=0.4) as vlm:
        episode = Agent(make_config(vlm.base_url, episode_timeout_s=2.0), perception).run(
            Question("How far?"), [view]
        )
    assert episode.error is not None and episode.error.code == "timed_out"
    assert 1 <= episode.steps < 5 and episode.answer == ""


def test_deadline_replaces_the_episode_timeout(make_config, perception, view):
    script = RoleScript(cells=[cell("print(1)")] * 5)
    with ScriptedVLM(script, latency_s=0.4) as vlm:
        agent = Agent(make_config(vlm.base_url, episode_timeout_s=600.0), perception)
        episode = agent.run(Question("How far?"), [view], deadline=time.monotonic() + 1.0)
    assert episode.error is not None and episode.error.code == "timed_out"
    assert episode.elapsed < 5.0


def test_bad_request(make_config, perception):
    episode = Agent(make_config(), perception).run(Question("How far?"), [])
    assert episode.error.code == "bad_request"
    episode = Agent(make_config(), perception).run("How far?", [])  # type: ignore[arg-type]
    assert episode.error.code == "bad_request"


def test_default_config_writes_no_trace(tmp_path, monkeypatch, perception, clip):
    monkeypatch.chdir(tmp_path)
    with ScriptedVLM(["Answer: 4"]) as vlm:
        config = AgentConfig.load(overrides={"vlm.base_url": vlm.base_url, "executor": "no_tools"})
        episode = Agent(config, perception).run(Question("How many objects are there?"), [clip])
    assert episode.answer == "4" and episode.trace_path is None
    assert list(tmp_path.iterdir()) == []


def test_one_agent_keeps_one_http_client(make_config, perception, clip, monkeypatch):
    from spatialclaw_ros.agent import agent as agent_module

    opened = []
    real_open = agent_module.open_endpoint
    monkeypatch.setattr(
        agent_module, "open_endpoint", lambda vlm: opened.append(vlm.base_url) or real_open(vlm)
    )
    with ScriptedVLM(["Answer: 1", "Answer: 2", "Answer: 3"]) as vlm:
        agent = Agent(make_config(vlm.base_url, executor="no_tools"), perception)
        answers = [
            agent.run(Question("How many objects are there?"), [clip]).answer for _ in range(2)
        ]
        agent.config = make_config(
            vlm.base_url.replace("127.0.0.1", "localhost"), executor="no_tools"
        )
        answers.append(agent.run(Question("How many objects are there?"), [clip]).answer)
    assert answers == ["1", "2", "3"]
    assert len(opened) == 2  # one per endpoint, not one per episode


# -- each executor, end to end on a synthetic scene ------------------------------------------


def test_executor_no_tools(make_config, perception, clip):
    script = RoleScript(answer=["The cylinder is tallest.\nAnswer: 4"])
    episode, requests = _run(
        make_config,
        perception,
        script,
        [clip],
        Question("How many objects are there?"),
        executor="no_tools",
    )
    assert episode.error is None and episode.answer == "4" and episode.value == 4.0
    assert [role_of(r) for r in requests] == ["answer"] and image_count(
        requests[0]["messages"][1]
    ) == 4


def test_executor_single_pass(make_config, perception, clip):
    program = (
        "recon = tools.Reconstruct(InputImages)\n"
        "seg = tools.SAM3.propagate(InputImages, text='box')\n"
        "ReturnAnswer(len({m.object_id for m in seg.masks}))"
    )
    script = RoleScript(cells=[cell(program)])
    episode, requests = _run(
        make_config,
        perception,
        script,
        [clip],
        Question("How many boxes are there?"),
        executor="single_pass",
    )
    assert episode.error is None and episode.answer == "2"
    assert "exactly ONE cell" in requests[1]["messages"][0]["content"]


def test_executor_single_pass_falls_back_when_the_program_fails(make_config, perception, clip):
    script = RoleScript(cells=[cell("raise RuntimeError('nope')")], fallback=["Answer: 2"])
    episode, _ = _run(
        make_config,
        perception,
        script,
        [clip],
        Question("How many boxes are there?"),
        executor="single_pass",
    )
    assert episode.answer == "2" and episode.used_fallback and episode.steps == 1


def test_executor_tool_calls(make_config, perception, view, scene):
    def call(tool, args, save_as=None):
        body = {"tool": tool, "args": args} | ({"save_as": save_as} if save_as else {})
        return f"Next tool.\n```json\n{json.dumps(body)}\n```"

    script = RoleScript(
        cells=[
            call("reconstruct", {"video": 1}, "rec"),
            call("segment", {"frame": 0, "text": "red box"}, "a"),
            call("segment", {"frame": 0, "text": "blue sphere"}, "b"),
            call("distance", {"reconstruction": "rec", "a": "a", "b": "b"}, "gap"),
            "no call at all",
            call("answer", {"value": 1.23}),
        ]
    )
    episode, requests = _run(
        make_config,
        perception,
        script,
        [view],
        Question("How far is the red box from the blue sphere?"),
        executor="tool_calls",
    )
    assert episode.error is None and episode.answer == "1.23"
    distance_feedback = text_of(requests[5]["messages"][-1])
    truth = np.linalg.norm(scene["red_box"].center - scene["blue_sphere"].center)
    assert "gap" in distance_feedback and episode.distances
    assert episode.distances[0].closest < truth  # closest points are nearer than the centres
    assert "did not hold a valid tool call (found no JSON tool call)" in text_of(
        requests[6]["messages"][-1]
    )


def test_executor_rules_needs_no_vlm_and_refuses_unknown_questions(make_config, perception, view):
    agent = Agent(make_config(executor="rules"), perception)  # the VLM URL points nowhere
    episode = agent.run(Question("How many boxes are there in the image?"), [view])
    assert episode.error is None and episode.answer == "2" and episode.tokens.calls == 0
    unknown = agent.run(Question("What colour is the wall?"), [view])
    assert unknown.error.code == "unsupported_question" and unknown.error.message.startswith(
        "needs a VLM"
    )
    assert not unknown.answer and unknown.steps == 0


def test_executor_rules_starts_no_kernel_for_a_question_no_template_fits(
    make_config, perception, view, monkeypatch
):
    import spatialclaw_ros.agent.agent as agent_module

    started = []

    def no_kernel(*args, **kwargs):
        started.append(args)
        raise RuntimeError("no kernel should start")

    monkeypatch.setattr(agent_module, "Kernel", no_kernel)
    unknown = Agent(make_config(executor="rules"), perception).run(
        Question("What colour is the wall?"), [view]
    )
    assert unknown.error.code == "unsupported_question" and unknown.steps == 0
    assert started == []


def test_episodes_with_the_same_question_in_the_same_instant_get_their_own_trace(
    tmp_path, monkeypatch
):
    from datetime import datetime

    from spatialclaw_ros.agent import trace as trace_module

    class FrozenClock:
        @staticmethod
        def now() -> datetime:
            return datetime(2026, 1, 2, 3, 4, 5, 6)

    monkeypatch.setattr(trace_module, "datetime", FrozenClock)
    first, second = (trace_module.Trace(tmp_path, "How far?", "rules") for _ in range(2))
    assert first.path != second.path and second.path.name == first.path.name + "-2"
    assert (
        len(trace_module.read_events(first.path))
        == len(trace_module.read_events(second.path))
        == 1
    )
