"""The package as a ROS user builds and tests it: `colcon build` in a workspace against the venv's
ROS prefix installs interfaces, our Python package, launch/, config/ and the node executables,
the installed copy imports, and `colcon test` runs the lint and writes results we read back."""

import os
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)


@pytest.mark.slow
@pytest.mark.skipif(
    bool(os.environ.get("SPATIALCLAW_IN_COLCON_TEST")), reason="already inside colcon test"
)
def test_colcon_build_install_and_test_in_a_workspace(tmp_path):
    # A colcon workspace (src/<package>): CMake refuses exported include paths inside the source
    # tree, and the venv lives inside this checkout.
    source = tmp_path / "src" / "spatialclaw_ros"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", "build", ".git", "runs", "__pycache__", ".whl", "log", "install"
        ),
    )
    prefix, build = tmp_path / "install", tmp_path / "build"
    env = dict(os.environ, AMENT_PREFIX_PATH=str(VENV), CMAKE_PREFIX_PATH=str(VENV))
    env["PATH"] = f"{VENV / 'bin'}:{env['PATH']}"
    python_dir = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
    colcon = [str(VENV / "bin" / "colcon"), "--log-base", str(tmp_path / "log")]
    workspace = [
        "--base-paths",
        str(tmp_path / "src"),
        "--build-base",
        str(build),
        "--install-base",
        str(prefix),
        "--merge-install",
    ]
    build_cmd = colcon + [
        "build",
        *workspace,
        "--cmake-args",
        "-Wno-dev",
        f"-DPython3_EXECUTABLE={sys.executable}",
        f"-DPYTHON_INSTALL_DIR={python_dir}",
    ]
    done = subprocess.run(build_cmd, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    package = prefix / python_dir / "spatialclaw_ros"
    for relative in [
        "action/_ask_spatial.py",
        "msg/_object_estimate.py",
        "srv/_segment.py",
        "kernel/__init__.py",
        "agent/__init__.py",
        "ros/__init__.py",
        "cli.py",
    ]:
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
    run_env = dict(
        env,
        PYTHONPATH=str(prefix / python_dir),
        LD_LIBRARY_PATH=f"{prefix / 'lib'}:{env.get('LD_LIBRARY_PATH', '')}",
        PYTHONNOUSERSITE="1",
        _ROS_WHEELS_BOOTSTRAP_COMPLETE="",
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=run_env, capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    init_file, action_file, code = done.stdout.split()
    assert init_file.startswith(str(prefix)) and action_file.startswith(str(prefix))
    assert code == "7"

    # colcon test: the lint test of CMakeLists.txt (the suite itself is what runs this test).
    test_cmd = colcon + ["test", *workspace, "--ctest-args", "-R", "lint"]
    done = subprocess.run(test_cmd, env=env, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = build / "spatialclaw_ros" / "test_results" / "spatialclaw_ros" / "lint.xunit.xml"
    suite = ElementTree.parse(results).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    assert int(suite.get("tests")) == 3, ElementTree.tostring(suite)[:2000]
    assert (int(suite.get("failures")), int(suite.get("errors"))) == (0, 0), ElementTree.tostring(
        suite
    )[-4000:]
    summary = subprocess.run(
        colcon + ["test-result", "--test-result-base", str(build)],
        env=env,
        capture_output=True,
        text=True,
    )
    # the three pytest cases, and ctest's own record of the `lint` test
    assert "4 tests, 0 errors, 0 failures" in summary.stdout, summary.stdout
