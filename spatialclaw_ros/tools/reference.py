"""The tool reference the VLM reads, rendered from the tools' own signatures and docstrings."""

from __future__ import annotations

import inspect

from spatialclaw_ros.tools.draw import Draw
from spatialclaw_ros.tools.geometry import Geometry
from spatialclaw_ros.tools.graph import Graph
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


def _method_lines(owner: str, obj) -> list[str]:
    lines = []
    for name, member in inspect.getmembers(obj):
        if name.startswith("_") or not callable(member):
            continue
        doc = inspect.getdoc(member) or ""
        signature = str(inspect.signature(member)).replace("(self, ", "(").replace("(self)", "()")
        lines.append(f"  {owner}.{name}{signature}")
        lines.extend(f"      {line}" for line in doc.splitlines())
    return lines


def describe() -> str:
    """The full API reference of the kernel's tools, for the VLM's system prompt."""
    parts = [ENTRY_POINTS, "", "tools.Reconstruct(frames, frame_indices=None)"]
    parts += [f"    {line}" for line in (inspect.getdoc(Reconstruct) or "").splitlines()[1:] if line]
    sections = (
        ("tools.SAM3", SAM3),
        ("tools.Geometry", Geometry),
        ("tools.Mask", Mask),
        ("tools.Time", Time),
        ("tools.Graph", Graph),
        ("tools.Draw", Draw),
        ("vlm", VLM),
    )
    for owner, cls in sections:
        summary = " ".join((inspect.getdoc(cls) or "").split("\n\n")[0].split())
        parts.append(f"{owner}: {summary}")
        parts.extend(_method_lines(owner, cls))
    return "\n".join(parts)
