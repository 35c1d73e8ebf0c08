"""Configuration: defaults < YAML < SPATIALCLAW_* environment < overrides, with clear errors."""

from __future__ import annotations

import pytest

from spatialclaw_ros.agent import AgentConfig, VLMConfig


def test_precedence_file_env_overrides(tmp_path, monkeypatch):
    path = tmp_path / "agent.yaml"
    path.write_text(
        "executor: single_pass\nmax_steps: 12\nvlm:\n  model: from-file\n  timeout_s: 30\n"
    )
    monkeypatch.setenv("SPATIALCLAW_MAX_STEPS", "7")
    monkeypatch.setenv("SPATIALCLAW_VLM_BASE_URL", "http://gpu:9000/v1")
    # another area's setting: ignored here
    monkeypatch.setenv("SPATIALCLAW_PERCEPTION_DEVICE", "cpu")
    config = AgentConfig.load(path, {"vlm.model": "from-flag", "executor": None})
    assert config.executor == "single_pass"  # None override leaves the file's value
    assert config.max_steps == 7  # env beats file
    assert config.vlm.base_url == "http://gpu:9000/v1"
    assert config.vlm.model == "from-flag"  # override beats file
    assert config.vlm.timeout_s == 30.0
    assert config.vlm.max_image_px == VLMConfig().max_image_px


def test_config_file_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "a.yaml"
    path.write_text("max_failures: 3\n")
    monkeypatch.setenv("SPATIALCLAW_CONFIG", str(path))
    assert AgentConfig.load().max_failures == 3


def test_nested_overrides_and_trace_dir_off(monkeypatch):
    monkeypatch.setenv("SPATIALCLAW_TRACE_DIR", "none")
    config = AgentConfig.load(overrides={"vlm": {"max_retries": 0}})
    assert config.vlm.max_retries == 0
    assert config.trace_dir is None


def test_traces_are_off_unless_a_folder_is_given(monkeypatch):
    monkeypatch.delenv("SPATIALCLAW_TRACE_DIR", raising=False)
    assert AgentConfig().trace_dir is None
    # an unset flag asks for nothing
    assert AgentConfig.load(overrides={"trace_dir": None}).trace_dir is None
    assert AgentConfig.load(overrides={"trace_dir": "runs/x"}).trace_dir == "runs/x"


@pytest.mark.parametrize(
    "content, message",
    [
        ("executor: magic\n", "executor"),
        ("max_steps: 0\n", "max_steps"),
        ("vlm:\n  modle: x\n", "vlm.modle"),
        ("- a list\n", "mapping"),
        ("key: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_settings_are_reported_by_name(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        AgentConfig.load(path)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        AgentConfig.load(tmp_path / "nope.yaml")


def test_shipped_config_loads_and_matches_defaults():
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[2] / "config" / "agent.yaml"
    assert AgentConfig.load(shipped) == AgentConfig()
