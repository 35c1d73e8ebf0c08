"""The VLM client against the scripted server: retries, timeouts, images, tokens, sub-questions."""

from __future__ import annotations

import base64
import socket
import time

import cv2
import numpy as np
import pytest

from spatialclaw_ros.agent.config import VLMConfig
from spatialclaw_ros.agent.dispatch import HostVLMDispatch
from spatialclaw_ros.agent.vlm_client import ChatMessage, VLMClient, VLMUnavailable
from spatialclaw_ros.testing.scripted_vlm import ScriptedVLM


def _config(vlm: ScriptedVLM, **kw) -> VLMConfig:
    return VLMConfig(base_url=vlm.base_url, model="test-model", retry_backoff_s=0.01, **kw)


def _decode(url: str) -> np.ndarray:
    assert url.startswith("data:image/jpeg;base64,")
    data = np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8)
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def test_images_go_as_capped_data_urls_and_tokens_are_counted():
    image = np.zeros((600, 1200, 3), np.uint8)
    image[:, :600] = (255, 0, 0)  # left half red (RGB)
    exchanges = []
    with ScriptedVLM(["fine"]) as vlm:
        client = VLMClient(_config(vlm, max_image_px=300), listener=exchanges.append)
        assert client.chat([ChatMessage("user", "look", [image])], purpose="ask") == "fine"
        body = vlm.requests[0]
    assert body["model"] == "test-model"
    text, picture = body["messages"][0]["content"]
    assert text == {"type": "text", "text": "look"}
    decoded = _decode(picture["image_url"]["url"])
    assert decoded.shape == (150, 300, 3)
    assert decoded[75, 50, 2] > 200 and decoded[75, 50, 0] < 50  # still red on the left (BGR here)
    assert client.usage.calls == 1 and client.usage.prompt > 0 and client.usage.completion > 0
    assert (
        exchanges[0].purpose == "ask"
        and exchanges[0].reply == "fine"
        and exchanges[0].attempts == 1
    )


def test_server_errors_and_timeouts_are_retried():
    with ScriptedVLM(["recovered"]) as vlm:
        vlm.fail_next(2, status=503)
        vlm.stall_next(1, seconds=2.0)
        client = VLMClient(_config(vlm, timeout_s=0.3, max_retries=3))
        assert client.chat([ChatMessage("user", "hi")], purpose="plan") == "recovered"
        assert len(vlm.requests) == 4  # two 503s, one stall, one answer


def test_retries_give_up_with_a_clear_error():
    with ScriptedVLM(["never"]) as vlm:
        vlm.fail_next(5, status=500)
        client = VLMClient(_config(vlm, max_retries=2))
        with pytest.raises(VLMUnavailable, match=r"after 3 tries: HTTP 500"):
            client.chat([ChatMessage("user", "hi")], purpose="cell")
        assert len(vlm.requests) == 3


def test_bad_request_is_not_retried():
    with ScriptedVLM(["x"], api_key="right") as vlm:
        client = VLMClient(VLMConfig(base_url=vlm.base_url, api_key="wrong", retry_backoff_s=0.01))
        with pytest.raises(VLMUnavailable, match="HTTP 401"):
            client.chat([ChatMessage("user", "hi")], purpose="plan")
        assert len(vlm.requests) == 1


def test_unreachable_endpoint():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    client = VLMClient(
        VLMConfig(base_url=f"http://127.0.0.1:{port}/v1", max_retries=1, retry_backoff_s=0.01)
    )
    started = time.monotonic()
    with pytest.raises(VLMUnavailable, match="cannot connect"):
        client.chat([ChatMessage("user", "hi")], purpose="plan")
    assert time.monotonic() - started < 5


def test_deadline_stops_retrying():
    with ScriptedVLM(["late"]) as vlm:
        vlm.stall_next(3, seconds=3.0)
        client = VLMClient(_config(vlm, timeout_s=10.0, max_retries=5))
        started = time.monotonic()
        with pytest.raises(VLMUnavailable):
            client.chat(
                [ChatMessage("user", "hi")], purpose="cell", deadline=time.monotonic() + 0.5
            )
        assert time.monotonic() - started < 2.0


def test_dispatch_sends_each_sub_question_as_a_fresh_session():
    frame = np.full((40, 60, 3), 128, np.uint8)
    with ScriptedVLM(["[[500, 250]]", "not visible", "It is red."]) as vlm:
        dispatch = HostVLMDispatch(VLMClient(_config(vlm)))
        assert dispatch.locate([frame], "the cup") == [(500.0, 250.0)]
        assert dispatch.locate(frame, "the dog") == "not visible"
        assert dispatch.ask([frame, frame], "What colour is the cup?") == "It is red."
        for body in vlm.requests:
            assert len(body["messages"]) == 1 and body["messages"][0]["role"] == "user"
        assert "the cup" in vlm.requests[0]["messages"][0]["content"][0]["text"]
        assert (
            sum(p["type"] == "image_url" for p in vlm.requests[2]["messages"][0]["content"]) == 2
        )
        with pytest.raises(ValueError, match="at most 8 images"):
            dispatch.locate([frame] * 9, "x")
        assert len(vlm.requests) == 3


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])  # vLLM renamed the field
def test_reply_parts_are_read_from_the_server_response(field):
    from openai.types.chat import ChatCompletion

    from spatialclaw_ros.agent.vlm_client import NativeToolCall, _reply_of

    response = ChatCompletion.model_validate(
        {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "length",
                    "message": {
                        "role": "assistant",
                        "content": None,
                        field: "thinking about it",
                        "tool_calls": [
                            {
                                "id": "c",
                                "type": "function",
                                "function": {"name": "exists", "arguments": '{"name": "cup"}'},
                            }
                        ],
                    },
                }
            ],
        }
    )
    reply = _reply_of(response)
    assert (
        reply.reasoning == "thinking about it"
        and reply.text == "thinking about it"
        and reply.cut_off
    )
    assert reply.tool_calls == [NativeToolCall("exists", '{"name": "cup"}')]


@pytest.mark.parametrize(
    "message",
    [
        "This model's maximum context length is 32768 tokens. However, you requested 40000 tokens "
        "(23616 in the messages, 16384 in the completion). Please reduce the length of "
        "the messages or completion.",
        "'max_tokens' or 'max_completion_tokens' is too large: 16384. This model's "
        "maximum context length is "
        "32768 tokens and your request has 23616 input tokens (16384 > 32768 - 23616).",
    ],
)
def test_a_reply_limit_too_large_for_the_context_is_lowered_once(message):
    with ScriptedVLM(["fits"]) as vlm:
        vlm.fail_next(1, status=400, message=message)
        client = VLMClient(_config(vlm, max_tokens=16384))
        assert client.chat([ChatMessage("user", "hi")], purpose="cell") == "fits"
        asked = [body["max_tokens"] for body in vlm.requests]
    assert asked == [16384, 32768 - 23616 - 16]


def test_a_context_too_full_for_any_useful_reply_fails():
    full = (
        "This model's maximum context length is 32768 tokens. However, you requested 48000 "
        "tokens (32000 in the messages, 16000 in the completion)."
    )
    with ScriptedVLM(["never"]) as vlm:
        vlm.fail_next(1, status=400, message=full)
        with pytest.raises(VLMUnavailable, match="HTTP 400: .*maximum context length"):
            VLMClient(_config(vlm)).chat([ChatMessage("user", "hi")], purpose="cell")
        assert len(vlm.requests) == 1
