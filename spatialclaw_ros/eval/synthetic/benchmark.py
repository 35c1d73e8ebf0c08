"""The synthetic benchmark: generate clips and questions, write them to disk, check them.

On disk (loadable by the eval runner like any other benchmark):
    samples.jsonl                 one `Sample` per line; media point at the clip files below
    clips/<clip>.npz              the rendered frame set (colour, depth, labels, poses, intrinsics)
    clips/<clip>.json             the clip's geometry: per-frame scenes, family, kind, variant
Questions in a group (`group_id`) are the DSI-style variants of one video question.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spatialclaw_ros.eval.framesets import load_frameset, save_frameset
from spatialclaw_ros.eval.records import (
    MediaGroup,
    Sample,
    option_letter,
    read_samples,
    write_jsonl,
)
from spatialclaw_ros.eval.synthetic import clips as clipmod
from spatialclaw_ros.eval.synthetic.clips import MIN_VISIBLE_SHARE, Clip, rendered_layers
from spatialclaw_ros.eval.synthetic.questions import TEMPLATES, Facts, Measure, Template, measure
from spatialclaw_ros.eval.synthetic.render import default_intrinsics
from spatialclaw_ros.eval.synthetic.scene import Scene, SceneObject, random_scene
from spatialclaw_ros.frames import FrameSet

BENCHMARK = "synthetic"
_KINDS = {
    "single_image": ("single",),
    "multi_view": ("rotation", "orbit", "between"),
    "video": ("camera_motion", "object_motion"),
}
_CANDIDATES_PER_TEMPLATE = 40


@dataclass
class SyntheticConfig:
    """How much to generate and how it looks. `clips` counts clips per family; every video clip
    yields four variants (original, mirrored, reversed, both) unless `variants` is off."""

    seed: int = 0
    clips: dict[str, int] = field(
        default_factory=lambda: {"single_image": 8, "multi_view": 6, "video": 4}
    )
    width: int = 640
    height: int = 480
    hfov_deg: float = 70.0
    objects: tuple[int, int] = (4, 8)
    video_frames: tuple[int, int] = (8, 32)
    fps: float = 4.0
    variants: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.clips) - set(_KINDS)
        if unknown:
            raise ValueError(f"unknown families {sorted(unknown)}; use {list(_KINDS)}")
        if not 8 <= self.video_frames[0] <= self.video_frames[1] <= 64:
            raise ValueError(
                f"video_frames must satisfy 8 <= low <= high <= 64, got {self.video_frames}"
            )


@dataclass
class SyntheticBenchmark:
    samples: list[Sample]
    clips: dict[str, Clip]

    def frames_for(self, sample: Sample) -> list[FrameSet]:
        """The in-memory frame sets a sample's media refer to."""
        return [self.clips[Path(g.paths[0]).stem].rendered_frames() for g in sample.media]


class LetterBalancer:
    """Puts each correct option at the letter used least so far, so no letter is a safe guess."""

    def __init__(self, rng: np.random.Generator):
        self._rng = rng
        self._used: dict[int, Counter] = {}

    def arrange(self, options: list[str], answer: str) -> tuple[list[str], str]:
        n = len(options)
        used = self._used.setdefault(n, Counter())
        fewest = min(used[i] for i in range(n))
        slot = int(self._rng.choice([i for i in range(n) if used[i] == fewest]))
        used[slot] += 1
        others = [o for o in options if o != answer]
        others = [others[i] for i in self._rng.permutation(len(others))]
        return others[:slot] + [answer] + others[slot:], option_letter(slot)


def _build_clip(
    kind: str, clip_id: str, scene: Scene, config: SyntheticConfig, rng: np.random.Generator
) -> Clip:
    k = default_intrinsics(config.width, config.height, config.hfov_deg)
    if kind in ("camera_motion", "object_motion"):
        n = int(rng.integers(config.video_frames[0], config.video_frames[1] + 1))
        builder = clipmod.camera_motion if kind == "camera_motion" else clipmod.object_motion
        return builder(clip_id, scene, k, rng, n, config.fps)
    builders: dict[str, Callable] = {
        "single": clipmod.single_view,
        "rotation": clipmod.rotation_in_place,
        "orbit": clipmod.orbit,
        "between": clipmod.between,
    }
    return builders[kind](clip_id, scene, k, rng)


def _variant_names(clip: Clip, config: SyntheticConfig) -> tuple[str, ...]:
    return clipmod.VARIANTS if clip.family == "video" and config.variants else ("original",)


def _first_clean(template: Template, facts: list[Facts], rng) -> tuple[dict, list[Measure]] | None:
    """The first proposed parameters that are clean (not borderline) in every variant."""
    for params in template.propose(facts[0], rng)[:_CANDIDATES_PER_TEMPLATE]:
        measured = [template.measure(f, params) for f in facts]
        if all(m.borderline is None for m in measured):
            return params, measured
    return None


def _sample(
    template: Template,
    facts: Facts,
    params: dict,
    m: Measure,
    balancer: LetterBalancer,
    group: str | None,
) -> Sample:
    clip = facts.clip
    text, options = template.phrase(facts, params)
    answer: str | float = m.answer
    if template.answer_type == "mc":
        options, answer = balancer.arrange(options, str(m.answer))
    return Sample(
        id=f"{clip.id}/{template.name}",
        benchmark=BENCHMARK,
        question=text,
        answer=answer,
        answer_type=template.answer_type,
        metric="mra" if template.answer_type == "number" else "accuracy",
        category=template.name,
        media=[MediaGroup("frameset", [f"clips/{clip.id}.npz"])],
        options=options,
        group_id=group,
        unit=template.unit,
        extra={
            "family": clip.family,
            "kind": clip.kind,
            "variant": clip.variant,
            "clip": clip.id,
            "template": template.name,
            "params": params,
            "answer_text": str(m.answer),
        },
    )


def generate(
    config: SyntheticConfig | None = None, progress: Callable[[str], None] | None = None
) -> SyntheticBenchmark:
    """Render every clip and ask every template that applies, deterministically from
    `config.seed` (the default SyntheticConfig when none is given)."""
    config = config if config is not None else SyntheticConfig()
    rng = np.random.default_rng(config.seed)
    balancer = LetterBalancer(rng)
    samples: list[Sample] = []
    clips: dict[str, Clip] = {}
    for family, count in config.clips.items():
        for i in range(count):
            kind = _KINDS[family][i % len(_KINDS[family])]
            scene = random_scene(
                int(rng.integers(2**31)),
                int(rng.integers(config.objects[0], config.objects[1] + 1)),
            )
            base = _build_clip(kind, f"{family}_{i:03d}_{kind}", scene, config, rng)
            variants = [
                clipmod.variant(base, v) if v != "original" else base
                for v in _variant_names(base, config)
            ]
            rendered = [v.rendered() for v in variants]
            facts = [Facts(c) for c in rendered]
            clips.update({c.id: c for c in rendered})
            for template in TEMPLATES.values():
                if kind not in template.kinds:
                    continue
                found = _first_clean(template, facts, rng)
                if found is None:
                    continue
                params, measured = found
                group = f"{base.id}/{template.name}" if len(facts) > 1 else None
                samples += [
                    _sample(template, f, params, m, balancer, group)
                    for f, m in zip(facts, measured, strict=True)
                ]
            if progress:
                progress(f"{base.id}: {len(rendered)} clip(s), {len(samples)} questions so far")
    return SyntheticBenchmark(samples, clips)


def _scene_json(scene: Scene) -> dict:
    return {
        "room_size": list(scene.room_size),
        "name": scene.name,
        "objects": [
            {
                "name": o.name,
                "shape": o.shape,
                "color": list(o.color),
                "center": o.center.tolist(),
                "size": o.size.tolist(),
                "yaw": o.yaw,
            }
            for o in scene.objects
        ],
    }


def _scene_from_json(data: dict) -> Scene:
    return Scene(
        tuple(SceneObject(**o) for o in data["objects"]),
        tuple(data["room_size"]),
        data.get("name", ""),
    )


def write_benchmark(bench: SyntheticBenchmark, out_dir: str | Path) -> Path:
    """Write samples.jsonl and every clip (frames .npz + geometry .json); returns samples.jsonl."""
    out = Path(out_dir)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    for clip in bench.clips.values():
        save_frameset(clip.rendered_frames(), out / "clips" / f"{clip.id}.npz")
        geometry = {
            "id": clip.id,
            "family": clip.family,
            "kind": clip.kind,
            "variant": clip.variant,
            "moving": clip.moving,
            "scenes": [_scene_json(s) for s in clip.scenes],
        }
        (out / "clips" / f"{clip.id}.json").write_text(json.dumps(geometry))
    path = out / "samples.jsonl"
    write_jsonl(path, bench.samples)
    return path


def load_clip(npz_path: str | Path) -> Clip:
    """A written clip: geometry from its .json, frames (and so poses and labels) from its .npz."""
    npz_path = Path(npz_path)
    geometry = json.loads(npz_path.with_suffix(".json").read_text())
    frames = load_frameset(npz_path)
    intrinsics = frames[0].intrinsics
    if intrinsics is None:
        raise ValueError(f"{npz_path}: the clip's frames carry no camera intrinsics")
    return Clip(
        id=geometry["id"],
        family=geometry["family"],
        kind=geometry["kind"],
        scenes=[_scene_from_json(s) for s in geometry["scenes"]],
        poses=[f.pose for f in frames],
        timestamps=frames.timestamps,
        intrinsics=intrinsics,
        variant=geometry["variant"],
        moving=geometry["moving"],
        frames=frames,
    )


def _label_problems(facts: Facts) -> list[str]:
    """Every object that covers enough pixels and whose centre projects into the image must show
    at that pixel, unless something nearer covers it there."""
    clip, problems = facts.clip, []
    for i, seen in enumerate(facts.seen):
        frame = clip.rendered_frames()[i]
        depth, labels = rendered_layers(frame)
        for name, s in seen.items():
            if (
                s.center_pixel is None
                or s.clear
                or s.pixels < MIN_VISIBLE_SHARE * frame.width * frame.height
            ):
                continue
            u, v = s.center_pixel
            depth_of_center = clip.in_camera(clip.center(name, i), i)[2]
            if labels[v, u] == 0 or not depth[v, u] < depth_of_center:
                problems.append(
                    f"{clip.id} frame {i}: the centre of {name} projects to ({u}, {v}), "
                    "outside its mask"
                )
    return problems


def _answer_problem(sample: Sample, m: Measure) -> str | None:
    if m.borderline:
        return f"{sample.id}: borderline case ({m.borderline})"
    if sample.answer_type == "mc":
        stored = sample.options[sample.letters.index(str(sample.answer))]
        if stored != m.answer:
            return (
                f"{sample.id}: stored answer {sample.answer} ({stored!r}) but the geometry "
                f"says {m.answer!r}"
            )
    elif abs(float(sample.answer) - float(m.answer)) > 1e-6:
        return f"{sample.id}: stored answer {sample.answer} but the geometry says {m.answer}"
    return None


def _letter_problems(samples: list[Sample]) -> list[str]:
    by_n: dict[int, Counter] = {}
    for s in samples:
        if s.answer_type == "mc":
            by_n.setdefault(len(s.options), Counter())[str(s.answer)] += 1
    problems = []
    for n, used in by_n.items():
        counts = [used[option_letter(i)] for i in range(n)]
        if max(counts) - min(counts) > 1:
            problems.append(f"answer letters of {n}-option questions are unbalanced: {counts}")
    return problems


def self_check(samples_path: str | Path) -> list[str]:
    """Re-derive everything from what was written: each answer from the scene geometry (and not
    borderline), each visible object's centre inside its label mask, balanced answer letters.
    Returns the problems found; empty means the benchmark is sound."""
    samples = read_samples(samples_path)
    problems: list[str] = []
    facts_by_clip: dict[str, Facts] = {}
    for sample in samples:
        path = sample.media[0].paths[0]
        if path not in facts_by_clip:
            facts_by_clip[path] = Facts(load_clip(path))
            problems += _label_problems(facts_by_clip[path])
        problem = _answer_problem(
            sample, measure(sample.extra["template"], facts_by_clip[path], sample.extra["params"])
        )
        if problem:
            problems.append(problem)
    return problems + _letter_problems(samples)
