"""Camera settings shared by the agent node and the bag reader: the `camera.<name>.*` parameters.

The node declares them as ROS parameters (ros/settings.py); the bag reader reads the same names
from the same parameter file (config/spatialclaw.yaml), so one file configures both. Empty topic
names mean "not published".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from spatialclaw_ros.frames.poses import BODY_FROM_OPTICAL, rigid_transform

# name -> (default, description); the node declares each as camera.<name>.<key>.
CAMERA_PARAMETERS: dict[str, tuple[Any, str]] = {
    "image_topic": (
        "",
        "colour topic (sensor_msgs/Image or CompressedImage); default /<name>/image_raw",
    ),
    "compressed": (False, "the colour topic is sensor_msgs/CompressedImage"),
    "depth_topic": ("", "aligned depth (16UC1 mm or 32FC1 m); empty = none"),
    "depth_compressed": (False, "the depth topic is a compressedDepth CompressedImage"),
    "info_topic": ("", "sensor_msgs/CameraInfo; default /<name>/camera_info"),
    "labels_topic": (
        "",
        "instance-label images (mono8/16UC1/32SC1) from a simulator; empty = none",
    ),
    "label_names": ([""], "id:name pairs for labels_topic, e.g. ['1:red chair']"),
    "label_names_topic": (
        "",
        'std_msgs/String with JSON {"id": "name"} naming label ids as they appear; empty = none',
    ),
    "base_to_optical": (
        [0.0],
        "x y z qx qy qz qw of the optical frame in base_link (pose_source odom)",
    ),
    "reliable": (
        False,
        "subscribe with reliable QoS (a replayed bag: no frame lost; a best-effort "
        "driver is then not heard)",
    ),
}


@dataclass(frozen=True)
class CameraTopics:
    """One camera's configuration. Empty topic names mean "not published"."""

    name: str
    image_topic: str
    compressed: bool = False
    depth_topic: str = ""
    depth_compressed: bool = False
    info_topic: str = ""
    labels_topic: str = ""
    label_names: dict[int, str] = field(default_factory=dict)
    label_names_topic: str = ""
    base_to_optical: np.ndarray = field(
        default_factory=lambda: BODY_FROM_OPTICAL.copy(), compare=False
    )
    # Sensor-data QoS (best effort) hears every publisher but loses frames under load; reliable
    # loses none from a reliable publisher (`spatialclaw bag play`) but hears no best-effort one.
    reliable: bool = False

    def parameters(self) -> dict[str, Any]:
        """The camera.<name>.* values that configure this camera (what `bag info` prints)."""
        values = {
            "image_topic": self.image_topic,
            "compressed": self.compressed,
            "depth_topic": self.depth_topic,
            "depth_compressed": self.depth_compressed,
            "info_topic": self.info_topic,
            "labels_topic": self.labels_topic,
            "label_names_topic": self.label_names_topic,
            "reliable": self.reliable,
        }
        if self.label_names:
            values["label_names"] = [f"{k}:{v}" for k, v in sorted(self.label_names.items())]
        return values


def camera_from_parameters(name: str, values: dict[str, Any]) -> CameraTopics:
    """A camera from its camera.<name>.* values (missing ones take their defaults)."""
    unknown = sorted(set(values) - set(CAMERA_PARAMETERS))
    if unknown:
        raise ValueError(
            f"unknown camera.{name} setting(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(CAMERA_PARAMETERS)}"
        )
    c = {key: values.get(key, default) for key, (default, _) in CAMERA_PARAMETERS.items()}
    return CameraTopics(
        name=name,
        image_topic=c["image_topic"] or f"/{name}/image_raw",
        compressed=bool(c["compressed"]),
        depth_topic=c["depth_topic"],
        depth_compressed=bool(c["depth_compressed"]),
        info_topic=c["info_topic"] or f"/{name}/camera_info",
        labels_topic=c["labels_topic"],
        label_names=parse_label_names(c["label_names"]),
        label_names_topic=c["label_names_topic"],
        base_to_optical=_extrinsic(name, c["base_to_optical"]),
        reliable=bool(c["reliable"]),
    )


def cameras_from_file(path: str | Path, node: str = "spatialclaw") -> list[CameraTopics]:
    """The cameras a ROS parameter file configures for `node` (config/spatialclaw.yaml's layout;
    nested `camera: {name: {...}}` or flat `camera.name.key` entries)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"parameter file not found: {path}")
    data = yaml.safe_load(path.read_text()) or {}
    params = (data.get(node) or data.get(f"/{node}") or {}).get("ros__parameters")
    if params is None:
        raise ValueError(f"{path} has no {node}: ros__parameters: section")
    flat = _flatten(params)
    names = flat.get("cameras", ["camera"])
    cameras = []
    for name in names:
        prefix = f"camera.{name}."
        cameras.append(
            camera_from_parameters(
                name, {k[len(prefix) :]: v for k, v in flat.items() if k.startswith(prefix)}
            )
        )
    return cameras


def _flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def parse_label_names(pairs: list[str]) -> dict[int, str]:
    """['1:red chair', '2:door'] -> {1: 'red chair', 2: 'door'}; empty strings are skipped."""
    names = {}
    for pair in pairs:
        if not pair:
            continue
        key, sep, label = pair.partition(":")
        if not sep or not key.strip().isdigit() or not label.strip():
            raise ValueError(f"label_names entries look like '3:red chair', got {pair!r}")
        names[int(key)] = label.strip()
    return names


def parse_label_names_json(text: str) -> dict[int, str]:
    """Label names as simulators announce them: '{"1": "red chair"}' or, as Isaac Sim writes them,
    '{"1": {"class": "red chair"}}' -> {1: "red chair"}."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"label names are not JSON ({error.msg})") from None
    if not isinstance(data, dict):
        raise ValueError(
            'label names must be a JSON object of id -> name, e.g. {"1": "red chair"}'
        )
    names = {}
    for key, value in data.items():
        name = value.get("class") if isinstance(value, dict) else value
        if not str(key).strip().isdigit() or not isinstance(name, str):
            raise ValueError(
                'label names must be a JSON object of id -> name, e.g. {"1": "red chair"} '
                f'or {{"1": {{"class": "red chair"}}}}; got {key!r}: {value!r}'
            )
        names[int(key)] = name
    return names


def _extrinsic(camera: str, values: list[float]) -> np.ndarray:
    # the [0.0] placeholder: ROS parameters cannot declare an empty typed array
    if len(values) <= 1:
        return BODY_FROM_OPTICAL.copy()
    if len(values) != 7:
        raise ValueError(
            f"camera.{camera}.base_to_optical needs 7 numbers (x y z qx qy qz qw), got "
            f"{len(values)}"
        )
    return rigid_transform(values[:3], values[3:])
