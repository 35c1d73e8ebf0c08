"""`spatialclaw eval | report | replay | synthetic`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spatialclaw_ros.eval.answerers import EXECUTORS
from spatialclaw_ros.eval.synthetic import cli as synthetic_cli


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("eval", help="run an executor over benchmarks and write predictions + reports",
                              description="Answers benchmark questions read from local copies under --data-dir "
                              "(see docs/eval.md for the download command of each benchmark). Predictions are "
                              "appended to OUT/predictions.jsonl; rerunning with the same --out resumes.")
    p.add_argument("--bench", required=True, help="comma-separated benchmark names, e.g. vsi_bench,blink or synthetic")
    p.add_argument("--executor", default="code", choices=EXECUTORS,
                   help="agent executor, or 'random' for the chance level (default: code)")
    p.add_argument("--data-dir", default="data", help="folder holding one sub-folder per benchmark (default: data)")
    p.add_argument("--out", default=None, help="run folder (default: runs/eval/<executor>)")
    p.add_argument("--subsample", type=int, default=None, help="questions per benchmark (seeded; groups kept whole)")
    p.add_argument("--seed", type=int, default=0, help="seed for --subsample and the random executor (default: 0)")
    p.add_argument("--concurrency", type=int, default=4, help="episodes run at once (default: 4)")
    p.add_argument("--max-frames", type=int, default=32, help="frames sampled from each video (default: 32)")
    p.add_argument("--config", default=None, help="agent YAML config (VLM endpoint, limits)")
    p.add_argument("--reconstruct", default="da3", choices=["da3", "sensor", "fused"], help="depth/pose backend")
    p.add_argument("--segment", default="sam3", choices=["sam3", "labels"], help="mask backend")
    p.add_argument("--baseline", default=None, help="a no_tools run folder to report deltas against")
    p.set_defaults(run=run_eval)

    r = subparsers.add_parser("report", help="rebuild report.json/.md/.png and traces.html of a run folder")
    r.add_argument("run_dir", help="a folder holding predictions.jsonl")
    r.add_argument("--baseline", default=None, help="a no_tools run folder to report deltas against")
    r.add_argument("--data-dir", default=None, help="benchmark data, to show questions in traces.html")
    r.set_defaults(run=run_report)

    b = subparsers.add_parser("replay", help="score questions against a recorded ROS 2 bag",
                              description="Offline (default): reads the bag directly, no ROS needed. "
                              "--online: plays the bag into the running agent node and sends each question as a goal.")
    b.add_argument("bag", help="bag folder (mcap or sqlite3)")
    b.add_argument("--questions", required=True, help="questions.jsonl (sample records with time windows in extra)")
    b.add_argument("--online", action="store_true", help="go through the running ROS node")
    b.add_argument("--executor", default="rules", choices=EXECUTORS)
    b.add_argument("--out", default="runs/replay")
    b.add_argument("--concurrency", type=int, default=4)
    b.add_argument("--config", default=None)
    b.add_argument("--reconstruct", default="sensor", choices=["da3", "sensor", "fused"])
    b.add_argument("--segment", default="labels", choices=["sam3", "labels"])
    online = b.add_argument_group("online mode (--online)")
    online.add_argument("--action", default="/spatialclaw/ask", help="the node's action server")
    online.add_argument("--rate", type=float, default=1.0, help="playback speed, bag seconds per second (default 1)")
    online.add_argument("--odometry-topic", default="",
                        help="also republish the camera's /tf poses as Odometry here (for a node with pose_source "
                        "odom where tf2 is not installed)")
    online.add_argument("--odometry-frame", default="camera_color_optical_frame", help="the /tf child frame to republish")
    online.add_argument("--settle-s", type=float, default=0.5,
                        help="wall seconds between a question's last frame and its goal (default 0.5)")
    b.set_defaults(run=run_replay)

    synthetic_cli.register(subparsers)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _load(benches: str, data_dir: str):
    from spatialclaw_ros.eval.benchmarks import get_benchmark, load_samples

    samples = []
    for name in [b for b in benches.split(",") if b.strip()]:
        samples.extend(load_samples(get_benchmark(name), data_dir))
    return samples


def run_eval(args: argparse.Namespace) -> int:
    from spatialclaw_ros.eval.answerers import build_answerer
    from spatialclaw_ros.eval.records import read_predictions
    from spatialclaw_ros.eval.reports import markdown_table, write_report
    from spatialclaw_ros.eval.runner import PREDICTIONS, run_samples, subsample

    out = Path(args.out or f"runs/eval/{args.executor}")
    try:
        samples = subsample(_load(args.bench, args.data_dir), args.subsample, args.seed)
        answerer = build_answerer(args.executor, args.seed, config_path=args.config, reconstruct_backend=args.reconstruct,
                                  segment_backend=args.segment, trace_dir=str(out / "traces"))
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        return _fail(str(exc))
    result = run_samples(samples, answerer, out, args.executor, concurrency=args.concurrency, max_frames=args.max_frames)
    baseline = read_predictions(Path(args.baseline) / PREDICTIONS) if args.baseline else None
    report = write_report(out, result.predictions, samples, baseline)
    print(markdown_table(report))
    print(f"{result.new} answered now, {len(result.predictions)} in {out / PREDICTIONS}; reports in {out}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from spatialclaw_ros.eval.records import read_predictions
    from spatialclaw_ros.eval.reports import markdown_table, write_report
    from spatialclaw_ros.eval.runner import PREDICTIONS

    predictions = read_predictions(Path(args.run_dir) / PREDICTIONS)
    if not predictions:
        return _fail(f"no predictions in {Path(args.run_dir) / PREDICTIONS}")
    samples = []
    if args.data_dir:
        benches = ",".join(sorted({p.benchmark for p in predictions}))
        samples = _load(benches, args.data_dir)
    baseline = read_predictions(Path(args.baseline) / PREDICTIONS) if args.baseline else None
    print(markdown_table(write_report(args.run_dir, predictions, samples, baseline)))
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from spatialclaw_ros.eval.replay import load_questions
    from spatialclaw_ros.eval.reports import markdown_table, write_report

    try:
        samples = load_questions(args.questions, args.bag)
    except (OSError, ValueError) as exc:
        return _fail(str(exc))
    if args.online:
        from spatialclaw_ros.eval.replay import replay_online
        from spatialclaw_ros.ros.replay import use_large_data_transport

        use_large_data_transport()
        predictions = replay_online(args.bag, samples, args.out, action=args.action, rate=args.rate,
                                    odometry_topic=args.odometry_topic, odometry_frame=args.odometry_frame,
                                    settle_s=args.settle_s)
    else:
        from spatialclaw_ros.eval.answerers import build_answerer
        from spatialclaw_ros.eval.replay import replay_offline

        answerer = build_answerer(args.executor, config_path=args.config, reconstruct_backend=args.reconstruct,
                                  segment_backend=args.segment, trace_dir=str(Path(args.out) / "traces"))
        predictions = replay_offline(args.bag, samples, answerer, args.out, args.executor, args.concurrency).predictions
    print(markdown_table(write_report(args.out, predictions, samples)))
    if predictions and all(p.error for p in predictions):
        return _fail(f"every question failed ({', '.join(sorted({p.error for p in predictions}))}); the causes are above")
    return 0
