"""Helpers for the perception service tests: a real uvicorn server on a free local port, and
requests built the way the client builds them (then spoilt by the tests)."""

from __future__ import annotations

import contextlib
import copy
import socket
import threading
import time

import numpy as np
import uvicorn

from spatialclaw_ros.eval.synthetic import default_intrinsics, look_at, render
from spatialclaw_ros.frames import FrameSet
from spatialclaw_ros.perception import SegmentRequest, wire

TOKEN = "hostile-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HEADERS = {**AUTH, "Content-Type": wire.MEDIA_TYPE}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(app):
    """Serve `app` on 127.0.0.1 in a background thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "service did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def tiny_frames(n: int = 2, width: int = 16, height: int = 12) -> FrameSet:
    """`n` small rendered RGB-D frames with intrinsics, poses and labels (fast to decode and
    serve)."""
    from .conftest import two_box_scene

    poses = [look_at((0.0, y, 0.5), (3.0, y, 0.5)) for y in np.linspace(-0.2, 0.2, n)]
    return render(two_box_scene(), poses, default_intrinsics(width, height))


def reconstruct_call(frames: FrameSet, frame_indices=None) -> wire.ReconstructCall:
    """A request about a copy of `frames` (the tests spoil it in place)."""
    return wire.ReconstructCall(copy.deepcopy(frames), frame_indices)


def exists_call(frames: FrameSet, name="red box") -> wire.ExistsCall:
    return wire.ExistsCall(copy.deepcopy(frames), name)


def segment_call(frames: FrameSet, **request_fields) -> wire.SegmentCall:
    """A text prompt on the first frame, with `request_fields` replaced (unchecked: the request
    dataclass takes any value, as a hostile client could send)."""
    fields = {"frame_indices": [frames[0].index], "text": "red box", **request_fields}
    return wire.SegmentCall(copy.deepcopy(frames), SegmentRequest(**fields))


def patched(body: bytes, old: bytes, new: bytes) -> bytes:
    """`body` with the first `old` replaced by `new` (same length: the framing still holds)."""
    assert len(old) == len(new) and old in body
    return body.replace(old, new, 1)
