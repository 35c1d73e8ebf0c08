"""Helpers for the perception service tests: a real uvicorn server on a free local port, request
bodies built the way the client builds them, and hand-made hostile archives."""

from __future__ import annotations

import contextlib
import io
import socket
import struct
import threading
import time
import zipfile
import zlib

import numpy as np
import uvicorn

from spatialclaw_ros.eval.synthetic import default_intrinsics, look_at, render
from spatialclaw_ros.perception import wire

TOKEN = "hostile-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


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


def tiny_frames(n: int = 2, width: int = 16, height: int = 12):
    """`n` small rendered RGB-D frames with intrinsics, poses and labels (fast to decode and
    serve)."""
    from .conftest import two_box_scene

    poses = [look_at((0.0, y, 0.5), (3.0, y, 0.5)) for y in np.linspace(-0.2, 0.2, n)]
    return render(two_box_scene(), poses, default_intrinsics(width, height))


def frames_request(frames, **meta):
    """(meta, arrays) of a request about `frames`, as the client sends it."""
    return wire.encode_frames(frames, meta)


def segment_request(frames, **request_fields):
    meta, arrays = wire.encode_frames(frames)
    fields = {
        "frame_indices": [frames[0].index],
        "text": "red box",
        "prompt_frame": None,
        "threshold": None,
        "label": None,
        **request_fields,
    }
    return {**meta, "request": fields}, arrays


def zip_bomb(decompressed_bytes: int = 3 << 30, block: int = 16 << 20) -> bytes:
    """An npz whose one array (`image_0`, uint8 zeros) inflates from about 3 MB to
    `decompressed_bytes`.

    Written by hand: after a full flush a deflate stream restarts, so each further block of zeros
    compresses to the same bytes and is repeated rather than compressed again."""
    header = _npy_header((decompressed_bytes - 128,))
    assert len(header) == 128 and decompressed_bytes % block == 0
    zeros = bytes(block)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(header + zeros[len(header) :]) + compressor.flush(
        zlib.Z_FULL_FLUSH
    )
    repeated = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    blocks = decompressed_bytes // block
    data = first + repeated * (blocks - 1) + compressor.flush()
    crc = zlib.crc32(zeros[len(header) :], zlib.crc32(header))
    for _ in range(blocks - 1):
        crc = zlib.crc32(zeros, crc)
    return _zip_one(b"image_0.npy", data, crc, decompressed_bytes)


def npy_declaring(shape: tuple[int, ...]) -> bytes:
    """An npz holding a valid `meta` and an `image_0` whose npy header declares `shape` (uint8) but
    which holds no data."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        meta = io.BytesIO()
        np.save(meta, np.frombuffer(b'{"frames": [{"index": 0}]}', np.uint8))
        archive.writestr("meta.npy", meta.getvalue())
        archive.writestr("image_0.npy", _npy_header(shape))
    return buffer.getvalue()


def _npy_header(shape: tuple[int, ...]) -> bytes:
    text = f"{{'descr': '|u1', 'fortran_order': False, 'shape': {shape!r}, }}".encode()
    text += b" " * (128 - 10 - 1 - len(text)) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def _zip_one(name: bytes, data: bytes, crc: int, size: int) -> bytes:
    """A zip archive of one deflated entry of `size` bytes whose compressed form is `data`."""
    local = struct.pack(
        "<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data), size, len(name), 0
    )
    central = struct.pack(
        "<4sHHHHHHIIIHHHHHII",
        b"PK\x01\x02",
        20,
        20,
        0,
        8,
        0,
        0x21,
        crc,
        len(data),
        size,
        len(name),
        0,
        0,
        0,
        0,
        0,
        0,
    )
    body = local + name + data
    directory = central + name
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(directory), len(body), 0)
    return body + directory + end
