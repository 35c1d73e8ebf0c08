"""How big the agent's prompts are, per step, and what leaving reasoning out of the history saves.

Runs whole `code`-executor episodes (the `tool_calls` executor with --executor tool_calls) on a
synthetic room with exact perception, through the scripted OpenAI-compatible server. Each
scripted reply is shaped as a Qwen thinking model writes it with vLLM's reasoning parser off:
`--thinking-chars` of reasoning, an orphan `</think>`, then the reply. The agent keeps the
reasoning out of the conversation; the column "with reasoning" is what each request would have
been had it sent the replies back whole (the request as sent plus the reasoning of every earlier
reply, exactly what was stripped).

Reported: the system prompts (characters, ~tokens at 4 characters a token), then per request the
text characters sent, images attached and the server's prompt-token count, and per episode the
prompt tokens sent (the scripted server counts 4 characters a token and 256 tokens an image).

    python bench/prompt_size.py
    python bench/prompt_size.py --thinking-chars 12000 --steps 6 --executor tool_calls
"""

from __future__ import annotations

import argparse
import json

from spatialclaw_ros.agent import Agent, AgentConfig, Question
from spatialclaw_ros.agent.cells import ToolCallCells
from spatialclaw_ros.agent.prompts import code_system, planner_system
from spatialclaw_ros.eval.synthetic import default_intrinsics, look_at, random_scene, render
from spatialclaw_ros.perception import PerceptionConfig, build_perception
from spatialclaw_ros.testing.scripted_vlm import ScriptedVLM
from spatialclaw_ros.tools import describe

CHARS_PER_TOKEN = 4


def code_replies(a: str, steps: int) -> list[str]:
    cells = [
        "recon = tools.Reconstruct(tools.Time.key_frames(16))\nprint(recon)",
        f"seg = tools.SAM3.propagate(InputImages, text={a!r})\n"
        "print(seg, [m.area for m in seg.masks])",
        "heights = [recon.height(m) for m in seg.masks if m.frame_index in recon.frame_indices]\n"
        "print(np.round(heights, 3))",
    ]
    cells += [f"print('checking again', {i})" for i in range(max(0, steps - len(cells) - 1))]
    cells.append("ReturnAnswer(round(float(np.median(heights)), 2))")
    return [
        f"Purpose: measure.\nReasoning: next step.\nNext goal: continue.\n```python\n{c}\n```"
        for c in cells
    ]


def tool_replies(a: str, steps: int) -> list[str]:
    calls = [
        {"tool": "reconstruct", "args": {"video": 1}, "save_as": "rec"},
        {"tool": "segment", "args": {"frame": 0, "text": a}, "save_as": "obj"},
        {"tool": "height", "args": {"reconstruction": "rec", "mask": "obj"}, "save_as": "h"},
    ]
    calls += [
        {"tool": "exists", "args": {"frames": [0], "name": a}}
        for _ in range(max(0, steps - len(calls) - 1))
    ]
    calls.append({"tool": "answer", "args": {"value": 1.0}})
    return [f"Next.\n```json\n{json.dumps(c)}\n```" for c in calls]


def text_chars(messages: list[dict]) -> tuple[int, int]:
    chars = images = 0
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            chars += len(content)
        else:
            chars += sum(len(p.get("text", "")) for p in content if p["type"] == "text")
            images += sum(p["type"] == "image_url" for p in content)
    return chars, images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executor", choices=("code", "tool_calls"), default="code")
    parser.add_argument(
        "--thinking-chars", type=int, default=6000, help="reasoning per reply (default 6000)"
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=4,
        help="cells per episode, answer included (default 4, min 4)",
    )
    parser.add_argument("--frames", type=int, default=8, help="frames of the video (default 8)")
    parser.add_argument(
        "--prompt-frames",
        type=int,
        default=8,
        help="key frames shown to the cell writer (default 8)",
    )
    args = parser.parse_args()

    system = {
        "code executor system prompt": code_system(describe(), 30, single_pass=False),
        "tool_calls executor system prompt": ToolCallCells(1).system_prompt(30),
        "planner system prompt": planner_system(),
    }
    for name, text in system.items():
        print(f"{name}: {len(text):,} characters (~{len(text) // CHARS_PER_TOKEN:,} tokens)")

    scene = random_scene(seed=3, n_objects=5)
    target = scene.objects[0].name.replace("_", " ")
    poses = [
        look_at((-3.0, 2.0 - 4.0 * i / max(1, args.frames - 1), 1.5), (0.0, 0.0, 0.4))
        for i in range(args.frames)
    ]
    video = render(scene, poses, default_intrinsics(320, 240))
    perception = build_perception(
        PerceptionConfig(reconstruct_backend="sensor", segment_backend="labels")
    )
    steps = max(args.steps, 4)
    replies = (code_replies if args.executor == "code" else tool_replies)(target, steps)
    sentence = "Let me reason about the geometry step by step. "
    thinking = (sentence * (args.thinking_chars // len(sentence) + 1))[: args.thinking_chars]
    scripted = ["1. Reconstruct. 2. Segment. 3. Measure. 4. Answer."] + [
        f"{thinking}\n</think>\n{r}" for r in replies
    ]

    with ScriptedVLM(scripted) as vlm:
        config = AgentConfig.load(
            overrides={
                "vlm.base_url": vlm.base_url,
                "executor": args.executor,
                "max_prompt_frames": args.prompt_frames,
            }
        )
        episode = Agent(config, perception).run(
            Question(f"How tall is the {target}, in metres?"), [video]
        )
        requests = vlm.requests
    if episode.error is not None:
        raise SystemExit(f"episode failed: {episode.error.code}: {episode.error.message}")

    print(
        f"\n{args.executor} episode, {steps} cells, {args.thinking_chars:,} characters "
        "of reasoning per reply, "
        f"{args.prompt_frames} key frames; answer {episode.answer} {episode.unit}"
    )
    print(
        "request  | text sent (chars) | with reasoning (chars) | images | prompt tokens "
        "(server count)"
    )
    stripped = 0
    with_reasoning_tokens = 0
    for i, body in enumerate(requests):
        chars, images = text_chars(body["messages"])
        purpose = "plan" if i == 0 else f"cell {i}"
        tokens = chars // CHARS_PER_TOKEN + 256 * images
        with_reasoning_tokens += tokens + stripped // CHARS_PER_TOKEN
        print(f"{purpose:8} | {chars:17,} | {chars + stripped:22,} | {images:6} | {tokens:,}")
        if i >= 1:
            # this reply's reasoning, left out from now on
            stripped += len(thinking) + len("\n</think>\n")
    print(
        f"prompt tokens per episode: {episode.tokens.prompt:,} sent (server count); "
        f"~{with_reasoning_tokens:,} had the reasoning been sent back "
        f"({100 * (1 - episode.tokens.prompt / with_reasoning_tokens):.0f}% saved)"
    )


if __name__ == "__main__":
    main()
