"""The scripted VLM is a real HTTP server that the real `openai` client can talk to."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from spatialclaw_ros.testing.scripted_vlm import ScriptedVLM


def _client(vlm: ScriptedVLM, **kw) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=vlm.base_url, api_key="k", max_retries=kw.pop("max_retries", 0), **kw
    )


def _ask(client: openai.OpenAI, text: str, **kw):
    return client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": text}], **kw
    )


def test_serves_replies_in_order_and_records_requests():
    with ScriptedVLM(["one", "two"]) as vlm:
        client = _client(vlm)
        first = _ask(client, "hello")
        second = _ask(client, "again")
        assert vlm.base_url.startswith("http://127.0.0.1:") and vlm.base_url.endswith("/v1")
        assert [first.choices[0].message.content, second.choices[0].message.content] == [
            "one",
            "two",
        ]
        assert first.choices[0].finish_reason == "stop"
        assert (
            first.usage.total_tokens
            == first.usage.prompt_tokens + first.usage.completion_tokens
            > 0
        )
        assert first.id != second.id
        assert [r["messages"][0]["content"] for r in vlm.requests] == ["hello", "again"]
        assert vlm.remaining == 0
        with pytest.raises(openai.InternalServerError, match="ran out of replies"):
            _ask(client, "third")


def test_callable_replies_see_the_request():
    with ScriptedVLM(lambda body: body["messages"][-1]["content"].upper()) as vlm:
        assert _ask(_client(vlm), "shout").choices[0].message.content == "SHOUT"
        assert vlm.remaining is None


def test_fail_next_then_recovers():
    with ScriptedVLM(["ok"]) as vlm:
        vlm.fail_next(2, status=503)
        client = _client(vlm)
        with pytest.raises(openai.APIStatusError) as err:
            _ask(client, "a")
        assert err.value.status_code == 503
        with pytest.raises(openai.APIStatusError):
            _ask(client, "b")
        assert _ask(client, "c").choices[0].message.content == "ok"
        assert len(vlm.requests) == 3 and vlm.served == 1


def test_stall_next_makes_the_client_time_out():
    with ScriptedVLM(["late", "on time"]) as vlm:
        vlm.stall_next(1, seconds=1.0)
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            _ask(_client(vlm, timeout=0.3), "a")
        assert time.monotonic() - started < 1.0
        time.sleep(1.0)  # the stalled request wakes, finds its client gone, and takes no reply
        assert vlm.remaining == 2
        assert _ask(_client(vlm, timeout=5.0), "b").choices[0].message.content == "late"
        vlm.stall_next(1, seconds=0.2)  # a short stall is answered normally
        assert _ask(_client(vlm, timeout=5.0), "c").choices[0].message.content == "on time"


def test_latency_is_applied():
    with ScriptedVLM(["x"], latency_s=0.2) as vlm:
        started = time.monotonic()
        _ask(_client(vlm), "a")
        assert time.monotonic() - started >= 0.2


def test_api_key_is_checked_when_given_and_models_listed():
    with ScriptedVLM(["x"], api_key="secret") as vlm:
        with pytest.raises(openai.AuthenticationError):
            _ask(openai.OpenAI(base_url=vlm.base_url, api_key="wrong", max_retries=0), "a")
        models = httpx.get(vlm.base_url + "/models").json()
        assert models["data"][0]["id"]


def test_bad_body_gets_a_clear_400():
    with ScriptedVLM(["x"]) as vlm:
        r = httpx.post(vlm.base_url + "/chat/completions", content=b"not json")
        assert r.status_code == 400 and "not JSON" in r.json()["error"]["message"]
        r = httpx.post(vlm.base_url + "/chat/completions", json={"messages": []})
        assert r.status_code == 400
