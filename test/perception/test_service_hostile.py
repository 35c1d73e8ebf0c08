"""The perception service against hostile and careless input, each case of issue 14 over real HTTP:
every bad input a 4xx with a message, the zip bomb refused with 413 at once, /health live while
/ready tells whether the models loaded, a failed load reported and retried with backoff, and the
device checked at start."""

from __future__ import annotations

import argparse
import io
import json
import shutil
import time

import httpx
import numpy as np
import psutil
import pytest

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
    AUTH,
    TOKEN,
    frames_request,
    npy_declaring,
    running,
    segment_request,
    tiny_frames,
    zip_bomb,
)


@pytest.fixture(scope="module")
def service():
    local = build_perception(
        PerceptionConfig(reconstruct_backend="sensor", segment_backend="labels")
    )
    with (
        running(create_app(local, TOKEN, DecodeLimits())) as url,
        httpx.Client(base_url=url, headers=AUTH, timeout=30) as http,
    ):
        yield http


@pytest.fixture(scope="module")
def frames():
    return tiny_frames()


def post(http, path, meta, arrays):
    return http.post(path, content=wire.pack(meta, arrays))


def refused(response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    for word in words:
        assert word in detail, detail
    return detail


def test_the_zip_bomb_is_refused_with_413_at_once(service):
    bomb = zip_bomb()  # 3.1 MB that inflates to 3 GiB
    assert len(bomb) < 3_300_000
    # the connection is open: the figure is the server's, not the handshake's
    service.get("/health")
    rss_before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    response = service.post("/reconstruct", content=bomb)
    took = time.perf_counter() - started
    refused(response, 413, "decompresses to more than")
    print(f"\nzip bomb ({len(bomb)} bytes -> 3 GiB): 413 in {took * 1000:.1f} ms")
    assert took < 0.1, f"{took * 1000:.0f} ms"
    assert psutil.Process().memory_info().rss - rss_before < 64 << 20


def test_an_npy_header_declaring_1e12_elements_is_413(service):
    refused(
        service.post("/reconstruct", content=npy_declaring((10**12,))),
        413,
        "declares 1000000000000 elements",
    )
    refused(service.post("/reconstruct", content=npy_declaring((10**6, 10**6))), 413, "elements")
    # within the limits, but the header promises more bytes than the entry holds
    refused(
        service.post("/reconstruct", content=npy_declaring((4, 4, 3))), 400, "declares 48 bytes"
    )


def test_a_zip_directory_of_an_unknown_version_is_400(service, frames):
    # found by the fuzz test: zipfile raises NotImplementedError for the version of the central
    # directory entry (the local header and its version sit at offset 4 of the first entry)
    body = bytearray(wire.pack(*frames_request(frames, frame_indices=[0])))
    directory = body.rfind(b"PK\x01\x02")
    body[directory + 6] = 64  # "version needed to extract": 6.4
    refused(service.post("/reconstruct", content=bytes(body)), 400, "malformed")


def test_frame_indices_that_are_not_a_list_of_integers(service, frames):
    for bad in ("abc", [0, "1"], [True], {"0": 1}, 3):
        refused(
            post(service, "/reconstruct", *frames_request(frames, frame_indices=bad)),
            400,
            "frame_indices",
        )
    refused(
        post(service, "/reconstruct", *frames_request(frames, frame_indices=[0, 7])),
        400,
        "not in the frame set",
    )


def test_json_nested_100000_deep_is_413(service, frames):
    meta, arrays = frames_request(frames)
    text = json.dumps(meta)[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}"
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.frombuffer(text.encode(), np.uint8), **arrays)
    refused(service.post("/reconstruct", content=buffer.getvalue()), 413, "nests 100001 deep")


def test_a_null_text_with_an_object_as_prompt_frame(service, frames):
    refused(
        post(service, "/segment", *segment_request(frames, text=None, prompt_frame={})),
        400,
        "prompt_frame",
    )
    refused(
        post(service, "/segment", *segment_request(frames, text=None)), 400, "exactly one of text"
    )
    refused(
        post(service, "/segment", *segment_request(frames, text=7)),
        400,
        "request.text must be a string",
    )
    refused(
        post(service, "/segment", *segment_request(frames, threshold=float("nan"))),
        400,
        "threshold",
    )
    refused(
        post(service, "/segment", *segment_request(frames, frame_indices=None)),
        400,
        "request.frame_indices",
    )
    meta, arrays = frames_request(frames)
    refused(post(service, "/segment", meta, arrays), 400, "segment request is missing")


@pytest.mark.parametrize(
    "position, value",
    [
        (0, float("nan")),
        (0, 0.0),
        (1, -500.0),
        (2, float("inf")),
        (4, 0),
        (5, -3),
        (4, 1.5),
        (0, "fx"),
    ],
)
def test_nan_zero_and_negative_intrinsics_are_refused(service, frames, position, value):
    meta, arrays = frames_request(frames)
    meta["frames"][0]["intrinsics"][position] = value
    refused(post(service, "/reconstruct", meta, arrays), 400, "frames[0].intrinsics")


def test_other_malformed_fields_name_the_field(service, frames):
    cases = {
        "frames[0].index": lambda m, a: m["frames"][0].pop("index"),
        "frames[1] must be a JSON object": lambda m, a: m["frames"].__setitem__(1, "frame"),
        "frames[0].timestamp": lambda m, a: m["frames"][0].__setitem__("timestamp", "noon"),
        "frames[0].label_names": lambda m, a: m["frames"][0].__setitem__(
            "label_names", {"red": "box"}
        ),
        "camera pose has NaN": lambda m, a: a["pose_0"].__setitem__((0, 0), np.nan),
        "uint8": lambda m, a: a.__setitem__("image_0", a["image_0"].astype(np.int16)),
        "world_frame must be a string": lambda m, a: m.__setitem__("world_frame", None),
    }
    for says, spoil in cases.items():
        meta, arrays = frames_request(frames)
        arrays = {k: v.copy() for k, v in arrays.items()}
        spoil(meta, arrays)
        refused(
            post(service, "/reconstruct", meta, arrays),
            400,
            says.replace("frames[1] must", "frame 1 must"),
        )
    meta, arrays = frames_request(frames, name=None)
    refused(post(service, "/exists", meta, arrays), 400, "name must be a string")


def test_too_many_frames_is_413(service):
    many = tiny_frames(n=3, width=8, height=6)
    meta, arrays = frames_request(many)
    meta["frames"] = meta["frames"] * 100  # 300 frame descriptions > 256
    refused(post(service, "/reconstruct", meta, arrays), 413, "300 frames; the limit is 256")


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
        httpx.Client(base_url=url, headers=AUTH) as http,
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
        answers = [post(http, "/reconstruct", *frames_request(frames)) for _ in range(20)]
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
