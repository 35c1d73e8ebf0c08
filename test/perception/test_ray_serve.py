"""Perception as a Ray Serve deployment: two CPU replicas answer the rules agent's episodes,
several at once, through the ordinary PerceptionClient, with the answers of in-process
perception and one cache shared by both replicas (its hit rate is printed)."""

from __future__ import annotations

import socket
from dataclasses import asdict

import pytest

ray = pytest.importorskip("ray")
# ruff: noqa: E402 - ray is optional: the module skips before the imports below that need it

from ray import serve

from spatialclaw_ros.agent import AgentConfig, Question
from spatialclaw_ros.agent.rules import plan_for
from spatialclaw_ros.eval.answerers import AgentAnswerer, build_answerer
from spatialclaw_ros.eval.distributed import AnswererSpec, RayEpisodes, RayOptions
from spatialclaw_ros.eval.records import read_samples
from spatialclaw_ros.eval.runner import run_samples
from spatialclaw_ros.perception import PerceptionConfig, PerceptionError
from spatialclaw_ros.perception.client import PerceptionClient
from spatialclaw_ros.perception.ray_serve import (
    ServeOptions,
    cache_stats,
    serve_perception,
    stop_perception,
)

pytestmark = pytest.mark.slow  # Ray, Serve's controller and proxy, two replicas: ~20 s
TOKEN = "serve-test-token"
BACKENDS = {"reconstruct_backend": "sensor", "segment_backend": "labels"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_local():
    ray.init(
        num_cpus=2,
        object_store_memory=80 << 20,
        include_dashboard=False,
        logging_level="WARNING",
        log_to_driver=False,
    )
    try:
        yield
    finally:
        serve.shutdown()
        ray.shutdown()


@pytest.fixture(scope="module")
def questions(tmp_path_factory):
    """Rules-covered synthetic questions, several about each clip (so frames repeat across
    episodes)."""
    from spatialclaw_ros.eval.synthetic.benchmark import SyntheticConfig, generate, write_benchmark

    bench = generate(SyntheticConfig(seed=7, clips={"single_image": 3}, width=160, height=120))
    samples = read_samples(write_benchmark(bench, tmp_path_factory.mktemp("synthetic")))
    return [s for s in samples if plan_for(Question(s.question, list(s.options))) is not None][:9]


def _comparable(predictions) -> dict:
    return {
        p.sample_id: {k: v for k, v in asdict(p).items() if k not in ("elapsed", "trace_path")}
        for p in predictions
    }


def test_two_replicas_answer_concurrent_episodes_like_in_process_perception(
    ray_local, questions, tmp_path, monkeypatch
):
    clips = {s.media[0].paths[0] for s in questions}
    assert len(questions) == 9 and len(clips) < len(questions)
    url = serve_perception(
        PerceptionConfig(**BACKENDS),
        TOKEN,
        ServeOptions(replicas=2, gpus_per_replica=0, cpus_per_replica=0.5, port=_free_port()),
    )
    with PerceptionClient(url, TOKEN) as client:
        # the agent as it is, perception remote
        answerer = AgentAnswerer(AgentConfig(executor="rules"), client)
        served = run_samples(
            questions, answerer, tmp_path / "serve", "rules", concurrency=4, progress=False
        )
    stats = cache_stats()
    local = run_samples(
        questions,
        build_answerer("rules", **BACKENDS),
        tmp_path / "local",
        "rules",
        concurrency=2,
        progress=False,
    )
    print(
        f"\nperception on Ray Serve: {stats['hits']} hits, {stats['misses']} misses, hit rate "
        f"{stats['hit_rate']:.0%}, requests per replica "
        f"{sorted(stats['requests_per_replica'].values())}"
    )

    assert not [p.error for p in served.predictions if p.error]
    assert _comparable(served.predictions) == _comparable(local.predictions)
    assert len(stats["requests_per_replica"]) == 2, "both replicas should have answered"
    # each clip is reconstructed once whichever replica gets it; later questions about it are hits
    assert stats["hits"] >= len(questions) - len(clips)
    assert stats["misses"] >= len(clips)

    # Episodes on Ray workers reach the deployment through the driver's settings, and every
    # result they ask for is already in the shared cache.
    monkeypatch.setenv("SPATIALCLAW_PERCEPTION_SERVICE_URL", url)
    monkeypatch.setenv("SPATIALCLAW_PERCEPTION_TOKEN", TOKEN)
    with RayEpisodes(
        AnswererSpec.resolve("rules", **BACKENDS), RayOptions(workers=2, cpus_per_worker=0.5)
    ) as episodes:
        on_ray = run_samples(
            questions, None, tmp_path / "ray", "rules", progress=False, episodes=episodes
        )
    after = cache_stats()
    asked = sum(after["requests_per_replica"].values()) - sum(
        stats["requests_per_replica"].values()
    )
    print(
        f"episodes on Ray workers: {asked} perception requests, "
        f"{after['hits'] - stats['hits']} hits"
    )
    assert _comparable(on_ray.predictions) == _comparable(local.predictions)
    assert (
        asked > 0 and after["hits"] - stats["hits"] == asked and after["misses"] == stats["misses"]
    )
    stop_perception()


def test_serve_options_map_to_deployment_settings_and_bad_ones_are_refused():
    scaling = ServeOptions(
        min_replicas=1, max_replicas=6, target_ongoing_requests=3, gpus_per_replica=0.5
    )
    options = scaling.deployment_options()
    assert options["autoscaling_config"] == {
        "min_replicas": 1,
        "max_replicas": 6,
        "target_ongoing_requests": 3,
    }
    assert options["ray_actor_options"] == {"num_gpus": 0.5, "num_cpus": 1.0}
    assert "num_replicas" not in options
    assert ServeOptions(replicas=3).deployment_options()["num_replicas"] == 3
    for bad in (
        {"replicas": 0},
        {"min_replicas": 5, "max_replicas": 2},
        {"target_ongoing_requests": 0},
        {"gpus_per_replica": -1},
    ):
        with pytest.raises(PerceptionError):
            ServeOptions(**bad)
    with pytest.raises(PerceptionError, match="token"):
        serve_perception(PerceptionConfig(**BACKENDS), "", ServeOptions())
