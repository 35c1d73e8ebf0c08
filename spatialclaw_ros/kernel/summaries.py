"""One-line descriptions of variables for the feedback, and finding 3D results among them."""

from __future__ import annotations

import inspect
import reprlib
import types

import numpy as np

from spatialclaw_ros.kernel import hints  # noqa: F401 - the worker's error reports use it once locked down
from spatialclaw_ros.perception.types import Box3D, ObjectDistance, Reconstruction, Segmentation
from spatialclaw_ros.tools.inputs import InputImage

SUMMARY_CHARS = 120
_SCAN_DEPTH = 3
_SCAN_ITEMS = 1000
_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = SUMMARY_CHARS


def _short(text: str, limit: int = SUMMARY_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _vector(v) -> str:
    return "(" + ", ".join(f"{x:.2f}" for x in np.asarray(v, dtype=np.float64).reshape(-1)) + ")"


def summarize(value) -> str:
    """A short, informative description of a value (type, shape, a peek at the content)."""
    if isinstance(value, InputImage) and value.frame_index >= 0:
        return repr(value)
    if isinstance(value, np.ndarray):
        text = f"ndarray {value.dtype} {value.shape}"
        if value.size <= 12:
            text += " " + np.array2string(value.view(np.ndarray), precision=3, separator=", ")
        elif value.dtype.kind in "biuf" and value.size:
            finite = value[np.isfinite(value)] if value.dtype.kind == "f" else value
            if finite.size:
                text += f" min {finite.min():.3g} max {finite.max():.3g}"
        return _short(text)
    if isinstance(value, Box3D):
        return _short(
            f"Box3D {value.label!r} center {_vector(value.center)} size "
            f"{_vector(value.size)} ({value.world_frame})"
        )
    if isinstance(value, ObjectDistance):
        return _short(
            f"ObjectDistance {value.label_a!r}-{value.label_b!r}: closest "
            f"{value.closest:.3f} m, centroids {value.centroid_distance:.3f} m"
        )
    if isinstance(value, Reconstruction):
        n, h, w = np.shape(value.depth)
        scale = "metric" if value.is_metric else "relative scale"
        return (
            f"Reconstruction: {n} frames {w}x{h}, {scale}, backend {value.backend}, world "
            f"{value.world_frame}"
        )
    if isinstance(value, Segmentation):
        return _short(
            f"Segmentation {value.prompt!r}: {len(value.masks)} masks on frames "
            f"{value.frame_indices}"
        )
    if isinstance(value, type):
        # no signature: for classes inspect may compile a text signature, which the sandbox refuses
        return _short(f"class {value.__name__}")
    if isinstance(value, types.FunctionType):
        try:
            return _short(f"function {value.__name__}{inspect.signature(value)}")
        except (TypeError, ValueError):
            return f"function {value.__name__}"
    name = getattr(value, "__name__", None)
    if callable(value) and isinstance(name, str):
        # builtins, functools wrappers: no signature (inspect would compile a text signature)
        return _short(f"function {name}")
    if isinstance(value, (list, tuple, set, dict)):
        return _short(f"{type(value).__name__} of {len(value)}: {_REPR.repr(value)}")
    if isinstance(value, (str, int, float, complex, bool, np.generic)) or value is None:
        return _short(_REPR.repr(value))
    return _short(f"{type(value).__name__}: {_REPR.repr(value)}")


def find_results(values, depth: int = _SCAN_DEPTH) -> tuple[list[Box3D], list[ObjectDistance]]:
    """Box3D and ObjectDistance values among `values`, looking inside lists, tuples, sets and
    dicts."""
    boxes: list[Box3D] = []
    distances: list[ObjectDistance] = []
    seen: set[int] = set()
    pending = [(v, 0) for v in values]
    while pending and len(seen) < _SCAN_ITEMS:
        value, level = pending.pop(0)
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, Box3D):
            boxes.append(value)
        elif isinstance(value, ObjectDistance):
            distances.append(value)
        elif level < depth and isinstance(value, (list, tuple, set, dict)):
            items = value.values() if isinstance(value, dict) else value
            pending.extend((v, level + 1) for v in items)
    return boxes, distances
