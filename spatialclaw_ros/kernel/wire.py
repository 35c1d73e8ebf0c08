"""The channel between the host and the worker: the wire codec of `spatialclaw_ros.wire`
(msgpack with numpy arrays as raw buffers beside the body, no pickle) over a stream socket, with
deadlines and shared memory.

Large arrays from the host go through shared memory: each is copied once into a memfd prepared
ahead of time (kernel/shared_memory.py) whose descriptor travels with the header (SCM_RIGHTS);
the worker maps it copy-on-write, so nothing is copied through the socket. The other direction
never accepts descriptors.

Every receiver decodes under `WireLimits`: the host, which trusts nothing from the worker,
bounds the body, the number of buffers, containers and nesting, and the total size before it
allocates anything; numeric dtypes only, sizes that add up, known dataclass names only.
"""

from __future__ import annotations

import array
import mmap
import os
import socket
import time
from typing import Any

import numpy as np

from spatialclaw_ros.kernel.shared_memory import PREPARED
from spatialclaw_ros.wire import (
    HEADER,
    LENGTH,
    LimitExceeded,
    WireError,
    WireLimits,
    decode,
    encode,
    header,
    padding,
    read_header,
    read_table,
)

__all__ = [
    "HOST_TO_WORKER",
    "WORKER_TO_HOST",
    "Channel",
    "ChannelClosed",
    "ChannelTimeout",
    "LimitExceeded",
    "WireError",
    "WireLimits",
]

_MAX_FDS = 64  # shared-memory files in one message
_SHARE_MIN_BYTES = 1 << 20  # smaller arrays are cheaper to copy through the socket

# What the host accepts from the worker: a step's report holds a few kilobytes of text plus
# images; these bounds keep a hostile worker from costing the host more than a bounded amount.
WORKER_TO_HOST = WireLimits(
    max_body_bytes=4 << 20,
    max_buffers=1024,
    max_total_bytes=512 << 20,
    max_containers=100_000,
    max_depth=16,
)
_DEFAULT_LIMITS = WireLimits()
# What the worker accepts from the host (trusted: perception results and frames).
HOST_TO_WORKER = WireLimits(accept_shared_memory=True)


class ChannelClosed(ConnectionError):
    """The other side went away (the worker died or the host closed the channel)."""


class ChannelTimeout(TimeoutError):
    """No complete message arrived before the deadline."""


def _map_shared(fd: int, size: int) -> memoryview:
    """The contents of a received memfd, mapped copy-on-write (the arrays are writable and
    private to this process)."""
    try:
        if os.fstat(fd).st_size < size:
            raise WireError("shared-memory file is smaller than announced")
        if size == 0:
            return memoryview(b"")
        return memoryview(
            mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        )
    finally:
        os.close(fd)


class Channel:
    """One end of the stream socket between host and worker."""

    def __init__(
        self,
        sock: socket.socket,
        send_types: dict[str, type],
        receive_types: dict[str, type],
        limits: WireLimits = _DEFAULT_LIMITS,
        share_memory: bool = False,
    ) -> None:
        self.sock = sock
        self.send_types = send_types
        self.receive_types = receive_types
        self.limits = limits
        self.share_memory = share_memory and hasattr(os, "memfd_create")
        self.last_size = 0  # bytes of the last message received (the host budgets them per step)
        self.sock.setblocking(True)

    def send(self, message: Any) -> None:
        body, buffers = encode(message, self.send_types)
        fds: list[int] = []
        try:
            lengths, shared_sizes = [], []
            for buffer in buffers:
                if self.share_memory and buffer.nbytes >= _SHARE_MIN_BYTES and len(fds) < _MAX_FDS:
                    fds.append(PREPARED.copy_in(buffer))
                    lengths.append(-len(fds))
                    shared_sizes.append(buffer.nbytes)
                else:
                    lengths.append(buffer.nbytes)
            head = header(len(body), lengths, shared_sizes)
            if fds:
                sent = socket.send_fds(self.sock, [head], fds)
                self.sock.sendall(head[sent:])
            else:
                self.sock.sendall(head)
            self.sock.sendall(body)
            offset = len(head) + len(body)
            for buffer, n in zip(buffers, lengths, strict=True):
                if n >= 0:
                    gap = padding(offset)
                    if gap:
                        self.sock.sendall(bytes(gap))
                    self.sock.sendall(buffer)
                    offset += gap + n
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ChannelClosed(str(exc)) from exc
        finally:
            for fd in fds:
                os.close(fd)

    def receive(self, deadline: float | None = None) -> Any:
        """The next message; `deadline` is a time.monotonic() value (None: wait forever)."""
        limits = self.limits
        fds: list[int] = []
        try:
            first, fds = self._read_first(deadline)
            body_bytes, count, shared = read_header(first, limits)
            if shared > _MAX_FDS or len(fds) != shared:
                raise WireError(
                    f"bad buffer table ({count} buffers, {shared} shared, {len(fds)} descriptors)"
                )
            table = self._read(LENGTH.size * (count + shared), deadline)
            layout = read_table(table.data, body_bytes, count, shared, limits)
            body = self._read(body_bytes, deadline)
            mapped = [
                _map_shared(fd, size) for fd, size in zip(fds, layout.shared_sizes, strict=True)
            ]
            fds = []
            offset = layout.table_bytes + body_bytes
            buffers: list[np.ndarray | memoryview] = []
            for n in layout.lengths:
                if n < 0:
                    buffers.append(mapped[-1 - n])
                    continue
                gap = padding(offset)
                if gap:
                    self._read(gap, deadline)  # the zero bytes that align the buffer
                buffers.append(self._read(n, deadline))
                offset += gap + n
            self.last_size = offset + sum(layout.shared_sizes)
        finally:
            for fd in fds:
                os.close(fd)
        return decode(body.data, buffers, self.receive_types, limits)

    def _read_first(self, deadline: float | None) -> tuple[bytes, list[int]]:
        """The fixed header, and the descriptors that came with it (only where they are
        accepted)."""
        if not self.limits.accept_shared_memory:
            return bytes(self._read(HEADER.size, deadline)), []
        self._wait(deadline)
        try:
            data, ancillary, _flags, _addr = self.sock.recvmsg(
                HEADER.size, socket.CMSG_SPACE(_MAX_FDS * 4)
            )
        except TimeoutError as exc:
            raise ChannelTimeout("timed out waiting for the other side") from exc
        except OSError as exc:
            raise ChannelClosed(str(exc)) from exc
        finally:
            self._unwait(deadline)
        fds: list[int] = []
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                received = array.array("i")
                received.frombytes(payload[: len(payload) - len(payload) % received.itemsize])
                fds.extend(received)
        if not data:
            raise ChannelClosed("the other side closed the channel")
        rest = self._read(HEADER.size - len(data), deadline) if len(data) < HEADER.size else b""
        return bytes(data) + bytes(rest), fds

    def _wait(self, deadline: float | None) -> None:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelTimeout("timed out waiting for the other side")
            self.sock.settimeout(remaining)

    def _unwait(self, deadline: float | None) -> None:
        if deadline is not None:
            self.sock.settimeout(None)

    def _read(self, size: int, deadline: float | None) -> np.ndarray:
        # np.empty, not bytearray: a bytearray is zero-filled first, which for a 33 MiB depth
        # stack took about twice as long as receiving it.
        buffer = np.empty(size, dtype=np.uint8)
        view = buffer.data
        received = 0
        while received < size:
            self._wait(deadline)
            try:
                n = self.sock.recv_into(view[received:])
            except TimeoutError as exc:
                raise ChannelTimeout("timed out waiting for the other side") from exc
            except (ConnectionResetError, OSError) as exc:
                raise ChannelClosed(str(exc)) from exc
            finally:
                self._unwait(deadline)
            if n == 0:
                raise ChannelClosed("the other side closed the channel")
            received += n
        return buffer
