"""The paper's 20 benchmarks: how a row of each published layout becomes a Sample.

Column names follow each dataset's published files; docs/eval.md says, per benchmark, which
parts of its layout were checked against a public source and which were not. Where releases spell
a column differently, `_field` accepts the known spellings. Media paths resolve against the
benchmark's folder; embedded images (parquet image columns, base64 TSV cells) are written once
to a cache folder by `MediaStore`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from spatialclaw_ros.eval.benchmarks.official import SPATIALTREE_UNSCORABLE
from spatialclaw_ros.eval.benchmarks.registry import Benchmark
from spatialclaw_ros.eval.benchmarks.tables import (
    MediaStore,
    Row,
    answer_letter,
    digest_id,
    json_cell,
    split_inline_options,
    strip_letter,
)
from spatialclaw_ros.eval.records import MediaGroup, Sample, resolve_media

# OSI-Bench's rule for numeric questions whose true answer is 0 (spatial_agent/evals/osibench.py,
# ZERO_AWARE_THRESHOLDS): motion categories use a threshold (a prediction below it is right, any
# other is scored by MRA against it); every other category accepts only an exact 0.
OSI_ZERO_THRESHOLDS = {
    "absolute_speed": 0.30,
    "absolute_displacement": 0.30,
    "trajectory_length": 2.0,
}

# How the benchmarks with numeric answers score a true answer of 0 (see scoring.ZERO_RULES).
NO_CREDIT_AT_ZERO = {"zero_answer": "no_credit"}  # VSI-Bench, VSTI-Bench, SPBench, SpatialTree

# VSI-Bench's overall score averages its question types, after averaging the three levels of
# relative direction into one type.
VSI_CATEGORY_PARENTS = {
    f"object_rel_direction_{level}": "object_rel_direction" for level in ("easy", "medium", "hard")
}

_MISSING = object()


def _field(row: Row, *names: str, default: Any = _MISSING) -> Any:
    for name in names:
        if name in row and row[name] is not None and row[name] != "":
            return row[name]
    if default is _MISSING:
        raise KeyError(f"none of the columns {list(names)} is present")
    return default


def _options(value: Any) -> list[str]:
    r"""Options given as a list, a JSON list, or 'A. x\nB. y' text -> texts without letters."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return [strip_letter(o) for o in json.loads(text)]
        return split_inline_options(text)[1]
    return [strip_letter(o) for o in value]


def _question(
    bench: str,
    sid: Any,
    question: str,
    answer: Any,
    media: list[MediaGroup],
    *,
    options: list[str] | None = None,
    category: str = "",
    group_id: str | None = None,
    extra: dict | None = None,
    unit: str | None = None,
) -> Sample:
    """A multiple-choice sample when there are options (inline ones are split out), yes/no for a
    yes/no answer, numeric (MRA) for a number, else free text compared whole."""
    question = str(question).strip()
    if options is None:
        question, options = split_inline_options(question)
    # what every answer type shares
    common: dict[str, Any] = dict(
        id=str(sid),
        benchmark=bench,
        question=question,
        category=category,
        media=media,
        group_id=group_id,
        extra=extra or {},
    )
    if options:
        return Sample(
            **common,
            options=options,
            answer=answer_letter(answer, options),
            answer_type="mc",
            metric="accuracy",
        )
    text = str(answer).strip().lower()
    if text in ("yes", "no"):
        return Sample(**common, answer=text, answer_type="yes_no")
    if _number(answer) is None:
        return Sample(**common, answer=str(answer).strip(), answer_type="text")
    return Sample(**common, answer=float(answer), answer_type="number", metric="mra", unit=unit)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _images(store: MediaStore, cells: Any) -> list[MediaGroup]:
    paths = store.images(cells)
    return [MediaGroup("images", paths)] if paths else []


def _video(store: MediaStore, path: str, camera: str = "video") -> MediaGroup:
    return MediaGroup("video", [store.path(path)], camera=camera)


# --- single image ------------------------------------------------------------------------------


def erqa(row: Row, store: MediaStore, source: Path) -> Sample:
    return _question(
        "erqa",
        _field(row, "question_id", "id", default=digest_id(row.get("question"))),
        row["question"],
        row["answer"],
        _images(store, _field(row, "images", "image")),
        category=str(_field(row, "question_type", default="")),
    )


def omni3d_bench(row: Row, store: MediaStore, source: Path) -> Sample:
    """Answer types: 'float' (Omni3D-Bench's strict thresholds), 'int' (exact count), 'str' (a
    word, yes/no or an object name, compared whole). The type is the category."""
    kind = str(_field(row, "answer_type", default="str"))
    if kind not in ("float", "int", "str"):
        raise ValueError(f"answer_type must be float, int or str, got {kind!r}")
    sid = _field(
        row, "question_index", "id", default=digest_id(row["question"], row.get("image_index"))
    )
    # annotations.json of omni3d-bench.zip; the parquet embeds the image
    filename = row.get("image_filename")
    media = _images(store, f"images/{filename}" if filename else _field(row, "image", "images"))
    extra = {"answer_kind": kind}
    if kind == "str":
        answer = str(row["answer"]).strip()
        yes_no = answer.lower() in ("yes", "no")
        return Sample(
            id=str(sid),
            benchmark="omni3d_bench",
            question=row["question"],
            answer=answer.lower() if yes_no else answer,
            answer_type="yes_no" if yes_no else "text",
            category=kind,
            media=media,
            extra=extra,
        )
    return Sample(
        id=str(sid),
        benchmark="omni3d_bench",
        question=row["question"],
        answer=float(row["answer"]),
        answer_type="number",
        metric="mra_strict" if kind == "float" else "accuracy",
        category=kind,
        media=media,
        extra=extra,
    )


def omnispatial(row: Row, store: MediaStore, source: Path) -> Sample:
    """OmniSpatial-test/data.json: ids repeat across task types, so the id is
    <task_type>_<sub_task_type>_<id>; the image is <task_type>/<id up to its first '_'>.png
    beside data.json; the answer is the option's index."""
    task, sub_task = (
        str(_field(row, "task_type", default="")),
        str(_field(row, "sub_task_type", default="")),
    )
    raw = str(row["id"])
    sid = f"{task}_{sub_task}_{raw}" if task else raw
    image = _field(row, "image", "image_path", default=None)
    if image is None:
        image = str(source.parent.relative_to(store.data_dir) / task / f"{raw.split('_')[0]}.png")
    return _question(
        "omnispatial",
        sid,
        row["question"],
        _field(row, "answer", "gt"),
        _images(store, image),
        options=_options(row["options"]),
        category=task,
    )


def spbench(row: Row, store: MediaStore, source: Path) -> Sample:
    """SPBench-SI (single image) and SPBench-MV (multi-view) files; numeric questions use MRA. In
    the parquet release image names are relative to the scene's folder (`scene_name`)."""
    options = _options(json_cell(_field(row, "options", "candidates", default=None)))
    images = json_cell(_field(row, "images", "image", "image_path"))
    scene = row.get("scene_name")
    if scene and images is not None:
        images = [f"{scene}/{name}" for name in ([images] if isinstance(images, str) else images)]
    return _question(
        "spbench",
        f"{source.stem}/{row['id']}",
        row["question"],
        _field(row, "answer", "ground_truth"),
        _images(store, images),
        options=options,
        category=str(_field(row, "question_type", default="")),
        extra=dict(NO_CREDIT_AT_ZERO),
    )


# --- multi-view --------------------------------------------------------------------------------


def _mindcube_setting(sid: str) -> str:
    """The setting MindCube's evaluation reads from a question id (first match in this order)."""
    lowered = sid.lower()
    return next(
        (s for s in ("around", "rotation", "translation", "among") if s in lowered), "other"
    )


def mindcube(row: Row, store: MediaStore, source: Path) -> Sample | None:
    """MindCube's official evaluation leaves the translation setting out of its overall accuracy,
    and skips questions without a ground truth; we leave both out. Image paths are relative to the
    folder that holds raw/."""
    sid = str(row["id"])
    setting = _mindcube_setting(sid)
    if setting == "translation" or not row.get("gt_answer"):
        return None
    images = MediaStore(source.parent.parent, store.cache_dir)
    return _question(
        "mindcube",
        sid,
        row["question"],
        row["gt_answer"],
        _images(images, row["images"]),
        category=setting,
    )


def mmsi_bench(row: Row, store: MediaStore, source: Path) -> Sample:
    return _question(
        "mmsi_bench",
        row["id"],
        row["question"],
        row["answer"],
        _images(store, row["images"]),
        category=str(_field(row, "question_type", default="")),
    )


# SPAR-Bench's multi-view numeric tasks, whose replies are read by their last number
# (spatial_agent/evals/sparbench.py, MV_NA_TASKS and _extract_number).
SPAR_LAST_NUMBER_TASKS = frozenset(
    {
        "depth_prediction_oc_mv",
        "depth_prediction_oo_mv",
        "distance_prediction_oc_mv",
        "distance_prediction_oo_mv",
    }
)


def spar_bench(row: Row, store: MediaStore, source: Path) -> Sample:
    """'select' rows are multiple choice (options inline), 'fill' rows numeric (MRA; a true 0 is
    scored by the absolute error), except view_change_infer, whose answer is a structured motion
    ("move_right:0.5,turn_left:10", scored per axis). A fill answer that is no number is a true
    0, as SPAR-Bench's evaluation reads it."""
    task = str(_field(row, "task", default=""))
    media = _images(store, _field(row, "image", "images"))
    if task == "view_change_infer":
        return Sample(
            id=str(row["id"]),
            benchmark="spar_bench",
            question=str(row["question"]).strip(),
            answer=str(row["answer"]).strip(),
            answer_type="text",
            metric="vci",
            category=task,
            media=media,
        )
    if str(_field(row, "format_type", default="select")) == "fill":
        return Sample(
            id=str(row["id"]),
            benchmark="spar_bench",
            question=str(row["question"]).strip(),
            answer=_number(row["answer"]) or 0.0,
            answer_type="number",
            metric="mra",
            category=task,
            media=media,
            extra={"zero_answer": "absolute_error", "last_number": task in SPAR_LAST_NUMBER_TASKS},
        )
    return _question("spar_bench", row["id"], row["question"], row["answer"], media, category=task)


# --- general spatial ---------------------------------------------------------------------------


def blink(row: Row, store: MediaStore, source: Path) -> Sample:
    """One parquet per sub-task folder; images in image_1..image_4; answers like '(A)'."""
    cells = [row[k] for k in ("image_1", "image_2", "image_3", "image_4") if row.get(k)]
    task = str(_field(row, "sub_task", default=source.parent.name))
    return _question(
        "blink",
        f"{task}/{row['idx']}",
        row["question"],
        row["answer"],
        _images(store, cells),
        options=_options(row["choices"]),
        category=task,
    )


def spatialtree(row: Row, store: MediaStore, source: Path) -> Sample | None:
    """Every row the reference scores without a judge model, a mask or a simulator (those are left
    out, as SpatialTree's evaluation leaves them out). `question_type` (multiple-choice, open,
    judge) and `metricfunc` decide the official reading, so both travel in `extra`. The category
    is the row's deepest SpatialTree level, for the hierarchy figure reported beside the
    headline."""
    info = json_cell(row.get("extra_info") or "{}")
    metric = str(info.get("metricfunc", ""))
    if metric in SPATIALTREE_UNSCORABLE:
        return None
    levels = sorted(
        (k for k in info if k.startswith("spatree") and k[7:].isdigit()), key=lambda k: int(k[7:])
    )
    category = str(info[levels[-1]]) if levels else ""
    videos = json_cell(row.get("video")) or []
    media = (
        [_video(store, videos[0])] if len(videos) else _images(store, json_cell(row.get("image")))
    )
    sid = _field(
        row,
        "session_id",
        "id",
        "question_id",
        default=digest_id(row["question"], row.get("image"), row.get("video")),
    )
    kind = str(_field(row, "question_type", default="open"))
    extra = {
        "question_type": kind,
        "metricfunc": metric,
        "answer_text": str(row["answer"]),
        **NO_CREDIT_AT_ZERO,
    }
    options = _options(json_cell(row.get("option"))) if kind == "multiple-choice" else []
    if kind == "multiple-choice" and len(options) < 2:
        return Sample(
            id=str(sid),
            benchmark="spatialtree",
            question=str(row["question"]).strip(),
            answer=str(row["answer"]).strip(),
            answer_type="text",
            category=category,
            media=media,
            extra=extra,
        )
    return _question(
        "spatialtree",
        sid,
        row["question"],
        row["answer"],
        media,
        options=options,
        category=category,
        extra=extra,
    )


def viewspatial(row: Row, store: MediaStore, source: Path) -> Sample:
    images = _field(row, "image_path", "images")
    sid = _field(row, "id", default=digest_id(row["question"], images))
    return _question(
        "viewspatial",
        sid,
        row["question"],
        row["answer"],
        _images(store, images),
        options=_options(row["choices"]),
        category=str(_field(row, "question_type", default="")),
    )


# --- video / 4D --------------------------------------------------------------------------------


def _frame_groups(store: MediaStore, folder: str, frames_list: list) -> list[MediaGroup]:
    return [
        MediaGroup(
            "images", [store.path(f"{folder}/{f}") for f in frames], camera=f"video_{i + 1}"
        )
        for i, frames in enumerate(frames_list)
        if len(frames)
    ]


def mmsi_video(row: Row, store: MediaStore, source: Path) -> Sample:
    """Each question comes with the sampled frames of one or more videos (frames/) and optional
    reference images (ref_images/). Two layouts: the release's mmsivideo.json (`ori_question`,
    an `options` list; its `<image>` tags name the reference images in order), or the harnesses'
    prompt layout (`task_prompt` + `user_prompt` with the options written in the text)."""
    media = _frame_groups(store, "frames", json_cell(row.get("frames_list")) or [])
    refs = [r for r in json_cell(row.get("ref_images")) or [] if isinstance(r, str)]
    if refs:
        media.append(
            MediaGroup("images", [store.path(f"ref_images/{r}") for r in refs], camera="reference")
        )
    if row.get("ori_question") is not None and row.get("options") is not None:
        question, options = str(row["ori_question"]), _options(json_cell(row["options"]))
        if question.count("<image>") == len(refs):
            for n in range(1, len(refs) + 1):
                question = question.replace("<image>", f"[reference image {n}]", 1)
    else:
        prompt = f"{row.get('task_prompt') or ''}\n{row.get('user_prompt') or ''}"
        question, options = split_inline_options(
            prompt.replace("<video>", "").replace("<image>", "").strip()
        )
    if not options:
        raise ValueError("no options: neither an `options` list nor A., B., ... in the prompt")
    return _question(
        "mmsi_video",
        row["id"],
        question,
        row["ground_truth"],
        media,
        options=options,
        category=str(_field(row, "type", default="")),
    )


def osi_bench(row: Row, store: MediaStore, source: Path) -> Sample:
    """data.parquet: `question_type` is "numerical" (MRA) or "mcq"; videos unpacked into video/."""
    category = str(row["category"])
    name = str(_field(row, "file_name", "video"))
    name = name if Path(name).suffix else f"{name}.mp4"
    video = MediaGroup(
        "video", [store.find(f"video/{name}", f"videos/{name}", name)], camera="video"
    )
    numeric = str(row.get("question_type", "")).lower() == "numerical"
    sid = _field(row, "id", "index", "question_id", default=digest_id(row["question"], name))
    return _question(
        "osi_bench",
        sid,
        row["question"],
        row["answer"],
        [video],
        options=[] if numeric else _options(json_cell(row.get("options"))),
        category=category,
        extra={
            "zero_answer": f"below:{OSI_ZERO_THRESHOLDS[category]}"
            if category in OSI_ZERO_THRESHOLDS
            else "exact"
        },
    )


def pai_bench(row: Row, store: MediaStore, source: Path) -> Sample:
    """data/test-*.parquet: options in `index2ans` ({"A": text, ...}), videos at
    videos/<subset>/<id>.mp4; the category is the row's `subcategory` (the release also has a
    coarser `category`), else the subset folder."""
    index2ans = json_cell(row["index2ans"])
    options = [str(index2ans[k]) for k in sorted(index2ans) if index2ans[k] is not None]
    path = str(row["video_path"])
    parts = Path(path).parts
    sid = _field(row, "id", "question_id", "index", default=digest_id(path, row["question"]))
    category = _field(row, "subcategory", "category", default=parts[1] if len(parts) > 2 else "")
    return _question(
        "pai_bench",
        sid,
        row["question"],
        row["answer"],
        [_video(store, path)],
        options=options,
        category=str(category).strip(),
    )


def _vsi_like(bench: str):
    def convert(row: Row, store: MediaStore, source: Path) -> Sample:
        """VSI-Bench layout: videos at <dataset>/<scene_name>.mp4 (VSTI-Bench: `video_path`); no
        options = numeric (MRA), a true 0 never credited."""
        video = (
            _field(row, "video_path", "video", default=None)
            or f"{row['dataset']}/{row['scene_name']}.mp4"
        )
        options = _options(_field(row, "options", default=None))
        unit = {
            "object_abs_distance": "m",
            "object_size_estimation": "cm",
            "room_size_estimation": "m2",
        }
        qtype = str(row["question_type"])
        # VSTI-Bench keeps a choice's letter in mc_answer
        answer = row.get("mc_answer") or row["ground_truth"]
        return _question(
            bench,
            row["id"],
            row["question"],
            answer,
            [_video(store, video)],
            options=options,
            category=qtype,
            unit=unit.get(qtype),
            extra=dict(NO_CREDIT_AT_ZERO),
        )

    convert.__name__ = bench
    return convert


vsi_bench = _vsi_like("vsi_bench")
vstibench = _vsi_like("vstibench")


# DSI-Bench's motion categories, by the integer `cate` of its metadata files.
DSI_CATEGORIES = (
    "Obj:static cam",
    "Obj:moving cam",
    "Cam:static scene",
    "Cam:dynamic scene",
    "Obj-Cam distance",
    "Obj-Cam orientation",
)


def dsi_bench(row: Row, store: MediaStore, source: Path) -> Sample:
    """Each question comes in 4 video variants (std, hflip, reverse, reverse_hflip), each with its
    own truth; every variant is its own sample and the benchmark averages over all of them. The
    release's layout: metadatas/<variant>.csv (cate, relative_path, question, options
    "A: x; B: y", GT) with videos at videos/<variant>/<relative_path>; the variants of a question
    share its relative_path and text, which make the group."""
    variant, path = source.stem, str(row["relative_path"]).strip()
    group = digest_id(path, row["question"], row.get("options"))
    cate = int(row["cate"])
    return _question(
        "dsi_bench",
        f"{variant}/{group}",
        row["question"],
        row["GT"],
        [_video(store, f"videos/{variant}/{path}")],
        options=_options(row.get("options")) or None,
        group_id=group,
        category=DSI_CATEGORIES[cate] if 0 <= cate < len(DSI_CATEGORIES) else f"cate_{cate}",
        extra={"variant": variant},
    )


# --- general video -----------------------------------------------------------------------------


def cvbench(row: Row, store: MediaStore, source: Path) -> Sample:
    """data/test-00000-of-00001.parquet: two to four clips in video_1..video_4 (paths under the
    folder CVBench.zip unpacks into), options "A. ..." or "Yes." / "No." (a yes/no question, its
    answer "Yes" or "No"), the type in task_type."""
    videos = [row[k] for k in ("video_1", "video_2", "video_3", "video_4") if row.get(k)]
    media = [
        _video(store, store.find(f"videos/{v}", f"CVBench/{v}", v), camera=f"video_{i + 1}")
        for i, v in enumerate(videos)
    ]
    options = _options(json_cell(_field(row, "options", default=None)))
    category = str(_field(row, "task_type", "task", "category", default=""))
    if options and all(o.strip().rstrip(".").strip().lower() in ("yes", "no") for o in options):
        options = []  # a yes/no question: scored on the word, not a letter
    return _question(
        "cvbench",
        row["id"],
        row["question"],
        row["answer"],
        media,
        options=options or None,
        category=category,
    )


def perceptioncomp(row: Row, store: MediaStore, source: Path) -> Sample:
    """The official annotation file (benchmark/annotations/official/1-1114.json in the
    PerceptionComp GitHub repository): five options in answer_choice_0..4, the right one's index in
    answer_id."""
    options = [
        str(row[f"answer_choice_{i}"]).strip()
        for i in range(6)
        if str(row.get(f"answer_choice_{i}") or "").strip()
    ]
    vid = str(row["video_id"])
    video = MediaGroup(
        "video",
        [store.find(f"benchmark/videos/{vid}.mp4", f"data/{vid}.mp4", f"videos/{vid}.mp4")],
        camera="video",
    )
    return _question(
        "perceptioncomp",
        row["key"],
        row["question"],
        int(row["answer_id"]),
        [video],
        options=options,
        category=str(_field(row, "category", default="")),
        extra={"difficulty": row.get("difficulty")},
    )


def video_mme(row: Row, store: MediaStore, source: Path) -> Sample:
    return _question(
        "video_mme",
        row["question_id"],
        row["question"],
        row["answer"],
        [_video(store, f"data/{row['videoID']}.mp4")],
        options=_options(row["options"]),
        category=str(_field(row, "duration", default="")),
        extra={"task_type": row.get("task_type", "")},
    )


def video_mme_v2(row: Row, store: MediaStore, source: Path) -> Sample:
    """test.parquet: four questions per video form a group, scored together (question ids
    "<video>-<position>"); videos unpacked from the zip archives into videos/."""
    vid = str(row["video_id"])
    qid = str(row["question_id"])
    group_info = {
        "type": str(row["group_type"]),
        "structure": str(row["group_structure"]),
        "position": int(qid.rsplit("-", 1)[-1]),
    }
    video = MediaGroup("video", [store.find(f"videos/{vid}.mp4", f"{vid}.mp4")], camera="video")
    return _question(
        "video_mme_v2",
        qid,
        row["question"],
        row["answer"],
        [video],
        options=_options(row["options"]),
        group_id=vid,
        category=f"level_{row['level']}",
        extra={"group_info": group_info},
    )


def synthetic(row: Row, store: MediaStore, source: Path) -> Sample:
    """Our own benchmark: rows are Sample records already (see spatialclaw_ros.eval.synthetic)."""
    return resolve_media(Sample.from_dict(row), store.data_dir)


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in [
        Benchmark("erqa", "single image", "FlagEval/ERQA", ("data/*.parquet",), erqa),
        Benchmark(
            "omni3d_bench",
            "single image",
            "dmarsili/Omni3D-Bench",
            ("data/*.parquet", "annotations.json"),
            omni3d_bench,
        ),
        Benchmark(
            "omnispatial",
            "single image",
            "qizekun/OmniSpatial",
            ("data.json", "*/data.json"),
            omnispatial,
        ),
        Benchmark(
            "spbench",
            "single image",
            "hongxingli/SPBench",
            ("SPBench-*.json", "SPBench-*.parquet"),
            spbench,
            "category_macro",
        ),
        Benchmark(
            "mindcube",
            "multi-view",
            "MLL-Lab/MindCube",
            ("raw/MindCube_tinybench.jsonl", "data/raw/MindCube_tinybench.jsonl"),
            mindcube,
            download="hf download MLL-Lab/MindCube data.zip --repo-type dataset --local-dir "
            "<DATA_DIR>/mindcube"
            " && unzip <DATA_DIR>/mindcube/data.zip -d <DATA_DIR>/mindcube",
        ),
        Benchmark(
            "mmsi_bench", "multi-view", "RunsenXu/MMSI-Bench", ("MMSI_Bench.parquet",), mmsi_bench
        ),
        Benchmark(
            "spar_bench",
            "multi-view",
            "jasonzhango/SPAR-Bench",
            ("data/*.parquet",),
            spar_bench,
            "category_macro",
        ),
        Benchmark(
            "blink",
            "general spatial",
            "BLINK-Benchmark/BLINK",
            ("*/val-*.parquet",),
            blink,
            "category_macro",
        ),
        Benchmark(
            "spatialtree",
            "general spatial",
            "LongfeiLi/SpatialTree-Bench",
            ("*.parquet", "data/*.parquet", "*.jsonl"),
            spatialtree,
            secondary={"deepest_level_macro": "category_macro"},
        ),
        Benchmark(
            "viewspatial",
            "general spatial",
            "lidingm/ViewSpatial-Bench",
            ("ViewSpatial-Bench.json",),
            viewspatial,
        ),
        Benchmark(
            "mmsi_video",
            "video / 4D",
            "rbler/MMSI-Video-Bench",
            ("*.json", "*.jsonl", "*.parquet"),
            mmsi_video,
        ),
        Benchmark(
            "osi_bench",
            "video / 4D",
            "HarmlessSR07/OSI-Bench",
            ("data.parquet",),
            osi_bench,
            download="hf download HarmlessSR07/OSI-Bench --repo-type dataset --local-dir "
            "<DATA_DIR>/osi_bench"
            ' && (cd <DATA_DIR>/osi_bench && for z in *.zip; do unzip -n "$z" -d video; done)',
        ),
        Benchmark(
            "pai_bench",
            "video / 4D",
            "shi-labs/physical-ai-bench-understanding",
            ("data/test-*.parquet",),
            pai_bench,
        ),
        Benchmark(
            "vsi_bench",
            "video / 4D",
            "nyu-visionx/VSI-Bench",
            ("test_debiased*.parquet",),
            vsi_bench,
            "category_macro",
            VSI_CATEGORY_PARENTS,
        ),
        Benchmark(
            "vstibench",
            "video / 4D",
            "Journey9ni/vstibench",
            ("*.parquet", "test.json"),
            vstibench,
            "category_macro",
        ),
        Benchmark(
            "dsi_bench",
            "video / 4D",
            "Viglong/DSI-Bench",
            tuple(f"metadatas/{v}.csv" for v in ("std", "hflip", "reverse", "reverse_hflip")),
            dsi_bench,
        ),
        Benchmark(
            "cvbench",
            "general video",
            "Dongyh35/CVBench",
            ("data/*.parquet",),
            cvbench,
            download="hf download Dongyh35/CVBench --repo-type dataset --local-dir "
            "<DATA_DIR>/cvbench"
            " && unzip -n <DATA_DIR>/cvbench/CVBench.zip -d <DATA_DIR>/cvbench/videos",
        ),
        Benchmark(
            "perceptioncomp",
            "general video",
            "hrinnnn/PerceptionComp",
            ("benchmark/annotations/official/*.json", "*.json"),
            perceptioncomp,
            download="git clone https://github.com/hrinnnn/PerceptionComp "
            "<DATA_DIR>/perceptioncomp"
            " && hf download hrinnnn/PerceptionComp --repo-type dataset --local-dir "
            "<DATA_DIR>/perceptioncomp",
        ),
        Benchmark(
            "video_mme",
            "general video",
            "lmms-lab/Video-MME",
            ("videomme/test-*.parquet",),
            video_mme,
        ),
        Benchmark(
            "video_mme_v2",
            "general video",
            "MME-Benchmarks/Video-MME-v2",
            ("test.parquet",),
            video_mme_v2,
            "video_mme_v2_groups",
            download="hf download MME-Benchmarks/Video-MME-v2 --repo-type dataset --local-dir "
            "<DATA_DIR>/video_mme_v2"
            ' && (cd <DATA_DIR>/video_mme_v2/videos && for z in *.zip; do unzip -n "$z"; done)',
        ),
        Benchmark("synthetic", "synthetic", "", ("samples.jsonl",), synthetic),
    ]
}
