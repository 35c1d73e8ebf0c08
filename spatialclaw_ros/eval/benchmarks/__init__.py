"""Benchmark adapters: the paper's 20 benchmarks and our synthetic one, read from local copies."""

from spatialclaw_ros.eval.benchmarks.adapters import BENCHMARKS
from spatialclaw_ros.eval.benchmarks.registry import (
    Benchmark,
    RowFailure,
    load_samples,
    score_sample,
)


def get_benchmark(name: str) -> Benchmark:
    key = name.strip().lower().replace("-", "_")
    if key not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}")
    return BENCHMARKS[key]


__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "RowFailure",
    "get_benchmark",
    "load_samples",
    "score_sample",
]
