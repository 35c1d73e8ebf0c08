"""The one wire codec: values <-> msgpack with numpy arrays as raw buffers beside the body.

Two carriers use it: the kernel's socket channel between host and worker (kernel/wire.py, which
adds the socket, deadlines and shared-memory descriptors) and the perception service's HTTP
bodies (`pack` / `unpack` here: the same framing as one self-contained bytes object). Never pickle.

A message: header `<III` (body length, buffer count, shared-memory count), one `<q` length per
buffer (negative: `-1 - k`, the buffer is the k-th shared-memory file, which only the socket
carrier can pass), one `<q` size per shared-memory file, the msgpack body, then the in-band
buffers, each starting at a multiple of `ALIGN` bytes from the message start (zero padding), so
arrays decoded in place from one bytes object are aligned. In the body, arrays are ext type 1
[dtype, shape, buffer number]; tuples ext 2; dataclasses of registered types ext 3 [name, fields].
Fields whose names start with an underscore (caches) never travel.

Decoding is bounded by `WireLimits`, checked before anything is allocated: body size, buffer
count, total bytes, containers, nesting; numeric dtypes only, sizes that add up, registered
dataclass names and their fields only. Dataclasses are rebuilt bottom-up after the body is read,
each followed by its check if the receiver registered one, and an error names where in the
message it happened (`frames.frames[1].intrinsics: ...`). Every refusal is a `WireError`; one
that only says the message is too large is a `LimitExceeded`.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np

HEADER = struct.Struct("<III")
LENGTH = struct.Struct("<q")
ALIGN = 16  # the widest alignment a numeric dtype needs (long double)
MEDIA_TYPE = "application/vnd.spatialclaw.wire"
_ARRAY, _TUPLE, _DATACLASS = 1, 2, 3
_NUMERIC_KINDS = "biufc"
_MAX_DIMENSIONS = 32  # numpy's own limit

# A check run on a dataclass right after it is rebuilt; raises (naming the field) to refuse it.
Check = Callable[[Any], None]


class WireError(ValueError):
    """A message that breaks the format or the receiver's rules (from a misbehaving peer)."""


class LimitExceeded(WireError):
    """A well-formed message that is larger than the receiver accepts."""


@dataclass(frozen=True)
class WireLimits:
    """What one received message may hold; checked before anything is allocated or decoded."""

    max_body_bytes: int = 1 << 30  # the msgpack part (text, numbers, structure)
    max_buffers: int = 100_000  # arrays in one message
    max_total_bytes: int = 1 << 40  # body and arrays together
    max_containers: int = 10_000_000  # lists, maps, tuples and dataclasses
    max_depth: int = 64  # nesting of lists, maps, tuples and dataclasses
    accept_shared_memory: bool = False  # only the socket carrier can pass descriptors


@dataclass(frozen=True)
class Layout:
    """The sizes a message's header and buffer table declare, checked against the limits."""

    body_bytes: int
    lengths: list[int]  # per buffer: bytes in band, or -1 - k for the k-th shared file
    shared_sizes: list[int]  # bytes of each shared file

    @property
    def table_bytes(self) -> int:
        return HEADER.size + LENGTH.size * (len(self.lengths) + len(self.shared_sizes))


# ---- encoding -------------------------------------------------------------------------------


def type_table(*classes: type) -> dict[str, type]:
    """The dataclasses a side may send or rebuild, by the name a message gives them (the class
    name)."""
    return {cls.__name__: cls for cls in classes}


def encode(value: Any, types: Mapping[str, type]) -> tuple[bytes, list[memoryview]]:
    """The msgpack body of `value` and the buffers of the arrays it holds, in order."""
    buffers: list[memoryview] = []
    return msgpack.packb(_encode(value, buffers, types)), buffers


def _encode(value: Any, buffers: list[memoryview], types: Mapping[str, type]) -> Any:
    if value is None or isinstance(value, (bool, int, float, bytes)):
        return value
    if isinstance(value, str):
        return _utf8(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _NUMERIC_KINDS or value.dtype.fields is not None:
            raise TypeError(f"arrays of dtype {value.dtype} cannot be sent; use numeric arrays")
        plain = value.view(np.ndarray)
        if not plain.flags.c_contiguous:  # not np.ascontiguousarray: it makes 0-d arrays 1-d
            plain = plain.copy(order="C")
        # bytes as a flat uint8 view: memoryview.cast refuses shapes with a zero in them
        buffers.append(plain.reshape(-1).view(np.uint8).data)
        return msgpack.ExtType(
            _ARRAY, msgpack.packb([plain.dtype.str, list(plain.shape), len(buffers) - 1])
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
            name: _encode(getattr(value, name), buffers, types) for name in _wire_fields(value)
        }
        return msgpack.ExtType(_DATACLASS, msgpack.packb([name, fields]))
    raise TypeError(f"cannot send a {name} over the wire")


def _wire_fields(cls_or_value: Any) -> list[str]:
    """The fields that travel: those the constructor takes, private ones (caches) left out."""
    return [
        f.name for f in dataclasses.fields(cls_or_value) if f.init and not f.name.startswith("_")
    ]


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


# ---- framing --------------------------------------------------------------------------------


def padding(offset: int) -> int:
    """Zero bytes before an in-band buffer that would start at `offset` in the message."""
    return -offset % ALIGN


def header(body_bytes: int, lengths: list[int], shared_sizes: list[int]) -> bytes:
    """The header and buffer table of a message (see the module's description)."""
    return (
        HEADER.pack(body_bytes, len(lengths), len(shared_sizes))
        + b"".join(LENGTH.pack(n) for n in lengths)
        + b"".join(LENGTH.pack(n) for n in shared_sizes)
    )


def read_header(data: bytes | memoryview, limits: WireLimits) -> tuple[int, int, int]:
    """Body length, buffer count and shared-memory count from the fixed header, checked."""
    body_bytes, count, shared = HEADER.unpack(data)
    if shared and not limits.accept_shared_memory:
        raise WireError("shared memory is not accepted in this direction")
    if count > limits.max_buffers:
        raise LimitExceeded(f"the message has {count} buffers; the limit is {limits.max_buffers}")
    if shared > count:
        raise WireError(f"bad buffer table ({count} buffers, {shared} shared)")
    if body_bytes > limits.max_body_bytes:
        raise LimitExceeded(
            f"message body of {body_bytes} bytes exceeds the {limits.max_body_bytes}-byte limit"
        )
    return body_bytes, count, shared


def read_table(
    data: bytes | memoryview, body_bytes: int, count: int, shared: int, limits: WireLimits
) -> Layout:
    """The buffer table that follows the header; the sizes must be possible and add up to no
    more than the limit."""
    entries = [LENGTH.unpack_from(data, i * LENGTH.size)[0] for i in range(count + shared)]
    layout = Layout(body_bytes, entries[:count], entries[count:])
    if any(n < -shared for n in layout.lengths) or any(n < 0 for n in layout.shared_sizes):
        raise WireError("bad buffer table (negative sizes or missing shared files)")
    total = total_bytes(layout)
    if total > limits.max_total_bytes:
        raise LimitExceeded(
            f"message of {total} bytes exceeds the {limits.max_total_bytes}-byte limit"
        )
    return layout


def total_bytes(layout: Layout) -> int:
    """Everything the message occupies: header, table, body, padding, buffers, shared files."""
    offset = layout.table_bytes + layout.body_bytes
    for n in layout.lengths:
        if n >= 0:
            offset += padding(offset) + n
    return offset + sum(layout.shared_sizes)


# ---- decoding -------------------------------------------------------------------------------


def decode(
    body: bytes | memoryview,
    buffers: list[np.ndarray | memoryview],
    types: Mapping[str, type],
    limits: WireLimits,
    checks: Mapping[type, Check] | None = None,
) -> Any:
    """The value of a received message: arrays are views of `buffers` (writable when they are);
    dataclasses are rebuilt from `types` only and checked by `checks`."""
    try:
        value = _Decoder(buffers, types, limits).unpack(bytes(body))
        return _Builder(limits, checks or {}).build(value, (), 1)
    except WireError:
        raise
    except Exception as exc:  # malformed msgpack and whatever a hostile body makes it raise
        raise WireError(f"malformed message: {type(exc).__name__}: {exc}") from exc


@dataclass
class _Pending:
    """A dataclass named in the body, built once its fields are (bottom-up, with a path)."""

    cls: type
    fields: dict[str, Any]


class _Decoder:
    """Reads one body: counts containers and nesting, turns ext types into arrays, tuples and
    pending dataclasses."""

    def __init__(
        self, buffers: list[np.ndarray | memoryview], types: Mapping[str, type], limits: WireLimits
    ) -> None:
        self.buffers = buffers
        self.types = types
        self.limits = limits
        self.containers = 0
        self.ext_depth = 0

    def count(self, value: Any) -> Any:
        self.containers += 1
        if self.containers > self.limits.max_containers:
            raise LimitExceeded(f"message holds more than {self.limits.max_containers} containers")
        return value

    def unpack(self, data: bytes) -> Any:
        limits = self.limits
        return msgpack.unpackb(
            data,
            ext_hook=self.ext,
            raw=False,
            strict_map_key=False,
            list_hook=self.count,
            object_hook=self.count,
            max_str_len=limits.max_body_bytes,
            max_bin_len=limits.max_body_bytes,
            max_ext_len=limits.max_body_bytes,
            max_array_len=limits.max_containers,
            max_map_len=limits.max_containers,
        )

    def ext(self, code: int, data: bytes) -> Any:
        self.count(None)
        if self.ext_depth >= self.limits.max_depth:
            raise LimitExceeded(f"message nested deeper than {self.limits.max_depth} levels")
        self.ext_depth += 1
        try:
            if code == _ARRAY:
                return self.array(data)
            if code == _TUPLE:
                return tuple(self.unpack(data))
            if code == _DATACLASS:
                return self.dataclass(data)
            raise WireError(f"unknown ext code {code}")
        finally:
            self.ext_depth -= 1

    def array(self, data: bytes) -> np.ndarray:
        dtype_str, shape, index = msgpack.unpackb(data)
        try:
            dtype = np.dtype(str(dtype_str))
        except TypeError as exc:
            raise WireError(f"refusing array dtype {dtype_str!r}: not a numpy dtype") from exc
        if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype:
            raise WireError(
                f"refusing array dtype {dtype_str!r}: numeric arrays only (no objects, no pickle)"
            )
        if not isinstance(index, int) or not 0 <= index < len(self.buffers):
            raise WireError("array refers to a missing buffer")
        if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise WireError("bad array shape")
        buffer = self.buffers[index]
        size = 1
        for n in shape:
            size *= n  # Python ints: a shape declaring 10^30 elements does not overflow
        if len(shape) > _MAX_DIMENSIONS or size * dtype.itemsize != len(buffer):
            raise WireError(
                f"array of shape {tuple(shape)} and dtype {dtype} does not match its buffer of "
                f"{len(buffer)} bytes"
            )
        return np.frombuffer(buffer, dtype=dtype).reshape(shape)

    def dataclass(self, data: bytes) -> _Pending:
        name, fields = self.unpack(data)
        cls = self.types.get(name) if isinstance(name, str) else None
        if cls is None or not isinstance(fields, dict):
            raise WireError(f"unknown type {name!r}")
        unknown = set(fields) - set(_wire_fields(cls))
        if unknown:
            raise WireError(f"unknown fields for {name}: {sorted(map(str, unknown))}")
        return _Pending(cls, fields)


_CONTAINERS = (list, tuple, dict, _Pending)


class _Builder:
    """Builds the pending dataclasses of a decoded body, innermost first, and runs their checks;
    bounds the nesting (no recursion deeper than the limit on hostile input)."""

    def __init__(self, limits: WireLimits, checks: Mapping[type, Check]) -> None:
        self.max_depth = limits.max_depth
        self.checks = checks

    def build(self, value: Any, path: tuple[str | int, ...], depth: int) -> Any:
        if not isinstance(value, _CONTAINERS):
            return value
        if depth > self.max_depth:
            raise LimitExceeded(f"message nested deeper than {self.max_depth} levels")
        if isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, _CONTAINERS):
                    value[i] = self.build(item, (*path, i), depth + 1)
            return value
        if isinstance(value, tuple):
            return tuple(self.build(item, (*path, i), depth + 1) for i, item in enumerate(value))
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, _CONTAINERS):
                    value[key] = self.build(item, (*path, key), depth + 1)
            return value
        fields = {
            name: self.build(item, (*path, name), depth + 1) for name, item in value.fields.items()
        }
        where = f"{_render(path)} ({value.cls.__name__})" if path else value.cls.__name__
        # The boundary with untrusted input: a constructor or check may raise anything on
        # hostile fields, and every such refusal becomes a WireError that says where it was.
        try:
            built = value.cls(**fields)
            check = self.checks.get(value.cls)
            if check is not None:
                check(built)
        except WireError as exc:
            raise type(exc)(f"{where}: {exc}") from exc
        except ValueError as exc:  # the dataclass's own validation: its message says it all
            raise WireError(f"{where}: {exc}") from exc
        except Exception as exc:
            raise WireError(f"{where}: {type(exc).__name__}: {exc}") from exc
        return built


def _render(path: tuple[str | int, ...]) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else f".{key}" if text else str(key)
    return text


# ---- the bytes carrier (HTTP bodies) --------------------------------------------------------


def pack(value: Any, types: Mapping[str, type]) -> bytes:
    """`value` as one self-contained message (no shared memory)."""
    body, buffers = encode(value, types)
    lengths = [b.nbytes for b in buffers]
    parts: list[bytes | memoryview] = [header(len(body), lengths, []), body]
    offset = sum(len(part) for part in parts)
    for buffer in buffers:
        gap = padding(offset)
        parts += [bytes(gap), buffer]
        offset += gap + buffer.nbytes
    return b"".join(parts)


def unpack(
    data: bytes | bytearray | memoryview,
    types: Mapping[str, type],
    limits: WireLimits,
    checks: Mapping[type, Check] | None = None,
) -> Any:
    """The value of one message made by `pack`. Arrays are views into `data` (writable when
    `data` is a bytearray)."""
    view = memoryview(data).cast("B")
    if view.nbytes > limits.max_total_bytes:
        raise LimitExceeded(
            f"message of {view.nbytes} bytes exceeds the {limits.max_total_bytes}-byte limit"
        )
    if view.nbytes < HEADER.size:
        raise WireError(f"a message of {view.nbytes} bytes is shorter than its header")
    body_bytes, count, shared = read_header(view[: HEADER.size], limits)
    if shared:
        raise WireError("a message in bytes cannot refer to shared memory")
    table_end = HEADER.size + LENGTH.size * count
    if view.nbytes < table_end:
        raise WireError("the message ends inside its buffer table")
    layout = read_table(view[HEADER.size : table_end], body_bytes, count, 0, limits)
    expected = total_bytes(layout)
    if expected != view.nbytes:
        raise WireError(
            f"the message has {view.nbytes} bytes but its header and buffer table add up to "
            f"{expected}"
        )
    offset = table_end + body_bytes
    body = view[table_end:offset]
    buffers: list[np.ndarray | memoryview] = []
    for n in layout.lengths:
        offset += padding(offset)
        buffers.append(view[offset : offset + n])
        offset += n
    return decode(body, buffers, types, limits, checks)
