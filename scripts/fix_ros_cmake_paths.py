"""Point the ROS wheels' CMake exports at this virtual environment.

The Kilted wheels are built in a manylinux image and their exported CMake targets name
`/opt/python/cp311-cp311/include/python3.11` and that image's site-packages (for numpy's
headers). Neither exists here, so building our interfaces against the venv fails until those
two prefixes are rewritten. Safe to run repeatedly: rewritten files no longer match.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

WHEEL_PYTHON = "/opt/python/cp311-cp311"


def rewrites(venv: Path) -> list[tuple[str, str]]:
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site_packages = venv / "lib" / version / "site-packages"
    return [
        (f"{WHEEL_PYTHON}/include/{version}", sysconfig.get_paths()["include"]),
        (f"{WHEEL_PYTHON}/lib/{version}/site-packages", str(site_packages)),
    ]


def fix(venv: Path) -> int:
    pairs = rewrites(venv)
    changed = 0
    for path in (venv / "share").rglob("*.cmake"):
        text = path.read_text(errors="surrogateescape")
        if WHEEL_PYTHON not in text:
            continue
        new = text
        for old, replacement in pairs:
            new = new.replace(old, replacement)
        if new != text:
            path.write_text(new, errors="surrogateescape")
            changed += 1
    return changed


if __name__ == "__main__":
    venv = Path(sys.argv[1] if len(sys.argv) > 1 else sys.prefix).resolve()
    print(f"[setup] rewrote wheel paths in {fix(venv)} CMake files under {venv}/share")
