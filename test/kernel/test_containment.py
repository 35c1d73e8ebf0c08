"""The operating-system layers of the kernel sandbox, each shown on its own: the Python layer
(static check, guarded builtins, attribute guard, audit hook) is switched off, so cells run as
plain Python, and every test checks the side effect on the host (a canary file, a listener, a
secret value), not only an error message."""

from __future__ import annotations

import os
import socket
import stat
import sys
import uuid
from pathlib import Path

import pytest

from spatialclaw_ros.kernel import Kernel, KernelConfig, containment

from .conftest import make_frames

SECRET = "os-layer-secret-" + uuid.uuid4().hex
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(
    containment.probe().missing != [],
    reason=f"containment layers missing here: {containment.probe().describe()}",
)


@pytest.fixture(scope="module")
def bare():
    """A kernel whose cells run without any Python-level check."""
    os.environ["SPATIALCLAW_TEST_SECRET"] = SECRET
    try:
        with Kernel(
            make_frames(1), python_layer=False, config=KernelConfig(cell_timeout_s=20)
        ) as k:
            yield k
    finally:
        del os.environ["SPATIALCLAW_TEST_SECRET"]


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("host") / "secret.txt"
    path.write_text(SECRET)
    path.chmod(0o644)  # world-readable on the host: only the filesystem view can hide it
    return path


def run(kernel, code: str) -> str:
    result = kernel.run(code)
    assert result.status == "success", result.feedback
    return result.stdout


def attempt(expression: str) -> str:
    """A cell that tries `expression` and prints what happened."""
    return (
        f"try:\n    r = {expression}\n    print('DONE', r)\nexcept BaseException as e:\n"
        "    print('REFUSED', type(e).__name__, e)\n"
    )


def test_the_python_layer_is_really_off(bare):
    assert "posix" in run(bare, "import os\nprint(os.name, os.__name__)")
    assert bare.worker.layers.missing == []


# ---- identity ------------------------------------------------------------------------------
def test_worker_is_not_root_has_no_groups_and_no_capabilities(bare):
    out = run(
        bare,
        "import os\nprint(os.getuid(), os.geteuid(), os.getgid(), os.getgroups())\n"
        "print(open('/proc/self/status').read())",
    )
    assert out.splitlines()[0] == "65534 65534 65534 []"
    status = dict(line.split(":\t", 1) for line in out.splitlines()[1:] if ":\t" in line)
    assert (
        int(status["CapEff"], 16) == 0
        and int(status["CapPrm"], 16) == 0
        and int(status["CapAmb"], 16) == 0
    )
    assert status["NoNewPrivs"].strip() == "1"
    assert status["Seccomp"].strip() == "2"  # a filter is loaded
    identity = bare.worker.identity
    assert (identity.uid, identity.gid, identity.capabilities, identity.no_new_privs) == (
        65534,
        65534,
        0,
        True,
    )


# ---- filesystem ----------------------------------------------------------------------------
def test_writing_outside_scratch_leaves_no_file(bare, tmp_path):
    # even a directory the worker's uid could write on the host is out of view
    tmp_path.chmod(0o777)
    canary = tmp_path / "canary"
    out = run(
        bare,
        attempt(f"open({str(canary)!r}, 'w').write('x')")
        + attempt(f"open({REPO + '/canary'!r}, 'w').write('x')"),
    )
    assert out.count("REFUSED") == 2
    assert not canary.exists() and not os.path.exists(os.path.join(REPO, "canary"))


def test_scratch_is_private_writable_and_size_limited(bare, tmp_path):
    out = run(
        bare,
        attempt("open('/tmp/note', 'w').write('hello')")
        + attempt("open('/tmp/big', 'wb').write(b'0' * (65 << 20))"),
    )
    assert "DONE 5" in out
    assert "REFUSED OSError" in out and "File too large" in out
    assert not os.path.exists("/tmp/note")  # the host's /tmp is another directory


@pytest.mark.parametrize(
    "path_kind",
    ["repository", "git-config", "tests", "venv-config", "home", "shadow", "host-secret"],
)
def test_reading_host_files_is_impossible(bare, secret_file, path_kind):
    path = {
        "repository": os.path.join(REPO, "README.md"),
        "git-config": os.path.join(REPO, ".git", "config"),
        "tests": os.path.join(REPO, "test", "conftest.py"),
        "venv-config": os.path.join(sys.prefix, "pyvenv.cfg"),
        "home": os.path.expanduser("~/.bashrc"),
        "shadow": "/etc/shadow",
        "host-secret": str(secret_file),
    }[path_kind]
    out = run(
        bare, attempt(f"open({path!r}).read()") + attempt(f"__import__('os').stat({path!r})")
    )
    assert out.count("REFUSED") == 2, out
    assert SECRET not in out and "root:" not in out


def test_stat_is_no_oracle_for_private_host_paths(bare):
    out = run(
        bare,
        "import os\nprint([os.path.exists(p) for p in ('/etc/shadow', '/root/.ssh', "
        "'/etc/passwd', '/work')])",
    )
    # /work is visible in the worker only as the parent of a bound checkout (CI clones elsewhere)
    work_visible = os.path.isdir("/work") and Path(REPO).is_relative_to("/work")
    assert out.strip() == f"[False, False, False, {work_visible}]"


def test_proc_shows_no_host_process_and_no_host_environment(bare):
    out = run(
        bare,
        "import os\nprint(sorted(p for p in os.listdir('/proc') if p.isdigit()))\n"
        + attempt(f"open('/proc/{os.getpid()}/environ').read()")
        + attempt("open('/proc/1/environ', 'rb').read()"),
    )
    pids = eval(out.splitlines()[0])
    assert len(pids) <= 3  # bubblewrap's init, the worker (and at most a short-lived helper)
    assert SECRET not in out
    assert f"/proc/{os.getpid()}/environ" not in out or "REFUSED" in out.splitlines()[1]


# ---- network -------------------------------------------------------------------------------
@pytest.fixture
def tcp_listener():
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    yield server
    server.close()


def _no_connection(server: socket.socket) -> bool:
    try:
        server.accept()
    except TimeoutError:
        return True
    return False


def test_no_tcp_connection_reaches_the_host(bare, tcp_listener):
    port = tcp_listener.getsockname()[1]
    out = run(
        bare,
        "import socket\n" + attempt(f"socket.create_connection(('127.0.0.1', {port}), timeout=1)"),
    )
    assert "REFUSED" in out and _no_connection(tcp_listener)


def test_no_udp_datagram_reaches_the_host():
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(0.5)
    port = receiver.getsockname()[1]
    with Kernel(make_frames(1), python_layer=False) as k:
        out = run(
            k,
            "import socket\n"
            + attempt(
                f"socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'{SECRET}', "
                f"('127.0.0.1', {port}))"
            ),
        )
    with pytest.raises((socket.timeout, TimeoutError)):
        receiver.recv(100)
    receiver.close()
    assert "REFUSED" in out


def test_no_unix_socket_connection(bare, tmp_path):
    path = str(tmp_path / "host.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o777)
    server.listen(1)
    server.settimeout(0.5)
    out = run(
        bare, "import socket\n" + attempt(f"socket.socket(socket.AF_UNIX).connect({path!r})")
    )
    assert "REFUSED" in out and _no_connection(server)
    server.close()


def test_the_network_namespace_is_empty(bare):
    out = run(bare, "print(open('/proc/net/dev').read())")
    interfaces = [line.split(":")[0].strip() for line in out.splitlines()[2:] if ":" in line]
    assert interfaces == ["lo"]


# ---- system calls --------------------------------------------------------------------------
def test_exec_of_a_shell_is_denied(bare, tmp_path):
    tmp_path.chmod(0o777)
    canary = tmp_path / "exec-canary"
    out = run(
        bare,
        "import os, subprocess\n"
        + attempt(f"subprocess.run(['/bin/sh', '-c', 'touch {canary}'])")
        + attempt(f"os.system('touch {canary}')")
        + attempt(f"os.execv('/bin/sh', ['sh', '-c', 'touch {canary}'])"),
    )
    lines = out.splitlines()
    assert lines[0].startswith("REFUSED PermissionError") and lines[2].startswith(
        "REFUSED PermissionError"
    ), out
    assert lines[1] == "DONE 32512", out  # system(): the shell could not be started (status 127)
    assert not canary.exists()


def test_fork_and_threads_are_denied(bare):
    out = run(
        bare,
        "import os, threading\n"
        + attempt("os.fork()")
        + attempt("threading.Thread(target=print).start()"),
    )
    assert (
        "REFUSED PermissionError" in out and "REFUSED RuntimeError can't start new thread" in out
    )


def test_ptrace_is_denied(bare):
    out = run(
        bare,
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        # PTRACE_ATTACH to the sandbox's init
        "print(libc.ptrace(16, 1, 0, 0), ctypes.get_errno())",
    )
    assert out.split() == ["-1", "1"]  # EPERM


def test_no_new_namespaces_or_mounts(bare):
    out = run(
        bare,
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.unshare(0x40000000), ctypes.get_errno(), libc.mount(b'none', "
        "b'/tmp', b'tmpfs', 0, None), ctypes.get_errno())",
    )
    assert out.split() == ["-1", "1", "-1", "1"]


def test_missing_layers_refuse_to_start_unless_allowed(monkeypatch):
    weak = containment.LayerReport(
        {"identity": True, "network": True, "filesystem": True, "seccomp": False},
        {"seccomp": "not here"},
    )
    monkeypatch.setattr(containment, "probe", lambda: weak)
    with pytest.raises(
        containment.SandboxUnavailable, match="missing seccomp.*not here.*allow_weaker_sandbox"
    ):
        containment.require(allow_weaker=False)
    assert containment.require(allow_weaker=True) is weak


def test_scratch_directory_of_a_weaker_sandbox_is_removed():
    report = containment.LayerReport(dict.fromkeys(containment.LAYERS, False))
    command = containment.worker_command(report, ["python"], 3, REPO, 65534, 65534, [])
    assert command.scratch and os.path.isdir(command.scratch)
    assert stat.S_IMODE(os.stat(command.scratch).st_mode) == 0o1777
    os.rmdir(command.scratch)
