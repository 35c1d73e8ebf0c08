"""Operating-system containment of the kernel worker (host side).

The worker runs code that a model wrote. Python-level checks give clear messages, but the
guarantee comes from the operating system, in four layers that are probed once per process:

- identity: started as root, the worker drops to an unprivileged uid/gid with no supplementary
  groups and no capabilities; started as a normal user, it runs in a user namespace. Either
  way `PR_SET_NO_NEW_PRIVS` is set (bubblewrap sets it).
- network: a new, empty network namespace (only its own loopback). The inherited socket pair
  to the host is the one channel.
- filesystem: a mount namespace holding, read-only, just the interpreter, its packages and this
  package's source, plus a private tmpfs scratch directory; a private /proc that shows only the
  worker's own processes, a minimal /dev.
- system calls: a seccomp filter (libseccomp) denying exec, fork and threads, new sockets,
  ptrace, mount, bpf, keyctl, perf and the like; installed by the worker itself after start-up
  (`kernel/lockdown.py`), so the probe here only checks that it can be had.

Namespaces and mounts are made by bubblewrap (Debian's `bubblewrap`, Flatpak's sandbox tool).
Where a layer cannot be had, `require()` raises `SandboxUnavailable` naming it, unless the
configuration explicitly allows a weaker sandbox.
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

LAYERS = ("identity", "network", "filesystem", "seccomp")

# Where the worker finds things inside its filesystem view.
SCRATCH = "/tmp"
MATPLOTLIB_DIR = "/tmp/.matplotlib"


class SandboxUnavailable(RuntimeError):
    """A containment layer the configuration requires cannot be had on this machine."""


@dataclass(frozen=True)
class LayerReport:
    """Which layers this machine can provide, and why a missing one is missing."""

    available: dict[str, bool]
    reasons: dict[str, str] = field(default_factory=dict)
    bwrap: str | None = None

    @property
    def missing(self) -> list[str]:
        return [name for name in LAYERS if not self.available.get(name)]

    def describe(self) -> str:
        parts = []
        for name in LAYERS:
            if self.available.get(name):
                parts.append(f"{name}: on")
            else:
                parts.append(f"{name}: OFF ({self.reasons.get(name, 'unavailable')})")
        return "; ".join(parts)


def _run_quiet(argv: list[str], **kwargs) -> subprocess.CompletedProcess | None:
    try:
        return subprocess.run(argv, capture_output=True, timeout=20, check=False, **kwargs)
    except (OSError, subprocess.TimeoutExpired):
        return None


@functools.lru_cache(maxsize=1)
def probe() -> LayerReport:
    """Probe this machine once: bubblewrap with the namespaces we use, and libseccomp."""
    available = dict.fromkeys(LAYERS, False)
    reasons: dict[str, str] = {}
    if not sys.platform.startswith("linux"):
        reason = f"{sys.platform} is not Linux"
        return LayerReport(available, dict.fromkeys(LAYERS, reason))
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        reason = "bubblewrap (`bwrap`) is not installed: apt install bubblewrap"
        reasons.update(identity=reason, network=reason, filesystem=reason)
    else:
        argv = [
            bwrap,
            *_namespace_flags(os.geteuid() == 0),
            "--ro-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "--",
            "/bin/true",
        ]
        done = _run_quiet(argv)
        if done is not None and done.returncode == 0:
            available.update(identity=True, network=True, filesystem=True)
        else:
            detail = (
                done.stderr.decode(errors="replace").strip()[-300:]
                if done is not None
                else "did not run"
            )
            reason = f"bubblewrap could not create the namespaces: {detail}"
            reasons.update(identity=reason, network=reason, filesystem=reason)
    seccomp = _run_quiet(
        [sys.executable, "-I", "-c", "import pyseccomp; pyseccomp.SyscallFilter(pyseccomp.ALLOW)"]
    )
    if seccomp is not None and seccomp.returncode == 0:
        available["seccomp"] = True
    else:
        detail = (
            seccomp.stderr.decode(errors="replace").strip().splitlines()[-1:]
            if seccomp is not None
            else ["did not run"]
        )
        reasons["seccomp"] = (
            f"libseccomp or its binding (pyseccomp) is missing: {' '.join(detail)}"
        )
    report = LayerReport(available, reasons, bwrap if available["filesystem"] else None)
    log.info("kernel containment on this machine: %s", report.describe())
    return report


def require(allow_weaker: bool) -> LayerReport:
    """The layers in force; raises when one is missing and a weaker sandbox is not allowed."""
    report = probe()
    if report.missing:
        message = (
            f"the kernel sandbox is missing {', '.join(report.missing)} ({report.describe()}); "
            "install what is missing, or set allow_weaker_sandbox to run without it"
        )
        if not allow_weaker:
            raise SandboxUnavailable(message)
        log.warning(
            "%s: running with a weaker sandbox because allow_weaker_sandbox is set", message
        )
    return report


def _namespace_flags(as_root: bool) -> list[str]:
    flags = [
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
    ]
    flags += ["--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if as_root:
        # Root makes the namespaces itself, then the worker's first statement drops to the
        # unprivileged uid/gid (which clears every capability); only that step needs these two.
        flags += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        # a normal user gets its namespaces through a user namespace
        flags.append("--unshare-user")
    return flags


def base_interpreter() -> str:
    """The interpreter the venv was made from (the worker runs it directly, see process.py)."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def package_directories() -> list[str]:
    """The host's package directories: site-packages, and what its .pth files add inside the venv
    (the generated ROS interfaces), but no source checkout."""
    paths = sysconfig.get_paths()
    found = [paths["purelib"], paths["platlib"]]
    prefix = os.path.join(os.path.realpath(sys.prefix), "")
    found += [
        p for p in sys.path if p and os.path.isdir(p) and os.path.realpath(p).startswith(prefix)
    ]
    return list(dict.fromkeys(os.path.realpath(p) for p in found))


def _read_only_paths(package_root: str) -> list[str]:
    """What the worker may read: the interpreter and its standard library, the packages it
    imports and this package's source; not the venv's own files or the repository."""
    wanted = {
        sys.base_prefix,
        base_interpreter(),
        *package_directories(),
        os.path.join(package_root, "spatialclaw_ros"),
        "/usr",
        "/etc/ld.so.cache",
        "/etc/localtime",
    }
    existing = sorted(os.path.realpath(p) for p in wanted if os.path.exists(p))
    # Keep only the outermost of nested paths (a venv's site-packages lies inside the venv).
    kept: list[str] = []
    for path in existing:
        if not any(path == k or path.startswith(os.path.join(k, "")) for k in kept):
            kept.append(path)
    return kept


def _parents_and_binds(paths: list[str]) -> list[str]:
    """Bubblewrap arguments that bind `paths` read-only at the same place. Directories bubblewrap
    creates on the way would be mode 0700, which the unprivileged uid could not traverse."""
    args: list[str] = []
    made: set[str] = {"/", SCRATCH}  # the scratch tmpfs is mounted before the binds
    for path in paths:
        parent = os.path.dirname(path)
        chain = []
        while parent not in made:
            chain.append(parent)
            parent = os.path.dirname(parent)
        for directory in reversed(chain):
            args += ["--perms", "0755", "--dir", directory]
            made.add(directory)
        args += ["--ro-bind", path, path]
        made.add(path)
    return args


def _root_links() -> list[str]:
    """/bin, /lib, ... as the host has them: symbolic links into /usr on merged-/usr systems."""
    args: list[str] = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = f"/{name}"
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def matplotlib_cache() -> str:
    """A host-side matplotlib cache (the font list), built once, that workers get a copy of:
    without it every worker start would rebuild the font list (about a second)."""
    path = os.path.join(tempfile.gettempdir(), f"spatialclaw-matplotlib-{os.getuid()}")
    os.makedirs(path, mode=0o700, exist_ok=True)
    if not glob.glob(os.path.join(path, "fontlist-*.json")):
        env = {"MPLCONFIGDIR": path, "MPLBACKEND": "Agg", "PATH": os.environ.get("PATH", "")}
        _run_quiet([sys.executable, "-I", "-c", "import matplotlib.font_manager"], env=env)
    return path


@dataclass(frozen=True)
class WorkerCommand:
    """How to start one worker: argv, the files whose descriptors it needs, and the user to run
    as."""

    argv: list[str]
    pass_fds: list[int]
    env: dict[str, str]
    cwd: str
    scratch: str | None = None  # a host directory to delete afterwards (no mount namespace)


def worker_command(
    report: LayerReport,
    bootstrap: list[str],
    channel_fd: int,
    package_root: str,
    uid: int,
    gid: int,
    data_fds: list[tuple[int, str]],
) -> WorkerCommand:
    """The command line for a worker under the layers in `report`. `bootstrap` is the Python
    command line of the worker; `data_fds` are (descriptor, path) pairs copied into its scratch."""
    env = {
        # the venv's ROS bootstrapper must not re-exec the worker
        "_ROS_WHEELS_BOOTSTRAP_COMPLETE": "1",
        "LANG": "C.UTF-8",
    }
    if report.bwrap is None:
        # No namespaces (a weaker sandbox the configuration allowed): the worker keeps the
        # host's identity, since outside a mount namespace an unprivileged uid may not be able
        # to read the interpreter (/root is private); it runs in its own scratch directory.
        scratch = tempfile.mkdtemp(prefix="spatialclaw-kernel-")
        os.chmod(scratch, 0o1777)
        env.update(
            HOME=scratch, MPLCONFIGDIR=matplotlib_cache(), SPATIALCLAW_WORKER_SCRATCH=scratch
        )
        return WorkerCommand(bootstrap + [str(channel_fd)], [channel_fd], env, scratch, scratch)
    argv = [report.bwrap, *_namespace_flags(os.geteuid() == 0)]
    # bubblewrap's root is an empty tmpfs: only what is bound below exists. The scratch tmpfs
    # comes first: an interpreter or checkout under /tmp is then bound on top of it, not hidden.
    argv += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", SCRATCH]
    argv += _root_links()
    argv += _parents_and_binds(_read_only_paths(package_root))
    argv += ["--perms", "1777", "--dir", MATPLOTLIB_DIR]
    for fd, path in data_fds:
        argv += ["--perms", "0444", "--file", str(fd), path]
    argv += ["--chdir", SCRATCH, "--clearenv"]
    env.update(HOME=SCRATCH, MPLCONFIGDIR=MATPLOTLIB_DIR)
    if os.geteuid() == 0:  # the worker's first statement drops to these
        env.update(SPATIALCLAW_WORKER_UID=str(uid), SPATIALCLAW_WORKER_GID=str(gid))
    for key, value in env.items():
        argv += ["--setenv", key, value]
    argv += ["--", *bootstrap, str(channel_fd)]
    return WorkerCommand(argv, [channel_fd] + [fd for fd, _ in data_fds], env, "/")


def matplotlib_files() -> list[str]:
    """The cached files a worker's matplotlib reads at start-up."""
    return sorted(glob.glob(os.path.join(matplotlib_cache(), "fontlist-*.json")))
