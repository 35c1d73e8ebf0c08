"""`spatialclaw ask`: one question about images, a video or a folder of frames, answered offline.

    spatialclaw ask --images a.png b.png "How far is the red chair from the door?"
    spatialclaw ask --video walk.mp4 --choices left right "Is the sink left or right of the oven?"
    spatialclaw ask --frames run1/ --executor rules "How many boxes are there?"
    spatialclaw ask --frames freiburg1_desk/ --reconstruct sensor "How far did the camera move?"
    spatialclaw ask --bag robot.mcap_dir --start 12 --end 20 "How far is the door from the table?"

A --frames folder in the TUM RGB-D layout (rgb.txt, depth.txt, groundtruth.txt, calibration.txt)
or with nerfstudio's transforms.json brings its depth, intrinsics and poses
(spatialclaw_ros.frames.folders).

`spatialclaw trace DIR` re-renders a trace folder's report.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from spatialclaw_ros.agent.config import EXECUTORS
from spatialclaw_ros.frames import Frame, FrameSet
from spatialclaw_ros.frames.files import read_folder, read_image, read_video

ASK_TRACE_DIR = "runs/traces"  # a person asking one question usually wants to see how it went


def register(subparsers: argparse._SubParsersAction) -> None:
    ask = subparsers.add_parser(
        "ask",
        help="answer one question about images, a video or a folder of frames",
        description="Run one episode and print the answer and the trace folder. Settings come "
        "from --config (YAML), SPATIALCLAW_* environment variables and the flags below, flags "
        "winning.",
    )
    ask.add_argument(
        "question",
        nargs="?",
        help="the question, in quotes (may come last, after --images/--choices)",
    )
    source = ask.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--images",
        nargs="+",
        action=_ListAction,
        metavar="IMAGE",
        help="image files, in time order (one view each)",
    )
    source.add_argument("--video", metavar="FILE", help="a video file; frames are sampled evenly")
    source.add_argument(
        "--frames",
        metavar="DIR",
        help="a folder of colour frames sorted by name, or an RGB-D folder "
        "(TUM RGB-D, nerfstudio)",
    )
    source.add_argument(
        "--bag",
        metavar="BAG",
        help="a ROS 2 (mcap, sqlite3) or ROS 1 bag; cameras as `spatialclaw bag info` finds them",
    )
    bag = ask.add_argument_group("--bag options")
    bag.add_argument(
        "--start",
        type=float,
        default=None,
        help="window start: bag time, or seconds from the bag's start",
    )
    bag.add_argument(
        "--end", type=float, default=None, help="window end (same time base as --start)"
    )
    bag.add_argument(
        "--camera",
        action="append",
        default=None,
        help="camera name (repeatable; default: every camera)",
    )
    bag.add_argument(
        "--bag-config",
        default=None,
        help="parameter file with camera.<name>.* settings (default: detect)",
    )
    bag.add_argument(
        "--world-frame",
        default="",
        help="world frame for poses (default: map, else odom, else the root)",
    )
    ask.add_argument(
        "--choices",
        nargs="+",
        action=_ListAction,
        metavar="TEXT",
        default=[],
        help="option texts (answer is a letter)",
    )
    ask.add_argument(
        "--max-frames",
        type=int,
        default=32,
        help="frames taken from a video or folder (default 32)",
    )
    ask.add_argument(
        "--fps", type=float, default=None, help="frame rate of a --frames folder (sets timestamps)"
    )
    ask.add_argument(
        "--config", metavar="YAML", help="agent config file (default: $SPATIALCLAW_CONFIG)"
    )
    ask.add_argument(
        "--executor",
        choices=EXECUTORS,
        default=None,
        help="how to answer (default from config: code)",
    )
    ask.add_argument(
        "--vlm-url",
        dest="vlm_base_url",
        default=None,
        help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1",
    )
    ask.add_argument(
        "--model", dest="vlm_model", default=None, help="model name served at the endpoint"
    )
    ask.add_argument("--max-steps", type=int, default=None, help="step budget")
    ask.add_argument(
        "--timeout",
        dest="episode_timeout_s",
        type=float,
        default=None,
        help="seconds for the whole episode",
    )
    ask.add_argument(
        "--trace-dir",
        default=None,
        help="where episode traces go (default: the config's trace_dir, else "
        f"{ASK_TRACE_DIR}; 'off' for none)",
    )
    ask.add_argument(
        "--reconstruct",
        default=None,
        help="perception reconstruction backend: da3, sensor or fused",
    )
    ask.add_argument(
        "--segment", default=None, help="perception segmentation backend: sam3 or labels"
    )
    ask.add_argument(
        "--json", action="store_true", help="print the episode as JSON instead of text"
    )
    ask.set_defaults(run=run_ask)

    trace = subparsers.add_parser("trace", help="re-render an episode trace folder as report.md")
    trace.add_argument("folder", help="a trace folder (holds trace.jsonl)")
    trace.set_defaults(run=run_trace)


class _ListAction(argparse.Action):
    """A list option that remembers it came last, so a question written after it (which argparse
    folds into the list) can be taken back: `ask --images a.png b.png "How far...?"`."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, list(values))
        namespace.last_list = self.dest


def _question_text(args: argparse.Namespace) -> str:
    if args.question:
        return args.question
    trailing = getattr(args, getattr(args, "last_list", ""), None)
    if trailing and len(trailing) > (1 if args.last_list == "images" else 2):
        return trailing.pop()
    raise ValueError("no question given: write it in quotes after the options")


def run_ask(args: argparse.Namespace) -> int:
    from spatialclaw_ros.agent import Agent, AgentConfig, Question
    from spatialclaw_ros.perception import PerceptionConfig, build_perception

    try:
        text = _question_text(args)
        config = AgentConfig.load(
            args.config,
            {
                "executor": args.executor,
                "vlm.base_url": args.vlm_base_url,
                "vlm.model": args.vlm_model,
                "max_steps": args.max_steps,
                "episode_timeout_s": args.episode_timeout_s,
                "trace_dir": args.trace_dir,
            },
        )
        # no file, variable or flag named one, not even "off"
        if "trace_dir" not in config.model_fields_set:
            config = config.model_copy(update={"trace_dir": ASK_TRACE_DIR})
        question = Question(text, list(args.choices))
        videos = load_frames(args)
        if args.reconstruct in ("sensor", "fused"):
            lacking = [v.name for v in videos if not (v.has_depth and v.has_intrinsics)]
            if lacking:
                raise ValueError(
                    f"--reconstruct {args.reconstruct} needs depth and intrinsics with "
                    "every frame, and "
                    f"{', '.join(lacking)} has none: give an RGB-D folder (--frames, TUM RGB-D or "
                    "nerfstudio layout) or a bag with depth and CameraInfo (--bag), or use da3"
                )
        perception = None
        if config.executor != "no_tools":  # answering from the images alone needs no models
            chosen = {"reconstruct_backend": args.reconstruct, "segment_backend": args.segment}
            perception_config = PerceptionConfig.load(
                overrides={k: v for k, v in chosen.items() if v is not None}
            )
            perception = build_perception(perception_config)
    except (ValueError, FileNotFoundError) as exc:
        print(f"spatialclaw ask: {exc}", file=sys.stderr)
        return 2
    print(
        f"{' + '.join(str(len(v)) for v in videos)} frame(s); executor "
        f"{config.executor}; VLM {config.vlm.model} at {config.vlm.base_url}",
        file=sys.stderr,
    )
    episode = Agent(config, perception).run(question, videos, on_progress=_print_progress)
    if args.json:
        print(json.dumps(_episode_json(episode), indent=2))
    else:
        if episode.error is not None:
            print(f"error ({episode.error.code}): {episode.error.message}")
        else:
            unit = f" {episode.unit}" if episode.unit and episode.unit != "count" else ""
            fallback = " (fallback: answered without tools)" if episode.used_fallback else ""
            print(f"answer: {episode.answer}{unit}{fallback}")
        print(f"steps: {episode.steps}, {episode.elapsed:.1f} s, {episode.tokens.total} tokens")
        if episode.trace_path:
            print(f"trace: {episode.trace_path}")
    return 0 if episode.error is None else 1


def run_trace(args: argparse.Namespace) -> int:
    from spatialclaw_ros.agent.trace import render_report

    try:
        print(render_report(args.folder))
    except FileNotFoundError as exc:
        print(f"spatialclaw trace: {exc}", file=sys.stderr)
        return 2
    return 0


def _print_progress(event) -> None:
    detail = event.observation or (
        event.code.strip().splitlines()[0] if event.code.strip() else ""
    )
    print(
        f"[{event.elapsed:6.1f} s] step {event.step:>2} {event.stage:<10} {detail[:100]}",
        file=sys.stderr,
    )


def _episode_json(episode) -> dict:
    return {
        "question": episode.question.text,
        "choices": episode.question.choices,
        "answer": episode.answer,
        "value": episode.value,
        "unit": episode.unit,
        "raw_answer": episode.raw_answer,
        "executor": episode.executor,
        "steps": episode.steps,
        "used_fallback": episode.used_fallback,
        "error": None
        if episode.error is None
        else {"code": episode.error.code, "message": episode.error.message},
        "elapsed": round(episode.elapsed, 3),
        "tokens": {"prompt": episode.tokens.prompt, "completion": episode.tokens.completion},
        "objects": [
            {"label": b.label, "center": b.center.tolist(), "size": b.size.tolist()}
            for b in episode.objects
        ],
        "trace_path": episode.trace_path,
    }


def load_frames(args: argparse.Namespace) -> list[FrameSet]:
    """One frame set per camera: the images, video or folder, or each camera of a bag."""
    if args.images:
        return [
            FrameSet(
                [Frame(read_image(Path(p)), index=i) for i, p in enumerate(args.images)],
                name="images",
            )
        ]
    if args.video:
        return [read_video(Path(args.video), args.max_frames)]
    if args.frames:
        return [read_folder(Path(args.frames), args.max_frames, args.fps)]
    from spatialclaw_ros.frames.bags import bag_range, bag_time, read_frames

    first, _ = bag_range(args.bag)
    start = None if args.start is None else bag_time(args.start, first)
    end = None if args.end is None else bag_time(args.end, first)
    return read_frames(
        args.bag,
        cameras=args.camera,
        start=start,
        end=end,
        max_frames=args.max_frames,
        world_frame=args.world_frame,
        config=args.bag_config,
    )
