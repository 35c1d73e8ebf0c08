"""Launch files, the parameter file and the command line, checked without a ROS install's launch
tools (not available as wheels): syntax, declared arguments, and that every parameter in the
YAML is one the nodes declare, with the same default."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from spatialclaw_ros.ros.settings import CAMERA_PARAMETERS, NODE_PARAMETERS, parse_label_names

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.ros


def launch_arguments(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "generate_launch_description" in functions
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "DeclareLaunchArgument" and node.args:
            if isinstance(node.args[0], ast.Constant):
                names.add(node.args[0].value)
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "ARGUMENTS" for t in node.targets):
            names |= {k.value for k in node.value.keys}
    return names


def test_launch_files_parse_and_declare_their_arguments():
    main = launch_arguments(ROOT / "launch" / "spatialclaw.launch.py")
    assert {"image_topic", "depth_topic", "info_topic", "vlm_url", "vlm_model", "reconstruct_backend",
            "segment_backend", "target_frame", "use_sim_time", "labels_topic", "label_names_topic"} <= main
    assert {"bag", "rate", "questions", "out"} <= launch_arguments(ROOT / "launch" / "replay.launch.py")


def flatten(mapping: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in mapping.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def test_parameter_file_matches_the_node_defaults():
    config = yaml.safe_load((ROOT / "config" / "spatialclaw.yaml").read_text())
    agent = flatten(config["spatialclaw"]["ros__parameters"])
    camera_keys = {k for k in agent if k.startswith("camera.")}
    node_keys = set(agent) - camera_keys
    assert node_keys == set(NODE_PARAMETERS)
    for name, value in agent.items():
        default = CAMERA_PARAMETERS[name.split(".")[-1]][0] if name in camera_keys else NODE_PARAMETERS[name][0]
        if name.endswith(("image_topic", "info_topic")):
            continue  # the file spells out the /<camera>/... defaults
        assert value == default, name
    assert set(flatten(config["spatialclaw_perception"]["ros__parameters"])) <= {
        "perception.reconstruct_backend", "perception.segment_backend", "perception.da3_model",
        "perception.sam3_model", "perception.device", "perception.token", "service.enabled", "service.host",
        "service.port",
    }


def test_label_names_parameter():
    assert parse_label_names(["1:red chair", "", "12: door "]) == {1: "red chair", 12: "door"}
    for bad in (["red chair"], ["x:chair"], ["3:"]):
        with pytest.raises(ValueError, match="3:red chair"):
            parse_label_names(bad)


def test_cli_help_lists_the_ros_commands_without_importing_rclpy():
    code = (
        "import sys; from spatialclaw_ros.cli import build_parser; build_parser(); "
        "assert 'rclpy' not in sys.modules, 'rclpy imported at import time'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    out = subprocess.run([sys.executable, "-m", "spatialclaw_ros.cli", "demo", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--executor" in out.stdout and "synthetic" in out.stdout
