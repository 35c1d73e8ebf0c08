"""`spatialclaw eval | report | replay | synthetic`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from spatialclaw_ros.eval.answerers import EXECUTORS
from spatialclaw_ros.eval.scoring import ANSWER_MODES, ROW_UNREADABLE
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
    p.add_argument("--answers", default="official", choices=ANSWER_MODES,
                   help="how replies are read: 'official' as each benchmark's own evaluation does (default), "
                   "'lenient' with our reader for every benchmark (docs/eval.md)")
    _ray_arguments(p)
    p.set_defaults(run=run_eval)

    r = subparsers.add_parser("report", help="rebuild report.json/.md/.png and traces.html of a run folder")
    r.add_argument("run_dir", help="a folder holding predictions.jsonl")
    r.add_argument("--baseline", default=None, help="a no_tools run folder to report deltas against")
    r.add_argument("--data-dir", default=None, help="benchmark data, to show questions in traces.html")
    r.add_argument("--answers", default=None, choices=ANSWER_MODES,
                   help="score the recorded replies again in this answer-reading mode (needs --data-dir)")
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
    _ray_arguments(b)
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


def _ray_arguments(parser: argparse.ArgumentParser) -> None:
    ray = parser.add_argument_group("on a Ray cluster (pip install '.[ray]'; docs/scale.md)")
    ray.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                     help="spread episodes over a Ray cluster: ADDRESS of a running one ('auto', host:6379), or none "
                     "for $RAY_ADDRESS or a new one on this machine; --concurrency is then episodes per worker")
    ray.add_argument("--ray-workers", type=int, default=4, help="episode worker processes over the cluster (default 4)")


def _ray_options(args: argparse.Namespace):
    from spatialclaw_ros.eval.distributed import RayOptions

    return RayOptions(args.ray or None, workers=args.ray_workers, episodes_per_worker=args.concurrency)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _load(benches: str, data_dir: str, failures: list | None = None):
    """The samples of the named benchmarks; rows that cannot be read go to `failures` when given."""
    from spatialclaw_ros.eval.benchmarks import get_benchmark, load_samples

    samples = []
    for name in [b for b in benches.split(",") if b.strip()]:
        samples.extend(load_samples(get_benchmark(name), data_dir, failures))
    return samples


def run_eval(args: argparse.Namespace) -> int:
    from spatialclaw_ros.eval.answerers import build_answerer
    from spatialclaw_ros.eval.records import read_predictions, write_jsonl
    from spatialclaw_ros.eval.reports import markdown_table, write_report
    from spatialclaw_ros.eval.runner import PREDICTIONS, run_samples, subsample, unreadable_row

    out = Path(args.out or f"runs/eval/{args.executor}")
    failures: list = []
    try:
        samples = subsample(_load(args.bench, args.data_dir, failures), args.subsample, args.seed)
        answerer_args = {"config_path": args.config, "reconstruct_backend": args.reconstruct,
                         "segment_backend": args.segment, "trace_dir": str(out / "traces")}
        if args.ray is None:
            answerer = build_answerer(args.executor, args.seed, **answerer_args)
        else:
            from spatialclaw_ros.eval.distributed import AnswererSpec, run_samples_on_ray

            spec, options = AnswererSpec.resolve(args.executor, args.seed, **answerer_args), _ray_options(args)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        return _fail(str(exc))
    if args.ray is None:
        result = run_samples(samples, answerer, out, args.executor, concurrency=args.concurrency,
                             max_frames=args.max_frames, answers=args.answers)
    else:
        try:
            result = run_samples_on_ray(samples, spec, out, options=options, max_frames=args.max_frames,
                                        answers=args.answers)
        except ConnectionError as exc:
            return _fail(str(exc))
    # rows that could not be read are recorded once, so that `spatialclaw report` counts them too
    recorded = {(p.benchmark, p.sample_id) for p in read_predictions(out / PREDICTIONS)}
    unreadable = [unreadable_row(f, args.executor, args.answers) for f in failures]
    write_jsonl(out / PREDICTIONS, [p for p in unreadable if (p.benchmark, p.sample_id) not in recorded], append=True)
    baseline = read_predictions(Path(args.baseline) / PREDICTIONS) if args.baseline else None
    report = write_report(out, result.predictions + unreadable, samples, baseline)
    print(markdown_table(report))
    print(f"{result.new} answered now, {len(result.predictions)} in {out / PREDICTIONS}; reports in {out}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from spatialclaw_ros.eval.records import read_predictions
    from spatialclaw_ros.eval.reports import markdown_table, write_report
    from spatialclaw_ros.eval.runner import PREDICTIONS, rescore

    predictions = read_predictions(Path(args.run_dir) / PREDICTIONS)
    if not predictions:
        return _fail(f"no predictions in {Path(args.run_dir) / PREDICTIONS}")
    if args.answers and not args.data_dir:
        return _fail("--answers needs --data-dir: scoring again needs each question's truth")
    samples = []
    if args.data_dir:
        benches = ",".join(sorted({p.benchmark for p in predictions}))
        samples = _load(benches, args.data_dir, [])  # unreadable rows are in the run's records already
    if args.answers:
        by_key = {(s.benchmark, s.id): s for s in samples}
        scorable = [p for p in predictions if p.error != ROW_UNREADABLE]
        missing = [p.sample_id for p in scorable if (p.benchmark, p.sample_id) not in by_key]
        if missing:
            return _fail(f"{len(missing)} predictions have no question under --data-dir (first: {missing[0]})")
        predictions = [rescore(p, by_key[(p.benchmark, p.sample_id)], args.answers) if p.error != ROW_UNREADABLE
                       else replace(p, answers=args.answers) for p in predictions]
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
        if args.ray is not None:
            return _fail("--ray spreads offline replay; --online goes through the one running ROS node")
        from spatialclaw_ros.eval.replay import replay_online
        from spatialclaw_ros.ros.replay import use_large_data_transport

        use_large_data_transport()
        predictions = replay_online(args.bag, samples, args.out, action=args.action, rate=args.rate,
                                    odometry_topic=args.odometry_topic, odometry_frame=args.odometry_frame,
                                    settle_s=args.settle_s)
    else:
        from spatialclaw_ros.eval.answerers import build_answerer
        from spatialclaw_ros.eval.replay import replay_offline

        answerer_args = {"config_path": args.config, "reconstruct_backend": args.reconstruct,
                         "segment_backend": args.segment, "trace_dir": str(Path(args.out) / "traces")}
        if args.ray is None:
            answerer = build_answerer(args.executor, **answerer_args)
            predictions = replay_offline(args.bag, samples, answerer, args.out, args.executor, args.concurrency).predictions
        else:
            from spatialclaw_ros.eval.distributed import AnswererSpec, run_samples_on_ray

            spec = AnswererSpec.resolve(args.executor, bag=str(args.bag), **answerer_args)
            try:
                predictions = run_samples_on_ray(samples, spec, args.out, options=_ray_options(args),
                                                 load_media=False).predictions
            except ConnectionError as exc:
                return _fail(str(exc))
    print(markdown_table(write_report(args.out, predictions, samples)))
    if predictions and all(p.error for p in predictions):
        return _fail(f"every question failed ({', '.join(sorted({p.error for p in predictions}))}); the causes are above")
    return 0
