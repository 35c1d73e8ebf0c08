"""Several OpenAI-compatible VLM servers behind one client: least outstanding requests, failover.

With one vLLM server per node, an episode's requests should go where the fewest requests of
this process are waiting, and a server that stops answering should cost a request no more than
one failed try. `EndpointPool` does both and offers the one call the agent makes,
`chat.completions.create(...)`, so the VLM client uses it exactly as it uses an `openai.OpenAI`.

- Balancing counts this process's requests in flight per server (each Ray worker balances its own;
  over many workers the load evens out without coordination).
- A server that cannot be reached or answers 5xx / 429 is skipped for `cooldown_s`, and the same
  request goes at once to the next server. When every server failed, the last error is raised
  and the client's own retries (with back-off) take over; servers in cool-down are still tried
  when nothing else is left, so a cluster whose only server restarts recovers by itself.
- A timeout is not failed over: the caller's deadline is already spent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import openai

# Errors that say "this server, now", not "this request": another server may well answer.
_FAIL_OVER = (openai.APIConnectionError, openai.InternalServerError, openai.RateLimitError)

DEFAULT_COOLDOWN_S = 10.0


@dataclass
class Endpoint:
    base_url: str
    client: openai.OpenAI
    outstanding: int = 0  # requests of this process waiting on it
    down_until: float = 0.0  # monotonic time before which it is skipped while others are up
    served: int = 0  # replies it gave
    failed: int = 0  # tries it failed


class EndpointPool:
    """`chat.completions.create` over several base URLs (thread-safe)."""

    def __init__(
        self,
        base_urls: Sequence[str],
        api_key: str,
        timeout_s: float,
        cooldown_s: float = DEFAULT_COOLDOWN_S,
    ) -> None:
        urls = [u.strip() for u in base_urls if u.strip()]
        if not urls:
            raise ValueError("an endpoint pool needs at least one base URL")
        if len(set(urls)) != len(urls):
            raise ValueError(f"base URLs repeat: {urls}")
        self.cooldown_s = cooldown_s
        # Retries are the VLM client's (logged, bounded by the episode deadline), not the
        # library's.
        self.endpoints = [
            Endpoint(
                u,
                openai.OpenAI(
                    base_url=u, api_key=api_key or "EMPTY", timeout=timeout_s, max_retries=0
                ),
            )
            for u in urls
        ]
        self._lock = threading.Lock()
        # rotates the tie-break so equal loads spread instead of piling on the first
        self._turn = 0
        self.chat = _Chat(self)

    def _acquire(self, tried: list[Endpoint]) -> Endpoint | None:
        """The server for the next try, counted as outstanding at once (choosing and counting under
        one lock, so concurrent requests spread): of those not tried yet, one that is up with the
        fewest outstanding (ties rotate), else the one back from cool-down soonest."""
        now = time.monotonic()
        with self._lock:
            self._turn += 1
            n = len(self.endpoints)
            left = [
                e
                for e in (self.endpoints[(self._turn + i) % n] for i in range(n))
                if e not in tried
            ]
            if not left:
                return None
            up = [e for e in left if e.down_until <= now]
            chosen = (
                min(up, key=lambda e: e.outstanding)
                if up
                else min(left, key=lambda e: e.down_until)
            )
            chosen.outstanding += 1
            return chosen

    def create(self, **request: Any) -> Any:
        tried: list[Endpoint] = []
        last: Exception | None = None
        while (endpoint := self._acquire(tried)) is not None:
            tried.append(endpoint)
            try:
                response = endpoint.client.chat.completions.create(**request)
            except openai.APITimeoutError:
                self._settle(endpoint, failed=True)
                raise
            except _FAIL_OVER as exc:
                self._settle(endpoint, failed=True, cool_down=True)
                last = exc
                continue
            except BaseException:  # a refused request fails the same way on every server
                self._settle(endpoint, failed=True)
                raise
            self._settle(endpoint, failed=False)
            return response
        assert last is not None  # every server was tried and each failed over
        raise last

    def _settle(self, endpoint: Endpoint, failed: bool, cool_down: bool = False) -> None:
        with self._lock:
            endpoint.outstanding -= 1
            if failed:
                endpoint.failed += 1
            else:
                endpoint.served += 1
                endpoint.down_until = 0.0
            if cool_down:
                endpoint.down_until = time.monotonic() + self.cooldown_s


class _Chat:
    """`pool.chat.completions.create(...)`, the path the openai client offers."""

    def __init__(self, pool: EndpointPool) -> None:
        self.completions = pool
