"""The perception service against hostile and careless input, each case of issue 14 over real HTTP:
every bad input a 4xx with a message naming the problem (never a 5xx), the service serving other
clients after each, /health live while /ready tells whether the models loaded, a failed load
reported and retried with backoff, and the device checked at start."""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import time

import httpx
import numpy as np
import psutil
import pytest

from spatialclaw_ros import wire as codec
from spatialclaw_ros.frames import CameraIntrinsics, Frame
from spatialclaw_ros.perception import (
    PerceptionConfig,
    PerceptionError,
    build_perception,
    wire,
)
from spatialclaw_ros.perception.limits import DecodeLimits
from spatialclaw_ros.perception.readiness import ModelLoader, load_models
from spatialclaw_ros.perception.service import create_app

from .service_support import (
    HEADERS,
    TOKEN,
    exists_call,
    patched,
    reconstruct_call,
    running,
    segment_call,
    tiny_frames,
)

LIMITS = DecodeLimits(max_body_bytes=8 << 20, max_image_pixels=100 * 100)
GOOD = wire.encode(reconstruct_call(tiny_frames()))  # what another client sends meanwhile


@pytest.fixture(scope="module")
def service():
    local = build_perception(
        PerceptionConfig(reconstruct_backend="sensor", segment_backend="labels")
    )
    with (
        running(create_app(local, TOKEN, LIMITS)) as url,
        httpx.Client(base_url=url, headers=HEADERS, timeout=30) as http,
    ):
        yield http


@pytest.fixture(scope="module")
def frames():
    return tiny_frames()


def post(http, path, message):
    return http.post(path, content=wire.encode(message))


def refused(response, status: int, *words: str) -> str:
    """The answer is `status` with all of `words` in its detail, and the service still answers
    a good request afterwards."""
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    for word in words:
        assert word in detail, detail
    if status != 503:
        good = httpx.post(
            str(response.request.url.copy_with(path="/reconstruct")),
            content=GOOD,
            headers=HEADERS,
            timeout=30,
        )
        assert good.status_code == 200, good.text
    return detail


def test_a_body_over_the_limit_is_413_before_it_is_read(service):
    took = time.perf_counter()
    rss_before = psutil.Process().memory_info().rss
    response = service.post("/reconstruct", content=bytes(LIMITS.max_body_bytes + 1))
    took = time.perf_counter() - took
    refused(response, 413, "exceeds the limit")
    assert took < 1.0 and psutil.Process().memory_info().rss - rss_before < 64 << 20


def test_declared_sizes_are_checked_before_anything_is_allocated(service, frames):
    # a header that declares 2^40 bytes of buffers in a 36-byte body
    refused(
        service.post("/reconstruct", content=codec.header(8, [1 << 40], []) + bytes(8)),
        413,
        "exceeds the",
    )
    refused(
        service.post("/reconstruct", content=codec.header(8, [1] * 5000, [])),
        413,
        "5000 buffers; the limit is 1100",
    )
    refused(
        service.post("/reconstruct", content=codec.header(4 << 20, [], [])),
        413,
        "message body of 4194304 bytes",
    )
    body = wire.encode(reconstruct_call(frames))
    refused(service.post("/reconstruct", content=body[:-1]), 400, "add up to")
    refused(service.post("/reconstruct", content=body + b"\0"), 400, "add up to")
    refused(service.post("/reconstruct", content=b"\x80\x04"), 400, "shorter than its header")


def test_the_wrong_media_type_is_415(service, frames):
    body = wire.encode(reconstruct_call(frames))
    for media_type in ("application/x-npz", "application/octet-stream", "text/plain"):
        answer = service.post("/reconstruct", content=body, headers={"Content-Type": media_type})
        refused(answer, 415, wire.MEDIA_TYPE, media_type)
    answer = service.post(
        "/reconstruct",
        content=body,
        headers={"Content-Type": f"{wire.MEDIA_TYPE.upper()}; version=1"},
    )
    assert answer.status_code == 200


def test_non_numeric_arrays_unknown_types_and_deep_nesting(service, frames):
    body = wire.encode(reconstruct_call(frames))
    refused(service.post("/reconstruct", content=patched(body, b"|u1", b"<U1")), 400, "dtype")
    refused(
        service.post(
            "/reconstruct", content=patched(body, b"ReconstructCall", b"PickleThisCall!")
        ),
        400,
        "unknown type 'PickleThisCall!'",
    )
    # an answer type is not a request type
    recon = np.zeros((1, 2, 2), np.float32)
    answer_type = wire.Reconstruction(
        recon, recon, np.eye(3)[None], np.eye(4)[None], True, [0], "x"
    )
    refused(post(service, "/reconstruct", answer_type), 400, "unknown type 'Reconstruction'")
    refused(post(service, "/segment", reconstruct_call(frames)), 400, "takes a SegmentCall")
    deep: list = []
    for _ in range(100):
        deep = [deep]
    refused(post(service, "/reconstruct", reconstruct_call(frames, deep)), 413, "nested deeper")
    many = reconstruct_call(frames, [np.zeros(1)] * 1200)
    refused(post(service, "/reconstruct", many), 413, "1208 buffers; the limit is 1100")


def test_frame_indices_that_are_not_a_list_of_integers(service, frames):
    for bad in ("abc", [0, "1"], [True], {"0": 1}, 3):
        refused(post(service, "/reconstruct", reconstruct_call(frames, bad)), 400, "frame_indices")
    refused(
        post(service, "/reconstruct", reconstruct_call(frames, [0, 7])),
        400,
        "not in the frame set",
    )


def test_segment_request_fields_are_checked(service, frames):
    refused(
        post(service, "/segment", segment_call(frames, text=None, prompt_frame={})),
        400,
        "request (SegmentRequest): prompt_frame must be an integer",
    )
    refused(post(service, "/segment", segment_call(frames, text=None)), 400, "exactly one of text")
    refused(post(service, "/segment", segment_call(frames, text=7)), 400, "text must be a string")
    refused(
        post(service, "/segment", segment_call(frames, threshold=float("nan"))), 400, "threshold"
    )
    refused(
        post(service, "/segment", segment_call(frames, frame_indices=None)), 400, "frame_indices"
    )
    nan_points = np.array([[1.0, np.nan]])
    refused(
        post(service, "/segment", segment_call(frames, text=None, points=nan_points)),
        400,
        "points has NaN",
    )
    refused(
        post(service, "/segment", segment_call(frames, text=None, points=np.ones((2000, 2)))),
        413,
        "2000 points; the limit is 1024",
    )
    refused(post(service, "/segment", segment_call(frames, text="x" * 1001)), 413, "1001 char")


@pytest.mark.parametrize(
    "field, value",
    [
        ("fx", float("nan")),
        ("fx", 0.0),
        ("fy", -500.0),
        ("cx", float("inf")),
        ("width", 0),
        ("height", -3),
        ("width", 1.5),
        ("fx", "fx"),
    ],
)
def test_nan_zero_and_negative_intrinsics_are_refused(service, frames, field, value):
    call = reconstruct_call(frames)
    call.frames[0].intrinsics = dataclasses.replace(call.frames[0].intrinsics, **{field: value})
    refused(
        post(service, "/reconstruct", call),
        400,
        f"frames.frames[0].intrinsics (CameraIntrinsics): {field} must be",
    )


def test_other_malformed_fields_name_the_field(service, frames):
    def spoil_pose(f: Frame) -> None:
        f.pose = f.pose.copy()
        f.pose[0, 0] = np.nan

    cases = {
        "frames.frames[0] (Frame): index must be an integer": lambda f: setattr(f, "index", "7"),
        "frames.frames[0] (Frame): timestamp": lambda f: setattr(f, "timestamp", "noon"),
        "frames.frames[0] (Frame): label_names key": lambda f: setattr(
            f, "label_names", {"red": "box"}
        ),
        "frames.frames[0] (Frame): label_names[1] must be a string": lambda f: setattr(
            f, "label_names", {1: 2}
        ),
        "camera pose has NaN": spoil_pose,
        "uint8": lambda f: setattr(f, "image", f.image.astype(np.int16)),
        "frames.frames[0] (Frame): camera must be a string": lambda f: setattr(f, "camera", None),
    }
    for says, spoil in cases.items():
        call = reconstruct_call(frames)
        spoil(call.frames[0])
        refused(post(service, "/reconstruct", call), 400, says)
    call = reconstruct_call(frames)
    call.frames.frames[1] = CameraIntrinsics(1, 1, 1, 1, 16, 12)
    refused(post(service, "/reconstruct", call), 400, "frames[1] must be a Frame")
    call.frames.world_frame = None
    call.frames.frames[1] = call.frames.frames[0]
    refused(post(service, "/reconstruct", call), 400, "world_frame must be a string")
    refused(post(service, "/exists", exists_call(frames, name=None)), 400, "name must be a string")
    refused(
        post(service, "/exists", exists_call(frames, name="  ")), 400, "name must not be empty"
    )


def test_too_many_frames_and_too_many_pixels_are_413(service):
    many = tiny_frames(n=3, width=8, height=6)
    call = reconstruct_call(many)
    for f in call.frames:  # images only: 300 buffers, within the limit on buffers
        f.depth = f.pose = f.labels = None
    call.frames.frames = [call.frames[k % 3] for k in range(300)]
    refused(post(service, "/reconstruct", call), 413, "300 frames; the limit is 256")
    large = reconstruct_call(tiny_frames(n=1, width=120, height=100))
    refused(
        post(service, "/reconstruct", large),
        413,
        "frames.frames[0] (Frame): the image has 12000 pixels; the limit is 10000",
    )


def test_health_is_liveness_and_ready_says_the_models_are_loaded(service):
    assert service.get("/health").json() == {"status": "ok"}
    ready = service.get("/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_a_failed_model_load_is_503_with_its_cause_and_retried_with_backoff(
    tmp_path, da3_small_dir, hub_offline, frames
):
    """DA3 pointed at a directory that is still empty: /ready and every request say why, requests
    do not start loads, and once the checkpoint is there the next retry loads it."""
    weights = tmp_path / "da3"
    perception = build_perception(
        PerceptionConfig(
            reconstruct_backend="da3",
            segment_backend="labels",
            da3_model=str(weights),
            device="cpu",
        )
    )
    loader = ModelLoader(lambda: load_models(perception), first_backoff_s=0.4, max_backoff_s=0.8)
    with (
        running(create_app(perception, TOKEN, loader=loader)) as url,
        httpx.Client(base_url=url, headers=HEADERS) as http,
    ):
        assert http.get("/health").json() == {"status": "ok"}
        deadline = time.monotonic() + 30
        while http.get("/ready").json()["status"] != "failed":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        ready = http.get("/ready")
        assert (
            ready.status_code == 503
            and "could not load Depth Anything 3" in ready.json()["reason"]
        )
        started = time.perf_counter()
        answers = [post(http, "/reconstruct", reconstruct_call(frames)) for _ in range(20)]
        per_request = (time.perf_counter() - started) / 20
        for answer in answers:
            refused(answer, 503, "not ready", "could not load Depth Anything 3")
            assert int(answer.headers["retry-after"]) >= 1
        assert per_request < 0.1  # answered from the loader's state, not by loading
        attempts_during_requests = http.get("/ready").json()["attempts"]
        assert attempts_during_requests <= 2 + (time.perf_counter() - started) / 0.4 + 1
        shutil.copytree(da3_small_dir, weights)
        deadline = time.monotonic() + 60
        while http.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, http.get("/ready").json()
            time.sleep(0.1)
        assert http.get("/ready").json()["attempts"] >= 2


def test_the_loader_backs_off_exponentially():
    calls = []

    def load():
        calls.append(time.monotonic())
        raise OSError("disk not mounted")

    loader = ModelLoader(load, first_backoff_s=0.05, max_backoff_s=0.2)
    loader.start()
    time.sleep(0.9)
    loader.stop()
    gaps = np.diff(calls)
    assert 4 <= len(calls) <= 8, len(calls)  # 0.05 + 0.1 + 0.2 + 0.2 ... not one per millisecond
    assert gaps[0] == pytest.approx(0.05, abs=0.04) and gaps[1] == pytest.approx(0.1, abs=0.05)
    assert max(gaps) < 0.3
    status = loader.status()
    assert not status.ready and status.state == "failed" and "disk not mounted" in status.reason


def test_a_device_this_machine_lacks_is_refused_at_start(capsys):
    import torch

    from spatialclaw_ros.perception import cli

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(
        ["serve-perception", "--reconstruct", "da3", "--device", "cuda", "--token", "t"]
    )
    assert args.run(args) == 2
    assert "no usable CUDA GPU" in capsys.readouterr().err
    with pytest.raises(PerceptionError, match="device must be auto, cpu, cuda"):
        PerceptionConfig(device="gpu")
