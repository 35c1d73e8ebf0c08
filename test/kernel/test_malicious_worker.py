"""A worker that has been taken over writes whatever it likes to its channel. The host must
survive every message, refuse it before it costs much, replace the worker and restore the
state of the earlier cells."""

from __future__ import annotations

import resource
import time

import pytest

from spatialclaw_ros.kernel import Kernel, KernelConfig, containment

from .conftest import make_frames

pytestmark = pytest.mark.skipif(
    containment.probe().missing != [], reason="containment layers missing here"
)

# The cell's code: write `payload` (bytes built by the cell) raw into the channel, as an
# escaped worker would, then finish normally.
SEND = """\
import msgpack, os, socket, struct, sys
channel = socket.socket(fileno=os.dup(int(sys.argv[-1])))
def frame(body, buffers=(), shared=0):
    return struct.pack('<III', len(body), len(buffers), shared) + b''.join(struct.pack('<q',
    len(b)) for b in buffers) + body + b''.join(buffers)
"""


def nested_tuples(depth: int) -> str:
    return (
        "inner = msgpack.packb(None)\n"
        f"for _ in range({depth}):\n"
        "    inner = msgpack.packb(msgpack.ExtType(2, msgpack.packb([msgpack.ExtType(2, "
        "inner)])))\n"
        "body = msgpack.packb({'op': 'call', 'step': STEP, 'name': 'reconstruct', "
        "'args': {'video': msgpack.ExtType(2, inner)}})\n"
    )


CASES = {
    "10000-deep-nesting": "body = b'\\x91' * 10000 + b'\\xc0'\nchannel.sendall(frame(body))",
    "deep-tuple-argument": nested_tuples(200) + "channel.sendall(frame(body))",
    "huge-declared-body": "channel.sendall(struct.pack('<III', 2**31 - 1, 0, 0))",
    "huge-declared-buffer": (
        "channel.sendall(struct.pack('<III', 1, 1, 0) + struct.pack('<q', 2**40))"
    ),
    "declared-shared-memory": (
        "channel.sendall(struct.pack('<III', 1, 1, 1) + struct.pack('<q', -1) + "
        "struct.pack('<q', 10))"
    ),
    "many-empty-maps": (
        "body = b'\\xdd' + struct.pack('>I', 3_000_000) + b'\\x80' * 3_000_000\n"
        "channel.sendall(frame(body))"
    ),
    "oversized-body": (
        "body = msgpack.packb({'op': 'done', 'step': STEP, 'stdout': 'x' * (5 << 20)})\n"
        "channel.sendall(frame(body))"
    ),
    "reply-out-of-turn": (
        "channel.sendall(frame(msgpack.packb({'op': 'done', 'step': STEP + 7, "
        "'status': 'success'})))"
    ),
    "unknown-operation": (
        "channel.sendall(frame(msgpack.packb({'op': 'shell', 'step': STEP, 'cmd': 'id'})))"
    ),
    "garbage": "channel.sendall(frame(bytes(range(256)) * 64))",
}


@pytest.fixture(scope="module")
def kernel():
    with Kernel(make_frames(1), python_layer=False, config=KernelConfig(cell_timeout_s=30)) as k:
        assert k.run("kept = 41").status == "success"
        yield k


@pytest.mark.parametrize("case", list(CASES))
def test_the_host_survives_refuses_and_restores(kernel, case):
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    code = SEND + CASES[case].replace("STEP", str(kernel.step + 1))
    result = kernel.run(code)
    assert result.status == "error" and result.error_kind == "sandbox", result.feedback
    assert "broke protocol" in result.error
    assert result.restarted and "restored" in result.note
    assert time.monotonic() - started < 15
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert grown_mb < 150, f"the host grew by {grown_mb:.0f} MiB"
    assert kernel.run("print(kept)").stdout == "41\n"


def test_a_forged_reply_of_the_running_step_is_caught_at_the_next_step(kernel):
    forged = (
        SEND + "channel.sendall(frame(msgpack.packb({'op': 'done', 'step': STEP, 'status': "
        "'success', 'stdout': 'forged'})))"
    )
    first = kernel.run(forged.replace("STEP", str(kernel.step + 1)))
    # this step's report is the forgery: the worker owns its own report
    assert first.stdout == "forged"
    second = kernel.run("print('next')")  # ... but the real report that follows is out of turn
    assert second.status == "error" and "out of turn" in second.error and second.restarted
    assert kernel.run("print(kept, 'again')").stdout == "41 again\n"


def test_cells_and_images_are_bounded():
    with Kernel(
        make_frames(1), config=KernelConfig(max_cell_chars=1000, max_images_per_step=3)
    ) as k:
        started = time.monotonic()
        long_cell = k.run("x = 1\n" * 2_000_000)  # 12 MB
        assert time.monotonic() - started < 1.0
        assert long_cell.error_kind == "code" and "limit is 1000" in long_cell.error
        shown = k.run("for i in range(100):\n    show(np.zeros((8, 8, 3), np.uint8))")
        assert len(shown.images) == 3 and any("one step (3 images)" in w for w in shown.warnings)
