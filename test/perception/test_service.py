"""The perception service over real HTTP (uvicorn on a local port) and its client."""

import copy
import pickle
import socket
import threading
import time

import httpx
import numpy as np
import pytest
import uvicorn

from spatialclaw_ros.frames import Frame, FrameSet
from spatialclaw_ros.perception import (
    PerceptionConfig,
    PerceptionError,
    SegmentRequest,
    build_perception,
    wire,
)
from spatialclaw_ros.perception.limits import DecodeLimits
from spatialclaw_ros.perception.service import create_app

TOKEN = "test-token-123"
LIMIT = 4 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def service():
    local = build_perception(
        PerceptionConfig(reconstruct_backend="sensor", segment_backend="labels")
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(local, TOKEN, DecodeLimits(max_body_bytes=LIMIT)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "service did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", local
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def small_front():
    from .conftest import front_view

    return front_view(160, 120)


def client_for(url):
    return build_perception(PerceptionConfig(service_url=url, token=TOKEN))


def test_round_trip_equals_in_process(service, small_front):
    url, local = service
    with client_for(url) as remote:
        far = remote.reconstruct(small_front)
        near = local.reconstruct(small_front)
        for name in ("depth", "confidence", "intrinsics", "extrinsics"):
            np.testing.assert_array_equal(getattr(far, name), getattr(near, name))
        assert (far.is_metric, far.frame_indices, far.backend, far.world_frame) == (
            True,
            [0],
            "sensor",
            "map",
        )
        request = SegmentRequest([0], text="red box")
        remote_masks, local_masks = (
            remote.segment(small_front, request),
            local.segment(small_front, request),
        )
        assert [(m.label, m.score, m.frame_index, m.object_id) for m in remote_masks.masks] == [
            (m.label, m.score, m.frame_index, m.object_id) for m in local_masks.masks
        ]
        np.testing.assert_array_equal(remote_masks.best().mask, local_masks.best().mask)
        point = SegmentRequest([0], points=np.array([[80.0, 60.0]]), label="middle")
        assert remote.segment(small_front, point).best().label == "middle"
        assert remote.exists(small_front, "blue chair") is True
        assert remote.exists(small_front, "giraffe") is False
        with pytest.raises(PerceptionError, match="400.*known labels"):
            remote.segment(small_front, SegmentRequest([0], text="giraffe"))


def post(url, body, token=TOKEN, media_type=wire.MEDIA_TYPE):
    headers = {"Content-Type": media_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{url}/reconstruct", content=body, headers=headers, timeout=30)


def frames_body(frames):
    return wire.encode(wire.ReconstructCall(frames))


def test_missing_or_wrong_token_is_rejected(service, small_front):
    url, _ = service
    body = frames_body(small_front)
    assert post(url, body, token=None).status_code == 401
    assert post(url, body, token="wrong").status_code == 403
    assert post(url, body).status_code == 200
    with pytest.raises(PerceptionError, match="403"):
        build_perception(PerceptionConfig(service_url=url, token="nope")).exists(
            small_front, "red box"
        )


def test_pickle_and_malformed_payloads_are_refused(service, small_front):
    url, _ = service
    pickled = pickle.dumps({"frames": [1, 2]})
    for media_type in ("application/python-pickle", "application/x-npz", "application/json"):
        other = post(url, pickled, media_type=media_type)
        assert other.status_code == 415 and wire.MEDIA_TYPE in other.json()["detail"]
    # a pickle sent as a wire message is only a malformed message: nothing unpickles it
    assert post(url, pickled).status_code == 400
    body = frames_body(small_front)
    for dtype in (b"|S1", b"|O1"):  # byte strings; not even a dtype
        refused = post(url, body.replace(b"|u1", dtype, 1))
        assert refused.status_code == 400 and "refusing array dtype" in refused.json()["detail"]
    truncated = post(url, body[:200])
    assert truncated.status_code == 400 and "add up to" in truncated.json()["detail"]
    spoilt = copy.deepcopy(small_front)
    spoilt[0].image = spoilt[0].image.astype(np.float32)
    bad_image = post(url, frames_body(spoilt))
    assert bad_image.status_code == 400 and "uint8" in bad_image.json()["detail"]
    spoilt = copy.deepcopy(small_front)
    spoilt[0].depth = np.ones((5, 5), np.float32)
    bad_depth = post(url, frames_body(spoilt))
    assert bad_depth.status_code == 400 and "depth is" in bad_depth.json()["detail"]
    spoilt.frames = []
    no_frames = post(url, frames_body(spoilt))
    assert no_frames.status_code == 400 and "at least one frame" in no_frames.json()["detail"]


def test_oversized_requests_are_rejected(service):
    url, _ = service
    huge = post(url, bytes(LIMIT + 1))
    assert huge.status_code == 413 and "exceeds the limit" in huge.json()["detail"]


def test_a_service_needs_a_token():
    local = build_perception(
        PerceptionConfig(reconstruct_backend="sensor", segment_backend="labels")
    )
    with pytest.raises(PerceptionError, match="needs a token"):
        create_app(local, "")


def test_the_client_takes_only_the_answer_it_asked_for():
    answer = wire.encode(wire.ExistsAnswer(True))
    assert wire.decode_answer(answer, wire.ExistsAnswer) == wire.ExistsAnswer(True)
    with pytest.raises(wire.WireError, match="expected a Reconstruction, got ExistsAnswer"):
        wire.decode_answer(answer, wire.Reconstruction)
    # request types are not answer types: an answer never rebuilds frames (innermost refused first)
    request = wire.encode(wire.ExistsCall(FrameSet([Frame(np.zeros((2, 2, 3), np.uint8))]), "x"))
    with pytest.raises(wire.WireError, match="unknown type 'Frame'"):
        wire.decode_answer(request, wire.ExistsAnswer)
