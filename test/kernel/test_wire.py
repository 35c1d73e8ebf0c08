"""The wire codec (spatialclaw_ros/wire.py) and its two carriers: the kernel's socket channel
and the bytes form of HTTP bodies. Arrays travel as raw buffers; bad messages are refused."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import msgpack
import numpy as np
import pytest

from spatialclaw_ros import wire
from spatialclaw_ros.frames import Frame, FrameSet
from spatialclaw_ros.kernel.wire import Channel, LimitExceeded, WireError, WireLimits
from spatialclaw_ros.kernel.wire_types import RESULT_TYPES, WIRE_TYPES
from spatialclaw_ros.perception.types import Box3D, Reconstruction


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield (
        Channel(a, WIRE_TYPES, WIRE_TYPES),
        Channel(b, RESULT_TYPES, RESULT_TYPES, limits=WireLimits(max_total_bytes=10_000)),
    )
    a.close()
    b.close()


def reconstruction(n: int = 2) -> Reconstruction:
    depth = np.random.default_rng(0).random((n, 3, 4), dtype=np.float32)
    return Reconstruction(
        depth, depth, np.zeros((n, 3, 3)), np.zeros((n, 4, 4)), True, list(range(1, n + 1)), "x"
    )


def test_round_trip_keeps_arrays_tuples_and_known_dataclasses():
    a, b = socket.socketpair()
    left, right = Channel(a, WIRE_TYPES, WIRE_TYPES), Channel(b, WIRE_TYPES, WIRE_TYPES)
    rec = reconstruction()
    empty, scalar = np.zeros((0, 3), bool), np.array(4.5, np.float16)
    left.send({"r": rec, "t": (1, "a"), "s": np.float64(2.5), 7: [np.arange(3, dtype=np.int8)]})
    got = right.receive()
    left.send([empty, scalar, np.arange(6, dtype=np.complex64).reshape(2, 3).T])
    got_empty, got_scalar, got_transposed = right.receive()
    assert got_empty.shape == (0, 3) and got_empty.dtype == bool
    assert got_scalar.shape == () and got_scalar == 4.5 and got_scalar.dtype == np.float16
    assert got_transposed.tolist() == np.arange(6).reshape(2, 3).T.tolist()
    assert isinstance(got["r"], Reconstruction) and got["t"] == (1, "a") and got["s"] == 2.5
    np.testing.assert_array_equal(got["r"].depth, rec.depth)
    assert got["r"].depth.dtype == np.float32 and got["r"].frame_indices == [1, 2]
    assert got[7][0].tolist() == [0, 1, 2] and got["r"].depth.flags.writeable


def test_unknown_dataclass_is_refused(pair):
    host_side, worker_side = pair
    host_side.send({"r": reconstruction(1)})
    with pytest.raises(WireError, match="unknown type 'Reconstruction'"):
        worker_side.receive()


def _frame(body_value, buffers: list[bytes]) -> bytes:
    """A message framed by hand around `body_value` (msgpack) and raw `buffers`."""
    body = msgpack.packb(body_value)
    out = wire.header(len(body), [len(b) for b in buffers], []) + body
    for b in buffers:
        out += bytes(wire.padding(len(out))) + b
    return out


def array_ext(dtype: str, shape: list[int], index: int = 0) -> msgpack.ExtType:
    return msgpack.ExtType(1, msgpack.packb([dtype, shape, index]))


def test_object_arrays_are_never_sent_or_accepted(pair):
    host_side, worker_side = pair
    with pytest.raises(TypeError, match="dtype object"):
        host_side.send(np.array([object()]))
    host_side.sock.sendall(_frame(array_ext("|O", [1]), [b"\0" * 8]))
    with pytest.raises(WireError, match="refusing array dtype"):
        worker_side.receive()


def test_oversized_message_is_refused_before_reading_it(pair):
    host_side, worker_side = pair
    host_side.sock.sendall(wire.header(5, [2**40], []))
    with pytest.raises(LimitExceeded, match="exceeds"):
        worker_side.receive()


def test_results_rebuild_only_boxes(pair):
    host_side, worker_side = pair
    host_side.send([Box3D("a", np.zeros(3), np.ones(3))])
    (box,) = worker_side.receive()
    assert isinstance(box, Box3D) and box.size.tolist() == [1, 1, 1]


# ---- the bytes form -------------------------------------------------------------------------

TYPES = wire.type_table(Frame, FrameSet, Reconstruction)
LIMITS = WireLimits(max_total_bytes=1 << 20, max_buffers=8, max_containers=200, max_depth=8)


def test_bytes_round_trip_is_aligned_and_leaves_caches_behind():
    frames = FrameSet(
        [Frame(np.full((3, 4, 3), 7, np.uint8), index=5, depth=np.ones((3, 4), np.float32))],
        world_frame="map",
    )
    frames.content_key()  # fills the private cache field `_key`, which must not travel
    data = bytearray(wire.pack({"frames": frames, "r": reconstruction()}, TYPES))
    got = wire.unpack(data, TYPES, LIMITS)
    assert got["frames"]._key is None and got["frames"].world_frame == "map"
    assert got["frames"].content_key() == frames.content_key()
    depth = got["r"].depth
    assert depth.flags.aligned and depth.flags.writeable and depth.dtype == np.float32
    np.testing.assert_array_equal(depth, reconstruction().depth)
    # in place: the arrays are views of the message
    assert np.shares_memory(depth, np.frombuffer(data, np.uint8))


@pytest.mark.parametrize(
    "message, error, says",
    [
        (b"", WireError, "shorter than its header"),
        (wire.header(4, [], []) + b"\x90", WireError, "add up to"),  # body cut short
        (wire.header(1, [], []) + b"\x90\x90", WireError, "add up to"),  # bytes left over
        (wire.header(1, [100], []) + b"\xc0", WireError, "add up to"),  # buffer missing
        (wire.header(1, [-1], [8]) + b"\xc0", WireError, "shared memory"),
        (wire.header(1, [1] * 9, []), LimitExceeded, "9 buffers; the limit is 8"),
        (wire.header(2 << 20, [], []), LimitExceeded, "exceeds the 1048576-byte limit"),
        (_frame(array_ext("<f8", [3]), [bytes(16)]), WireError, "does not match its buffer"),
        (_frame(array_ext("<f8", [2**40, 2**40]), [bytes(8)]), WireError, "does not match"),
        (_frame(array_ext("<U4", [1]), [bytes(16)]), WireError, "refusing array dtype"),
        (_frame(array_ext("<f8", [1], index=3), [bytes(8)]), WireError, "missing buffer"),
        (_frame(msgpack.ExtType(3, msgpack.packb(["Evil", {}])), []), WireError, "unknown type"),
        (
            _frame(msgpack.ExtType(3, msgpack.packb(["FrameSet", {"_key": "x"}])), []),
            WireError,
            "unknown fields for FrameSet: ['_key']",
        ),
        (_frame([[[[[[[[[[1]]]]]]]]]], []), LimitExceeded, "nested deeper than 8"),
        (_frame([[[]] * 50] * 5, []), LimitExceeded, "more than 200 containers"),
        (_frame(msgpack.ExtType(9, b""), []), WireError, "unknown ext code 9"),
        (b"\x80\x03\x95" + bytes(40), WireError, ""),  # a pickle is just a malformed message
    ],
)
def test_bytes_form_refuses_malformed_and_oversized_messages(message, error, says):
    with pytest.raises(error) as refused:
        wire.unpack(message, TYPES, LIMITS)
    assert says in str(refused.value)


def test_a_dataclass_error_says_where_it_is_and_checks_run_once_built():
    image = np.zeros((2, 2, 3), np.uint8)
    bad = {"frames": FrameSet([Frame(image), Frame(image)])}
    data = bytearray(wire.pack(bad, TYPES))
    # the second image's dtype made int8 (same size, so the framing holds): Frame refuses it
    second = data.index(b"|u1", data.index(b"|u1") + 1)
    data[second : second + 3] = b"|i1"
    with pytest.raises(WireError, match=r"frames\.frames\[1\] \(Frame\): frame image must be"):
        wire.unpack(data, TYPES, LIMITS)

    def no_camera_b(frame: Frame) -> None:
        if frame.camera == "b":
            raise LimitExceeded("camera b is too much")

    named = wire.pack([FrameSet([Frame(image, camera="a"), Frame(image, camera="b")])], TYPES)
    with pytest.raises(LimitExceeded, match=r"^\[0\]\.frames\[1\] \(Frame\): camera b is too"):
        wire.unpack(named, TYPES, LIMITS, {Frame: no_camera_b})


@dataclass
class Node:
    child: object = None


def test_nesting_through_dataclasses_is_bounded_without_recursing_on_it():
    value: Node | None = None
    for _ in range(100):
        value = Node(value)
    data = wire.pack(value, {"Node": Node})
    with pytest.raises(LimitExceeded, match="nested deeper than 8"):
        wire.unpack(data, {"Node": Node}, LIMITS)
    assert isinstance(wire.unpack(data, {"Node": Node}, WireLimits(max_depth=200)), Node)
