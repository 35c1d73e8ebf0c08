"""The nodes' ROS parameters, declared with defaults; the agent node's are read into one typed
settings object.

config/spatialclaw.yaml documents every parameter; the defaults here are the same values.
Cameras are listed by name in `cameras`; each has its own `camera.<name>.*` parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node

from spatialclaw_ros.frames.buffer import BufferLimits
from spatialclaw_ros.frames.cameras import (  # noqa: F401  (parse_label_names: re-exported)
    CAMERA_PARAMETERS,
    CameraTopics,
    camera_from_parameters,
    parse_label_names,
)
from spatialclaw_ros.ros.goals import GOAL_PARAMETERS
from spatialclaw_ros.ros.poses import POSE_SOURCES

# name -> (default, description). The perception models' parameters, for both nodes: the agent
# node's in-process perception and the perception node.
PERCEPTION_PARAMETERS: dict[str, tuple[Any, str]] = {
    "perception.reconstruct_backend": ("da3", "da3 | sensor | fused"),
    "perception.segment_backend": ("sam3", "sam3 | labels"),
    "perception.da3_model": ("", "DA3 hub id or local directory (empty = perception's default)"),
    "perception.sam3_model": (
        "",
        "SAM 3 hub id or local directory (empty = perception's default)",
    ),
    "perception.device": ("auto", "auto | cpu | cuda"),
}
# Perception settings for which an empty parameter means "not set" (PerceptionConfig's file,
# environment or default decides).
_EMPTY_IS_UNSET = ("da3_model", "sam3_model", "device", "service_url", "token")

# Both nodes are lifecycle nodes (docs/ros.md, "Lifecycle").
LIFECYCLE_PARAMETERS: dict[str, tuple[Any, str]] = {
    "lifecycle.autostart": (
        True,
        "configure and activate at start; false: wait for a lifecycle manager "
        "(ros2 lifecycle set / nav2_lifecycle_manager)",
    ),
}

NODE_PARAMETERS: dict[str, tuple[Any, str]] = {
    "cameras": (["camera"], "camera names; each has camera.<name>.* parameters"),
    "buffer.max_frames": (
        100,
        "frames kept per camera and stream (memory: see config/spatialclaw.yaml)",
    ),
    "buffer.max_age_s": (30.0, "frames older than the newest by more than this are dropped"),
    "buffer.sync_tolerance_s": (
        0.02,
        "largest stamp difference when pairing colour with depth/labels",
    ),
    "buffer.min_interval_s": (
        0.1,
        "keep at most one frame per this many seconds (0 = every frame)",
    ),
    "default_window_s": (10.0, "seconds of frames a goal samples when it gives no window"),
    "default_num_frames": (8, "frames per camera a goal samples when it gives no count"),
    "max_num_frames": (64, "largest frame count a goal may ask for"),
    "max_staleness_s": (
        5.0,
        "refuse goals about 'now' when the newest frame is older than this (0 = never)",
    ),
    "max_question_chars": (2000, "longest question accepted"),
    "goal_timeout_s": (600.0, "an episode running longer is stopped at its next step"),
    "queue_goals": (True, "queue goals while one runs (false: answer BUSY)"),
    "target_frame": (
        "",
        "frame for objects and markers; empty = the frame the reconstruction is in",
    ),
    "pose_source": ("none", "camera poses from: tf | odom | none (reconstruction estimates them)"),
    "world_frame": ("map", "world frame for pose_source tf"),
    "odom_topic": ("/odom", "nav_msgs/Odometry topic for pose_source odom"),
    "marker_lifetime_s": (0.0, "marker lifetime (0 = until the next answer deletes them)"),
    "record_bag_dir": (
        "",
        "record answers, markers, annotated images and traces to mcap bags here",
    ),
    **LIFECYCLE_PARAMETERS,
    "agent.config": ("", "agent YAML (see config/agent.yaml); parameters below override it"),
    "agent.executor": ("code", "code | no_tools | single_pass | tool_calls | rules"),
    "agent.max_steps": (30, "default step budget"),
    "agent.trace_dir": ("runs/traces", "episode traces (JSONL + PNGs)"),
    "vlm.base_url": ("http://127.0.0.1:8000/v1", "OpenAI-compatible endpoint"),
    "vlm.model": ("Qwen/Qwen3.6-27B", "model name at that endpoint"),
    "vlm.api_key": ("", "API key (empty = $SPATIALCLAW_VLM_API_KEY or none)"),
    "vlm.timeout_s": (120.0, "per-request timeout"),
    "vlm.max_retries": (3, "retries per request"),
    **PERCEPTION_PARAMETERS,
    "perception.service_url": (
        "",
        "perception service URL (the perception node); empty = in-process",
    ),
    "perception.token": ("", "perception service token (empty = $SPATIALCLAW_PERCEPTION_TOKEN)"),
    **GOAL_PARAMETERS,  # goal bounds, queue and result retention (goals.py)
}

PERCEPTION_NODE_PARAMETERS: dict[str, tuple[Any, str]] = {
    **PERCEPTION_PARAMETERS,
    "perception.token": (
        "",
        "service token (empty = $SPATIALCLAW_PERCEPTION_TOKEN, else a random one)",
    ),
    "service.enabled": (True, "serve the FastAPI perception service for kernels"),
    "service.host": ("127.0.0.1", "bind address (keep it local unless the network is trusted)"),
    "service.port": (8765, "port"),
    **LIFECYCLE_PARAMETERS,
}


# The agent node's parameters that apply while it runs (SpatialClawNode's on-set callback); every
# other parameter of both nodes is read-only: it sizes buffers, names topics or loads models at
# start.
RUNTIME_PARAMETERS = frozenset(
    {
        "buffer.max_age_s",
        "buffer.sync_tolerance_s",
        "buffer.min_interval_s",
        "default_window_s",
        "default_num_frames",
        "max_num_frames",
        "max_staleness_s",
        "max_question_chars",
        "goal_timeout_s",
        "target_frame",
        "marker_lifetime_s",
        "agent.max_steps",
        "vlm.base_url",
        "vlm.model",
        "vlm.timeout_s",
        "vlm.max_retries",
        "max_choices",
        "max_choice_chars",
        "max_cameras",
        "max_window_s",
        "max_steps",
        "max_queued_goals",
    }
)

_DAY_S = 86400.0
# name -> (lowest, highest) accepted; `ros2 param describe` shows them and a value outside is
# refused.
RANGES: dict[str, tuple[float, float]] = {
    "buffer.max_frames": (1, 100_000),
    "buffer.max_age_s": (0.001, _DAY_S),
    "buffer.sync_tolerance_s": (0.0, 10.0),
    "buffer.min_interval_s": (0.0, 3600.0),
    "default_window_s": (0.0, _DAY_S),
    "default_num_frames": (1, 10_000),
    "max_num_frames": (1, 10_000),
    "max_staleness_s": (0.0, _DAY_S),
    "max_question_chars": (1, 1_000_000),
    "goal_timeout_s": (0.1, _DAY_S),
    "marker_lifetime_s": (0.0, _DAY_S),
    "agent.max_steps": (1, 1000),
    "vlm.timeout_s": (0.1, 3600.0),
    "vlm.max_retries": (0, 100),
    "max_choices": (0, 26),
    "max_choice_chars": (1, 1_000_000),
    "max_cameras": (1, 1000),
    "max_window_s": (0.0, _DAY_S),
    "max_steps": (1, 10_000),
    "max_queued_goals": (0, 100_000),
    "result_timeout_s": (0, 7 * 86400),
    "service.port": (1, 65535),
}


def parameter_descriptor(name: str, default: Any, description: str) -> ParameterDescriptor:
    """Description, range (RANGES) and read-only flag (all but RUNTIME_PARAMETERS) of a
    parameter."""
    read_only = name not in RUNTIME_PARAMETERS
    descriptor = ParameterDescriptor(
        description=description
        + (" (read-only: restart the node to change it)" if read_only else ""),
        read_only=read_only,
    )
    if name in RANGES:
        low, high = RANGES[name]
        if isinstance(default, float):
            descriptor.floating_point_range = [
                FloatingPointRange(from_value=float(low), to_value=float(high))
            ]
        else:
            descriptor.integer_range = [
                IntegerRange(from_value=int(low), to_value=int(high), step=1)
            ]
    return descriptor


@dataclass(frozen=True)
class NodeSettings:
    cameras: list[CameraTopics]
    limits: BufferLimits
    default_window_s: float
    default_num_frames: int
    max_num_frames: int
    max_staleness_s: float
    max_question_chars: int
    goal_timeout_s: float
    queue_goals: bool
    target_frame: str
    pose_source: str
    world_frame: str
    odom_topic: str
    marker_lifetime_s: float
    record_bag_dir: str
    agent_config_path: str
    agent_overrides: dict[str, Any] = field(default_factory=dict)
    perception: dict[str, Any] = field(default_factory=dict)


def declare_and_read(node: Node) -> NodeSettings:
    """Declare every parameter (defaults above) and read them; raises ValueError on a bad value."""
    p = declare_parameters(node, NODE_PARAMETERS)
    if p["pose_source"] not in POSE_SOURCES:
        raise ValueError(f"pose_source must be one of {POSE_SOURCES}, got {p['pose_source']!r}")
    cameras = [_camera(node, name) for name in p["cameras"]]
    return NodeSettings(
        cameras=cameras,
        limits=BufferLimits(
            p["buffer.max_frames"],
            p["buffer.max_age_s"],
            p["buffer.sync_tolerance_s"],
            p["buffer.min_interval_s"],
        ),
        default_window_s=p["default_window_s"],
        default_num_frames=p["default_num_frames"],
        max_num_frames=p["max_num_frames"],
        max_staleness_s=p["max_staleness_s"],
        max_question_chars=p["max_question_chars"],
        goal_timeout_s=p["goal_timeout_s"],
        queue_goals=p["queue_goals"],
        target_frame=p["target_frame"],
        pose_source=p["pose_source"],
        world_frame=p["world_frame"],
        odom_topic=p["odom_topic"],
        marker_lifetime_s=p["marker_lifetime_s"],
        record_bag_dir=p["record_bag_dir"],
        agent_config_path=p["agent.config"],
        agent_overrides={
            "executor": p["agent.executor"],
            "max_steps": p["agent.max_steps"],
            "trace_dir": p["agent.trace_dir"] or None,
            "vlm.base_url": p["vlm.base_url"],
            "vlm.model": p["vlm.model"],
            "vlm.api_key": p["vlm.api_key"] or None,
            "vlm.timeout_s": p["vlm.timeout_s"],
            "vlm.max_retries": p["vlm.max_retries"],
        },
        perception=perception_overrides(p),
    )


def declare_parameters(node: Node, parameters: dict[str, tuple[Any, str]]) -> dict[str, Any]:
    """Declare `parameters` (name -> (default, description)) on `node`; their values by name."""
    return {
        name: _declare(node, name, default, text) for name, (default, text) in parameters.items()
    }


def perception_overrides(values: dict[str, Any]) -> dict[str, Any]:
    """The `perception.*` parameters among `values` as PerceptionConfig overrides."""
    overrides = {
        name.removeprefix("perception."): v
        for name, v in values.items()
        if name.startswith("perception.")
    }
    return {key: None if key in _EMPTY_IS_UNSET and v == "" else v for key, v in overrides.items()}


def load_perception_config(overrides: dict[str, Any]):
    """PerceptionConfig from its file, the environment and then `overrides` (None = not set)."""
    from spatialclaw_ros.perception import PerceptionConfig

    return PerceptionConfig.load(overrides=overrides)


def build_perception(overrides: dict[str, Any]):
    """The perception (models, or a client of the perception service) that `overrides`
    configure."""
    from spatialclaw_ros.perception import build_perception as build

    return build(load_perception_config(overrides))


def _declare(node: Node, name: str, default: Any, description: str) -> Any:
    return node.declare_parameter(
        name, default, parameter_descriptor(name, default, description)
    ).value


def _camera(node: Node, name: str) -> CameraTopics:
    values = {
        key: _declare(node, f"camera.{name}.{key}", d, text)
        for key, (d, text) in CAMERA_PARAMETERS.items()
    }
    return camera_from_parameters(name, values)
