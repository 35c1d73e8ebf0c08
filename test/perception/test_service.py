"""The perception service over real HTTP (uvicorn on a local port) and its client."""

import io
import pickle
import socket
import threading
import time

import httpx
import numpy as np
import pytest
import uvicorn

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


def post(url, body, token=TOKEN):
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return httpx.post(f"{url}/reconstruct", content=body, headers=headers, timeout=30)


def frames_body(frames):
    return wire.pack(*wire.encode_frames(frames))


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
    pickled = post(url, pickle.dumps({"frames": [1, 2]}))
    assert pickled.status_code == 415 and "pickle" in pickled.json()["detail"]
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.frombuffer(b"{}", np.uint8), evil=np.array([{"a": 1}], dtype=object))
    object_array = post(url, buffer.getvalue())
    assert object_array.status_code == 400 and "object arrays" in object_array.json()["detail"]
    truncated = post(url, frames_body(small_front)[:200])
    assert truncated.status_code == 400 and "malformed" in truncated.json()["detail"]
    meta, arrays = wire.encode_frames(small_front)
    arrays["image_0"] = arrays["image_0"].astype(np.float32)
    bad_image = post(url, wire.pack(meta, arrays))
    assert bad_image.status_code == 400 and "uint8" in bad_image.json()["detail"]
    arrays = dict(wire.encode_frames(small_front)[1])
    arrays["depth_0"] = np.ones((5, 5), np.float32)
    bad_depth = post(url, wire.pack(meta, arrays))
    assert bad_depth.status_code == 400 and "depth is" in bad_depth.json()["detail"]
    no_frames = post(url, wire.pack({"frames": []}, {}))
    assert no_frames.status_code == 400 and "no frames" in no_frames.json()["detail"]


def test_oversized_requests_are_rejected(service):
    url, _ = service
    huge = post(url, b"PK\x03\x04" + bytes(LIMIT + 1))
    assert huge.status_code == 413 and "exceeds the limit" in huge.json()["detail"]


def test_a_service_needs_a_token():
    local = build_perception(
        PerceptionConfig(reconstruct_backend="sensor", segment_backend="labels")
    )
    with pytest.raises(PerceptionError, match="needs a token"):
        create_app(local, "")
