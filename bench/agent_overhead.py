"""How much of an episode's wall time is spent outside the VLM (kernel, perception, graph, trace).

Runs full `code`-executor episodes on a synthetic scene with exact perception (sensor depth +
label masks) against the scripted OpenAI-compatible server, which answers every request after
a fixed artificial latency. The baseline is measured in the same run: the wall time the agent's
VLM client spent waiting on the server. Everything else is the agent's own overhead.

    python bench/agent_overhead.py                 # 1 s per VLM call, 6 cells, 3 episodes
    python bench/agent_overhead.py --latency 0.2 --cells 10

Target: under 5% outside the VLM when the VLM takes 1 s a call.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from spatialclaw_ros.agent import Agent, AgentConfig, Question
from spatialclaw_ros.agent.scripted_vlm import ScriptedVLM
from spatialclaw_ros.eval.synthetic import default_intrinsics, look_at, random_scene, render
from spatialclaw_ros.perception import PerceptionConfig, build_perception

# The cells a VLM would write for "how far apart are two objects": reconstruct, segment both,
# fit boxes, measure, look at a bird's-eye view, answer. Repeated print cells pad to --cells.
WORK_CELLS = [
    "recon = tools.Reconstruct(InputImages)\nprint(len(recon), recon.world_frame)",
    "a = tools.SAM3.propagate(InputImages, text={a!r})\nb = tools.SAM3.propagate(InputImages, text={b!r})\n"
    "print(len(a.masks), len(b.masks))",
    "box_a, box_b = recon.box_3d(a, oriented=False), recon.box_3d(b, oriented=False)\n"
    "gap = recon.distance_between(a, b)\nprint(round(gap.closest, 3), round(gap.centroid_distance, 3))",
    "show(recon.bev([box_a, box_b]))",
]
ANSWER_CELL = "ReturnAnswer(round(float(gap.centroid_distance), 3))"


def reply(code: str) -> str:
    return f"Purpose: measure.\nReasoning: scripted bench step.\nNext goal: continue.\n```python\n{code}\n```"


def script(cells: int, a: str, b: str) -> list[str]:
    work = [c.format(a=a, b=b) for c in WORK_CELLS]
    padding = [f"print('checking', {i})" for i in range(max(0, cells - len(work) - 1))]
    return ["1. Reconstruct. 2. Segment. 3. Measure. 4. Answer."] + [reply(c) for c in work + padding + [ANSWER_CELL]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=1.0, help="seconds the scripted VLM takes per call (default 1)")
    parser.add_argument("--cells", type=int, default=6, help="cells per episode, answer included (default 6, min 5)")
    parser.add_argument("--episodes", type=int, default=3, help="episodes to run (default 3)")
    parser.add_argument("--frames", type=int, default=8, help="frames per episode (default 8)")
    args = parser.parse_args()
    cells = max(args.cells, len(WORK_CELLS) + 1)

    scene = random_scene(seed=3, n_objects=5)
    names = [o.name.replace("_", " ") for o in scene.objects[:2]]
    poses = [look_at((-3.0, 2.0 - 4.0 * i / max(1, args.frames - 1), 1.5), (0.0, 0.0, 0.4)) for i in range(args.frames)]
    video = render(scene, poses, default_intrinsics(320, 240))
    perception = build_perception(PerceptionConfig(reconstruct_backend="sensor", segment_backend="labels"))
    print(f"{args.episodes} episode(s), {cells} cells each, {args.frames} frames 320x240, VLM latency {args.latency:g} s")

    shares = []
    with tempfile.TemporaryDirectory() as traces:
        for n in range(args.episodes):
            with ScriptedVLM(script(cells, *names), latency_s=args.latency) as vlm:
                config = AgentConfig.load(overrides={"vlm.base_url": vlm.base_url, "trace_dir": traces})
                agent = Agent(config, perception)
                started = time.perf_counter()
                episode = agent.run(Question(f"How far apart are the {names[0]} and the {names[1]}?"), [video])
                wall = time.perf_counter() - started
            if episode.error is not None:
                raise SystemExit(f"episode failed: {episode.error.code}: {episode.error.message}")
            vlm_time = _vlm_seconds(episode.trace_path)
            cells_time = sum(h.elapsed for h in episode.history)
            outside = wall - vlm_time
            shares.append(outside / wall)
            print(
                f"episode {n + 1}: wall {wall:6.2f} s | VLM {vlm_time:6.2f} s ({len(vlm.requests)} calls) | "
                f"cells {cells_time:5.2f} s | graph, kernel start, trace {outside - cells_time:5.2f} s | "
                f"outside the VLM {100 * outside / wall:4.1f}% | answer {episode.answer} {episode.unit}"
            )
    print(f"share of wall time outside the VLM: median {100 * statistics.median(shares):.1f}% "
          f"(target < 5% at 1 s per call)")  # fmt: skip


def _vlm_seconds(trace_path: str) -> float:
    from spatialclaw_ros.agent.trace import read_events

    end = [e for e in read_events(trace_path) if e["event"] == "episode_end"][0]
    return float(end["vlm_seconds"])


if __name__ == "__main__":
    main()
