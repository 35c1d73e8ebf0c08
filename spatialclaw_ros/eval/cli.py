"""`spatialclaw eval | report | synthetic` (`replay`, which can go through the ROS node, is in
ros/cli.py)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from spatialclaw_ros.eval.answerers import EXECUTORS
from spatialclaw_ros.eval.scoring import ANSWER_MODES, ROW_UNREADABLE
from spatialclaw_ros.eval.synthetic import cli as synthetic_cli


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="run an executor over benchmarks and write predictions + reports",
        description="Answers benchmark questions read from local copies under --data-dir "
        "(see docs/eval.md for the download command of each benchmark). Predictions are "
        "appended to OUT/predictions.jsonl; rerunning with the same --out resumes.",
    )
    p.add_argument(
        "--bench",
        required=True,
        help="comma-separated benchmark names, e.g. vsi_bench,blink or synthetic",
    )
    p.add_argument(
        "--executor",
        default="code",
        choices=EXECUTORS,
        help="agent executor, or 'random' for the chance level (default: code)",
    )
    p.add_argument(
        "--data-dir",
        default="data",
        help="folder holding one sub-folder per benchmark (default: data)",
    )
    p.add_argument("--out", default=None, help="run folder (default: runs/eval/<executor>)")
    p.add_argument(
        "--subsample",
        type=int,
        default=None,
        help="questions per benchmark (seeded; groups kept whole)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed for --subsample and the random executor (default: 0)",
    )
    p.add_argument("--concurrency", type=int, default=4, help="episodes run at once (default: 4)")
    p.add_argument(
        "--max-frames", type=int, default=32, help="frames sampled from each video (default: 32)"
    )
    p.add_argument("--config", default=None, help="agent YAML config (VLM endpoint, limits)")
    p.add_argument(
        "--reconstruct",
        default="da3",
        choices=["da3", "sensor", "fused"],
        help="depth/pose backend",
    )
    p.add_argument("--segment", default="sam3", choices=["sam3", "labels"], help="mask backend")
    p.add_argument(
        "--baseline", default=None, help="a no_tools run folder to report deltas against"
    )
    p.add_argument(
        "--answers",
        default="official",
        choices=ANSWER_MODES,
        help="how replies are read: 'official' as each benchmark's own evaluation does (default), "
        "'lenient' with our reader for every benchmark (docs/eval.md)",
    )
    add_ray_arguments(p)
    p.set_defaults(run=run_eval)

    r = subparsers.add_parser(
        "report", help="rebuild report.json/.md/.png and traces.html of a run folder"
    )
    r.add_argument("run_dir", help="a folder holding predictions.jsonl")
    r.add_argument(
        "--baseline", default=None, help="a no_tools run folder to report deltas against"
    )
    r.add_argument(
        "--data-dir", default=None, help="benchmark data, to show questions in traces.html"
    )
    r.add_argument(
        "--answers",
        default=None,
        choices=ANSWER_MODES,
        help="score the recorded replies again in this answer-reading mode (needs --data-dir)",
    )
    r.set_defaults(run=run_report)

    synthetic_cli.register(subparsers)


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    ray = parser.add_argument_group("on a Ray cluster (pip install '.[ray]'; docs/scale.md)")
    ray.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="spread episodes over a Ray cluster: ADDRESS of a running one ('auto', "
        "host:6379), or none "
        "for $RAY_ADDRESS or a new one on this machine; --concurrency is then episodes per worker",
    )
    ray.add_argument(
        "--ray-workers",
        type=int,
        default=4,
        help="episode worker processes over the cluster (default 4)",
    )


def ray_options(args: argparse.Namespace):
    from spatialclaw_ros.eval.distributed import RayOptions

    return RayOptions(
        args.ray or None, workers=args.ray_workers, episodes_per_worker=args.concurrency
    )


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _load(benches: str, data_dir: str, failures: list | None = None):
    """The samples of the named benchmarks; rows that cannot be read go to `failures` when
    given."""
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
        answerer_args = {
            "config_path": args.config,
            "reconstruct_backend": args.reconstruct,
            "segment_backend": args.segment,
            "trace_dir": str(out / "traces"),
        }
        if args.ray is None:
            answerer = build_answerer(args.executor, args.seed, **answerer_args)
        else:
            from spatialclaw_ros.eval.distributed import AnswererSpec, run_samples_on_ray

            spec, options = (
                AnswererSpec.resolve(args.executor, args.seed, **answerer_args),
                ray_options(args),
            )
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        return fail(str(exc))
    if args.ray is None:
        result = run_samples(
            samples,
            answerer,
            out,
            args.executor,
            concurrency=args.concurrency,
            max_frames=args.max_frames,
            answers=args.answers,
        )
    else:
        try:
            result = run_samples_on_ray(
                samples,
                spec,
                out,
                options=options,
                max_frames=args.max_frames,
                answers=args.answers,
            )
        except ConnectionError as exc:
            return fail(str(exc))
    # rows that could not be read are recorded once, so that `spatialclaw report` counts them too
    recorded = {(p.benchmark, p.sample_id) for p in read_predictions(out / PREDICTIONS)}
    unreadable = [unreadable_row(f, args.executor, args.answers) for f in failures]
    write_jsonl(
        out / PREDICTIONS,
        [p for p in unreadable if (p.benchmark, p.sample_id) not in recorded],
        append=True,
    )
    baseline = read_predictions(Path(args.baseline) / PREDICTIONS) if args.baseline else None
    report = write_report(out, result.predictions + unreadable, samples, baseline)
    print(markdown_table(report))
    print(
        f"{result.new} answered now, {len(result.predictions)} in {out / PREDICTIONS}; "
        f"reports in {out}"
    )
    return 0


def run_report(args: argparse.Namespace) -> int:
    from spatialclaw_ros.eval.records import read_predictions
    from spatialclaw_ros.eval.reports import markdown_table, write_report
    from spatialclaw_ros.eval.runner import PREDICTIONS, rescore

    predictions = read_predictions(Path(args.run_dir) / PREDICTIONS)
    if not predictions:
        return fail(f"no predictions in {Path(args.run_dir) / PREDICTIONS}")
    if args.answers and not args.data_dir:
        return fail("--answers needs --data-dir: scoring again needs each question's truth")
    samples = []
    if args.data_dir:
        benches = ",".join(sorted({p.benchmark for p in predictions}))
        # unreadable rows are in the run's records already
        samples = _load(benches, args.data_dir, [])
    if args.answers:
        by_key = {(s.benchmark, s.id): s for s in samples}
        scorable = [p for p in predictions if p.error != ROW_UNREADABLE]
        missing = [p.sample_id for p in scorable if (p.benchmark, p.sample_id) not in by_key]
        if missing:
            return fail(
                f"{len(missing)} predictions have no question under --data-dir (first: "
                f"{missing[0]})"
            )
        predictions = [
            rescore(p, by_key[(p.benchmark, p.sample_id)], args.answers)
            if p.error != ROW_UNREADABLE
            else replace(p, answers=args.answers)
            for p in predictions
        ]
    baseline = read_predictions(Path(args.baseline) / PREDICTIONS) if args.baseline else None
    print(markdown_table(write_report(args.run_dir, predictions, samples, baseline)))
    return 0
