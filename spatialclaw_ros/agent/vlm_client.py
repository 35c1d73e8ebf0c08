"""The VLM client: one OpenAI-compatible chat endpoint, with retries, image caps and token counts.

Every VLM call of an episode goes through one `VLMClient`: the planner, the cell writer, the
fallback, and `vlm.locate` / `vlm.ask` from inside the kernel. Each call sends a complete
conversation, so "a fresh session" is simply a call whose messages share nothing with others.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar, cast

import cv2
import numpy as np
import openai
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolUnionParam

from spatialclaw_ros.agent.config import VLMConfig
from spatialclaw_ros.agent.types import TokenUsage
from spatialclaw_ros.tools.images import cap_long_edge

Role = Literal["system", "user", "assistant"]

# Errors worth another try: the server is busy, restarting or slow. Anything else (bad request,
# wrong key, unknown model) fails the same way every time.
_RETRYABLE = (
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.InternalServerError,
    openai.RateLimitError,
)


# vLLM's refusal of a request whose prompt plus max_tokens exceeds the context, in its two
# wordings ("... 23616 in the messages ..." and "... your request has 23616 input tokens ...")
_CONTEXT_LIMIT = re.compile(r"maximum context length is (\d+)")
_PROMPT_TOKENS = re.compile(r"(\d+) in the messages|request has (\d+) input tokens")
MIN_REPLY_TOKENS = 1024  # below this a reply cannot hold reasoning and a cell: fail instead


def fitting_max_tokens(message: str, asked: int) -> int | None:
    """The max_tokens that fits a server's context, read from its context-length refusal; None
    when the message is no such refusal or too little room is left for a useful reply."""
    limit, prompt = _CONTEXT_LIMIT.search(message), _PROMPT_TOKENS.search(message)
    if not limit or not prompt:
        return None
    # margin: template tokens
    room = int(limit.group(1)) - int(prompt.group(1) or prompt.group(2)) - 16
    return room if MIN_REPLY_TOKENS <= room < asked else None


class VLMUnavailable(RuntimeError):
    """The endpoint could not answer: unreachable, failing after retries, or refusing the
    request."""


@dataclass
class ChatMessage:
    role: Role
    text: str
    images: list[np.ndarray] = field(default_factory=list)  # RGB uint8, sent after the text


@dataclass(frozen=True)
class NativeToolCall:
    """A tool call the server returned in the OpenAI `tool_calls` field (its tool parser read it
    out of the model's text). `arguments` is the JSON text the server passed on, unparsed."""

    name: str
    arguments: str


@dataclass
class VLMReply:
    """One reply as the server sent it. Reasoning models answer in two parts: with vLLM's
    reasoning parser on, the thinking comes in `reasoning` (`reasoning_content`) and the answer
    in `content`; with it off, both arrive in `content` as `<think>...</think>answer`."""

    content: str
    reasoning: str = ""
    finish_reason: str = "stop"
    tool_calls: list[NativeToolCall] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The content, or the reasoning when the content is empty (a model that wrote its whole
        reply inside its thinking, or was cut off before leaving it)."""
        return self.content if self.content.strip() else self.reasoning

    @property
    def cut_off(self) -> bool:
        """The server stopped the reply at the token limit (`finish_reason` "length")."""
        return self.finish_reason == "length"


@dataclass
class VLMExchange:
    """One call as it happened, for the trace."""

    purpose: str  # "plan", "cell", "fallback", "answer", "locate", "ask", ...
    messages: list[ChatMessage]
    reply: str
    prompt_tokens: int
    completion_tokens: int
    elapsed: float
    attempts: int
    error: str | None = None
    reasoning: str = ""  # the server's separate reasoning field, when the reply also had content
    finish_reason: str = ""
    tool_calls: list[NativeToolCall] = field(default_factory=list)


Listener = Callable[[VLMExchange], None]
K = TypeVar("K")
V = TypeVar("V")


class ByIdentity(Generic[K, V]):
    """`compute(item)` once per object. The cell writer resends the whole conversation each step
    and the fallback shows the same key frames again: each image needs encoding (or saving) only
    once. Keyed by identity, holding the object so that its id cannot be reused meanwhile."""

    def __init__(self, compute: Callable[[K], V]) -> None:
        self._compute = compute
        self._done: dict[int, tuple[K, V]] = {}
        self._lock = threading.Lock()  # kernel dispatch calls may come from another thread

    def __call__(self, item: K) -> V:
        with self._lock:
            cached = self._done.get(id(item))
        if cached is not None and cached[0] is item:
            return cached[1]
        value = self._compute(item)
        with self._lock:
            self._done[id(item)] = (item, value)
        return value


def open_endpoint(config: VLMConfig) -> openai.OpenAI:
    """The HTTP client for an endpoint. Building one costs tens of milliseconds and a fresh
    connection pool, so an Agent keeps one for all its episodes (it is thread-safe). Several
    base URLs give a pool with the same `chat.completions.create`, balancing between them."""
    if config.base_urls:
        from spatialclaw_ros.agent.endpoints import EndpointPool

        return EndpointPool(config.base_urls, config.api_key, config.timeout_s)  # type: ignore[return-value]
    # Retries are ours (logged, bounded by the episode deadline), not the library's.
    return openai.OpenAI(
        base_url=config.base_url,
        api_key=config.api_key or "EMPTY",
        timeout=config.timeout_s,
        max_retries=0,
    )


class VLMClient:
    """One episode's view of the endpoint: its token counts, its timings, its trace listener."""

    def __init__(
        self,
        config: VLMConfig,
        listener: Listener | None = None,
        endpoint: openai.OpenAI | None = None,
    ) -> None:
        self.config = config
        self.listener = listener
        self.usage = TokenUsage()
        # wall seconds spent waiting on the endpoint per purpose ("plan", "cell", "locate", ...),
        # retries included
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()  # kernel dispatch calls may come from another thread
        self._data_url: ByIdentity[np.ndarray, str] = ByIdentity(
            lambda image: image_data_url(image, self.config.max_image_px)
        )
        self._client = endpoint or open_endpoint(config)

    @property
    def time_in_calls(self) -> float:
        return sum(self.seconds.values())

    def chat(
        self, messages: list[ChatMessage], purpose: str, deadline: float | None = None
    ) -> str:
        """The reply text (`VLMReply.text`). Raises VLMUnavailable when every try failed or the
        request was refused."""
        return self.complete(messages, purpose, deadline).text

    def complete(
        self,
        messages: list[ChatMessage],
        purpose: str,
        deadline: float | None = None,
        tools: list[dict] | None = None,
    ) -> VLMReply:
        """The whole reply: content, reasoning, why it stopped, native tool calls. `tools`:
        OpenAI function definitions offered to the model (sent only when given)."""
        payload = [_to_openai(m, self._data_url) for m in messages]
        started = time.monotonic()
        attempts, last_error = 0, ""
        max_tokens = self.config.max_tokens
        while True:
            attempts += 1
            timeout = self.config.timeout_s
            if deadline is not None:
                timeout = min(timeout, deadline - time.monotonic())
                if timeout <= 0:
                    last_error = (
                        last_error or "the episode ran out of time before the VLM answered"
                    )
                    break
            try:
                response = self._client.chat.completions.create(
                    model=self.config.model,
                    # our dicts follow the OpenAI chat format (_to_openai, the tool schemas)
                    messages=cast(list[ChatCompletionMessageParam], payload),
                    max_tokens=max_tokens,
                    temperature=self.config.temperature,
                    timeout=timeout,
                    tools=(
                        cast(list[ChatCompletionToolUnionParam], tools) if tools else openai.omit
                    ),
                )
            except _RETRYABLE as exc:
                last_error = _describe(exc)
                if attempts > self.config.max_retries:
                    break
                backoff = self.config.retry_backoff_s * 2 ** (attempts - 1)
                if deadline is not None and time.monotonic() + backoff >= deadline:
                    break
                time.sleep(backoff)
                continue
            except openai.APIError as exc:
                last_error = _describe(exc)
                # a long episode outgrew the server's context with the configured reply limit:
                # ask once more for a reply that fits, rather than failing the episode
                fitting = (
                    fitting_max_tokens(str(exc), max_tokens)
                    if isinstance(exc, openai.BadRequestError)
                    else None
                )
                if fitting is None:
                    break
                max_tokens = fitting
                continue
            reply = _reply_of(response)
            usage = response.usage
            prompt_tokens = usage.prompt_tokens if usage else 0
            completion_tokens = usage.completion_tokens if usage else 0
            self._record(
                purpose,
                messages,
                reply.text,
                prompt_tokens,
                completion_tokens,
                started,
                attempts,
                None,
                reply,
            )
            return reply
        self._record(purpose, messages, "", 0, 0, started, attempts, last_error)
        raise VLMUnavailable(
            f"the VLM at {self.config.base_url} (model {self.config.model}) did not "
            f"answer the {purpose} "
            f"request after {attempts} tr{'y' if attempts == 1 else 'ies'}: {last_error}"
        )

    def _record(
        self,
        purpose: str,
        messages: list[ChatMessage],
        reply: str,
        prompt_tokens: int,
        completion_tokens: int,
        started: float,
        attempts: int,
        error: str | None,
        full: VLMReply | None = None,
    ) -> None:
        elapsed = time.monotonic() - started
        with self._lock:
            self.seconds[purpose] = self.seconds.get(purpose, 0.0) + elapsed
            if error is None:
                self.usage.add(prompt_tokens, completion_tokens)
        if self.listener is not None:
            exchange = VLMExchange(
                purpose,
                messages,
                reply,
                prompt_tokens,
                completion_tokens,
                elapsed,
                attempts,
                error,
            )
            if full is not None:
                exchange.reasoning = full.reasoning if full.content.strip() else ""
                exchange.finish_reason = full.finish_reason
                exchange.tool_calls = list(full.tool_calls)
            self.listener(exchange)


def _reply_of(response) -> VLMReply:
    if not response.choices:
        return VLMReply("")
    choice = response.choices[0]
    message = choice.message
    # vLLM names the reasoning field `reasoning_content` (older) or `reasoning` (newer); the SDK
    # keeps such non-standard fields as extra attributes
    reasoning = (
        getattr(message, "reasoning_content", None) or getattr(message, "reasoning", None) or ""
    )
    calls = [
        NativeToolCall(call.function.name, call.function.arguments or "{}")
        for call in (message.tool_calls or [])
        if getattr(call, "function", None) is not None
    ]
    return VLMReply(message.content or "", str(reasoning), choice.finish_reason or "stop", calls)


def _describe(exc: openai.APIError) -> str:
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIConnectionError):
        return f"cannot connect ({exc.__cause__ or exc})"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {exc.message}"
    return str(exc)


def _to_openai(message: ChatMessage, data_url: Callable[[np.ndarray], str]) -> dict:
    if not message.images:
        return {"role": message.role, "content": message.text}
    parts: list[dict] = [{"type": "text", "text": message.text}]
    parts += [{"type": "image_url", "image_url": {"url": data_url(img)}} for img in message.images]
    return {"role": message.role, "content": parts}


def image_data_url(image: np.ndarray, max_px: int) -> str:
    """An RGB uint8 image as a JPEG data URL, long edge capped."""
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
        raise ValueError(
            f"images for the VLM must be H x W x 3 uint8 RGB, got {image.shape} {image.dtype}"
        )
    bgr = cv2.cvtColor(cap_long_edge(image[:, :, :3], max_px), cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise ValueError("could not encode an image as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")
