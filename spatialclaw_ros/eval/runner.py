"""Running an answerer over benchmark samples, concurrently, resumably.

Episodes spend most of their time waiting on the VLM, so a thread pool of `concurrency` workers
runs them side by side. Every finished sample is appended to `<out>/predictions.jsonl` at once;
a rerun with the same `--out` skips samples already there, so an interrupted run resumes.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from spatialclaw_ros.eval.answerers import Answer, Answerer
from spatialclaw_ros.eval.media import load_sample_media
from spatialclaw_ros.eval.records import Prediction, Sample, read_predictions, write_jsonl
from spatialclaw_ros.eval.scoring import score_response

PREDICTIONS = "predictions.jsonl"


def subsample(samples: Sequence[Sample], n: int | None, seed: int) -> list[Sample]:
    """A seeded choice of `n` samples per benchmark, keeping scoring groups whole (a group counts
    as one draw), in the original order."""
    if not n:
        return list(samples)
    by_bench: dict[str, dict[str, list[Sample]]] = {}
    for s in samples:
        by_bench.setdefault(s.benchmark, {}).setdefault(s.group_id or s.id, []).append(s)
    keep: set[tuple[str, str]] = set()
    for bench, groups in by_bench.items():
        rng = random.Random(f"{seed}:{bench}")
        chosen = rng.sample(sorted(groups), min(n, len(groups)))
        keep.update((bench, s.id) for key in chosen for s in groups[key])
    return [s for s in samples if (s.benchmark, s.id) in keep]


def prediction_for(sample: Sample, executor: str, answer: Answer, started: float | None = None) -> Prediction:
    """Score `answer` to `sample` and record it. `elapsed` is the answer's own, or else the time
    since `started` (a `time.monotonic()` reading) when one is given."""
    scored = score_response(sample, answer.response)
    elapsed = answer.elapsed or (time.monotonic() - started if started is not None else 0.0)
    return Prediction(
        sample_id=sample.id, benchmark=sample.benchmark, executor=executor, response=answer.response,
        prediction=scored.prediction, score=scored.score, category=sample.category, group_id=sample.group_id,
        error=answer.error, elapsed=elapsed, steps=answer.steps, trace_path=answer.trace_path,
        group_info=sample.extra.get("group_info", {}),
    )


@dataclass
class RunResult:
    predictions: list[Prediction]  # all of the run, resumed ones included
    new: int  # answered in this call
    elapsed: float


def run_samples(samples: Sequence[Sample], answerer: Answerer, out_dir: str | Path, executor: str, *,
                concurrency: int = 4, max_frames: int = 32, progress: bool = True, load_media: bool = True) -> RunResult:
    """Answer every sample not yet in `<out_dir>/predictions.jsonl`; `load_media=False` hands the
    answerer no frames (it brings its own, as bag replay does)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / PREDICTIONS
    done = {(p.benchmark, p.sample_id): p for p in read_predictions(path)}
    todo = [s for s in samples if (s.benchmark, s.id) not in done]
    results = dict(done)
    total = sum(p.score for p in done.values())  # running score sum over `results`, for the bar
    started = time.monotonic()
    bar = tqdm(total=len(samples), initial=len(samples) - len(todo), desc=f"eval {executor}", unit="q", disable=not progress)

    def answer_one(sample: Sample) -> Prediction:
        t0 = time.monotonic()
        try:
            answer = answerer(sample, load_sample_media(sample, max_frames) if load_media else [])
        except (OSError, ValueError) as exc:  # unreadable media: the sample scores 0, the run goes on
            answer = Answer("", error="bad_request", error_message=str(exc))
        return prediction_for(sample, executor, answer, started=t0)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = [pool.submit(answer_one, s) for s in todo]
        for future in as_completed(futures):
            prediction = future.result()
            write_jsonl(path, [prediction], append=True)  # only this thread writes
            key = (prediction.benchmark, prediction.sample_id)
            replaced = results.get(key)
            total += prediction.score - (replaced.score if replaced else 0.0)
            results[key] = prediction
            bar.update(1)
            bar.set_postfix(acc=f"{100 * total / len(results):.1f}%")
    bar.close()
    ordered = [results[(s.benchmark, s.id)] for s in samples if (s.benchmark, s.id) in results]
    return RunResult(ordered, len(todo), time.monotonic() - started)
