"""Attempts to break out of the kernel. Each must fail with a clear error AND leave no trace:
no file written, no secret read, no connection made, no process started."""

from __future__ import annotations

import os
import socket
import uuid

import numpy as np
import pytest

from spatialclaw_ros.kernel import Kernel

from .conftest import make_frames

SECRET = "s3cr3t-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("host") / "secret.txt"
    path.write_text(SECRET)
    np.save(path.with_suffix(".npy"), np.frombuffer(SECRET.encode(), np.uint8))
    return path


@pytest.fixture(scope="module")
def kernel():
    os.environ["SPATIALCLAW_TEST_SECRET"] = SECRET  # the host has a secret in its environment
    try:
        with Kernel(make_frames(1)) as k:
            yield k
    finally:
        del os.environ["SPATIALCLAW_TEST_SECRET"]


@pytest.fixture
def target(tmp_path):
    return tmp_path / "pwned"


@pytest.fixture
def listener():
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.3)
    yield server
    server.close()


def no_secret(result) -> bool:
    text = " ".join(
        [
            result.stdout,
            result.error or "",
            result.feedback,
            *result.variables.values(),
            *result.warnings,
        ]
    )
    return SECRET not in text and "s3cr3t" not in text


def assert_contained(result, kind: str = "sandbox") -> None:
    assert result.status == "error", result.feedback
    assert result.error_kind == kind, result.error
    assert result.error, "a contained attempt must say why"


# (id, code, expected error kind); {target} is a path that must not appear, {secret} a file that
# must not be read
WRITES = [
    ("os-system", "import os\nos.system('touch {target}')", "sandbox"),
    ("subprocess-run", "import subprocess\nsubprocess.run(['touch', '{target}'])", "sandbox"),
    ("dunder-import", "__import__('os').system('touch {target}')", "sandbox"),
    (
        "builtins-dict-import",
        "__builtins__['__imp' + 'ort__']('os').system('touch {target}')",
        "sandbox",
    ),
    (
        "getattr-builtins-eval",
        "getattr(__builtins__, 'ev' + 'al')(\"open('{target}', 'w')\")",
        "sandbox",
    ),
    (
        "getattr-print-self",
        "b = getattr(print, '__se' + 'lf__')\nb.open('{target}', 'w')",
        "sandbox",
    ),
    ("open-builtin", "open('{target}', 'w').write('x')", "sandbox"),
    (
        "subclasses-walk",
        "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == "
        "'Popen'][0](['touch', '{target}'])",
        "sandbox",
    ),
    (
        "globals-of-function",
        "g = tools.Draw.box.__globals__\ng['cv2'].imwrite('{target}', np.zeros((2, 2, 3)))",
        "sandbox",
    ),
    (
        "getattr-globals-string",
        "g = getattr(tools.Geometry.distance, '__glob' + 'als__')",
        "sandbox",
    ),
    (
        "traceback-frame",
        "try:\n    1 / 0\nexcept Exception as e:\n"
        "    f = e.__traceback__.tb_frame.f_back.f_globals",
        "sandbox",
    ),
    ("generator-frame", "gen = (i for i in [1])\nfr = gen.gi_frame.f_globals", "sandbox"),
    ("np-save", "np.save('{target}', np.zeros(3))", "sandbox"),
    ("np-tofile", "np.zeros(3).tofile('{target}')", "sandbox"),
    ("np-savetxt", "np.savetxt('{target}', np.zeros(3))", "sandbox"),
    ("np-savez", "np.savez('{target}', a=np.zeros(3))", "sandbox"),
    ("np-memmap", "m = np.memmap('{target}', dtype='uint8', mode='w+', shape=(3,))", "sandbox"),
    (
        "np-open-memmap-via-getattr",
        "getattr(np.lib, 'form' + 'at').open_memmap('{target}', mode='w+', shape=(3,))",
        "sandbox",
    ),
    ("plt-savefig", "plt.plot([1, 2])\nplt.savefig('{target}')", "sandbox"),
    ("plt-imsave", "plt.imsave('{target}', np.zeros((4, 4, 3)), format='png')", "sandbox"),
    ("scipy-io-import", "import scipy.io\nscipy.io.savemat('{target}', {{'a': 1}})", "sandbox"),
    ("scipy-io-getattr", "getattr(scipy, 'i' + 'o').savemat('{target}', {{'a': 1}})", "sandbox"),
    (
        "networkx-writer",
        "import networkx as nx\nnx.write_edgelist(nx.path_graph(3), '{target}')",
        "sandbox",
    ),
    ("cv2-imwrite", "import cv2\ncv2.imwrite('{target}', np.zeros((2, 2, 3), np.uint8))", "code"),
    (
        "cv2-submodule-import",
        "import cv2.dnn\ncv2.imwrite('{target}', np.zeros((2, 2, 3), np.uint8))",
        "sandbox",
    ),
    ("os-via-module-attribute", "matplotlib.cbook.os.system('touch {target}')", "sandbox"),
    (
        "os-via-getattr-string",
        "o = getattr(matplotlib.cbook, ''.join(['o', 's']))\no.system('touch {target}')",
        "sandbox",
    ),
    ("ctypes-import", "import ctypes\nctypes.CDLL(None).system(b'touch {target}')", "sandbox"),
    ("ctypes-via-array", "np.zeros(3).ctypes.data", "sandbox"),
    ("ctypeslib-getattr", "getattr(np, 'ctypes' + 'lib')", "sandbox"),
    (
        "typing-annotation-eval",
        "import typing\ndef f(x: \"__import__('os').system('touch {target}')\"): pass\n"
        "typing.get_type_hints(f)",
        "sandbox",
    ),
    ("format-string-dunder", "'{{0.__class__.__base__}}'.format(1)", "sandbox"),
    ("format-string-built", "t = '{{0._' + '_class__}}'\nt.format(1)", "sandbox"),
    ("fork-bomb", "import os\nwhile True:\n    os.fork()", "sandbox"),
    (
        "fork-via-getattr",
        "o = getattr(matplotlib.cbook, 'o' + 's')\nwhile True:\n    o.fork()",
        "sandbox",
    ),
    (
        "multiprocessing",
        "import multiprocessing\nmultiprocessing.Process(target=print).start()",
        "sandbox",
    ),
    (
        "tool-private-link",
        "tools.Reconstruct._link.call('reconstruct', video=0, frame_indices=[0])",
        "sandbox",
    ),
    ("loader-name", "__loader__.load_module('os')", "sandbox"),
    ("signal-host", "import signal\nsignal.pthread_kill(1, 9)", "sandbox"),
    ("importlib", "import importlib\nimportlib.import_module('os')", "sandbox"),
]

READS = [
    ("open-secret", "print(open('{secret}').read())", "sandbox"),
    ("np-fromfile", "print(np.fromfile('{secret}', dtype=np.uint8).tobytes())", "sandbox"),
    ("np-loadtxt", "print(np.loadtxt('{secret}', dtype=str))", "sandbox"),
    ("np-load", "print(np.load('{secret_npy}').tobytes())", "sandbox"),
    ("plt-imread", "print(plt.imread('{secret}'))", "sandbox"),
    (
        "networkx-reader",
        "import networkx as nx\nprint(list(nx.read_edgelist('{secret}').nodes))",
        "sandbox",
    ),
    (
        "proc-environ",
        "print(np.fromfile('/proc/self/environ', dtype=np.uint8).tobytes())",
        "sandbox",
    ),
    (
        "host-proc-environ",
        "print(np.fromfile('/proc/{host_pid}/environ', dtype=np.uint8).tobytes())",
        "sandbox",
    ),
    ("environ-via-module", "print(matplotlib.cbook.os.environ)", "sandbox"),
    (
        "environ-via-getattr",
        "o = getattr(matplotlib.cbook, 'o' + 's')\nprint(getattr(o, 'env' + 'iron'))",
        "sandbox",
    ),
    (
        "getenv-via-getattr",
        "o = getattr(matplotlib.cbook, 'o' + 's')\n"
        "print(getattr(o, 'get' + 'env')('SPATIALCLAW_TEST_SECRET'))",
        "sandbox",
    ),
    (
        "list-directory",
        "print(getattr(matplotlib.cbook, 'o' + 's').listdir('{secret_dir}'))",
        "sandbox",
    ),
]


def _fill(code: str, target, secret_file) -> str:
    return code.format(
        target=target,
        secret=secret_file,
        secret_npy=secret_file.with_suffix(".npy"),
        secret_dir=secret_file.parent,
        host_pid=os.getpid(),
    )


@pytest.mark.parametrize(("code", "kind"), [pytest.param(c, k, id=i) for i, c, k in WRITES])
def test_writes_and_escapes_leave_no_file(kernel, target, secret_file, code, kind):
    result = kernel.run(_fill(code, target, secret_file))
    assert_contained(result, kind)
    assert not target.exists()
    assert (
        not (target.parent / "pwned.npy").exists() and not (target.parent / "pwned.npz").exists()
    )


@pytest.mark.parametrize(("code", "kind"), [pytest.param(c, k, id=i) for i, c, k in READS])
def test_reads_leak_no_secret(kernel, target, secret_file, code, kind):
    result = kernel.run(_fill(code, target, secret_file))
    assert_contained(result, kind)
    assert no_secret(result)


@pytest.mark.parametrize(
    "code",
    [
        "import socket\nsocket.create_connection(('127.0.0.1', {port}))",
        "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:{port}/')",
        "import http.client\nhttp.client.HTTPConnection('127.0.0.1', {port}).request('GET', '/')",
    ],
    ids=["socket", "urllib", "http-client"],
)
def test_no_connection_is_ever_made(kernel, listener, code):
    result = kernel.run(code.format(port=listener.getsockname()[1]))
    assert_contained(result)
    with pytest.raises(socket.timeout):
        listener.accept()


def test_caught_violation_still_fails_the_cell(kernel, target):
    result = kernel.run(
        f"try:\n    np.save('{target}', np.zeros(3))\nexcept BaseException:\n    pass\nleak = 1"
    )
    assert_contained(result)
    assert not target.exists()
    assert kernel.run("'leak' in dir()").stdout == "False\n"


def test_worker_environment_is_empty(kernel):
    result = kernel.run("print(len(InputImages))")
    assert result.stdout == "1\n"
    assert SECRET not in result.feedback
    # what the worker process was started with, read from the host side
    with open(f"/proc/{kernel._worker.process.pid}/environ", "rb") as f:
        environ = f.read()
    assert SECRET.encode() not in environ
    names = {entry.split(b"=", 1)[0].decode() for entry in environ.split(b"\0") if entry}
    assert names <= {
        "_ROS_WHEELS_BOOTSTRAP_COMPLETE",
        "MPLCONFIGDIR",
        "HOME",
        "LANG",
        "SPATIALCLAW_WORKER_UID",
        "SPATIALCLAW_WORKER_GID",
    }, names


def test_output_flood_is_capped_and_host_is_fine(kernel):
    result = kernel.run("print('x' * 10**7)")
    assert result.status == "success"
    assert len(result.stdout) < 4200 and "characters cut" in result.stdout


def test_system_exit_does_not_end_the_kernel(kernel):
    result = kernel.run("raise SystemExit(0)")
    assert result.status == "error" and result.error_kind == "code"
    assert kernel.run("print('alive')").stdout == "alive\n"


def test_recursion_bomb_is_contained(kernel):
    result = kernel.run("def f():\n    return f()\nf()")
    assert result.error_kind == "code" and "RecursionError" in result.error
    assert kernel.run("print('alive')").stdout == "alive\n"
