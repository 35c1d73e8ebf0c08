"""Reading benchmark annotation files and the media stored inside them.

Benchmarks publish their questions as JSON, JSON lines, TSV/CSV or parquet. Parquet needs
pyarrow, which the core does not depend on: `read_parquet` is the one place that imports it, and
says how to install it when it is missing.
"""

from __future__ import annotations

import ast
import base64
import csv
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from spatialclaw_ros.eval.records import iter_json_lines, option_letter

Row = dict[str, Any]

PYARROW_HINT = "pip install pyarrow==26.0.1"


def read_rows(path: Path) -> list[Row]:
    """All rows of one annotation file, as plain dicts."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return read_parquet(path)
    if suffix == ".jsonl":
        return [row for _, row in iter_json_lines(path)]
    if suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):  # {"questions": [...]}, {"data": [...]} or {id: row}
            lists = [v for v in data.values() if isinstance(v, list)]
            if isinstance(data.get("questions"), list):
                data = data["questions"]
            else:
                data = (
                    lists[0]
                    if len(lists) == 1
                    else [dict(v, id=k) if isinstance(v, dict) else v for k, v in data.items()]
                )
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a list of questions")
        return data
    if suffix in (".tsv", ".csv"):
        csv.field_size_limit(sys.maxsize)  # VLMEvalKit-style TSVs hold base64 images in a cell
        with path.open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f, delimiter="\t" if suffix == ".tsv" else ","))
    raise ValueError(f"{path}: unsupported annotation format {suffix!r}")


def read_parquet(path: Path) -> list[Row]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise RuntimeError(f"{path} is parquet, which needs pyarrow: {PYARROW_HINT}") from None
    return pq.read_table(path).to_pylist()


class MediaStore:
    """Turns image cells (file paths, raw bytes, {'bytes': ...} dicts, base64 text) into files.

    Embedded images are written once, named by their content digest, under `cache_dir`.
    """

    def __init__(self, data_dir: Path, cache_dir: Path) -> None:
        self.data_dir = data_dir
        self.cache_dir = cache_dir

    def image(self, cell: Any) -> str:
        if isinstance(cell, dict):
            if cell.get("bytes"):
                return self._write(cell["bytes"])
            if cell.get("path"):
                return self.path(cell["path"])
            raise ValueError("image cell has neither bytes nor a path")
        if isinstance(cell, (bytes, bytearray)):
            return self._write(bytes(cell))
        if isinstance(cell, str):
            if len(cell) > 512 and re.fullmatch(r"[A-Za-z0-9+/=\s]+", cell[:2048]):
                return self._write(base64.b64decode(cell))
            return self.path(cell)
        raise ValueError(f"cannot read an image from a {type(cell).__name__}")

    def images(self, cells: Any) -> list[str]:
        if cells is None:
            return []
        if isinstance(cells, str) and cells.startswith("["):
            cells = json.loads(cells)
        if not isinstance(cells, (list, tuple)):
            cells = [cells]
        return [self.image(c) for c in cells if c is not None and c != ""]

    def path(self, relative: str) -> str:
        """A media path from an annotation, resolved against the data folder."""
        p = Path(relative)
        return str(p if p.is_absolute() else self.data_dir / p)

    def find(self, *candidates: str) -> str:
        """The first candidate path that exists: benchmarks are unpacked into slightly different
        folders by different tools. Falls back to the first candidate, which media loading then
        reports as missing."""
        paths = [self.path(c) for c in candidates]
        return next((p for p in paths if Path(p).exists()), paths[0])

    def _write(self, data: bytes) -> str:
        digest = hashlib.blake2b(data, digest_size=12).hexdigest()
        suffix = ".png" if data[:8] == b"\x89PNG\r\n\x1a\n" else ".jpg"
        target = self.cache_dir / f"{digest}{suffix}"
        if not target.exists():
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(target)
        return str(target)


_INLINE_OPTION = re.compile(r"(?:^|\n|\s)\(?([A-J])[\.\):：]\s*")


def split_inline_options(text: str) -> tuple[str, list[str]]:
    """'Which is nearer? Options: A. chair, B. table' -> ('Which is nearer?', ['chair', 'table']).

    Options must run A, B, C, ... in order; otherwise the text is returned with no options.
    """
    marks: list[re.Match[str]] = []
    for match in _INLINE_OPTION.finditer(text):
        if match.group(1) == option_letter(len(marks)):
            marks.append(match)
    if len(marks) < 2:
        return text.strip(), []
    stem = text[: marks[0].start()]
    stem = re.sub(
        r"(?:options|choices)\s*[:：]?\s*$", "", stem.strip(), flags=re.IGNORECASE
    ).strip()
    options = []
    for i, match in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        options.append(text[match.end() : end].strip().rstrip(",;").strip())
    return stem, options


def strip_letter(option: str) -> str:
    """'A. red chair' -> 'red chair'."""
    return re.sub(r"^\s*\(?[A-Z][\.\):]\s*", "", str(option)).strip()


def answer_letter(answer: Any, options: list[str]) -> str:
    """The letter of an answer given as a letter ('B', '(B)', 'B. text'), an index, or option
    text."""
    if isinstance(answer, int) or (
        isinstance(answer, str) and answer.strip().isdigit() and len(options) > 0
    ):
        index = int(answer)
        if 0 <= index < len(options):
            return option_letter(index)
    text = str(answer).strip()
    match = re.match(r"^\(?([A-Z])(?:[\.\):]|\s|$)", text)
    if match and ord(match.group(1)) - ord("A") < len(options):
        return match.group(1)
    for i, option in enumerate(options):
        if strip_letter(option).lower() == strip_letter(text).lower():
            return option_letter(i)
    raise ValueError(f"answer {answer!r} matches none of the options {options}")


def json_cell(value: Any) -> Any:
    """A cell that some releases store as JSON (or Python literal) text and others as a value."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return ast.literal_eval(value)
    return value


def digest_id(*parts: Any) -> str:
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=6).hexdigest()
