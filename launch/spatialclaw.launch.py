"""Agent node + perception node.

ros2 launch spatialclaw_ros spatialclaw.launch.py camera:=front image_topic:=/front/color/image_raw \
    depth_topic:=/front/aligned_depth_to_color/image_raw info_topic:=/front/color/camera_info \
    vlm_url:=http://gpu-box:8000/v1 vlm_model:=Qwen/Qwen3.6-27B
"""

import os
import secrets

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node

CONFIG = os.path.join(get_package_share_directory("spatialclaw_ros"), "config")
ARGUMENTS = {
    "params_file": (os.path.join(CONFIG, "spatialclaw.yaml"), "parameters for both nodes"),
    # the settings files `spatialclaw ask` and `spatialclaw eval` read too (--config)
    "agent_config": (os.path.join(CONFIG, "agent.yaml"), "agent settings (VLM, executor, budgets)"),
    "perception_config": (os.path.join(CONFIG, "perception.yaml"), "perception settings (backends, models, device)"),
    "camera": ("camera", "name of the camera the topics below belong to"),
    "image_topic": ("/camera/color/image_raw", "colour images"),
    "depth_topic": ("", "aligned depth images (empty = none)"),
    "info_topic": ("/camera/color/camera_info", "CameraInfo"),
    "labels_topic": ("", "instance-label images from a simulator or synthetic bag (empty = none)"),
    "label_names_topic": ("", "std_msgs/String JSON naming the label ids (empty = none)"),
    # Empty: the agent's and perception's own settings (their files, SPATIALCLAW_* variables and
    # defaults; config/agent.yaml and config/perception.yaml list them).
    "vlm_url": ("", "OpenAI-compatible VLM endpoint (empty = the agent settings')"),
    "vlm_model": ("", "model at that endpoint (empty = the agent settings')"),
    "executor": ("", "code | no_tools | single_pass | tool_calls | rules (empty = the agent settings')"),
    "reconstruct_backend": ("", "da3 | sensor | fused (empty = the perception settings')"),
    "segment_backend": ("", "sam3 | labels (empty = the perception settings')"),
    "perception_port": ("8765", "port of the perception node's service for the kernels (on this machine)"),
    "with_perception_node": ("true", "start the perception node (false: models load inside the agent node)"),
    "target_frame": ("", "frame for objects and markers (empty = reconstruction frame)"),
    "pose_source": ("none", "tf | odom | none"),
    "use_sim_time": ("false", "use /clock (bag replay, simulation)"),
    "autostart": ("true", "configure and activate both lifecycle nodes at start (false: a lifecycle manager does)"),
}


def generate_launch_description():
    arg = {name: LaunchConfiguration(name) for name in ARGUMENTS}
    camera = arg["camera"]
    perception = {
        "perception.config": arg["perception_config"],
        "perception.reconstruct_backend": arg["reconstruct_backend"],
        "perception.segment_backend": arg["segment_backend"],
    }
    agent = Node(
        package="spatialclaw_ros",
        executable="agent_node",
        name="spatialclaw",
        output="screen",
        parameters=[
            arg["params_file"],
            {
                "use_sim_time": arg["use_sim_time"],
                "lifecycle.autostart": arg["autostart"],
                "cameras": [camera],
                ("camera.", camera, ".image_topic"): arg["image_topic"],
                ("camera.", camera, ".depth_topic"): arg["depth_topic"],
                ("camera.", camera, ".info_topic"): arg["info_topic"],
                ("camera.", camera, ".labels_topic"): arg["labels_topic"],
                ("camera.", camera, ".label_names_topic"): arg["label_names_topic"],
                "vlm.base_url": arg["vlm_url"],
                "vlm.model": arg["vlm_model"],
                "agent.config": arg["agent_config"],
                "agent.executor": arg["executor"],
                "target_frame": arg["target_frame"],
                "pose_source": arg["pose_source"],
                **perception,
            },
            # With the perception node running, the agent node's kernels use its service.
            {
                "perception.service_url": PythonExpression(
                    ["'http://127.0.0.1:", arg["perception_port"], "' if '", arg["with_perception_node"],
                     "'.lower() == 'true' else ''"]
                )
            },
        ],
    )
    perception_node = Node(
        package="spatialclaw_ros",
        executable="perception_node",
        name="spatialclaw_perception",
        output="screen",
        condition=IfCondition(arg["with_perception_node"]),
        parameters=[
            arg["params_file"],
            {"use_sim_time": arg["use_sim_time"], "lifecycle.autostart": arg["autostart"],
             "service.port": arg["perception_port"], **perception},
        ],
    )
    # Both nodes share one service token through the environment (not a parameter, which anyone on
    # the ROS graph could read); a fresh random one unless the user set it.
    token = os.environ.get("SPATIALCLAW_PERCEPTION_TOKEN") or secrets.token_urlsafe(24)
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text) for name, (default, text) in ARGUMENTS.items()]
        + [SetEnvironmentVariable("SPATIALCLAW_PERCEPTION_TOKEN", token), agent, perception_node]
    )
