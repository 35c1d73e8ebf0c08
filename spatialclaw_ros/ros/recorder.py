"""Records answers, markers, annotated images and episode traces to an mcap bag (rosbags Writer).

The messages are serialised by rclpy (the same CDR bytes the node publishes) and written with
their definitions, our own SpatialAnswer included, so Foxglove or `ros2 bag play` can open the
bag without this package installed.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from rclpy.serialization import serialize_message
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

_OWN_MESSAGES = ("ObjectEstimate", "ObjectMask", "SpatialAnswer")


def interface_typestore():
    """The Kilted typestore plus this package's messages, read from their installed .msg files."""
    typestore = get_typestore(Stores.ROS2_KILTED)
    msg_dir = _msg_dir()
    types = {}
    for name in _OWN_MESSAGES:
        types.update(
            get_types_from_msg(
                (msg_dir / f"{name}.msg").read_text(), f"spatialclaw_ros/msg/{name}"
            )
        )
    typestore.register(types)
    return typestore


def _msg_dir() -> Path:
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("spatialclaw_ros")) / "msg"
    except (ImportError, LookupError, OSError):  # no sourced workspace (pip venv set-up)
        installed = Path(sys.prefix) / "share" / "spatialclaw_ros" / "msg"
        return installed if installed.is_dir() else Path(__file__).resolve().parents[2] / "msg"


class BagRecorder:
    """One mcap bag per node run, under `directory`; thread-safe; close() finalises it.

    `topics` maps each topic name to its message type ("sensor_msgs/msg/Image").
    """

    def __init__(self, directory: str | Path, topics: dict[str, str]):
        base = Path(directory) / time.strftime("spatialclaw_%Y%m%d_%H%M%S")
        self.path, run = base, 1
        while self.path.exists():
            run += 1
            self.path = base.with_name(f"{base.name}_{run}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        typestore = interface_typestore()
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._connections = {
            topic: self._writer.add_connection(topic, msgtype, typestore=typestore)
            for topic, msgtype in topics.items()
        }
        self._lock = threading.Lock()
        self._closed = False

    def write(self, topic: str, msg, stamp_ns: int) -> None:
        data = serialize_message(msg)
        with self._lock:
            if self._closed:
                return
            self._writer.write(self._connections[topic], stamp_ns, data)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._writer.close()
