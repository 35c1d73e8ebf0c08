"""Raw depth images -> float32 metres with NaN where invalid (REP-118).

ROS depth cameras publish either `32FC1` (metres, NaN or 0 for no return) or `16UC1`
(millimetres, 0 for no return). Everything downstream expects one form, so both are decoded here.
"""

from __future__ import annotations

import numpy as np

from spatialclaw_ros.perception.errors import PerceptionError

MILLIMETRES_PER_METRE = 1000.0


def decode_depth(raw: np.ndarray, encoding: str) -> np.ndarray:
    """Decode a depth image given its ROS encoding ("32FC1" or "16UC1"; "mono16" is treated as
    16UC1)."""
    raw = np.asarray(raw)
    if raw.ndim == 3 and raw.shape[2] == 1:
        raw = raw[:, :, 0]
    if raw.ndim != 2:
        raise PerceptionError(f"a depth image must be H x W, got shape {raw.shape}")
    name = encoding.upper()
    if name == "32FC1":
        if raw.dtype != np.float32:
            raise PerceptionError(f"32FC1 depth must be float32, got {raw.dtype}")
        return metres_from_float(raw)
    if name in ("16UC1", "MONO16"):
        if raw.dtype != np.uint16:
            raise PerceptionError(f"16UC1 depth must be uint16 millimetres, got {raw.dtype}")
        return metres_from_millimetres(raw)
    raise PerceptionError(
        f"unsupported depth encoding {encoding!r}: expected 32FC1 (metres) or 16UC1 (millimetres)"
    )


def metres_from_float(depth: np.ndarray) -> np.ndarray:
    """Float metres with every non-return (NaN, inf, zero, negative) turned into NaN."""
    depth = np.array(depth, dtype=np.float32, copy=True)
    depth[~np.isfinite(depth) | (depth <= 0)] = np.nan
    return depth


def metres_from_millimetres(depth_mm: np.ndarray) -> np.ndarray:
    """uint16 millimetres -> float32 metres; 0 means no return."""
    depth = depth_mm.astype(np.float32) / MILLIMETRES_PER_METRE
    depth[depth_mm == 0] = np.nan
    return depth
