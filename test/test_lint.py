"""The lint CI runs (and `colcon test` as its `lint` test): ruff and mypy with the configuration
in pyproject.toml, over the package, its tests, benchmarks and scripts. New findings fail."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["spatialclaw_ros", "test", "bench", "scripts"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_finds_nothing():
    done = run("ruff", "check", "--no-cache", *PATHS)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


def test_code_is_formatted():
    done = run("ruff", "format", "--check", "--no-cache", *PATHS)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]


def test_mypy_finds_nothing():
    done = run("mypy", "spatialclaw_ros")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
