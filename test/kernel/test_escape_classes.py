"""Each class of escape found against the kernel, run twice: with the Python layer on (it must
refuse, with a clear message) and with it off (the operating-system layers alone must stop
the harm). Every case checks the side effect on the host, not only the error."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from spatialclaw_ros.kernel import Kernel, KernelConfig, containment

from .conftest import make_frames

SECRET = "class-secret-" + uuid.uuid4().hex

pytestmark = pytest.mark.skipif(
    containment.probe().missing != [], reason="containment layers missing here"
)


@pytest.fixture(scope="module", params=[True, False], ids=["python-layer-on", "python-layer-off"])
def kernel(request):
    with Kernel(
        make_frames(1), python_layer=request.param, config=KernelConfig(cell_timeout_s=20)
    ) as k:
        k.run("kept = 41")
        yield k


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("host") / "secret.txt"
    path.write_text(SECRET)
    path.chmod(0o644)
    return path


@pytest.fixture
def canary(tmp_path):
    tmp_path.chmod(0o777)
    return tmp_path / "canary"


def python_layer(kernel) -> bool:
    return kernel.worker.spec.python_layer


def check(kernel, result, canary=None) -> None:
    """Refused by the Python layer with a clear sandbox error when it is on; in every case no
    trace on the host, and the kernel keeps its state."""
    text = result.feedback
    assert SECRET not in text
    if python_layer(kernel):
        assert result.status == "error" and result.error_kind == "sandbox", text
        assert "blocked by the sandbox" in result.error
    if canary is not None:
        assert not canary.exists()
    assert kernel.run("print(kept)").stdout == "41\n"


def test_builtins_reached_through_a_module_attribute(kernel, secret_file):
    result = kernel.run(f"import enum\nb = enum.bltns\nprint(b.open({str(secret_file)!r}).read())")
    check(kernel, result)
    if not python_layer(kernel):
        assert "FileNotFoundError" in result.error  # the file is not in the worker's view


def test_globals_of_the_entry_points(kernel, canary):
    result = kernel.run(
        f"g = ReturnAnswer.__func__.__globals__\ng['os'].system('touch {canary}')\n"
        "print(g['os'].getuid())"
    )
    check(kernel, result, canary)
    if not python_layer(kernel):
        assert result.stdout.strip() == "65534"


def test_code_generators_fed_with_cell_data(kernel, canary):
    field = f"a=__import__('os').system('touch {canary}')"
    result = kernel.run(
        f"import dataclasses\nC = type('C', (), {{'__annotations__': {{{field!r}: "
        f"int}}}})\ndataclasses.dataclass(C)"
    )
    check(kernel, result, canary)


def test_native_modules_doing_io(kernel, canary):
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    code = (
        "import cv2\n"
        f"ok = cv2.imwrite('{canary}.png', np.zeros((4, 4, 3), np.uint8))\n"
        f"cap = cv2.VideoCapture('http://127.0.0.1:{port}/x.mjpg')\n"
        "print(ok, cap.isOpened())\n"
    )
    result = kernel.run(code)
    if python_layer(kernel):  # the facade has no file or camera functions
        assert result.status == "error" and "imwrite" in result.error
    else:
        assert result.stdout.strip() == "False False", result.feedback
    with pytest.raises((socket.timeout, TimeoutError)):
        listener.accept()
    listener.close()
    assert not os.path.exists(f"{canary}.png")
    fork_exec = kernel.run(
        f"import _posixsubprocess\n_posixsubprocess.fork_exec(['/bin/sh', '-c', 'touch {canary}'])"
    )
    assert fork_exec.status == "error"
    check(kernel, fork_exec, canary)


def test_pillow_screen_grab_opens_no_connection(kernel):
    listener, display = None, None
    for display in range(50, 100):  # an X display number whose TCP port (6000 + n) is free here
        try:
            listener = socket.create_server(("127.0.0.1", 6000 + display))
            break
        except OSError:
            continue
    assert listener is not None
    listener.settimeout(0.5)
    result = kernel.run(
        f"from PIL import ImageGrab\nImageGrab.grab(xdisplay='127.0.0.1:{display}')"
    )
    assert result.status == "error"
    with pytest.raises((socket.timeout, TimeoutError)):
        listener.accept()
    listener.close()
    check(kernel, result)


def test_stride_tricks_cannot_harm_the_host(kernel):
    # a computed stride walks far outside the array: in the worker only, which dies and is replaced
    result = kernel.run(
        "a = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), shape=(1 << 20,), "
        "strides=(1 << 16,))\na[:] = 7"
    )
    assert result.status == "error"
    check(kernel, result)
    if not python_layer(kernel):
        assert result.restarted and result.error_kind == "memory"


def test_stack_walks(kernel):
    result = kernel.run(
        "import traceback\n"
        "selves = [f.f_locals.get('self') for f, _ in traceback.walk_stack(None)]\n"
        "worker = [s for s in selves if type(s).__name__ == 'Worker'][0]\n"
        "worker.namespace['kept'] = 0\n"
        "print(worker.identity['uid'])"
    )
    check(kernel, result) if python_layer(kernel) else None
    if not python_layer(kernel):
        # reaching the worker's own objects gives nothing beyond the worker: still uid 65534
        assert result.stdout.strip() == "65534"
        kernel.run("kept = 41")


def test_threads_cannot_outlive_their_cell(kernel):
    result = kernel.run(
        "import threading, time\n"
        "def later():\n    time.sleep(0.5)\n    globals()['kept'] = 0\n"
        "threading.Thread(target=later).start()"
    )
    assert result.status == "error"
    check(kernel, result)
    if not python_layer(kernel):
        assert "can't start new thread" in result.error
    assert kernel.run("import time\ntime.sleep(0.7)\nprint(kept)").stdout == "41\n"
