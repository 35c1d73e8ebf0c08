"""The channel between the host and the worker: msgpack messages with numpy arrays sent as raw
buffers beside them (no copies into the message, no pickle in either direction).

A message on the stream: header `<II` (msgpack length, buffer count), one `<Q` length per
buffer, the msgpack body, then the buffers. Arrays inside the body are ext type 1
[dtype, shape, buffer number]; tuples ext 2; dataclasses of known types ext 3 [name, fields].
The host decodes what the worker sends with strict checks: numeric dtypes only, sizes that
add up, known dataclass names only, and a cap on the total size.
"""

from __future__ import annotations

import dataclasses
import socket
import struct
import time
from typing import Any

import msgpack
import numpy as np

_HEADER = struct.Struct("<II")
_LENGTH = struct.Struct("<Q")
_ARRAY, _TUPLE, _DATACLASS = 1, 2, 3
_NUMERIC_KINDS = "biufc"


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
        buffers.append(memoryview(array).cast("B"))
        return msgpack.ExtType(_ARRAY, msgpack.packb([array.dtype.str, list(array.shape), len(buffers) - 1]))
    if isinstance(value, list):
        return [_encode(v, buffers, types) for v in value]
    if isinstance(value, tuple):
        return msgpack.ExtType(_TUPLE, msgpack.packb([_encode(v, buffers, types) for v in value]))
    if isinstance(value, dict):
        return {_key(k): _encode(v, buffers, types) for k, v in value.items()}
    name = type(value).__name__
    if dataclasses.is_dataclass(value) and types.get(name) is type(value):
        fields = {f.name: _encode(getattr(value, f.name), buffers, types) for f in dataclasses.fields(value) if f.init}
        return msgpack.ExtType(_DATACLASS, msgpack.packb([name, fields]))
    raise TypeError(f"cannot send a {name} between the kernel and its host")


def _utf8(text: str) -> str:
    """`text` as a plain str, lone surrogates (which UTF-8 cannot carry) written as escapes
    like \\udcff. Unbound str methods: a str subclass from agent code may override them."""
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


def _decoder(buffers: list[np.ndarray], types: dict[str, type]):
    def hook(code: int, data: bytes) -> Any:
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
            if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != len(buffer):
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
        return msgpack.unpackb(data, ext_hook=hook, raw=False, strict_map_key=False)

    return unpack


class Channel:
    """One end of the stream socket between host and worker."""

    def __init__(
        self, sock: socket.socket, send_types: dict[str, type], receive_types: dict[str, type], max_bytes: int = 2**31
    ) -> None:
        self.sock = sock
        self.send_types = send_types
        self.receive_types = receive_types
        self.max_bytes = max_bytes
        self.sock.setblocking(True)

    def send(self, message: Any) -> None:
        buffers: list[memoryview] = []
        body = msgpack.packb(_encode(message, buffers, self.send_types))
        header = _HEADER.pack(len(body), len(buffers)) + b"".join(_LENGTH.pack(b.nbytes) for b in buffers)
        try:
            self.sock.sendall(header + body)
            for buffer in buffers:
                self.sock.sendall(buffer)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ChannelClosed(str(exc)) from exc

    def receive(self, deadline: float | None = None) -> Any:
        """The next message; `deadline` is a time.monotonic() value (None: wait forever)."""
        body_length, count = _HEADER.unpack(self._read(_HEADER.size, deadline))
        if count > 1_000_000:
            raise WireError("too many buffers")
        table = self._read(_LENGTH.size * count, deadline)
        lengths = [_LENGTH.unpack_from(table, i * _LENGTH.size)[0] for i in range(count)]
        if body_length + sum(lengths) > self.max_bytes:
            raise WireError(f"message of {body_length + sum(lengths)} bytes exceeds the {self.max_bytes}-byte limit")
        body = self._read(body_length, deadline)
        buffers = [self._read(n, deadline) for n in lengths]
        try:
            return _decoder(buffers, self.receive_types)(bytes(body))
        except WireError:
            raise
        except Exception as exc:  # malformed msgpack, bad constructor arguments, ...
            raise WireError(f"malformed message: {exc}") from exc

    def _read(self, size: int, deadline: float | None) -> np.ndarray:
        # np.empty, not bytearray: a bytearray is zero-filled first, which for a 33 MiB depth
        # stack took about twice as long as receiving it.
        buffer = np.empty(size, dtype=np.uint8)
        view = memoryview(buffer)
        received = 0
        while received < size:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ChannelTimeout("timed out waiting for the other side")
                self.sock.settimeout(remaining)
            try:
                n = self.sock.recv_into(view[received:])
            except socket.timeout as exc:
                raise ChannelTimeout("timed out waiting for the other side") from exc
            except (ConnectionResetError, OSError) as exc:
                raise ChannelClosed(str(exc)) from exc
            finally:
                if deadline is not None:
                    self.sock.settimeout(None)
            if n == 0:
                raise ChannelClosed("the other side closed the channel")
            received += n
        return buffer
