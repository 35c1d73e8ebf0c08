"""`spatialclaw synthetic generate | check | bag`: write, verify and export the synthetic
benchmark."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size looks like 640x480, got {text!r}") from None
    return w, h


def _span(text: str) -> tuple[int, int]:
    try:
        lo, _, hi = text.partition("-")
        return int(lo), int(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"frame counts look like 8-32, got {text!r}") from None


def _generate(args: argparse.Namespace) -> int:
    from spatialclaw_ros.eval.synthetic.benchmark import (
        SyntheticConfig,
        generate,
        self_check,
        write_benchmark,
    )

    config = SyntheticConfig(
        seed=args.seed,
        clips={"single_image": args.single, "multi_view": args.multi, "video": args.video},
        width=args.size[0],
        height=args.size[1],
        video_frames=args.frames,
        fps=args.fps,
        variants=not args.no_variants,
    )
    started = time.perf_counter()
    bench = generate(
        config,
        progress=lambda line: print(
            f"[{time.perf_counter() - started:6.1f}s] {line}", file=sys.stderr
        ),
    )
    path = write_benchmark(bench, args.out)
    problems = self_check(path)
    print(f"wrote {len(bench.samples)} questions over {len(bench.clips)} clips to {path}")
    for p in problems:
        print(f"self-check: {p}", file=sys.stderr)
    return 1 if problems else 0


def _check(args: argparse.Namespace) -> int:
    from spatialclaw_ros.eval.synthetic.benchmark import self_check

    problems = self_check(args.samples)
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s)" if problems else "ok: every answer matches the geometry")
    return 1 if problems else 0


def _bag(args: argparse.Namespace) -> int:
    from spatialclaw_ros.eval.synthetic.bag import export_benchmark_bag

    questions = export_benchmark_bag(args.samples, args.bag)
    print(f"wrote {args.bag} and {questions}")
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "synthetic",
        help="generate the synthetic benchmark (exact ground truth), check it, export it to a bag",
        description="Ray-cast scenes of coloured primitives in a room and ask templated spatial "
        "questions "
        "whose answers are computed from the geometry.",
    )
    sub = parser.add_subparsers(dest="synthetic_command", required=True, metavar="ACTION")
    gen = sub.add_parser("generate", help="render clips and write samples.jsonl + clips/ to OUT")
    gen.add_argument("out", type=Path, help="output folder")
    gen.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed; the same seed gives the same benchmark (default 0)",
    )
    gen.add_argument("--single", type=int, default=8, help="single-image clips (default 8)")
    gen.add_argument(
        "--multi", type=int, default=6, help="multi-view clips of 2-4 views (default 6)"
    )
    gen.add_argument(
        "--video", type=int, default=4, help="video clips, each in 4 variants (default 4)"
    )
    gen.add_argument(
        "--size", type=_size, default=(640, 480), help="image size WxH (default 640x480)"
    )
    gen.add_argument(
        "--frames", type=_span, default=(8, 32), help="video length range LO-HI (default 8-32)"
    )
    gen.add_argument("--fps", type=float, default=4.0, help="video frame rate (default 4)")
    gen.add_argument(
        "--no-variants",
        action="store_true",
        help="skip the mirrored / time-reversed video variants",
    )
    gen.set_defaults(run=_generate)
    check = sub.add_parser("check", help="recompute every stored answer from the geometry")
    check.add_argument("samples", type=Path, help="samples.jsonl of a generated benchmark")
    check.set_defaults(run=_check)
    bag = sub.add_parser(
        "bag", help="export a generated benchmark as an mcap bag + questions.jsonl for replay"
    )
    bag.add_argument("samples", type=Path, help="samples.jsonl of a generated benchmark")
    bag.add_argument("bag", type=Path, help="bag folder to create")
    bag.set_defaults(run=_bag)
