"""The host/worker channel: arrays travel as raw buffers, and bad messages are refused."""

from __future__ import annotations

import socket
import struct

import msgpack
import numpy as np
import pytest

from spatialclaw_ros.kernel.wire import Channel, WireError, WireLimits
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


def test_round_trip_keeps_arrays_tuples_and_known_dataclasses():
    a, b = socket.socketpair()
    left, right = Channel(a, WIRE_TYPES, WIRE_TYPES), Channel(b, WIRE_TYPES, WIRE_TYPES)
    depth = np.random.default_rng(0).random((2, 3, 4), dtype=np.float32)
    rec = Reconstruction(depth, depth, np.zeros((2, 3, 3)), np.zeros((2, 4, 4)), True, [1, 2], "x")
    left.send({"r": rec, "t": (1, "a"), "s": np.float64(2.5)})
    got = right.receive()
    assert isinstance(got["r"], Reconstruction) and got["t"] == (1, "a") and got["s"] == 2.5
    np.testing.assert_array_equal(got["r"].depth, depth)
    assert got["r"].depth.dtype == np.float32 and got["r"].frame_indices == [1, 2]


def test_unknown_dataclass_is_refused(pair):
    host_side, worker_side = pair
    host_side.send(
        {
            "r": Reconstruction(
                np.zeros((1, 1, 1)),
                np.zeros((1, 1, 1)),
                np.zeros((1, 3, 3)),
                np.zeros((1, 4, 4)),
                True,
                [0],
                "x",
            )
        }
    )
    with pytest.raises(WireError, match="unknown type 'Reconstruction'"):
        worker_side.receive()


def test_object_arrays_are_never_sent_or_accepted(pair):
    host_side, worker_side = pair
    with pytest.raises(TypeError, match="dtype object"):
        host_side.send(np.array([object()]))
    body = msgpack.packb(msgpack.ExtType(1, msgpack.packb(["|O", [1], 0])))
    host_side.sock.sendall(
        struct.pack("<III", len(body), 1, 0) + struct.pack("<q", 8) + body + b"\0" * 8
    )
    with pytest.raises(WireError, match="refusing array dtype"):
        worker_side.receive()


def test_oversized_message_is_refused(pair):
    host_side, worker_side = pair
    host_side.sock.sendall(struct.pack("<III", 5, 1, 0) + struct.pack("<q", 2**40))
    with pytest.raises(WireError, match="exceeds"):
        worker_side.receive()


def test_results_rebuild_only_boxes(pair):
    host_side, worker_side = pair
    host_side.send([Box3D("a", np.zeros(3), np.ones(3))])
    (box,) = worker_side.receive()
    assert isinstance(box, Box3D) and box.size.tolist() == [1, 1, 1]
