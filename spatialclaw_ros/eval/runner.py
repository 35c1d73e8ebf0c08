"""Running an answerer over benchmark samples, concurrently, resumably.

Episodes spend most of their time waiting on the VLM, so a thread pool of `concurrency` workers
runs them side by side. Every finished sample is appended to `<out>/predictions.jsonl` at once;
a rerun with the same `--out` skips samples already there, so an interrupted run resumes.
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

from tqdm import tqdm

from spatialclaw_ros.eval.answerers import Answer, Answerer
from spatialclaw_ros.eval.benchmarks import RowFailure, score_sample
from spatialclaw_ros.eval.media import load_sample_media
from spatialclaw_ros.eval.records import Prediction, Sample, read_predictions, write_jsonl
from spatialclaw_ros.eval.scoring import ROW_UNREADABLE, AnswerMode

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


# Error codes the runner records for a sample it could not take through, beside the agent's own
# episode codes (`spatialclaw_ros.agent.types.ERROR_CODES`). The run goes on after each of them.
MEDIA_UNREADABLE = "media_unreadable"  # a media file is missing, corrupt or of an unknown kind
ANSWERER_FAILED = "answerer_failed"  # the answerer raised instead of returning an answer
SCORING_FAILED = "scoring_failed"  # the reply or the truth could not be scored
RUNNER_ERROR_CODES = (MEDIA_UNREADABLE, ANSWERER_FAILED, SCORING_FAILED, ROW_UNREADABLE)


def _failure(exc: BaseException) -> str:
    """The full message of an exception, with its traceback, for the record."""
    return "".join(traceback.format_exception(exc)).strip()


def _scored(sample: Sample, response: str, answers: AnswerMode) -> dict:
    """The Prediction fields that scoring fills; a reply or truth that cannot be scored gives a
    score of 0 with the scoring_failed code and the full message."""
    try:
        scored = score_sample(sample, response, answers)
    except Exception as exc:  # noqa: BLE001 - one unscorable sample must not end the run
        return {
            "prediction": "",
            "score": 0.0,
            "flags": [],
            "answers": answers,
            "error": SCORING_FAILED,
            "error_message": _failure(exc),
        }
    return {
        "prediction": scored.prediction,
        "score": scored.score,
        "flags": list(scored.flags),
        "answers": answers,
    }


def prediction_for(
    sample: Sample,
    executor: str,
    answer: Answer,
    started: float | None = None,
    answers: AnswerMode = "official",
) -> Prediction:
    """Score `answer` to `sample` (reading it in the `answers` mode) and record it. `elapsed` is
    the answer's own, or else the time since `started` (a `time.monotonic()` reading) when one is
    given. An answer's own error is kept; a scoring failure is recorded when there is none."""
    elapsed = answer.elapsed or (time.monotonic() - started if started is not None else 0.0)
    fields = _scored(sample, answer.response, answers)
    if answer.error:
        fields.update(error=answer.error, error_message=answer.error_message)
    return Prediction(
        sample_id=sample.id,
        benchmark=sample.benchmark,
        executor=executor,
        response=answer.response,
        category=sample.category,
        group_id=sample.group_id,
        elapsed=elapsed,
        steps=answer.steps,
        trace_path=answer.trace_path,
        group_info=sample.extra.get("group_info", {}),
        frames_used=answer.frames_used,
        frames_note=answer.frames_note,
        **fields,
    )


def answer_sample(
    sample: Sample,
    answerer: Answerer,
    executor: str,
    *,
    max_frames: int = 32,
    load_media: bool = True,
    answers: AnswerMode = "official",
) -> Prediction:
    """One episode, recorded: media that cannot be read and an answerer that raises are recorded
    with their error code, so this never raises for one bad sample."""
    t0 = time.monotonic()
    try:
        media = load_sample_media(sample, max_frames) if load_media else []
    except Exception as exc:  # noqa: BLE001 - the sample scores 0, the run goes on
        answer = Answer("", error=MEDIA_UNREADABLE, error_message=_failure(exc))
    else:
        try:
            answer = answerer(sample, media)
        except Exception as exc:  # noqa: BLE001 - a failing answerer is this sample's error, not the run's
            answer = Answer("", error=ANSWERER_FAILED, error_message=_failure(exc))
    return prediction_for(sample, executor, answer, started=t0, answers=answers)


# Runs the episodes of the samples it is given and yields their predictions as they finish, in any
# order: a thread pool here, or a Ray cluster (`spatialclaw_ros.eval.distributed`).
EpisodeRunner = Callable[[list[Sample]], Iterable[Prediction]]


def unreadable_row(failure: RowFailure, executor: str, answers: AnswerMode) -> Prediction:
    """The record of a benchmark row that could not be read: counted in the report, not scored."""
    return Prediction(
        sample_id=failure.key,
        benchmark=failure.benchmark,
        executor=executor,
        response="",
        prediction="",
        score=0.0,
        error=ROW_UNREADABLE,
        error_message=failure.message,
        answers=answers,
    )


def rescore(prediction: Prediction, sample: Sample, answers: AnswerMode) -> Prediction:
    """A recorded prediction scored again from its verbatim response, in the `answers` mode, as
    `prediction_for` scores it. An episode's or the media's failure stays recorded; a former
    scoring failure is retried."""
    fields = _scored(sample, prediction.response, answers)
    if prediction.error and prediction.error != SCORING_FAILED:
        fields.update(error=prediction.error, error_message=prediction.error_message)
    elif "error" not in fields:
        fields.update(error=None, error_message="")
    return replace(prediction, **fields)


@dataclass
class RunResult:
    predictions: list[Prediction]  # all of the run, resumed ones included
    new: int  # answered in this call
    elapsed: float


def run_samples(
    samples: Sequence[Sample],
    answerer: Answerer | None,
    out_dir: str | Path,
    executor: str,
    *,
    concurrency: int = 4,
    max_frames: int = 32,
    progress: bool = True,
    load_media: bool = True,
    answers: AnswerMode = "official",
    episodes: EpisodeRunner | None = None,
) -> RunResult:
    """Answer every sample not yet in `<out_dir>/predictions.jsonl`; `load_media=False` hands the
    answerer no frames (it brings its own, as bag replay does). No one sample ends the run: media
    that cannot be read, an answerer that raises and a reply that cannot be scored are recorded
    with an error code (`RUNNER_ERROR_CODES`) and the full message. Predictions already there that
    were read in another `answers` mode are scored again from their recorded responses. `episodes`
    runs the episodes elsewhere (a Ray cluster) instead of `concurrency` threads calling
    `answerer`."""
    if answerer is None and episodes is None:
        raise ValueError("run_samples needs an answerer or an episode runner")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / PREDICTIONS
    by_key = {(s.benchmark, s.id): s for s in samples}
    done = {(p.benchmark, p.sample_id): p for p in read_predictions(path)}
    stale = [
        rescore(p, by_key[key], answers)
        for key, p in done.items()
        if key in by_key and p.answers != answers
    ]
    if stale:
        write_jsonl(path, stale, append=True)  # the later line of a sample wins on reading
        done.update({(p.benchmark, p.sample_id): p for p in stale})
    todo = [s for s in samples if (s.benchmark, s.id) not in done]
    results = dict(done)
    total = sum(p.score for p in done.values())  # running score sum over `results`, for the bar
    started = time.monotonic()
    bar = tqdm(
        total=len(samples),
        initial=len(samples) - len(todo),
        desc=f"eval {executor}",
        unit="q",
        disable=not progress,
    )

    def in_threads(todo: list[Sample]) -> Iterable[Prediction]:
        if answerer is None:  # checked above: without an episode runner there is an answerer
            raise ValueError("run_samples needs an answerer or an episode runner")
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            futures = [
                pool.submit(
                    answer_sample,
                    s,
                    answerer,
                    executor,
                    max_frames=max_frames,
                    load_media=load_media,
                    answers=answers,
                )
                for s in todo
            ]
            for future in as_completed(futures):
                yield future.result()

    for prediction in (episodes or in_threads)(todo):
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
