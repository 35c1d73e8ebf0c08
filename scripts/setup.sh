#!/usr/bin/env bash
# The one set-up path, used by `make demo`, `make test` and CI.
# Creates .venv, installs pinned dependencies (ROS 2 Kilted wheels, torch, ...), builds our ROS
# interfaces into the venv (which is a ROS prefix) and installs the package in editable mode.
# Idempotent: each stage is skipped while the files it depends on are unchanged.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3.11}"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
say() { echo "[setup] $*"; }
# pip warns once per package about this machine's local index layout; that is noise here.
quiet_pip() { "$PY" -m pip "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
digest() { cat "$@" | sha256sum | cut -c1-16; }
stage_done() { [ "$(cat "$VENV/.stamp-$1" 2>/dev/null)" = "$2" ]; }
mark_done() { echo "$2" > "$VENV/.stamp-$1"; }

# The kernel worker's namespaces come from bubblewrap and its seccomp filter from libseccomp
# (kernel/containment.py); the kernel refuses to start without them unless configured otherwise.
if ! command -v bwrap >/dev/null 2>&1 || ! ldconfig -p 2>/dev/null | grep -q libseccomp.so.2; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing bubblewrap and libseccomp2 (kernel containment)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap libseccomp2; } >/dev/null \
      || { say "could not install bubblewrap/libseccomp2 with apt-get"; exit 1; }
  else
    say "warning: the kernel sandbox needs bubblewrap and libseccomp2: sudo apt install bubblewrap libseccomp2"
  fi
fi

if [ ! -x "$PY" ]; then
  say "creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi

deps=$(digest requirements.txt requirements-nodeps.txt requirements.lock scripts/fix_ros_cmake_paths.py)
if ! stage_done deps "$deps"; then
  say "installing dependencies (first run takes several minutes: torch alone is ~5.5 GB)"
  quiet_pip install --quiet --disable-pip-version-check -r requirements.txt -c requirements.lock
  quiet_pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
  "$PY" scripts/fix_ros_cmake_paths.py "$VENV"
  mark_done deps "$deps"
fi

# The venv is the ROS prefix: CMake finds the wheels' packages there and installs ours there.
IFACE_DIR=lib/spatialclaw_ros_interfaces
export AMENT_PREFIX_PATH="$VENV" CMAKE_PREFIX_PATH="$VENV" PATH="$VENV/bin:$PATH"
ifaces=$(digest CMakeLists.txt package.xml msg/*.msg srv/*.srv action/*.action "$VENV/.stamp-deps")
if ! stage_done interfaces "$ifaces"; then
  say "building ROS interfaces into $VENV"
  rm -rf build/interfaces "$VENV/$IFACE_DIR"
  mkdir -p build
  cmake -S . -B build/interfaces -Wno-dev -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$VENV" -DBUILD_TESTING=OFF -DSPATIALCLAW_INSTALL_PYTHON=OFF \
    -DPython3_EXECUTABLE="$PY" -DPYTHON_INSTALL_DIR="$IFACE_DIR" > build/interfaces.log 2>&1 \
    && cmake --build build/interfaces -j "$(nproc)" >> build/interfaces.log 2>&1 \
    && cmake --install build/interfaces >> build/interfaces.log 2>&1 \
    || { tail -40 build/interfaces.log; say "interface build failed (full log: build/interfaces.log)"; exit 1; }
  # Generated Python goes to its own directory so that the editable package in the source tree
  # stays first on sys.path; spatialclaw_ros/__init__.py extends its __path__ to find it.
  # Its egg-info must go too: pip would take it for an older install of this package and
  # "uninstall" the generated files when installing the editable one.
  rm -rf "$VENV/$IFACE_DIR/spatialclaw_ros/__init__.py" "$VENV/$IFACE_DIR"/*.egg-info
  echo "$VENV/$IFACE_DIR" > "$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/spatialclaw_ros_interfaces.pth"
  mark_done interfaces "$ifaces"
fi

pkg=$(digest pyproject.toml setup.py "$VENV/.stamp-interfaces")
if ! stage_done package "$pkg"; then
  say "installing spatialclaw_ros (editable)"
  quiet_pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation \
    --config-settings editable_mode=compat -e .
  "$PY" -c "from spatialclaw_ros.action import AskSpatial; from spatialclaw_ros.msg import ObjectEstimate"
  mark_done package "$pkg"
fi
# tf2_msgs: the ROS wheels have none, so /tf and /tf_static could be neither published nor read.
# Its one message is built from the standard definition (interfaces/tf2_msgs); skipped where the
# distribution's package is importable (a full ROS install).
tf2=$(digest interfaces/tf2_msgs/CMakeLists.txt interfaces/tf2_msgs/package.xml interfaces/tf2_msgs/msg/*.msg "$VENV/.stamp-deps")
if ! stage_done tf2_msgs "$tf2"; then
  if [ ! -f "$VENV/share/tf2_msgs/package.xml" ] && "$PY" -c "import tf2_msgs.msg" 2>/dev/null; then
    say "tf2_msgs comes from the ROS installation; not building our own"
  else
    say "building the tf2_msgs interface into $VENV"
    site=$("$PY" -c 'import os, sys, sysconfig; print(os.path.relpath(sysconfig.get_paths()["purelib"], sys.prefix))')
    rm -rf build/tf2_msgs && mkdir -p build
    cmake -S interfaces/tf2_msgs -B build/tf2_msgs -Wno-dev -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_INSTALL_PREFIX="$VENV" -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$PY" -DPYTHON_INSTALL_DIR="$site" \
      > build/tf2_msgs.log 2>&1 \
      && cmake --build build/tf2_msgs -j "$(nproc)" >> build/tf2_msgs.log 2>&1 \
      && cmake --install build/tf2_msgs >> build/tf2_msgs.log 2>&1 \
      || { tail -40 build/tf2_msgs.log; say "tf2_msgs build failed (full log: build/tf2_msgs.log)"; exit 1; }
    "$PY" -c "from tf2_msgs.msg import TFMessage"
  fi
  mark_done tf2_msgs "$tf2"
fi
say "ready: $VENV"
