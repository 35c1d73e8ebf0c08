"""Evaluation on a Ray cluster of a head and two worker nodes on this machine: the same
predictions as the local thread-pool runner, and none lost or written twice when a worker node
dies mid-run. The cluster is small (one CPU per worker node, 80 MiB object stores, Ray's minimum)
because CI machines have two cores."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import asdict

import pytest

ray = pytest.importorskip("ray")
# ruff: noqa: E402 - ray is optional: the module skips before the imports below that need it
pytestmark = pytest.mark.slow  # each test starts a three-node cluster (~10 s)

from ray.cluster_utils import Cluster

from spatialclaw_ros.agent import Question
from spatialclaw_ros.agent.rules import plan_for
from spatialclaw_ros.eval.answerers import build_answerer
from spatialclaw_ros.eval.distributed import EPISODE_LOST, AnswererSpec, RayEpisodes, RayOptions
from spatialclaw_ros.eval.records import read_predictions, read_samples, write_jsonl
from spatialclaw_ros.eval.runner import PREDICTIONS, run_samples
from spatialclaw_ros.testing.scripted_vlm import ScriptedVLM

STORE = 80 << 20  # Ray's minimum object store
# Node death is noticed after a few missed health checks; Ray's defaults take tens of seconds.
FAST_DEATH = {
    "health_check_initial_delay_ms": 0,
    "health_check_period_ms": 500,
    "health_check_failure_threshold": 3,
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A small synthetic benchmark, as `spatialclaw eval --data-dir` reads it."""
    from spatialclaw_ros.eval.synthetic.benchmark import SyntheticConfig, generate, write_benchmark

    data = tmp_path_factory.mktemp("data")
    write_benchmark(
        generate(
            SyntheticConfig(
                seed=7, clips={"single_image": 4, "multi_view": 2}, width=160, height=120
            )
        ),
        data / "synthetic",
    )
    return data


@pytest.fixture(scope="module")
def synthetic(data_dir):
    return read_samples(data_dir / "synthetic" / "samples.jsonl")


@pytest.fixture
def cluster():
    """A head (no CPUs: it runs no episodes) and two worker nodes of one CPU each, per test (a
    process joins one cluster at a time, and one test kills a node); shut down whatever happens."""
    made = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 0,
            "object_store_memory": STORE,
            "include_dashboard": False,
            "_system_config": FAST_DEATH,
        },
    )
    try:
        workers = [made.add_node(num_cpus=1, object_store_memory=STORE) for _ in range(2)]
        ray.init(address=made.address, logging_level="WARNING", log_to_driver=False)
        made.wait_for_nodes()
        yield made, workers
    finally:
        ray.shutdown()
        made.shutdown()


def _comparable(predictions) -> dict:
    """Predictions by sample, without what differs between any two runs (timing, trace files)."""
    return {
        (p.benchmark, p.sample_id): {
            k: v for k, v in asdict(p).items() if k not in ("elapsed", "trace_path")
        }
        for p in predictions
    }


def _lines(path) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [(r["benchmark"], r["sample_id"]) for r in rows]


def test_rules_on_two_worker_nodes_write_the_local_runners_predictions(
    synthetic, cluster, tmp_path
):
    covered = [
        s for s in synthetic if plan_for(Question(s.question, list(s.options))) is not None
    ][:6]
    assert len(covered) == 6
    backends = {"reconstruct_backend": "sensor", "segment_backend": "labels"}
    local = run_samples(
        covered,
        build_answerer("rules", **backends),
        tmp_path / "local",
        "rules",
        concurrency=2,
        progress=False,
    )
    with RayEpisodes(AnswererSpec.resolve("rules", **backends), RayOptions(workers=2)) as episodes:
        on_ray = run_samples(
            covered, None, tmp_path / "ray", "rules", progress=False, episodes=episodes
        )

    assert _comparable(on_ray.predictions) == _comparable(local.predictions)
    # exact perception: the rules answer these
    assert sum(p.score for p in on_ray.predictions) >= 5
    assert sorted(_lines(tmp_path / "ray" / PREDICTIONS)) == sorted(
        (s.benchmark, s.id) for s in covered
    )
    assert episodes.events.workers_started == 2 and episodes.events.workers_lost == 0


def test_eval_and_offline_replay_take_ray_on_the_command_line(
    data_dir, synthetic, cluster, tmp_path
):
    from spatialclaw_ros.cli import main
    from spatialclaw_ros.eval.synthetic.bag import export_benchmark_bag

    made, _ = cluster
    common = [
        "--bench",
        "synthetic",
        "--executor",
        "random",
        "--seed",
        "3",
        "--data-dir",
        str(data_dir),
    ]
    assert main(["eval", *common, "--out", str(tmp_path / "local")]) == 0
    assert (
        main(
            [
                "eval",
                *common,
                "--out",
                str(tmp_path / "ray"),
                "--ray",
                made.address,
                "--ray-workers",
                "2",
            ]
        )
        == 0
    )
    local = read_predictions(tmp_path / "local" / PREDICTIONS)
    assert len(local) == len(synthetic)
    assert _comparable(read_predictions(tmp_path / "ray" / PREDICTIONS)) == _comparable(local)

    questions = read_samples(
        export_benchmark_bag(data_dir / "synthetic" / "samples.jsonl", tmp_path / "bag")
    )
    covered = [
        q for q in questions if plan_for(Question(q.question, list(q.options))) is not None
    ][:3]
    path = tmp_path / "questions.jsonl"
    write_jsonl(path, covered)
    assert (
        main(
            [
                "replay",
                str(tmp_path / "bag"),
                "--questions",
                str(path),
                "--executor",
                "rules",
                "--out",
                str(tmp_path / "replay"),
                "--ray",
                made.address,
                "--ray-workers",
                "2",
                "--concurrency",
                "1",
            ]
        )
        == 0
    )
    replayed = read_predictions(tmp_path / "replay" / PREDICTIONS)
    assert sorted(p.sample_id for p in replayed) == sorted(q.id for q in covered)
    assert not [p.error for p in replayed if p.error] and sum(p.score for p in replayed) >= 2


def _letter_for(body: dict) -> str:
    """A reply that depends only on the question: the same in every process and every run."""
    question = json.dumps(body["messages"][-1]["content"])
    return "Answer: " + "AB"[hashlib.sha256(question.encode()).digest()[0] % 2]


def _no_tools_against(vlm, picked, out):
    """The no_tools executor against `vlm` run locally on `picked` (what the Ray run must match),
    and the spec from which Ray workers build the same answerer."""
    settings = {"vlm": {"base_url": vlm.base_url}}
    backends = {"reconstruct_backend": "sensor", "segment_backend": "labels"}
    local = run_samples(
        picked,
        build_answerer("no_tools", overrides=settings, **backends),
        out,
        "no_tools",
        concurrency=2,
        progress=False,
    )
    return local, AnswererSpec.resolve("no_tools", overrides=settings, **backends)


def test_a_worker_node_killed_mid_run_loses_and_duplicates_no_prediction(
    synthetic, cluster, tmp_path
):
    made, workers = cluster
    picked = [s for s in synthetic if s.answer_type == "mc"][:10]
    assert len(picked) == 10
    with ScriptedVLM(_letter_for, latency_s=1.0) as vlm:
        local, spec = _no_tools_against(vlm, picked, tmp_path / "local")
        episodes = RayEpisodes(spec, RayOptions(workers=2))
        out = tmp_path / "ray"
        killed = threading.Event()

        def kill_after_first_prediction() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if (out / PREDICTIONS).exists() and _lines(out / PREDICTIONS):
                    made.remove_node(workers[1], allow_graceful=False)
                    killed.set()
                    return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_after_first_prediction, daemon=True)
        killer.start()
        with episodes:
            on_ray = run_samples(picked, None, out, "no_tools", progress=False, episodes=episodes)
        killer.join()

    assert killed.is_set()
    lines = _lines(out / PREDICTIONS)
    assert len(lines) == len(set(lines)) == len(picked), "a prediction was lost or written twice"
    assert not [p for p in on_ray.predictions if p.error == EPISODE_LOST]
    assert _comparable(on_ray.predictions) == _comparable(local.predictions)
    # the episode in flight on the killed node was handed over, not dropped
    assert episodes.events.workers_lost >= 1 and episodes.events.retried >= 1


def test_a_sample_whose_worker_dies_on_every_try_is_recorded_as_lost_and_the_run_goes_on(
    synthetic, cluster, tmp_path
):
    made, workers = cluster
    picked = [s for s in synthetic if s.answer_type == "mc"][:4]
    with ScriptedVLM(_letter_for, latency_s=1.0) as vlm:
        local, spec = _no_tools_against(vlm, picked, tmp_path / "local")
        # one worker, one try: the sample it is running when its node goes is not tried again;
        # the replacement worker starts on the other node
        episodes = RayEpisodes(spec, RayOptions(workers=1, max_attempts=1))
        out = tmp_path / "ray"

        def kill_the_workers_node_mid_episode() -> None:
            deadline = time.monotonic() + 120
            while not ((out / PREDICTIONS).exists() and _lines(out / PREDICTIONS)):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            time.sleep(0.3)  # the next episode is under way (each waits 1 s on the VLM)
            [node_id] = episodes.worker_nodes()
            made.remove_node(
                next(n for n in workers if n.node_id == node_id), allow_graceful=False
            )

        killer = threading.Thread(target=kill_the_workers_node_mid_episode, daemon=True)
        killer.start()
        with episodes:
            on_ray = run_samples(picked, None, out, "no_tools", progress=False, episodes=episodes)
        killer.join()

    lines = _lines(out / PREDICTIONS)
    assert len(lines) == len(set(lines)) == len(picked)
    lost = [p for p in on_ray.predictions if p.error == EPISODE_LOST]
    assert (
        len(lost) == 1
        and "died on each of 1 tries" in lost[0].error_message
        and lost[0].score == 0
    )
    answered = _comparable(p for p in on_ray.predictions if p.error != EPISODE_LOST)
    expected = _comparable(local.predictions)
    assert len(answered) == 3 and answered == {key: expected[key] for key in answered}
    assert episodes.events.lost == 1 and episodes.events.workers_started == 2
