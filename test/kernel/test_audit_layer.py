"""The audit hook on its own, with no static check in front: it must stop what agent code
could do if it ever reached the os, socket or ctypes modules."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import pytest

PRELUDE = """
import ctypes, os, socket, subprocess, sys
from spatialclaw_ros.kernel.audit import AuditPolicy, SandboxViolation
policy = AuditPolicy([], [])
policy.install()
policy.arm()
try:
{attempt}
    print("NOT BLOCKED")
except SandboxViolation as exc:
    print("BLOCKED", exc)
"""

ATTEMPTS = {
    "os-system": "os.system('touch {target}')",
    "os-fork": "pid = os.fork()\nif pid == 0: open('{target}', 'w'); os._exit(0)",
    "os-posix-spawn": "os.posix_spawn('/usr/bin/touch', ['touch', '{target}'], {{}})",
    "os-exec": "os.execv('/usr/bin/touch', ['touch', '{target}'])",
    "subprocess": "subprocess.run(['touch', '{target}'])",
    "ctypes-libc": "ctypes.CDLL(None).system(b'touch {target}')",
    "open-write": "open('{target}', 'w').write('x')",
    "os-open-write": "os.open('{target}', os.O_WRONLY | os.O_CREAT)",
    "os-remove": "os.remove('{victim}')",
    "socket-connect": "socket.create_connection(('127.0.0.1', {port}))",
}


@pytest.mark.parametrize("name", sorted(ATTEMPTS))
def test_audit_hook_blocks(tmp_path, name):
    target, victim = tmp_path / "pwned", tmp_path / "victim"
    victim.write_text("keep me")
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    attempt = ATTEMPTS[name].format(target=target, victim=victim, port=server.getsockname()[1])
    script = PRELUDE.format(attempt=textwrap.indent(attempt, "    "))
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert run.stdout.startswith("BLOCKED blocked by the sandbox:"), run.stdout + run.stderr
    assert not target.exists() and victim.read_text() == "keep me"
    with pytest.raises(socket.timeout):
        server.accept()
    server.close()
