"""A real OpenAI-compatible chat server on 127.0.0.1 that answers with scripted replies.

It is the project's only test double, and it stands in for the VLM alone: the agent, its
`openai` client, HTTP, retries and timeouts all run for real against it. Tests and bench
scripts use it to drive whole episodes without a model:

    with ScriptedVLM(["first reply", "second reply"], latency_s=0.0) as vlm:
        client = openai.OpenAI(base_url=vlm.base_url, api_key="unused")
        ...
        assert len(vlm.requests) == 2

`replies` is either a list served in order or a callable that receives the request's JSON body
and returns the reply (to answer by content, e.g. planner vs. cell writer). A reply is the text
of the message, or a `ScriptedReply` to shape it as real servers do: reasoning in a separate
field, a reply cut at the token limit, OpenAI `tool_calls`.
`fail_next(n, status)` makes the next n requests fail with that HTTP status; `stall_next(n,
seconds)` holds the next n requests that long before answering (to provoke client timeouts); a
stalled request whose client has given up by then consumes no reply, so the client's retry gets
it. Failed requests consume no reply either.
"""

from __future__ import annotations

import itertools
import json
import select
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ScriptedReply:
    """A reply in the shape a real server may send it. `reasoning` goes in `reasoning_content`
    (vLLM with a reasoning parser); `tool_calls` are (name, JSON arguments text) pairs sent in
    the OpenAI `tool_calls` field; `finish_reason` "length" marks a reply cut at max_tokens."""

    content: str | None = ""
    reasoning: str | None = None
    tool_calls: tuple[tuple[str, str], ...] = ()
    finish_reason: str = "stop"


Reply = str | ScriptedReply
ReplySource = Sequence[Reply] | Callable[[dict[str, Any]], Reply]

MODEL_NAME = "scripted-vlm"
# Rough token accounting so clients see plausible usage figures: ~4 characters a token, and a
# fixed cost per image, as vision encoders spend a roughly constant budget per tile.
_CHARS_PER_TOKEN = 4
_TOKENS_PER_IMAGE = 256


@dataclass
class _Fault:
    kind: str  # "fail" | "stall"
    status: int = 500
    seconds: float = 0.0
    message: str = ""


class ScriptedVLM:
    """An OpenAI-compatible `/v1/chat/completions` endpoint serving scripted replies."""

    def __init__(
        self, replies: ReplySource, latency_s: float = 0.0, api_key: str | None = None
    ) -> None:
        if not callable(replies):
            replies = list(replies)
            if not all(isinstance(r, (str, ScriptedReply)) for r in replies):
                raise TypeError(
                    "scripted replies must be strings or ScriptedReply (or a callable "
                    "returning one)"
                )
        self._replies = replies
        self._next_reply = 0
        self.latency_s = float(latency_s)
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.served = 0
        self._faults: deque[_Fault] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ScriptedVLM:
        if self._server is not None:
            return self
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="scripted-vlm", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is None:
            return
        self._closing.set()  # wakes stalled and delayed requests
        self._server.shutdown()
        self._server.server_close()
        self._server = None

    def __enter__(self) -> ScriptedVLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(
                "the scripted VLM is not running; use it as a context manager or call start()"
            )
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting ---------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 500, message: str = "") -> None:
        """The next `n` chat requests get HTTP `status` with an OpenAI-style error body
        (`message`, or a generic one)."""
        with self._lock:
            self._faults.extend(_Fault("fail", status=status, message=message) for _ in range(n))

    def stall_next(self, n: int = 1, seconds: float = 30.0) -> None:
        """The next `n` chat requests wait `seconds` before being answered normally."""
        with self._lock:
            self._faults.extend(_Fault("stall", seconds=seconds) for _ in range(n))

    @property
    def remaining(self) -> int | None:
        """Scripted replies not yet served (None for a callable script)."""
        if callable(self._replies):
            return None
        return len(self._replies) - self._next_reply

    # -- request handling (runs on server threads) -------------------------------------------

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _reply_for(self, body: dict[str, Any]) -> Reply:
        if callable(self._replies):
            reply = self._replies(body)
            if not isinstance(reply, (str, ScriptedReply)):
                raise TypeError(
                    f"the reply callable returned {type(reply).__name__}, not str or ScriptedReply"
                )
            return reply
        with self._lock:
            if self._next_reply >= len(self._replies):
                raise LookupError(
                    f"the scripted VLM ran out of replies after {len(self._replies)}"
                )
            reply = self._replies[self._next_reply]
            self._next_reply += 1
            return reply

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        if isinstance(reply, str):
            reply = ScriptedReply(reply)
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.reasoning is not None:
            message["reasoning_content"] = reply.reasoning
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": f"call_{i}",
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
                for i, (name, arguments) in enumerate(reply.tool_calls)
            ]
        written = (
            (reply.content or "")
            + (reply.reasoning or "")
            + "".join(a for _, a in reply.tool_calls)
        )
        prompt_tokens = _count_prompt_tokens(body.get("messages", []))
        completion_tokens = max(1, len(written) // _CHARS_PER_TOKEN)
        return {
            "id": f"chatcmpl-scripted-{next(self._ids)}-{uuid.uuid4().hex[:8]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or MODEL_NAME,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls"
                    if reply.tool_calls and reply.finish_reason == "stop"
                    else reply.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._closing.wait(seconds)


def _count_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    tokens = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            tokens += len(content) // _CHARS_PER_TOKEN
        elif isinstance(content, list):
            for part in content:
                if part.get("type") == "text":
                    tokens += len(part.get("text", "")) // _CHARS_PER_TOKEN
                elif part.get("type") == "image_url":
                    tokens += _TOKENS_PER_IMAGE
    return max(1, tokens)


def _make_handler(vlm: ScriptedVLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass  # tests read `vlm.requests`, not stderr

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self._send(
                    200,
                    {
                        "object": "list",
                        "data": [{"id": MODEL_NAME, "object": "model", "owned_by": "test"}],
                    },
                )
            else:
                self._error(404, f"no route {self.path}")

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._error(404, f"no route {self.path}")
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
            except (ValueError, json.JSONDecodeError) as exc:
                self._error(400, f"request body is not JSON: {exc}")
                return
            with vlm._lock:
                vlm.requests.append(body)
            if (
                vlm.api_key is not None
                and self.headers.get("Authorization") != f"Bearer {vlm.api_key}"
            ):
                self._error(401, "invalid API key", kind="authentication_error")
                return
            if not isinstance(body.get("messages"), list) or not body["messages"]:
                self._error(400, "'messages' must be a non-empty list")
                return

            fault = vlm._take_fault()
            if fault is not None and fault.kind == "fail":
                self._error(
                    fault.status,
                    fault.message or f"scripted failure (HTTP {fault.status})",
                    kind="server_error",
                )
                return
            if fault is not None and fault.kind == "stall":
                vlm._wait(fault.seconds)
                if self._client_gone():
                    # the client timed out: its retry, not this request, gets the next reply
                    return
            vlm._wait(vlm.latency_s)
            try:
                content = vlm._reply_for(body)
            except Exception as exc:  # noqa: BLE001 - a broken script is a failed request, not a hang
                self._error(500, f"{type(exc).__name__}: {exc}", kind="server_error")
                return
            with vlm._lock:
                vlm.served += 1
            self._send(200, vlm._completion(body, content))

        def _client_gone(self) -> bool:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            try:
                return self.connection.recv(1, socket.MSG_PEEK) == b""
            except OSError:
                return True

        def _error(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
            self._send(status, {"error": {"message": message, "type": kind, "code": status}})

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test); nothing to tell it

    return Handler
