"""How much of an episode's wall time is spent outside the VLM, and where it goes.

Each episode is a full `code`-executor episode, as a VLM would drive it, on a synthetic room
(5 objects) seen in 8 frames of 320x240 from a camera sliding along one wall, with exact
perception (`sensor` depth and poses + `labels` masks, so the models themselves cost next to
nothing and what is measured is the agent, the kernel and the geometry). The scripted
OpenAI-compatible server answers every request after a fixed latency. The cells are the ones a
VLM writes for "how far apart are two objects?":

  1. plan (a VLM call, no cell)
  2. recon = tools.Reconstruct(InputImages)                 depth + poses of the 8 frames
  3. a, b = tools.SAM3.propagate(InputImages, text=...)      masks of both objects in every frame
  4. box_3d of both, distance_between(a, b)                   boxes + closest points, 8 masks each
  5. show(recon.bev([box_a, box_b]))                          a bird's-eye view image (matplotlib)
  6. print(...) cells up to --cells                           a VLM re-reading results
  7. ReturnAnswer(...)

All episodes go through one Agent (one HTTP client, as `spatialclaw eval` and the ROS node use
it). The baseline is measured in the same run: the wall time the agent's VLM client spent
waiting on the server. The breakdown comes from `Episode.timings`, and the host-side perception
calls are timed by wrapping the perception object.

    python bench/agent_overhead.py                 # 1 s per VLM call, 6 cells, 3 episodes
    python bench/agent_overhead.py --latency 0.2 --cells 10

Target: under 5% of the wall time outside the VLM when the VLM takes 1 s a call.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from spatialclaw_ros.agent import Agent, AgentConfig, Question
from spatialclaw_ros.eval.synthetic import default_intrinsics, look_at, random_scene, render
from spatialclaw_ros.perception import PerceptionConfig, build_perception
from spatialclaw_ros.testing.scripted_vlm import ScriptedVLM

TARGET = 0.05
WORK_CELLS = [
    "recon = tools.Reconstruct(InputImages)\nprint(len(recon), recon.world_frame)",
    "a = tools.SAM3.propagate(InputImages, text={a!r})\n"
    "b = tools.SAM3.propagate(InputImages, text={b!r})\n"
    "print(len(a.masks), len(b.masks))",
    "box_a, box_b = recon.box_3d(a, oriented=False), recon.box_3d(b, oriented=False)\n"
    "gap = recon.distance_between(a, b)\n"
    "print(round(gap.closest, 3), round(gap.centroid_distance, 3))",
    "show(recon.bev([box_a, box_b]))",
]
ANSWER_CELL = "ReturnAnswer(round(float(gap.centroid_distance), 3))"


class TimedPerception:
    """The perception object with a stopwatch on its host-side calls (models, caches)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.seconds = 0.0

    def _timed(self, method: str, *args):
        began = time.perf_counter()
        try:
            return getattr(self.inner, method)(*args)
        finally:
            self.seconds += time.perf_counter() - began

    def reconstruct(self, frames, frame_indices=None):
        return self._timed("reconstruct", frames, frame_indices)

    def segment(self, frames, request):
        return self._timed("segment", frames, request)

    def exists(self, frames, name, frame_indices=None):
        return self._timed("exists", frames, name, frame_indices)


def reply(code: str) -> str:
    return (
        "Purpose: measure.\nReasoning: scripted bench step.\nNext goal: continue.\n"
        f"```python\n{code}\n```"
    )


def script(cells: int, a: str, b: str) -> list[str]:
    work = [c.format(a=a, b=b) for c in WORK_CELLS]
    padding = [f"print('checking', {i})" for i in range(max(0, cells - len(work) - 1))]
    return ["1. Reconstruct. 2. Segment. 3. Measure. 4. Answer."] + [
        reply(c) for c in work + padding + [ANSWER_CELL]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--latency",
        type=float,
        default=1.0,
        help="seconds the scripted VLM takes per call (default 1)",
    )
    parser.add_argument(
        "--cells",
        type=int,
        default=6,
        help="cells per episode, answer included (default 6, min 5)",
    )
    parser.add_argument("--episodes", type=int, default=3, help="episodes to run (default 3)")
    parser.add_argument("--frames", type=int, default=8, help="frames per episode (default 8)")
    args = parser.parse_args()
    cells = max(args.cells, len(WORK_CELLS) + 1)

    scene = random_scene(seed=3, n_objects=5)
    names = [o.name.replace("_", " ") for o in scene.objects[:2]]
    poses = [
        look_at((-3.0, 2.0 - 4.0 * i / max(1, args.frames - 1), 1.5), (0.0, 0.0, 0.4))
        for i in range(args.frames)
    ]
    video = render(scene, poses, default_intrinsics(320, 240))
    perception = TimedPerception(
        build_perception(PerceptionConfig(reconstruct_backend="sensor", segment_backend="labels"))
    )
    question = Question(f"How far apart are the {names[0]} and the {names[1]}?")
    print(
        f"{args.episodes} episode(s) of {cells} cells ({cells + 1} VLM calls with the "
        f"plan) on {args.frames} frames "
        f"320x240, VLM latency {args.latency:g} s, sensor + labels perception, traces on"
    )
    print(
        "seconds per episode: wall = VLM + cells (perception models | worker: geometry, "
        "plots, transfer) "
        "+ kernel start wait + trace + agent (graph, prompts, encoding, answer)"
    )

    shares = []
    with (
        tempfile.TemporaryDirectory() as traces,
        ScriptedVLM(script(cells, *names) * args.episodes, latency_s=args.latency) as vlm,
    ):
        agent = Agent(
            AgentConfig.load(overrides={"vlm.base_url": vlm.base_url, "trace_dir": traces}),
            perception,
        )
        for n in range(args.episodes):
            perception.seconds = 0.0
            episode = agent.run(question, [video])
            if episode.error is not None:
                raise SystemExit(f"episode failed: {episode.error.code}: {episode.error.message}")
            t = episode.timings
            outside = t.total_s - t.vlm_s
            shares.append(outside / t.total_s)
            print(
                f"episode {n + 1}: wall {t.total_s:5.2f} | VLM {t.vlm_s:5.2f} "
                f"({episode.tokens.calls} calls) | "
                f"cells {t.cells_s:4.2f} ({perception.seconds:4.2f} | "
                f"{t.cells_s - perception.seconds:4.2f}) | "
                f"kernel wait {t.kernel_wait_s:4.2f} | trace {t.trace_s:4.2f} | agent "
                f"{t.agent_s:4.2f} | "
                f"outside the VLM {100 * outside / t.total_s:4.1f}% | answer "
                f"{episode.answer} {episode.unit}"
            )
    median = statistics.median(shares)
    print(
        f"share of wall time outside the VLM: median {100 * median:.1f}%, "
        f"{median / TARGET:.2f}x the target "
        f"of {100 * TARGET:g}% ({'met' if median < TARGET else 'missed'})"
    )


if __name__ == "__main__":
    main()
