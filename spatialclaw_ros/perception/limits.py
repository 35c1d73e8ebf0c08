"""Bounded decoding of perception request bodies: npz archives and their JSON `meta` entry.

A request body is untrusted. Before any array is decompressed, the zip directory and each array's
npy header are read and checked against `DecodeLimits`, so a zip bomb, an npy header that declares
10^12 elements or JSON nested 100,000 deep is refused in microseconds, without allocating what it
claims. Every refusal raises `WireError` (malformed) or `LimitExceeded` (too large) with a message
that names the limit; the HTTP service answers them with 400 and 413.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from dataclasses import dataclass
from typing import Any

import numpy as np

from spatialclaw_ros.perception.errors import PerceptionError

ZIP_MAGIC = b"PK\x03\x04"
MEGABYTE = 1 << 20
# dtype kinds an array may have on the wire: bool, signed and unsigned integers, floats.
NUMERIC_KINDS = "biuf"
# Small entries are not checked for their compression ratio: they cannot grow into anything large.
RATIO_CHECK_FROM_BYTES = 1 * MEGABYTE


class WireError(PerceptionError):
    """A message that is not a well-formed perception archive."""


class LimitExceeded(WireError):
    """A well-formed message that is larger than the service accepts (HTTP 413)."""


@dataclass(frozen=True)
class DecodeLimits:
    """What one perception request may hold. Defaults fit 256 frames of 1920x1080 RGB-D."""

    max_body_bytes: int = 512 * MEGABYTE  # compressed: the request body as sent
    max_decoded_bytes: int = 2048 * MEGABYTE  # all arrays together, decompressed
    max_ratio: float = 200.0  # decompressed / compressed size of one entry (entries above 1 MiB)
    max_entries: int = 1100  # arrays in one archive (4 per frame + the request's)
    max_array_elements: int = 64_000_000  # elements of one array (a 4K RGB image has 25M)
    max_meta_bytes: int = 1 * MEGABYTE  # the JSON `meta` entry
    max_json_depth: int = 16  # nesting of the JSON `meta` entry
    max_frames: int = 256  # frames in one request
    max_image_pixels: int = 4096 * 4096  # pixels of one frame
    max_points: int = 1024  # SAM 3 point prompts in one request
    max_text_chars: int = 1000  # text prompts, names, labels

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not value > 0:
                raise PerceptionError(f"decode limit {name} must be positive, got {value}")

    @classmethod
    def from_megabytes(
        cls, request_mb: int, decoded_mb: int | None = None, **other: Any
    ) -> DecodeLimits:
        decoded = decoded_mb if decoded_mb is not None else cls.max_decoded_bytes // MEGABYTE
        return cls(
            max_body_bytes=request_mb * MEGABYTE, max_decoded_bytes=decoded * MEGABYTE, **other
        )


def read_npz(body: bytes, limits: DecodeLimits) -> dict[str, np.ndarray]:
    """The arrays of an npz archive, name -> array, each checked before it is decompressed."""
    if len(body) > limits.max_body_bytes:
        raise LimitExceeded(
            f"the body has {len(body)} bytes; the limit is {limits.max_body_bytes}"
        )
    if not body.startswith(ZIP_MAGIC):
        raise WireError("the body is not an npz archive (pickled and other payloads are refused)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(body))
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        ValueError,
        EOFError,
        NotImplementedError,  # a zip version or feature zipfile does not read
    ) as error:
        raise WireError(f"the npz archive is malformed: {error}") from error
    with archive:
        entries = archive.infolist()
        _check_directory(entries, len(body), limits)
        arrays: dict[str, np.ndarray] = {}
        for entry in entries:
            name = entry.filename.removesuffix(".npy")
            if name in arrays:
                raise WireError(f"the archive holds {name!r} twice")
            try:
                with archive.open(entry) as stream:
                    arrays[name] = _read_npy(stream, entry, limits)
            except WireError:
                raise
            except (
                zipfile.BadZipFile,
                OSError,
                ValueError,
                EOFError,
                NotImplementedError,
                RuntimeError,
            ) as error:
                # NotImplementedError: an unsupported compression method; RuntimeError: encrypted
                # entries
                raise WireError(
                    f"the npz archive is malformed at {entry.filename!r}: {error}"
                ) from error
    return arrays


def _check_directory(
    entries: list[zipfile.ZipInfo], body_bytes: int, limits: DecodeLimits
) -> None:
    """Sizes as the zip directory declares them; reads never go past them (zipfile stops there)."""
    if len(entries) > limits.max_entries:
        raise LimitExceeded(
            f"the archive has {len(entries)} entries; the limit is {limits.max_entries}"
        )
    total = 0
    for entry in entries:
        if not entry.filename.endswith(".npy"):
            raise WireError(f"archive entry {entry.filename!r} is not an .npy array")
        # The directory's sizes must fit the body, or a few bytes could make us set aside
        # gigabytes.
        if entry.compress_size > body_bytes or (
            entry.compress_type == zipfile.ZIP_STORED and entry.compress_size != entry.file_size
        ):
            raise WireError(
                f"archive entry {entry.filename!r} declares sizes that do not fit the body"
            )
        total += entry.file_size
        if total > limits.max_decoded_bytes:
            raise LimitExceeded(
                f"the archive decompresses to more than {limits.max_decoded_bytes} bytes "
                f"(limit on decoded size; it was {len(entries)} entries)"
            )
        if entry.file_size > RATIO_CHECK_FROM_BYTES and entry.file_size > limits.max_ratio * max(
            entry.compress_size, 1
        ):
            raise LimitExceeded(
                f"archive entry {entry.filename!r} expands "
                f"{entry.file_size / max(entry.compress_size, 1):.0f}-fold; "
                f"the limit is {limits.max_ratio:g}"
            )


def _read_npy(stream, entry: zipfile.ZipInfo, limits: DecodeLimits) -> np.ndarray:
    """One .npy array: header first (shape and dtype checked), then exactly the bytes it
    declares."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = fmt.read_array_header_1_0(stream, max_header_size=4096)
        elif version in ((2, 0), (3, 0)):
            shape, fortran_order, dtype = fmt.read_array_header_2_0(stream, max_header_size=4096)
        else:
            raise WireError(
                f"{entry.filename!r} has npy format version {version}, which is not supported"
            )
    except (ValueError, SyntaxError, TypeError) as error:
        raise WireError(f"{entry.filename!r} has a malformed npy header: {error}") from error
    if (
        dtype.hasobject
        or dtype.kind not in NUMERIC_KINDS
        or dtype.fields is not None
        or dtype.subdtype is not None
    ):
        raise WireError(
            f"{entry.filename!r} has dtype {dtype}; only plain numeric arrays are accepted "
            "(object arrays are refused: no pickle)"
        )
    elements = math.prod(shape)  # Python ints: a header declaring 10^12 elements does not overflow
    if elements > limits.max_array_elements:
        raise LimitExceeded(
            f"{entry.filename!r} declares {elements} elements; the limit is "
            f"{limits.max_array_elements}"
        )
    nbytes = elements * dtype.itemsize
    header_bytes = stream.tell() if stream.seekable() else None
    if header_bytes is not None and header_bytes + nbytes != entry.file_size:
        raise WireError(
            f"{entry.filename!r} declares {nbytes} bytes of data but holds "
            f"{entry.file_size - header_bytes}"
        )
    buffer = bytearray(nbytes)
    view, filled = memoryview(buffer), 0
    while filled < nbytes:
        got = stream.readinto(view[filled:])
        if not got:
            raise WireError(f"{entry.filename!r} ends after {filled} of its {nbytes} bytes")
        filled += got
    array = np.frombuffer(buffer, dtype=dtype)
    return array.reshape(shape[::-1]).transpose() if fortran_order else array.reshape(shape)


def parse_meta(raw: np.ndarray, limits: DecodeLimits) -> dict[str, Any]:
    """The `meta` entry: JSON text as uint8 bytes, an object, no deeper than the limit."""
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise WireError("the 'meta' entry must be JSON as a 1-D uint8 array")
    if raw.size > limits.max_meta_bytes:
        raise LimitExceeded(
            f"the 'meta' entry has {raw.size} bytes; the limit is {limits.max_meta_bytes}"
        )
    text = raw.tobytes()
    depth = json_depth(text)
    if depth > limits.max_json_depth:
        raise LimitExceeded(
            f"the 'meta' JSON nests {depth} deep; the limit is {limits.max_json_depth}"
        )
    try:
        meta = json.loads(text)
    # ValueError also covers JSONDecodeError and huge ints
    except (UnicodeDecodeError, ValueError) as error:
        raise WireError(f"the 'meta' entry is not JSON: {error}") from error
    if not isinstance(meta, dict):
        raise WireError("the 'meta' entry must be a JSON object")
    return meta


def json_depth(text: bytes) -> int:
    """The deepest nesting of [ and { in JSON text, brackets inside strings ignored. Linear and
    non-recursive (numpy over the bytes), so it runs before the recursive parser sees the text."""
    data = np.frombuffer(text, dtype=np.uint8)
    if data.size == 0:
        return 0
    positions = np.arange(data.size)
    backslash = data == ord("\\")
    # A quote is escaped when an odd number of backslashes runs up to it.
    last_other = np.maximum.accumulate(np.where(backslash, -1, positions))
    run_before = np.concatenate(([0], positions[:-1] - last_other[:-1]))
    quote = (data == ord('"')) & (run_before % 2 == 0)
    outside = np.cumsum(quote) % 2 == 0  # an even number of quotes so far: not inside a string
    opens = ((data == ord("[")) | (data == ord("{"))) & outside
    closes = ((data == ord("]")) | (data == ord("}"))) & outside
    return int(np.cumsum(opens.astype(np.int32) - closes).max(initial=0))
