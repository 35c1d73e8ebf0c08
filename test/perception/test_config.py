from pathlib import Path

import pytest

from spatialclaw_ros.perception import PerceptionConfig, PerceptionError, build_perception
from spatialclaw_ros.perception.client import PerceptionClient

REPO = Path(__file__).resolve().parents[2]


def test_yaml_then_environment_then_overrides(monkeypatch):
    monkeypatch.setenv("SPATIALCLAW_PERCEPTION_DEVICE", "cuda:1")
    monkeypatch.setenv("SPATIALCLAW_PERCEPTION_CHUNK_SIZE", "8")
    config = PerceptionConfig.load(
        REPO / "config" / "perception.yaml", {"segment_backend": "labels"}
    )
    assert (config.reconstruct_backend, config.segment_backend) == ("da3", "labels")
    assert config.device == "cuda:1" and config.chunk_size == 8


def test_bad_settings_are_named():
    with pytest.raises(
        PerceptionError, match="reconstruct_backend must be one of da3, sensor, fused"
    ):
        PerceptionConfig(reconstruct_backend="lidar")
    with pytest.raises(PerceptionError, match="unknown setting colour .known: reconstruct_backend, "):
        PerceptionConfig.load(overrides={"colour": "red"})


def test_a_service_url_gives_a_client_that_needs_a_token():
    client = build_perception(PerceptionConfig(service_url="http://127.0.0.1:9", token="t"))
    assert isinstance(client, PerceptionClient)
    client.close()
    with pytest.raises(PerceptionError, match="needs the service token"):
        build_perception(PerceptionConfig(service_url="http://127.0.0.1:9"))


def test_serve_perception_token_from_flag_then_environment(monkeypatch):
    import argparse

    import uvicorn

    from spatialclaw_ros.perception import cli, service

    tokens = []
    monkeypatch.setattr(
        service, "create_app", lambda perception, token, limit: tokens.append(token)
    )
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    base = ["serve-perception", "--reconstruct", "sensor", "--segment", "labels"]
    monkeypatch.setenv(cli.TOKEN_ENV, "from-env")
    for extra in ([], ["--token", "from-flag"]):
        args = parser.parse_args(base + extra)
        assert args.run(args) == 0
    assert tokens == ["from-env", "from-flag"]
