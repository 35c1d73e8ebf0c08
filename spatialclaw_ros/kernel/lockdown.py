"""The worker's own share of its containment: resource limits and the seccomp filter, applied
after its imports and before it accepts any agent code (the namespaces and the identity drop
happen earlier, see `kernel/containment.py`)."""

from __future__ import annotations

import errno
import os
import resource
import signal

# System calls no cell has a reason to make. Denied with EPERM (a clear OSError in the cell)
# rather than a kill, so the worker can report what happened.
DENIED_SYSCALLS = (
    # new programs and processes; also threads: a thread started by one cell could run on
    # into the next, so none may exist at all
    "execve", "execveat", "fork", "vfork", "clone",
    # networking: the inherited socket pair stays usable, no new socket can be made
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    # other processes, the kernel and the machine
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_open", "pidfd_getfd",
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsmount",
    "fsconfig", "fspick",
    "unshare", "setns", "bpf", "keyctl", "add_key", "request_key", "perf_event_open",
    "userfaultfd",
    # io_uring runs system calls seccomp never sees
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "syslog", "iopl", "ioperm", "acct", "quotactl", "lookup_dcookie",
    "uselib", "vhangup",
    "open_by_handle_at", "name_to_handle_at", "mknod", "mknodat", "personality",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid",
    "setfsgid", "capset",
)  # fmt: skip  # a table, kept in rows


def set_limits(memory_mb: int, cpu_s: int, file_mb: int) -> None:
    """Address space, CPU time over the worker's life, largest file it may write (scratch),
    no core dumps, no new processes (binds for the unprivileged uid)."""
    memory = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_mb * 2**20, file_mb * 2**20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    # a write past the limit fails instead of killing us
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def install_seccomp() -> None:
    """Load the filter; it lasts for the life of the process and cannot be removed."""
    import pyseccomp

    denied = pyseccomp.ERRNO(errno.EPERM)
    syscall_filter = pyseccomp.SyscallFilter(defaction=pyseccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            syscall_filter.add_rule(denied, name)
        except (ValueError, RuntimeError, OSError):
            pass  # a call this architecture does not have
    # glibc starts threads with clone3 and falls back to clone when clone3 is "not implemented".
    syscall_filter.add_rule(pyseccomp.ERRNO(errno.ENOSYS), "clone3")
    syscall_filter.load()


def identity() -> dict[str, int]:
    """The worker's ids and capabilities, as the kernel reports them (/proc/self/status)."""
    caps = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("CapEff", "CapPrm", "NoNewPrivs", "Seccomp"):
                caps[key] = int(value.strip(), 16) if key.startswith("Cap") else int(value.strip())
    return {
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "gid": os.getgid(),
        "groups": len(os.getgroups()),
        **caps,
    }
