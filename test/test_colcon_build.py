"""The CMakeLists.txt that set-up uses also works as a colcon build: configured against the venv's
ROS prefix with the Python install on, it installs interfaces, our Python package, launch/,
config/ and the node executables into a fresh prefix, and the installed copy imports."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)


@pytest.mark.slow
def test_full_install_into_a_fresh_prefix(tmp_path):
    # Laid out as a colcon workspace (src/<package>): CMake refuses exported include paths inside
    # the source tree, and the venv lives inside this checkout.
    source = tmp_path / "src" / "spatialclaw_ros"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".venv", "build", ".git", "runs", "__pycache__", ".whl"))
    prefix, build = tmp_path / "install", tmp_path / "build"
    env = dict(os.environ, AMENT_PREFIX_PATH=str(VENV), CMAKE_PREFIX_PATH=str(VENV))
    env["PATH"] = f"{VENV / 'bin'}:{env['PATH']}"
    python_dir = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
    steps = [
        ["cmake", "-S", str(source), "-B", str(build), "-Wno-dev", f"-DCMAKE_INSTALL_PREFIX={prefix}",
         "-DBUILD_TESTING=OFF", f"-DPython3_EXECUTABLE={sys.executable}", f"-DPYTHON_INSTALL_DIR={python_dir}"],
        ["cmake", "--build", str(build), "-j", "2"],
        ["cmake", "--install", str(build)],
    ]
    for cmd in steps:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    package = prefix / python_dir / "spatialclaw_ros"
    for relative in ["action/_ask_spatial.py", "msg/_object_estimate.py", "srv/_segment.py",
                     "kernel/__init__.py", "agent/__init__.py", "ros/__init__.py", "cli.py"]:
        assert (package / relative).is_file(), relative
    share = prefix / "share" / "spatialclaw_ros"
    assert (share / "launch" / "spatialclaw.launch.py").is_file()
    assert (share / "config" / "spatialclaw.yaml").is_file()
    assert (share / "package.xml").is_file()
    for exe in ["agent_node", "perception_node"]:
        assert os.access(prefix / "lib" / "spatialclaw_ros" / exe, os.X_OK), exe

    # The installed copy alone (not the source tree, not the venv's generated interfaces) imports.
    probe = (
        "import spatialclaw_ros, spatialclaw_ros.action as a;"
        "from spatialclaw_ros.action import AskSpatial;"
        "print(spatialclaw_ros.__file__); print(a.__file__); print(AskSpatial.Result.TIMED_OUT)"
    )
    run_env = dict(env, PYTHONPATH=str(prefix / python_dir),
                   LD_LIBRARY_PATH=f"{prefix / 'lib'}:{env.get('LD_LIBRARY_PATH', '')}",
                   PYTHONNOUSERSITE="1", _ROS_WHEELS_BOOTSTRAP_COMPLETE="")
    done = subprocess.run([sys.executable, "-c", probe], env=run_env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    init_file, action_file, code = done.stdout.split()
    assert init_file.startswith(str(prefix)) and action_file.startswith(str(prefix))
    assert code == "7"
