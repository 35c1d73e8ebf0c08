"""Several VLM servers behind one client (real scripted OpenAI-compatible servers): requests
spread by outstanding count, a dead or failing server is failed over at once, and the agent
uses the pool when its settings list several base URLs."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from spatialclaw_ros.agent import Agent, AgentConfig, Question
from spatialclaw_ros.agent.config import VLMConfig
from spatialclaw_ros.agent.endpoints import EndpointPool
from spatialclaw_ros.agent.vlm_client import ChatMessage, VLMClient, VLMUnavailable
from spatialclaw_ros.frames import Frame, FrameSet
from spatialclaw_ros.testing.scripted_vlm import ScriptedVLM


def _ask(pool: EndpointPool, text: str = "hi") -> str:
    response = pool.chat.completions.create(
        model="m", messages=[{"role": "user", "content": text}], max_tokens=16
    )
    return response.choices[0].message.content


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    return f"http://127.0.0.1:{port}/v1"


def test_concurrent_requests_spread_evenly_over_equal_servers():
    with (
        ScriptedVLM(lambda body: "a", latency_s=0.3) as a,
        ScriptedVLM(lambda body: "b", latency_s=0.3) as b,
    ):
        pool = EndpointPool([a.base_url, b.base_url], "EMPTY", timeout_s=10)
        with ThreadPoolExecutor(8) as threads:
            replies = list(threads.map(lambda i: _ask(pool), range(8)))
    assert sorted(replies) == ["a"] * 4 + ["b"] * 4
    assert (len(a.requests), len(b.requests)) == (4, 4)
    assert [e.outstanding for e in pool.endpoints] == [0, 0]


def test_the_faster_server_gets_more_of_a_steady_load():
    with (
        ScriptedVLM(lambda body: "fast", latency_s=0.02) as fast,
        ScriptedVLM(lambda body: "slow", latency_s=0.5) as slow,
    ):
        pool = EndpointPool([slow.base_url, fast.base_url], "EMPTY", timeout_s=10)

        def client(_: int) -> list[str]:
            return [_ask(pool) for _ in range(6)]

        with ThreadPoolExecutor(3) as threads:
            replies = [r for batch in threads.map(client, range(3)) for r in batch]
    assert len(replies) == 18
    # three clients, one request each at a time: the slow server never holds more than one of them
    assert replies.count("fast") >= 12, replies
    assert len(fast.requests) + len(slow.requests) == 18


def test_a_dead_server_costs_one_failed_try_then_is_skipped_while_cooling_down():
    dead = _closed_port_url()
    with ScriptedVLM(lambda body: "alive") as alive:
        pool = EndpointPool([dead, alive.base_url], "EMPTY", timeout_s=5, cooldown_s=60)
        assert [_ask(pool) for _ in range(6)] == ["alive"] * 6
    assert [(e.served, e.failed) for e in pool.endpoints] == [(0, 1), (6, 0)]


def test_a_server_error_fails_over_at_once_and_the_server_cools_down():
    with ScriptedVLM(lambda body: "a") as a, ScriptedVLM(lambda body: "b") as b:
        a.fail_next(1, status=503)
        pool = EndpointPool([a.base_url, b.base_url], "EMPTY", timeout_s=5, cooldown_s=60)
        # ties rotate, so `a` comes first for one of the first two requests and answers 503
        replies = [_ask(pool) for _ in range(4)]
    assert replies == ["b"] * 4
    assert [(e.served, e.failed) for e in pool.endpoints] == [(0, 1), (4, 0)]
    assert len(a.requests) == 1  # not asked again while cooling down


def test_the_client_sees_no_failure_and_spends_no_back_off_while_another_server_answers():
    with ScriptedVLM(lambda body: "a") as a, ScriptedVLM(lambda body: "b") as b:
        a.fail_next(1, status=500)
        client = VLMClient(
            VLMConfig(base_urls=[a.base_url, b.base_url], model="m", retry_backoff_s=5.0)
        )
        started = time.monotonic()
        replies = [client.chat([ChatMessage("user", "hi")], purpose="plan") for _ in range(2)]
        elapsed = time.monotonic() - started
    assert replies == ["b", "b"] and len(a.requests) == 1
    assert elapsed < 2.0, (
        "a failing server was retried with the client's back-off instead of failed over"
    )


def test_a_bad_request_is_not_sent_to_the_other_servers():
    with ScriptedVLM(lambda body: "a") as a, ScriptedVLM(lambda body: "b") as b:
        a.fail_next(1, status=400)
        b.fail_next(1, status=400)
        client = VLMClient(VLMConfig(base_urls=[a.base_url, b.base_url], model="m", max_retries=2))
        with pytest.raises(VLMUnavailable, match="HTTP 400"):
            client.chat([ChatMessage("user", "hi")], purpose="plan")
        assert len(a.requests) + len(b.requests) == 1


def test_when_every_server_is_down_the_client_reports_it():
    urls = [_closed_port_url(), _closed_port_url()]
    client = VLMClient(VLMConfig(base_urls=urls, model="m", max_retries=1, retry_backoff_s=0.01))
    with pytest.raises(VLMUnavailable, match="cannot connect"):
        client.chat([ChatMessage("user", "hi")], purpose="plan")


def test_base_urls_come_from_yaml_lists_and_comma_separated_environment(monkeypatch):
    monkeypatch.setenv("SPATIALCLAW_VLM_BASE_URLS", "http://node1:8000/v1, http://node2:8000/v1")
    assert AgentConfig.load().vlm.base_urls == ["http://node1:8000/v1", "http://node2:8000/v1"]
    assert AgentConfig.load(overrides={"vlm.base_urls": ["http://x/v1"]}).vlm.base_urls == [
        "http://x/v1"
    ]
    with pytest.raises(ValueError, match="repeat"):
        EndpointPool(["http://a/v1", "http://a/v1"], "EMPTY", timeout_s=1)


def test_the_agents_episodes_spread_over_the_listed_servers():
    frames = FrameSet([Frame(np.full((32, 32, 3), 90, np.uint8))])
    with ScriptedVLM(lambda body: "Answer: A") as a, ScriptedVLM(lambda body: "Answer: A") as b:
        config = AgentConfig(
            executor="no_tools", vlm=VLMConfig(base_urls=[a.base_url, b.base_url], model="m")
        )
        agent = Agent(config)
        episodes = [
            agent.run(Question("Which is nearer?", ["cup", "box"]), [frames]) for _ in range(4)
        ]
    assert [e.answer for e in episodes] == ["A"] * 4 and not [e.error for e in episodes if e.error]
    assert len(a.requests) >= 2 and len(b.requests) >= 2
