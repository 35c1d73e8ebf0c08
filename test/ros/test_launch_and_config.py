"""Launch files, the parameter file and the command line, checked without a ROS install's launch
tools (not available as wheels): syntax, declared arguments, and that every parameter in the
YAML is one the nodes declare, with the same default."""

import ast
import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml

from spatialclaw_ros.ros.settings import (
    AGENT_PARAMETERS,
    AGENT_PERCEPTION_PARAMETERS,
    CAMERA_PARAMETERS,
    NODE_PARAMETERS,
    PERCEPTION_NODE_PARAMETERS,
    parse_label_names,
)

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.ros


def launch_arguments(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert "generate_launch_description" in functions
    names = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", "") == "DeclareLaunchArgument"
            and node.args
        ):
            if isinstance(node.args[0], ast.Constant):
                names.add(node.args[0].value)
        if isinstance(node, ast.Assign) and any(
            getattr(t, "id", "") == "ARGUMENTS" for t in node.targets
        ):
            names |= {k.value for k in node.value.keys}
    return names


def test_launch_files_parse_and_declare_their_arguments():
    main = launch_arguments(ROOT / "launch" / "spatialclaw.launch.py")
    assert {
        "image_topic",
        "depth_topic",
        "info_topic",
        "vlm_url",
        "vlm_model",
        "reconstruct_backend",
        "segment_backend",
        "target_frame",
        "use_sim_time",
        "labels_topic",
        "label_names_topic",
    } <= main
    assert {"bag", "rate", "questions", "out"} <= launch_arguments(
        ROOT / "launch" / "replay.launch.py"
    )


class _Recorded:
    """Stands in for a launch / launch_ros class: keeps what it was given."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


def evaluate_launch(monkeypatch, path: Path, **given: str) -> dict[str, dict]:
    """Run `path`'s generate_launch_description on stand-ins for the launch packages (no wheels)
    and return each node's parameters (the inline dicts, later ones winning), launch arguments
    substituted: their defaults, or `given`."""
    kinds = {
        name: type(name, (_Recorded,), {})
        for name in (
            "LaunchDescription",
            "DeclareLaunchArgument",
            "SetEnvironmentVariable",
            "IfCondition",
            "LaunchConfiguration",
            "PythonExpression",
            "Node",
        )
    }
    modules = {
        "launch": ["LaunchDescription"],
        "launch.actions": ["DeclareLaunchArgument", "SetEnvironmentVariable"],
        "launch.conditions": ["IfCondition"],
        "launch.substitutions": ["LaunchConfiguration", "PythonExpression"],
        "launch_ros": [],
        "launch_ros.actions": ["Node"],
    }
    for name, members in modules.items():
        module = types.ModuleType(name)
        for member in members:
            setattr(module, member, kinds[member])
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(
        "ament_index_python.packages.get_package_share_directory",
        lambda package: f"/share/{package}",
    )
    spec = importlib.util.spec_from_file_location("launch_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    actions = module.generate_launch_description().args[0]
    arguments = {
        a.args[0]: a.kwargs["default_value"]
        for a in actions
        if isinstance(a, kinds["DeclareLaunchArgument"])
    }
    arguments.update(given)

    def resolve(value):
        if isinstance(value, kinds["LaunchConfiguration"]):
            return arguments[value.args[0]]
        if isinstance(value, kinds["PythonExpression"]):
            return str(eval("".join(resolve(part) for part in value.args[0])))
        if isinstance(value, (tuple, list)) and any(isinstance(v, _Recorded) for v in value):
            return "".join(resolve(part) for part in value)
        return value

    nodes = {}
    for node in (a for a in actions if isinstance(a, kinds["Node"])):
        parameters = {}
        for entry in node.kwargs["parameters"]:
            if isinstance(entry, dict):
                parameters.update({resolve(k): resolve(v) for k, v in entry.items()})
        nodes[node.kwargs["name"]] = parameters
    return nodes


def test_the_agent_node_finds_the_perception_service_where_the_perception_node_serves_it(
    monkeypatch,
):
    launch_file = ROOT / "launch" / "spatialclaw.launch.py"
    config = yaml.safe_load((ROOT / "config" / "spatialclaw.yaml").read_text())
    default_port = config["spatialclaw_perception"]["ros__parameters"]["service"]["port"]
    assert default_port == PERCEPTION_NODE_PARAMETERS["service.port"][0]
    for given, port in (({}, default_port), ({"perception_port": "9123"}, 9123)):
        nodes = evaluate_launch(monkeypatch, launch_file, **given)
        assert int(nodes["spatialclaw_perception"]["service.port"]) == port
        assert nodes["spatialclaw"]["perception.service_url"] == f"http://127.0.0.1:{port}"
    in_process = evaluate_launch(monkeypatch, launch_file, with_perception_node="false")
    assert in_process["spatialclaw"]["perception.service_url"] == ""


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
        default = (
            CAMERA_PARAMETERS[name.split(".")[-1]][0]
            if name in camera_keys
            else NODE_PARAMETERS[name][0]
        )
        if name.endswith(("image_topic", "info_topic")):
            continue  # the file spells out the /<camera>/... defaults
        assert value == default, name
    assert set(PERCEPTION_NODE_PARAMETERS) == {
        "perception.config",
        "service.enabled",
        "service.host",
        "service.port",
        "lifecycle.autostart",
    }
    perception = flatten(config["spatialclaw_perception"]["ros__parameters"])
    assert set(perception) <= set(PERCEPTION_NODE_PARAMETERS)
    for name, value in perception.items():
        assert value == PERCEPTION_NODE_PARAMETERS[name][0], name
    # The settings' views are not set in the file (that would override the agent's and
    # perception's own files) but named in it.
    text = (ROOT / "config" / "spatialclaw.yaml").read_text()
    for name in (*AGENT_PARAMETERS, *AGENT_PERCEPTION_PARAMETERS):
        assert name not in agent and name in text, name


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
    out = subprocess.run(
        [sys.executable, "-m", "spatialclaw_ros.cli", "demo", "--help"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and "--executor" in out.stdout and "synthetic" in out.stdout


def test_the_launched_nodes_read_the_settings_files_the_command_line_tools_read(monkeypatch):
    nodes = evaluate_launch(monkeypatch, ROOT / "launch" / "spatialclaw.launch.py")
    agent, perception = nodes["spatialclaw"], nodes["spatialclaw_perception"]
    assert agent["agent.config"].endswith("config/agent.yaml")
    assert agent["perception.config"] == perception["perception.config"]
    assert perception["perception.config"].endswith("config/perception.yaml")
    # launch arguments left empty set nothing: the files' values stand
    assert agent["vlm.model"] == agent["agent.executor"] == ""
    assert perception["perception.reconstruct_backend"] == ""
    # what the files say is what the settings classes say by default (each default once)
    from spatialclaw_ros.agent import AgentConfig
    from spatialclaw_ros.perception import PerceptionConfig

    assert AgentConfig.load(ROOT / "config" / "agent.yaml") == AgentConfig()
    assert PerceptionConfig.load(ROOT / "config" / "perception.yaml") == PerceptionConfig()
    other = evaluate_launch(monkeypatch, ROOT / "launch" / "spatialclaw.launch.py", vlm_model="m")
    assert other["spatialclaw"]["vlm.model"] == "m"
