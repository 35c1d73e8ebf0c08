"""The nodes' ROS parameters, declared with defaults; the agent node's are read into one typed
settings object.

config/spatialclaw.yaml documents every parameter; the defaults here are the same values.
Cameras are listed by name in `cameras`; each has its own `camera.<name>.*` parameters.

The agent.*, vlm.* and perception.* parameters are views of AgentConfig and PerceptionConfig
(spatialclaw_ros/settings.py): their defaults are what those settings load from their own file
(`agent.config`, `perception.config`), the SPATIALCLAW_* environment and their class defaults, so
every default is declared once, on the settings class, and a parameter set in a params file or on
the command line overrides the file, as a flag does for `spatialclaw ask`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node

from spatialclaw_ros.agent.config import AgentConfig
from spatialclaw_ros.frames.buffer import BufferLimits
from spatialclaw_ros.frames.cameras import (  # noqa: F401  (parse_label_names: re-exported)
    CAMERA_PARAMETERS,
    CameraTopics,
    camera_from_parameters,
    parse_label_names,
)
from spatialclaw_ros.perception.config import PerceptionConfig
from spatialclaw_ros.ros.goals import GOAL_PARAMETERS
from spatialclaw_ros.ros.poses import POSE_SOURCES

# Settings parameters: name -> description. "agent.<field>" and "perception.<field>" are fields of
# AgentConfig and PerceptionConfig, "vlm.<field>" of AgentConfig.vlm. An empty string is "not set"
# too, so a launch argument left empty passes nothing.
AGENT_PARAMETERS: dict[str, str] = {
    "agent.executor": "code | no_tools | single_pass | tool_calls | rules",
    "agent.max_steps": "default step budget",
    "vlm.base_url": "OpenAI-compatible endpoint",
    "vlm.model": "model name at that endpoint",
    "vlm.api_key": "API key (empty = the agent settings' own, e.g. $SPATIALCLAW_VLM_API_KEY)",
    "vlm.timeout_s": "per-request timeout",
    "vlm.max_retries": "retries per request",
}
# The perception models', for both nodes: the agent node's in-process perception and the
# perception node.
PERCEPTION_MODEL_PARAMETERS: dict[str, str] = {
    "perception.reconstruct_backend": "da3 | sensor | fused",
    "perception.segment_backend": "sam3 | labels",
    "perception.da3_model": "DA3 hub id or local directory",
    "perception.sam3_model": "SAM 3 hub id or local directory",
    "perception.device": "auto | cpu | cuda | cuda:N",
    "perception.token": (
        "perception service token (empty = $SPATIALCLAW_PERCEPTION_TOKEN; the perception node "
        "then makes a random one)"
    ),
}
AGENT_PERCEPTION_PARAMETERS: dict[str, str] = {
    **PERCEPTION_MODEL_PARAMETERS,
    "perception.service_url": (
        "perception service URL (the perception node); empty = models load in this node"
    ),
}
# Never shown as a parameter's default.
_SECRETS = frozenset({"vlm.api_key", "perception.token"})
SETTINGS_FILE_PARAMETERS: dict[str, tuple[Any, str]] = {
    "agent.config": (
        "",
        "agent YAML (config/agent.yaml); the agent.* and vlm.* parameters override it",
    ),
    "perception.config": (
        "",
        "perception YAML (config/perception.yaml); the perception.* parameters override it",
    ),
}

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
    **SETTINGS_FILE_PARAMETERS,
    # the node writes traces unless told not to (""); the library writes none unless asked
    "agent.trace_dir": ("runs/traces", "episode traces (JSONL + PNGs); empty = none"),
    **GOAL_PARAMETERS,  # goal bounds, queue and result retention (goals.py)
}

PERCEPTION_NODE_PARAMETERS: dict[str, tuple[Any, str]] = {
    "perception.config": SETTINGS_FILE_PARAMETERS["perception.config"],
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
    agent: AgentConfig
    perception: PerceptionConfig


def declare_and_read(node: Node) -> NodeSettings:
    """Declare every parameter (defaults above) and read them; raises ValueError on a bad value."""
    p = declare_parameters(node, NODE_PARAMETERS)
    if p["pose_source"] not in POSE_SOURCES:
        raise ValueError(f"pose_source must be one of {POSE_SOURCES}, got {p['pose_source']!r}")
    cameras = [_camera(node, name) for name in p["cameras"]]
    agent_file = p["agent.config"] or None
    agent_overrides = declare_settings(node, AGENT_PARAMETERS, AgentConfig.load(agent_file))
    agent = AgentConfig.load(agent_file, {**agent_overrides, "trace_dir": p["agent.trace_dir"]})
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
        agent=agent,
        perception=load_perception(node, AGENT_PERCEPTION_PARAMETERS, p["perception.config"]),
    )


def load_perception(node: Node, descriptions: dict[str, str], path: str) -> PerceptionConfig:
    """PerceptionConfig from `path` (empty: none), the environment and the node's parameters among
    `descriptions`, which this declares."""
    overrides = declare_settings(node, descriptions, PerceptionConfig.load(path or None))
    return PerceptionConfig.load(path or None, overrides)


def with_agent_changes(config: AgentConfig, max_steps: int, vlm: dict[str, Any]) -> AgentConfig:
    """`config` with the run-time parameters' values, validated (a bad one raises ValueError)."""
    return config.updated(max_steps=max_steps, vlm={**config.vlm.model_dump(), **vlm})


def declare_settings(
    node: Node, descriptions: dict[str, str], settings: AgentConfig | PerceptionConfig
) -> dict[str, Any]:
    """Declare `descriptions` (parameter -> text) with `settings`' values as defaults; the values
    the parameters hold, as overrides for those settings (dotted names, None for "not set")."""
    values = declare_parameters(
        node,
        {
            name: ("" if name in _SECRETS else _setting(settings, name), text)
            for name, text in descriptions.items()
        },
    )
    return {
        name.removeprefix("agent.").removeprefix("perception."): None if value == "" else value
        for name, value in values.items()
    }


def _setting(settings: AgentConfig | PerceptionConfig, name: str) -> Any:
    value: Any = settings
    for part in name.removeprefix("agent.").removeprefix("perception.").split("."):
        value = getattr(value, part)
    return "" if value is None else value


def declare_parameters(node: Node, parameters: dict[str, tuple[Any, str]]) -> dict[str, Any]:
    """Declare `parameters` (name -> (default, description)) on `node`; their values by name."""
    return {
        name: _declare(node, name, default, text) for name, (default, text) in parameters.items()
    }


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
