"""Property-based fuzzing of the perception service (hypothesis): thousands of malformed bodies,
headers and fields against `spatialclaw serve-perception` running as its own process. Whatever
arrives, the answer is never a 5xx, a 4xx carries a message, the server's memory stays bounded and
`/health` answers within 100 ms throughout."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as npst

from spatialclaw_ros import wire as codec
from spatialclaw_ros.perception import wire

from .service_support import (
    HEADERS,
    TOKEN,
    exists_call,
    free_port,
    reconstruct_call,
    segment_call,
    tiny_frames,
)

REPO = Path(__file__).resolve().parents[2]
PATHS = ("/reconstruct", "/segment", "/exists")
HEALTH_LIMIT_S = 0.1
MEMORY_LIMIT_BYTES = 256 << 20  # growth of the server's resident memory over the whole run
FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@pytest.fixture(scope="module")
def server():
    """The real command, with the weightless backends, in a process of its own (its memory is its
    own)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spatialclaw_ros.cli",
            "serve-perception",
            "--reconstruct",
            "sensor",
            "--segment",
            "labels",
            "--port",
            str(port),
            "--token",
            TOKEN,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, "serve-perception exited"
        assert time.monotonic() < deadline, "serve-perception did not start"
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                break
        time.sleep(0.1)
    yield url, psutil.Process(process.pid)
    process.terminate()
    process.wait(timeout=10)


# Polls /health every 20 ms from a process of its own (so that the fuzzing in this process does not
# delay the poller), until its stdin closes; then prints the latencies as JSON.
POLLER = """
import json, sys, threading, time, httpx
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
latencies, failures = [], []
with httpx.Client(base_url=sys.argv[1], timeout=5) as http:
    while not stop.is_set():
        started = time.perf_counter()
        try:
            if http.get("/health").status_code != 200:
                failures.append("status")
        except httpx.HTTPError as error:
            failures.append(repr(error))
        latencies.append(time.perf_counter() - started)
        stop.wait(0.02)
print(json.dumps({"latencies": latencies, "failures": failures}))
"""


class Watch:
    """Times /health (from another process) and samples the server's memory while a fuzz test
    runs."""

    def __init__(self, url: str, process: psutil.Process):
        self.process = process
        self.rss_start = process.memory_info().rss
        self.rss_peak = self.rss_start
        self._poller = subprocess.Popen(
            [sys.executable, "-c", POLLER, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.rss_peak = max(self.rss_peak, self.process.memory_info().rss)

    def check(self) -> None:
        self._stop.set()
        self._sampler.join()
        report = json.loads(self._poller.communicate("", timeout=30)[0])
        latencies = report["latencies"]
        assert not report["failures"], report["failures"][:5]
        assert len(latencies) > 10
        worst = max(latencies)
        print(
            f"\n/health: {len(latencies)} polls, median {np.median(latencies) * 1000:.1f} ms, "
            f"worst {worst * 1000:.1f} ms; server memory "
            f"+{(self.rss_peak - self.rss_start) >> 20} MiB at peak"
        )
        assert worst < HEALTH_LIMIT_S, (
            f"/health took {worst * 1000:.0f} ms (median {np.median(latencies) * 1000:.1f}, "
            f"{sum(t >= HEALTH_LIMIT_S for t in latencies)} of {len(latencies)} over)"
        )
        assert self.rss_peak - self.rss_start < MEMORY_LIMIT_BYTES, (self.rss_start, self.rss_peak)


@pytest.fixture
def watch(server):
    w = Watch(*server)
    yield w
    w.check()


@pytest.fixture(scope="module")
def http(server):
    with httpx.Client(base_url=server[0], headers=HEADERS, timeout=30) as client:
        yield client


def answered(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        detail = response.json()["detail"]
        assert detail, response.text


# ---- strategies ---------------------------------------------------------------------------------

FRAMES = tiny_frames(n=2, width=8, height=6)
# Any value msgpack carries (integers within 64 bits), nested a little.
plain_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(1 << 63), (1 << 64) - 1)
    | st.floats()
    | st.text(max_size=12)
    | st.binary(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=6) | st.integers(-5, 5), inner, max_size=4)
    ),
    max_leaves=12,
)
numeric_arrays = npst.arrays(
    dtype=npst.boolean_dtypes()
    | npst.integer_dtypes()
    | npst.unsigned_integer_dtypes()
    | npst.floating_dtypes()
    | npst.complex_number_dtypes(),
    shape=npst.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=9),
)
values = plain_values | numeric_arrays
# Where a value can be put in a request: (path of attributes and indices from the call, field).
FIELDS = [
    ((), "frames"),
    ((), "frame_indices"),
    ((), "name"),
    ((), "request"),
    (("frames",), "frames"),
    (("frames",), "world_frame"),
    (("frames",), "name"),
    (("frames", "frames"), 0),
    (("frames", "frames"), 1),
    *[
        (("frames", "frames", 0), name)
        for name in (
            "image",
            "index",
            "timestamp",
            "camera",
            "depth",
            "intrinsics",
            "pose",
            "labels",
            "label_names",
        )
    ],
    *[
        (("frames", "frames", 0, "intrinsics"), name)
        for name in ("fx", "fy", "cx", "cy", "width", "height")
    ],
    *[
        (("request",), name)
        for name in (
            "frame_indices",
            "text",
            "points",
            "point_labels",
            "box",
            "prompt_frame",
            "threshold",
            "label",
        )
    ],
]


def valid_call(endpoint: str):
    if endpoint == "/segment":
        return segment_call(FRAMES)
    if endpoint == "/exists":
        return exists_call(FRAMES)
    return reconstruct_call(FRAMES, [0, 1])


def with_field(call, path: tuple, field, value):
    """A copy of `call` with `value` at `path` + `field`, bypassing every constructor (as a
    hostile client's message would); unchanged where the path does not exist in this call."""
    call = copy.deepcopy(call)
    target = call
    for step in path:
        try:
            target = target[step] if isinstance(step, int) else getattr(target, step)
        except (AttributeError, IndexError, TypeError):
            return call
    if isinstance(field, int):
        if isinstance(target, list) and field < len(target):
            target[field] = value
    elif dataclasses.is_dataclass(target) and hasattr(target, field):
        object.__setattr__(target, field, value)  # frozen ones too (CameraIntrinsics)
    return call


# ---- the fuzz tests -----------------------------------------------------------------------------


@settings(FUZZ, max_examples=1000)
@given(endpoint=st.sampled_from(PATHS), where=st.sampled_from(FIELDS), value=values)
def test_malformed_fields_and_arrays(http, watch, endpoint, where, value):
    call = with_field(valid_call(endpoint), *where, value)
    answered(http.post(endpoint, content=wire.encode(call)))


@settings(FUZZ, max_examples=1000)
@given(endpoint=st.sampled_from(PATHS), data=st.data())
def test_malformed_bodies(http, watch, endpoint, data):
    valid = wire.encode(valid_call(endpoint))
    kind = data.draw(
        st.sampled_from(["random", "header_prefixed", "flipped", "truncated", "any_value"])
    )
    if kind == "random":
        body = data.draw(st.binary(max_size=2048))
    elif kind == "header_prefixed":  # a plausible header and table, then anything
        lengths = data.draw(st.lists(st.integers(0, 4096), max_size=6))
        body = codec.header(data.draw(st.integers(0, 4096)), lengths, []) + data.draw(
            st.binary(max_size=2048)
        )
    elif kind == "flipped":
        body = bytearray(valid)
        for position in data.draw(
            st.lists(st.integers(0, len(valid) - 1), min_size=1, max_size=8)
        ):
            body[position] = data.draw(st.integers(0, 255))
        body = bytes(body)
    elif kind == "truncated":
        body = valid[: data.draw(st.integers(0, len(valid) - 1))]
    else:  # a well-formed message that holds something other than the call
        body = wire.encode(data.draw(values))
    answered(http.post(endpoint, content=body))


header_names = st.text(
    st.sampled_from("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-_!#$%&'*+.^`|~"),
    min_size=1,
    max_size=16,
)
# Header values as bytes: anything but CR and LF (which would start another header), including
# control characters, spaces at either end and bytes above 127, which HTTP client libraries refuse
# to send.
header_values = st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


def raw_request(
    url: str, method: bytes, path: bytes, headers: list[tuple[bytes, bytes]], body: bytes
) -> int:
    """Send one HTTP/1.1 request byte for byte over a socket; return the status code of the
    answer."""
    host, port = url.removeprefix("http://").split(":")
    head = [
        method + b" " + path + b" HTTP/1.1",
        b"Host: " + host.encode(),
        b"Connection: close",
        b"Content-Length: " + str(len(body)).encode(),
    ]
    head += [name + b": " + value for name, value in headers]
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    status = int(status_line.split()[1])
    if status >= 400:
        assert b'"detail"' in rest or status in (400, 404, 405, 422), answer[:300]
    return status


@settings(FUZZ, max_examples=600)
@given(
    endpoint=st.sampled_from(PATHS)
    | st.binary(min_size=1, max_size=30).map(
        lambda b: b"/" + b.replace(b" ", b"").replace(b"\r", b"").replace(b"\n", b"")
    ),
    method=st.sampled_from([b"POST", b"GET", b"PUT", b"DELETE", b"OPTIONS"]),
    authorization=st.none()
    | header_values
    | header_values.map(lambda v: b"Bearer " + v)
    | st.just(f"Bearer {TOKEN}".encode()),
    content_type=st.none() | header_values,
    extra=st.lists(st.tuples(header_names.map(str.encode), header_values), max_size=4),
)
def test_malformed_headers_and_requests(
    server, watch, endpoint, method, authorization, content_type, extra
):
    headers = list(extra)
    if authorization is not None:
        headers.append((b"Authorization", authorization))
    if content_type is not None:
        headers.append((b"Content-Type", content_type))
    path = endpoint.encode() if isinstance(endpoint, str) else endpoint
    body = wire.encode(valid_call(endpoint if endpoint in PATHS else "/reconstruct"))
    assert raw_request(server[0], method, path, headers, body) < 500


def test_health_stays_live_while_large_requests_decode_and_run(server, http, watch):
    """Not only small bodies: 33 MB requests (10 frames of 640x480 RGB-D), decoded and
    reconstructed on worker threads while /health is polled."""
    frames = tiny_frames(n=10, width=640, height=480)
    body = wire.encode(reconstruct_call(frames))
    assert len(body) > 32 << 20
    for _ in range(3):
        response = http.post("/reconstruct", content=body)
        assert response.status_code == 200, response.text[:300]
