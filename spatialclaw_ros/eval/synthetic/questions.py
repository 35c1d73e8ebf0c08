"""Templated questions whose answers are measured from the clip's geometry.

Each template proposes parameters (which objects, which views), phrases the question, and
*measures* the answer from scene geometry and the rendered label images. Measuring also reports
whether the case is borderline (an angle within 15 degrees of a category boundary, a distance
ratio under 1.2, an object only partly in view); borderline cases are never asked. The generator
and the self-check call the same `measure`, so a stored answer can always be recomputed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import combinations
from typing import Literal

import numpy as np

from spatialclaw_ros.eval.synthetic.clips import Clip, Sighting, sightings

ANGLE_MARGIN_DEG = 15.0
MIN_RATIO = 1.2
MIN_MOVE_M = 0.2
# Appearance order needs the first object to be fully in view this many frames before any other
# shows.
MIN_FRAME_GAP = 2

Params = dict


@dataclass
class Facts:
    """A clip plus what its rendered frames show, computed once per clip."""

    clip: Clip
    seen: list[dict[str, Sighting]] = field(init=False)

    def __post_init__(self) -> None:
        self.seen = [sightings(self.clip, i) for i in range(len(self.clip))]

    @property
    def names(self) -> list[str]:
        return self.clip.scenes[0].names

    def clear_frames(self, name: str) -> list[int]:
        return [i for i, s in enumerate(self.seen) if s[name].clear]

    def shown_frames(self, name: str) -> list[int]:
        return [i for i, s in enumerate(self.seen) if s[name].pixels > 0]

    def visible(self) -> list[str]:
        """Objects clearly seen in at least one frame."""
        return [n for n in self.names if self.clear_frames(n)]


@dataclass(frozen=True)
class Measure:
    answer: str | float  # the correct option's text, or a number
    borderline: str | None = None  # why the case is too close to call; None when it is clean


@dataclass(frozen=True)
class Template:
    name: str
    kinds: tuple[str, ...]  # clip kinds it applies to
    answer_type: Literal["mc", "number"]
    unit: str | None
    propose: Callable[[Facts, np.random.Generator], list[Params]]
    phrase: Callable[[Facts, Params], tuple[str, list[str]]]  # question text, option texts
    measure: Callable[[Facts, Params], Measure]


def spoken(name: str) -> str:
    return name.replace("_", " ")


def _signed_angle_deg(frm: np.ndarray, to: np.ndarray) -> float:
    """Angle from `frm` to `to` in the ground plane, counter-clockwise (to the left) positive."""
    return float(
        np.degrees(np.arctan2(frm[0] * to[1] - frm[1] * to[0], frm[0] * to[0] + frm[1] * to[1]))
    )


def _near_boundary(angle: float, boundaries: tuple[float, ...]) -> bool:
    return any(abs((angle - b + 180) % 360 - 180) < ANGLE_MARGIN_DEG for b in boundaries)


def _ratio_borderline(values: list[float]) -> str | None:
    low, high = sorted(values)[:2] if len(values) > 2 else sorted(values)
    return (
        None
        if high >= MIN_RATIO * low
        else f"distance ratio {high / max(low, 1e-9):.2f} < {MIN_RATIO}"
    )


def _pick(rng: np.random.Generator, items: list, k: int, limit: int = 12) -> list[tuple]:
    """Up to `limit` random ordered choices of k distinct items."""
    combos = list(combinations(items, k))
    order = rng.permutation(len(combos))[:limit]
    return [tuple(rng.permutation(list(combos[i]))) for i in order]


def _view_word(facts: Facts) -> str:
    return "frame" if facts.clip.family == "video" else "view"


# --- count -----------------------------------------------------------------------------------


def _count_propose(facts: Facts, rng) -> list[Params]:
    shapes = sorted({n.split("_", 1)[1] for n in facts.visible()})
    return [{"shape": s} for s in rng.permutation(shapes)]


_PLURAL = {"box": "boxes", "sphere": "spheres", "cylinder": "cylinders"}


def _count_phrase(facts: Facts, p: Params) -> tuple[str, list[str]]:
    where = {
        "single_image": "in the image",
        "multi_view": "across these views",
        "video": "in the video",
    }[facts.clip.family]
    return f"How many different {_PLURAL[p['shape']]} are there {where}?", []


def _count_measure(facts: Facts, p: Params) -> Measure:
    mine = [n for n in facts.names if n.endswith("_" + p["shape"])]
    clear = [n for n in mine if facts.clear_frames(n)]
    partial = [n for n in mine if facts.shown_frames(n) and not facts.clear_frames(n)]
    reason = f"partly visible: {partial}" if partial else (None if clear else "none visible")
    return Measure(float(len(clear)), reason)


# --- distance, size --------------------------------------------------------------------------


def _pairs(facts: Facts, rng) -> list[Params]:
    return [{"objects": list(pair)} for pair in _pick(rng, facts.visible(), 2)]


def _distance_phrase(facts: Facts, p: Params) -> tuple[str, list[str]]:
    a, b = map(spoken, p["objects"])
    return f"What is the distance between the centres of the {a} and the {b}, in metres?", []


def _distance_measure(facts: Facts, p: Params) -> Measure:
    a, b = p["objects"]
    return Measure(
        round(float(np.linalg.norm(facts.clip.center(a, 0) - facts.clip.center(b, 0))), 2)
    )


def _singles(facts: Facts, rng) -> list[Params]:
    return [{"object": n} for n in rng.permutation(facts.visible())]


def _size_phrase(facts: Facts, p: Params) -> tuple[str, list[str]]:
    return f"How tall is the {spoken(p['object'])}, in metres?", []


def _size_measure(facts: Facts, p: Params) -> Measure:
    return Measure(round(facts.clip.scenes[0][p["object"]].height, 2))


# --- nearest to the camera, left/right from the camera ---------------------------------------


def _choices(facts: Facts, rng, most: int = 3) -> list[Params]:
    """Two to `most` visible objects to choose between."""
    visible = facts.visible()
    k = min(int(rng.integers(2, most + 1)), len(visible))
    return [{"objects": list(c)} for c in _pick(rng, visible, k, limit=30)] if k >= 2 else []


def _nearest_phrase(facts: Facts, p: Params) -> tuple[str, list[str]]:
    return "Which of these objects is closest to the camera?", [spoken(n) for n in p["objects"]]


def _nearest_measure(facts: Facts, p: Params) -> Measure:
    eye = facts.clip.camera_position(0)
    dist = {n: float(np.linalg.norm(facts.clip.center(n, 0) - eye)) for n in p["objects"]}
    return Measure(spoken(min(dist, key=dist.__getitem__)), _ratio_borderline(list(dist.values())))


def _side_of_phrase(facts: Facts, p: Params) -> tuple[str, list[str]]:
    a, b = map(spoken, p["objects"])
    return f"From the camera's viewpoint, is the {a} to the left or to the right of the {b}?", [
        "left",
        "right",
    ]


def _side_of_measure(facts: Facts, p: Params) -> Measure:
    a, b = (facts.clip.in_camera(facts.clip.center(n, 0), 0) for n in p["objects"])
    delta = float(np.degrees(np.arctan2(a[0], a[2]) - np.arctan2(b[0], b[2])))
    return Measure(
        "right" if delta > 0 else "left",
        "bearings within 15 degrees" if _near_boundary(delta, (0, 180)) else None,
    )


# --- relative direction from a standpoint ----------------------------------------------------


def _standpoint_propose(facts: Facts, rng) -> list[Params]:
    return [
        {"at": a, "facing": f, "target": t} for a, f, t in _pick(rng, facts.visible(), 3, limit=20)
    ]


def _standpoint_angle(facts: Facts, p: Params) -> float:
    at = facts.clip.center(p["at"], 0)
    facing = facts.clip.center(p["facing"], 0) - at
    return _signed_angle_deg(facing[:2], (facts.clip.center(p["target"], 0) - at)[:2])


def _standpoint_stem(p: Params) -> str:
    return f"Imagine standing at the {spoken(p['at'])} and facing the {spoken(p['facing'])}."


def _side_phrase(facts: Facts, p: Params) -> tuple[str, list[str]]:
    return f"{_standpoint_stem(p)} Is the {spoken(p['target'])} to your left or to your right?", [
        "left",
        "right",
    ]


def _side_measure(facts: Facts, p: Params) -> Measure:
    angle = _standpoint_angle(facts, p)
    return Measure(
        "left" if angle > 0 else "right",
        f"angle {angle:.0f}" if _near_boundary(angle, (0, 180)) else None,
    )


_QUADRANTS = ["front-left", "front-right", "back-left", "back-right"]


def _quadrant_phrase(facts: Facts, p: Params) -> tuple[str, list[str]]:
    return f"{_standpoint_stem(p)} In which direction is the {spoken(p['target'])}?", list(
        _QUADRANTS
    )


def _quadrant_measure(facts: Facts, p: Params) -> Measure:
    angle = _standpoint_angle(facts, p)
    answer = ("front-" if abs(angle) < 90 else "back-") + ("left" if angle > 0 else "right")
    return Measure(
        answer, f"angle {angle:.0f}" if _near_boundary(angle, (0, 90, 180, -90)) else None
    )


# --- camera motion between views / over a video ----------------------------------------------


def _whole_clip(facts: Facts, rng) -> list[Params]:
    return [{"from": 0, "to": len(facts.clip) - 1}]


def _rotation_phrase(facts: Facts, p: Params) -> tuple[str, list[str]]:
    w = _view_word(facts)
    return f"By how many degrees did the camera turn between the first and the last {w}?", []


def _rotation_measure(facts: Facts, p: Params) -> Measure:
    r0, r1 = facts.clip.poses[p["from"]][:3, :3], facts.clip.poses[p["to"]][:3, :3]
    cos = np.clip((np.trace(r0.T @ r1) - 1) / 2, -1, 1)
    angle = round(float(np.degrees(np.arccos(cos))), 1)
    return Measure(angle, None if angle >= 5 else "the camera barely turned")


def _heading(pose: np.ndarray) -> np.ndarray:
    return pose[:2, 2]


def _turn_phrase(facts: Facts, p: Params) -> tuple[str, list[str]]:
    w = _view_word(facts)
    return (
        f"Between the first and the last {w}, did the camera turn to the left or to the right?",
        ["left", "right"],
    )


def _turn_measure(facts: Facts, p: Params) -> Measure:
    angle = _signed_angle_deg(
        _heading(facts.clip.poses[p["from"]]), _heading(facts.clip.poses[p["to"]])
    )
    return Measure(
        "left" if angle > 0 else "right",
        f"turn {angle:.0f}" if _near_boundary(angle, (0, 180)) else None,
    )


def _travel(facts: Facts, p: Params) -> np.ndarray:
    return facts.clip.camera_position(p["to"]) - facts.clip.camera_position(p["from"])


def _translation_phrase(facts: Facts, p: Params) -> tuple[str, list[str]]:
    w = _view_word(facts)
    return f"How far did the camera move between the first and the last {w}, in metres?", []


def _translation_measure(facts: Facts, p: Params) -> Measure:
    dist = round(float(np.linalg.norm(_travel(facts, p))), 2)
    return Measure(dist, None if dist >= MIN_MOVE_M else "the camera barely moved")


_MOVES = ["forward", "backward", "left", "right"]


def _move_phrase(facts: Facts, p: Params) -> tuple[str, list[str]]:
    return (
        "Relative to the way the camera faced at the start, in which direction did it move?",
        list(_MOVES),
    )


def _move_measure(facts: Facts, p: Params) -> Measure:
    moved = facts.clip.poses[p["from"]][:3, :3].T @ _travel(facts, p)
    if np.hypot(moved[0], moved[2]) < MIN_MOVE_M:
        return Measure("forward", "the camera barely moved")
    bearing = float(np.degrees(np.arctan2(moved[0], moved[2])))  # 0 forward, +90 right
    answer = (
        "forward"
        if abs(bearing) < 45
        else "backward"
        if abs(bearing) > 135
        else "right"
        if bearing > 0
        else "left"
    )
    return Measure(
        answer, f"bearing {bearing:.0f}" if _near_boundary(bearing, (45, 135, -45, -135)) else None
    )


# --- what is behind the camera (standing between objects) ------------------------------------


def _behind_phrase(facts: Facts, p: Params) -> tuple[str, list[str]]:
    return "When the first view was taken, which of these objects was behind the camera?", [
        spoken(n) for n in p["objects"]
    ]


def _behind_measure(facts: Facts, p: Params) -> Measure:
    bearing = {}
    for n in p["objects"]:
        local = facts.clip.in_camera(facts.clip.center(n, 0), 0)
        bearing[n] = abs(float(np.degrees(np.arctan2(local[0], local[2]))))
    behind = [n for n, b in bearing.items() if b > 90]
    if len(behind) != 1 or any(_near_boundary(b, (90,)) for b in bearing.values()):
        return Measure(
            spoken(behind[0]) if behind else "",
            f"bearings {sorted(round(b) for b in bearing.values())}",
        )
    return Measure(spoken(behind[0]))


# --- video: appearance order, approach / recede, displacement, motion side -------------------


def _order_phrase(facts: Facts, p: Params) -> tuple[str, list[str]]:
    return "Which of these objects comes into view first in the video?", [
        spoken(n) for n in p["objects"]
    ]


def _order_measure(facts: Facts, p: Params) -> Measure:
    first_clear = {
        n: facts.clear_frames(n)[0] if facts.clear_frames(n) else len(facts.clip)
        for n in p["objects"]
    }
    first = min(first_clear, key=first_clear.__getitem__)
    others_shown = [facts.shown_frames(n)[0] for n in p["objects"] if n != first]
    if first_clear[first] + MIN_FRAME_GAP > min(others_shown):
        return Measure(spoken(first), "objects come into view too close together")
    return Measure(spoken(first))


def _approach_propose(facts: Facts, rng) -> list[Params]:
    moving = facts.clip.moving
    if moving:  # ask about the moving object only when it is in full view at both ends of the clip
        ends = facts.seen[0][moving].clear and facts.seen[-1][moving].clear
        return [{"object": moving}] if ends else []
    return _singles(facts, rng)


def _range_to_camera(facts: Facts, name: str, i: int) -> float:
    return float(np.linalg.norm(facts.clip.center(name, i) - facts.clip.camera_position(i)))


def _approach_options(facts: Facts) -> list[str]:
    return (
        ["toward the camera", "away from the camera"]
        if facts.clip.moving
        else ["closer", "farther"]
    )


def _approach_phrase(facts: Facts, p: Params) -> tuple[str, list[str]]:
    obj = spoken(p["object"])
    if facts.clip.moving:
        return (
            f"During the video, did the {obj} move toward or away from the camera?",
            _approach_options(facts),
        )
    return (
        f"Over the video, did the camera get closer to or farther from the {obj}?",
        _approach_options(facts),
    )


def _approach_measure(facts: Facts, p: Params) -> Measure:
    start, end = (_range_to_camera(facts, p["object"], i) for i in (0, len(facts.clip) - 1))
    closer, farther = _approach_options(facts)
    return Measure(closer if end < start else farther, _ratio_borderline([start, end]))


def _displacement_phrase(facts: Facts, p: Params) -> tuple[str, list[str]]:
    return f"How far did the {spoken(p['object'])} move during the video, in metres?", []


def _object_travel(facts: Facts, name: str) -> np.ndarray:
    return facts.clip.center(name, len(facts.clip) - 1) - facts.clip.center(name, 0)


def _displacement_measure(facts: Facts, p: Params) -> Measure:
    return Measure(round(float(np.linalg.norm(_object_travel(facts, p["object"]))), 2))


def _motion_side_phrase(facts: Facts, p: Params) -> tuple[str, list[str]]:
    obj = spoken(p["object"])
    return f"From the camera's viewpoint, did the {obj} move to the left or to the right?", [
        "left",
        "right",
    ]


def _motion_side_measure(facts: Facts, p: Params) -> Measure:
    local = facts.clip.poses[0][:3, :3].T @ _object_travel(facts, p["object"])
    # 0 = straight away from the camera
    bearing = float(np.degrees(np.arctan2(local[0], local[2])))
    return Measure(
        "right" if bearing > 0 else "left",
        f"bearing {bearing:.0f}" if _near_boundary(bearing, (0, 180)) else None,
    )


_STATIC = ("single", "rotation", "orbit", "between")
_VIEWS = ("rotation", "orbit", "between")

TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in [
        Template(
            "count", _STATIC, "number", "count", _count_propose, _count_phrase, _count_measure
        ),
        Template("distance", _STATIC, "number", "m", _pairs, _distance_phrase, _distance_measure),
        Template("size", _STATIC, "number", "m", _singles, _size_phrase, _size_measure),
        Template("nearest", ("single",), "mc", None, _choices, _nearest_phrase, _nearest_measure),
        Template(
            "side_from_camera", ("single",), "mc", None, _pairs, _side_of_phrase, _side_of_measure
        ),
        Template(
            "standpoint_side",
            _STATIC,
            "mc",
            None,
            _standpoint_propose,
            _side_phrase,
            _side_measure,
        ),
        Template(
            "standpoint_quadrant",
            ("single",),
            "mc",
            None,
            _standpoint_propose,
            _quadrant_phrase,
            _quadrant_measure,
        ),
        Template(
            "camera_rotation",
            _VIEWS,
            "number",
            "deg",
            _whole_clip,
            _rotation_phrase,
            _rotation_measure,
        ),
        Template(
            "camera_turn",
            _VIEWS + ("camera_motion",),
            "mc",
            None,
            _whole_clip,
            _turn_phrase,
            _turn_measure,
        ),
        Template(
            "camera_translation",
            ("orbit", "camera_motion"),
            "number",
            "m",
            _whole_clip,
            _translation_phrase,
            _translation_measure,
        ),
        Template(
            "camera_direction",
            ("orbit", "camera_motion"),
            "mc",
            None,
            _whole_clip,
            _move_phrase,
            _move_measure,
        ),
        Template(
            "behind_camera", ("between",), "mc", None, _choices, _behind_phrase, _behind_measure
        ),
        Template(
            "appearance_order",
            ("camera_motion",),
            "mc",
            None,
            _choices,
            _order_phrase,
            _order_measure,
        ),
        Template(
            "approach",
            ("camera_motion", "object_motion"),
            "mc",
            None,
            _approach_propose,
            _approach_phrase,
            _approach_measure,
        ),
        Template(
            "displacement",
            ("object_motion",),
            "number",
            "m",
            _approach_propose,
            _displacement_phrase,
            _displacement_measure,
        ),
        Template(
            "motion_side",
            ("object_motion",),
            "mc",
            None,
            _approach_propose,
            _motion_side_phrase,
            _motion_side_measure,
        ),
    ]
}


def measure(template: str, facts: Facts, params: Params) -> Measure:
    """The answer to a stored question, recomputed from geometry (what the self-check calls)."""
    return TEMPLATES[template].measure(facts, params)
