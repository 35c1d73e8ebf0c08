"""The channel between the host and the worker: msgpack messages with numpy arrays sent as raw
buffers beside them (no copies into the message, no pickle in either direction).

A message on the stream: header `<III` (msgpack length, buffer count, shared-memory count),
one `<q` length per buffer (negative: `-1 - k`, the buffer is the k-th shared-memory file), the
msgpack body, then the in-band buffers. Arrays inside the body are ext type 1
[dtype, shape, buffer number]; tuples ext 2; dataclasses of known types ext 3 [name, fields].

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
import dataclasses
import mmap
import os
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np

from spatialclaw_ros.kernel.shared_memory import PREPARED

_HEADER = struct.Struct("<III")
_LENGTH = struct.Struct("<q")
_ARRAY, _TUPLE, _DATACLASS = 1, 2, 3
_NUMERIC_KINDS = "biufc"
_MAX_FDS = 64  # shared-memory files in one message
_SHARE_MIN_BYTES = 1 << 20  # smaller arrays are cheaper to copy through the socket


@dataclass(frozen=True)
class WireLimits:
    """What one received message may hold; checked before anything is allocated or decoded."""

    max_body_bytes: int = 1 << 30  # the msgpack part (text, numbers, structure)
    max_buffers: int = 100_000  # arrays in one message
    max_total_bytes: int = 1 << 40  # body and arrays together
    max_containers: int = 10_000_000  # lists, maps, tuples and dataclasses
    max_depth: int = 64  # nesting of lists, maps, tuples and dataclasses
    accept_shared_memory: bool = False


# What the host accepts from the worker: a step's report holds a few kilobytes of text plus
# images; these bounds keep a hostile worker from costing the host more than a bounded amount.
WORKER_TO_HOST = WireLimits(
    max_body_bytes=4 << 20,
    max_buffers=1024,
    max_total_bytes=512 << 20,
    max_containers=100_000,
    max_depth=16,
)
# What the worker accepts from the host (trusted: perception results and frames).
HOST_TO_WORKER = WireLimits(accept_shared_memory=True)


class ChannelClosed(ConnectionError):
    """The other side went away (the worker died or the host closed the channel)."""


class ChannelTimeout(TimeoutError):
    """No complete message arrived before the deadline."""


class WireError(ValueError):
    """A message that breaks the format (from a misbehaving peer)."""


def _encode(value: Any, buffers: list[memoryview], types: dict[str, type]) -> Any:
    if value is None or isinstance(value, (bool, int, float, bytes)):
        return value
    if isinstance(value, str):
        return _utf8(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"arrays of dtype {value.dtype} cannot be sent; use numeric arrays")
        array = np.ascontiguousarray(value).view(np.ndarray)
        buffers.append(array.data.cast("B"))
        return msgpack.ExtType(
            _ARRAY, msgpack.packb([array.dtype.str, list(array.shape), len(buffers) - 1])
        )
    if isinstance(value, list):
        return [_encode(v, buffers, types) for v in value]
    if isinstance(value, tuple):
        return msgpack.ExtType(_TUPLE, msgpack.packb([_encode(v, buffers, types) for v in value]))
    if isinstance(value, dict):
        return {_key(k): _encode(v, buffers, types) for k, v in value.items()}
    name = type(value).__name__
    if dataclasses.is_dataclass(value) and types.get(name) is type(value):
        fields = {
            f.name: _encode(getattr(value, f.name), buffers, types)
            for f in dataclasses.fields(value)
            if f.init
        }
        return msgpack.ExtType(_DATACLASS, msgpack.packb([name, fields]))
    raise TypeError(f"cannot send a {name} between the kernel and its host")


def _utf8(text: str) -> str:
    r"""`text` as a plain str, lone surrogates (which UTF-8 cannot carry) written as escapes
    like \udcff. Unbound str methods: a str subclass from agent code may override them."""
    text = str.__str__(text)
    if str.isascii(text):
        return text
    try:
        str.encode(text, "utf-8")
        return text
    except UnicodeEncodeError:
        return str.encode(text, "utf-8", "backslashreplace").decode("utf-8")


def _key(key: Any) -> str | int:
    if isinstance(key, np.generic):
        key = key.item()
    if not isinstance(key, (str, int)) or isinstance(key, bool):
        raise TypeError(f"dict keys must be str or int, got {type(key).__name__}")
    return _utf8(key) if isinstance(key, str) else key


class _Budget:
    """Counts containers and nesting while one message is decoded."""

    def __init__(self, limits: WireLimits) -> None:
        self.limits = limits
        self.containers = 0
        self.ext_depth = 0

    def count(self, value: Any) -> Any:
        self.containers += 1
        if self.containers > self.limits.max_containers:
            raise WireError(f"message holds more than {self.limits.max_containers} containers")
        return value


def _check_depth(value: Any, max_depth: int) -> None:
    """Refuse values nested deeper than `max_depth` (iteratively: no recursion on hostile
    input)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, tuple, dict)):
            if depth > max_depth:
                raise WireError(f"message nested deeper than {max_depth} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend(
                (child, depth + 1) for child in children if isinstance(child, (list, tuple, dict))
            )
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            stack.append(
                ({f.name: getattr(item, f.name) for f in dataclasses.fields(item)}, depth)
            )


def _decoder(buffers: list[np.ndarray | memoryview], types: dict[str, type], limits: WireLimits):
    budget = _Budget(limits)

    def hook(code: int, data: bytes) -> Any:
        budget.count(None)
        if budget.ext_depth >= limits.max_depth:
            raise WireError(f"message nested deeper than {limits.max_depth} levels")
        budget.ext_depth += 1
        try:
            return decode_ext(code, data)
        finally:
            budget.ext_depth -= 1

    def decode_ext(code: int, data: bytes) -> Any:
        if code == _ARRAY:
            dtype_str, shape, index = msgpack.unpackb(data)
            dtype = np.dtype(str(dtype_str))
            if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None:
                raise WireError(f"refusing array dtype {dtype_str!r}")
            if not isinstance(index, int) or not 0 <= index < len(buffers):
                raise WireError("array refers to a missing buffer")
            if not all(isinstance(n, int) and n >= 0 for n in shape):
                raise WireError("bad array shape")
            buffer = buffers[index]
            if len(shape) > 32 or _product(shape) * dtype.itemsize != len(buffer):
                raise WireError("array size does not match its buffer")
            return np.frombuffer(buffer, dtype=dtype).reshape(shape)
        if code == _TUPLE:
            return tuple(unpack(data))
        if code == _DATACLASS:
            name, fields = unpack(data)
            cls = types.get(name) if isinstance(name, str) else None
            if cls is None or not isinstance(fields, dict):
                raise WireError(f"unknown type {name!r}")
            allowed = {f.name for f in dataclasses.fields(cls) if f.init}
            if not set(fields) <= allowed:
                raise WireError(f"unknown fields for {name}: {sorted(set(fields) - allowed)}")
            return cls(**fields)
        raise WireError(f"unknown ext code {code}")

    def unpack(data: bytes) -> Any:
        return msgpack.unpackb(
            data,
            ext_hook=hook,
            raw=False,
            strict_map_key=False,
            list_hook=budget.count,
            object_hook=budget.count,
            max_str_len=limits.max_body_bytes,
            max_bin_len=limits.max_body_bytes,
            max_ext_len=limits.max_body_bytes,
            max_array_len=limits.max_containers,
            max_map_len=limits.max_containers,
        )

    return unpack


def _product(shape: list[int]) -> int:
    total = 1
    for n in shape:
        total *= n
    return total


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
        limits: WireLimits = WireLimits(),
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
        buffers: list[memoryview] = []
        body = msgpack.packb(_encode(message, buffers, self.send_types))
        fds: list[int] = []
        try:
            lengths = []
            for buffer in buffers:
                if self.share_memory and buffer.nbytes >= _SHARE_MIN_BYTES and len(fds) < _MAX_FDS:
                    fds.append(PREPARED.copy_in(buffer))
                    lengths.append(-len(fds))
                else:
                    lengths.append(buffer.nbytes)
            header = _HEADER.pack(len(body), len(buffers), len(fds))
            header += b"".join(_LENGTH.pack(n) for n in lengths)
            header += b"".join(
                _LENGTH.pack(b.nbytes) for b, n in zip(buffers, lengths, strict=True) if n < 0
            )
            if fds:
                sent = socket.send_fds(self.sock, [header], fds)
                self.sock.sendall(header[sent:])
            else:
                self.sock.sendall(header)
            self.sock.sendall(body)
            for buffer, n in zip(buffers, lengths, strict=True):
                if n >= 0:
                    self.sock.sendall(buffer)
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
            body_length, count, shared = _HEADER.unpack(first)
            if shared and not limits.accept_shared_memory:
                raise WireError("shared memory is not accepted in this direction")
            if count > limits.max_buffers or shared > min(count, _MAX_FDS) or len(fds) != shared:
                raise WireError(
                    f"bad buffer table ({count} buffers, {shared} shared, {len(fds)} descriptors)"
                )
            if body_length > limits.max_body_bytes:
                raise WireError(
                    f"message body of {body_length} bytes exceeds the "
                    f"{limits.max_body_bytes}-byte limit"
                )
            table = self._read(_LENGTH.size * (count + shared), deadline)
            entries = [
                _LENGTH.unpack_from(table.data, i * _LENGTH.size)[0] for i in range(count + shared)
            ]
            lengths, shared_sizes = entries[:count], entries[count:]
            if any(n < -shared for n in lengths) or any(n < 0 for n in shared_sizes):
                raise WireError("bad buffer table")
            total = body_length + sum(n for n in lengths if n >= 0) + sum(shared_sizes)
            if total > limits.max_total_bytes:
                raise WireError(
                    f"message of {total} bytes exceeds the {limits.max_total_bytes}-byte limit"
                )
            self.last_size = total
            body = self._read(body_length, deadline)
            mapped = [_map_shared(fd, size) for fd, size in zip(fds, shared_sizes, strict=True)]
            fds = []
            buffers = [self._read(n, deadline) if n >= 0 else mapped[-1 - n] for n in lengths]
        finally:
            for fd in fds:
                os.close(fd)
        try:
            value = _decoder(buffers, self.receive_types, limits)(bytes(body))
            _check_depth(value, limits.max_depth)
            return value
        except WireError:
            raise
        except Exception as exc:  # malformed msgpack, bad constructor arguments, limits, ...
            raise WireError(f"malformed message: {type(exc).__name__}: {exc}") from exc

    def _read_first(self, deadline: float | None) -> tuple[bytes, list[int]]:
        """The fixed header, and the descriptors that came with it (only where they are
        accepted)."""
        if not self.limits.accept_shared_memory:
            return bytes(self._read(_HEADER.size, deadline)), []
        self._wait(deadline)
        try:
            data, ancillary, _flags, _addr = self.sock.recvmsg(
                _HEADER.size, socket.CMSG_SPACE(_MAX_FDS * 4)
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
        rest = self._read(_HEADER.size - len(data), deadline) if len(data) < _HEADER.size else b""
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
