"""The tool reference the VLM reads, rendered from the tools' own signatures and docstrings."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap

from spatialclaw_ros.perception.types import (
    Box3D,
    ObjectDistance,
    ObjectMask,
    Reconstruction,
    Segmentation,
)
from spatialclaw_ros.tools.draw import Draw
from spatialclaw_ros.tools.geometry import Geometry, Plane
from spatialclaw_ros.tools.graph import Graph
from spatialclaw_ros.tools.inputs import Metadata, VideoInfo
from spatialclaw_ros.tools.masks import Mask
from spatialclaw_ros.tools.perception import SAM3, Reconstruct
from spatialclaw_ros.tools.timing import Time
from spatialclaw_ros.tools.vlm import VLM

ENTRY_POINTS = """\
Names defined in the kernel (state persists between cells; numpy as np, math, scipy,
matplotlib and plt are imported):
- InputImages: list of frames (H x W x 3 uint8 RGB numpy arrays, read-only) with .frame_index,
  .timestamp (s), .camera. Several videos: InputImages_1, InputImages_2, ...
- Metadata: .frame_count, .fps, .duration, .timestamps, .cameras, .intrinsics, .options,
  .videos[i] for each video; print(Metadata) for a summary.
- show(x): attach images (arrays, InputImages, matplotlib figures, or a list) to the next
  observation; plt.show() attaches open figures too. A 2D map such as depth is stretched
  from its minimum (black) to its maximum (white). Images are budgeted per episode.
- vlm.locate(images, query), vlm.ask(images, query): see below.
- ReturnAnswer(x): submit the final answer (str, int or float; the option letter for multiple
  choice).
Allowed imports: numpy, scipy (not scipy.io), matplotlib.pyplot, cv2 (no file or camera I/O),
networkx, time (clocks and sleep), math, statistics, random, itertools, functools, collections,
heapq, bisect, re, json, dataclasses, typing, abc, enum, copy, fractions, decimal, operator,
datetime, warnings, pprint, textwrap. No files, network, threads, subprocesses, os/sys or
environment access."""


# What tools return, in the order a cell meets them; documented from their own code below.
RESULT_TYPES = (
    Reconstruction,
    Segmentation,
    ObjectMask,
    Box3D,
    ObjectDistance,
    Plane,
    Metadata,
    VideoInfo,
)


def _signature(member) -> str:
    """The signature as a caller writes it: no self, annotations without their string quotes."""
    text = str(inspect.signature(member)).replace("(self, ", "(").replace("(self)", "()")
    return text.replace("'", "")


def _method_lines(owner: str, obj) -> list[str]:
    lines = []
    for name, member in inspect.getmembers(obj):
        if name.startswith("_") or not callable(member):
            continue
        doc = inspect.getdoc(member) or ""
        lines.append(f"  {owner}.{name}{_signature(member)}")
        lines.extend(f"      {line}" for line in doc.splitlines())
    return lines


def _field_lines(cls) -> list[str]:
    """`.name: type  # the comment beside it in the source`, for each annotated class field."""
    source = textwrap.dedent(inspect.getsource(cls))
    source_lines = source.splitlines()
    lines = []
    definition = ast.parse(source).body[0]
    if not isinstance(definition, ast.ClassDef):
        raise TypeError(f"{cls!r} is not a class")
    for node in definition.body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and not node.target.id.startswith("_")
        ):
            _, _, comment = source_lines[node.lineno - 1].partition("  #")
            note = f"  ({comment.strip()})" if comment.strip() else ""
            lines.append(f"  .{node.target.id}: {ast.unparse(node.annotation)}{note}")
    return lines


def _result_type(cls) -> list[str]:
    summary = " ".join((inspect.getdoc(cls) or "").split("\n\n")[0].split())
    lines = [f"{cls.__name__}: {summary}", *_field_lines(cls)]
    for name, member in inspect.getmembers(cls):
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            doc = " ".join((inspect.getdoc(member) or "").split())
            lines.append(f"  .{name}" + (f": {doc}" if doc else ""))
        elif inspect.isfunction(member) and name not in _INTERNAL:
            doc = " ".join((inspect.getdoc(member) or "").split())
            lines.append(f"  .{name}{_signature(member)}" + (f": {doc}" if doc else ""))
    return lines


_INTERNAL = ("between", "indexed_by_frame", "describe")  # builders and plumbing, not for cells
_FIRST_SENTENCE = re.compile(r"(?<!e\.g)(?<!i\.e)\.\s+(?=[A-Z(`\"])|\n\n")


def describe_results() -> str:
    """The result types tools return: fields, properties and methods, from their code."""
    return "\n".join(line for cls in RESULT_TYPES for line in _result_type(cls))


def summarize_tools() -> str:
    """One line per tool (its signature and the first sentence of its doc), for the planner."""
    lines = [
        "tools.Reconstruct(frames): depth, camera poses, point maps; "
        "recon.height/box_3d/distance_between"
    ]
    for owner, cls in _SECTIONS:
        for name, member in inspect.getmembers(cls):
            if name.startswith("_") or not callable(member):
                continue
            first = " ".join(
                _FIRST_SENTENCE.split(inspect.getdoc(member) or "")[0].split()
            ).rstrip(".")
            lines.append(f"{owner}.{name}: {first[:110]}")
    return "\n".join(lines)


def describe() -> str:
    """The full API reference of the kernel's tools, for the VLM's system prompt."""
    parts = [ENTRY_POINTS, "", "tools.Reconstruct(frames, frame_indices=None)"]
    parts += [
        f"    {line}" for line in (inspect.getdoc(Reconstruct) or "").splitlines()[1:] if line
    ]
    for owner, cls in _SECTIONS:
        summary = " ".join((inspect.getdoc(cls) or "").split("\n\n")[0].split())
        parts.append(f"{owner}: {summary}")
        parts.extend(_method_lines(owner, cls))
    parts += ["", "Result types (what the tools return):", describe_results()]
    return "\n".join(parts)


_SECTIONS = (
    ("tools.SAM3", SAM3),
    ("tools.Geometry", Geometry),
    ("tools.Mask", Mask),
    ("tools.Time", Time),
    ("tools.Graph", Graph),
    ("tools.Draw", Draw),
    ("vlm", VLM),
)
