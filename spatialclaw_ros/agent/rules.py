"""The offline executor: templated questions answered by cells written from rules, no VLM.

It recognises common question templates and their usual phrasings (distance between two named
objects or from the camera, count, size, nearest to the camera, left/right or front/behind as the
camera sees it, left/right/quadrant from a standpoint, which object comes into view first, how far,
how much and which way the camera moved) and writes the same
kind of cells a VLM would into the same kernel: reconstruct, segment by name, measure,
ReturnAnswer. A question that matches no template is answered "needs a VLM", never guessed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from spatialclaw_ros.agent.types import Outcome, ProgressEvent, Question, StepRecord

NEEDS_VLM = (
    "needs a VLM: this question does not match any template the offline (rules) executor knows"
)

_CAMERA_WORDS = {"camera", "viewer", "me", "you", "the camera", "observer"}
_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.IGNORECASE)
_END = r"(?=\s*(?:,|\?|\.|\bin (?:metres|meters|cm|centimetres|centimeters)\b|$))"

# Kernel definitions every rules episode starts with. `find` segments a named object over the
# frames (tracked through a video), `one_object` keeps the best-scoring instance, `box_of` fits a
# world-axis box to its points in all views and moves the centre behind the visible surfaces,
# which are only the side facing the camera (`hidden_depth`).
SETUP_CELL = '''\
from dataclasses import replace
from scipy.spatial import cKDTree

recon = tools.Reconstruct(InputImages)
if recon.world_frame == "first_camera":
    world_up = np.array([0.0, -1.0, 0.0])
else:
    world_up = np.array([0.0, 0.0, 1.0])

def find(name):
    if len(InputImages) > 1:
        seg = tools.SAM3.propagate(InputImages, text=name)
    else:
        seg = tools.SAM3.segment(InputImages[0], text=name)
    masks = [m for m in seg.masks if m.frame_index in recon.frame_indices and m.area > 0]
    if not masks:
        raise LookupError(f"cannot find any {name} in the frames")
    return masks

def one_object(name):
    masks = find(name)
    best = max(masks, key=lambda m: (m.score, m.area))
    return [m for m in masks if m.object_id == best.object_id]

def clean(points):
    """Without stray points (depth bleeding across mask edges): those far from their neighbours."""
    if len(points) < 20:
        return points
    spacing = cKDTree(points).query(points, k=9)[0][:, -1]
    return points[spacing <= 4 * np.median(spacing)]

def views_of(masks):
    """(camera position, the object's cleaned world points) for every view that sees it."""
    views = []
    for m in masks:
        points = clean(recon.points_of(m, allow_empty=True))
        if len(points):
            # indexed by frame number
            views.append((recon.extrinsics[m.frame_index][:3, 3], points))
    return views

def hidden_depth(eye, points):
    """How far an object's centre lies behind the centre of what one view sees of it (a horizontal
    vector). A view sees the near side only: along the viewing direction the object is taken as
    deep as it is wide (exact for round things, within half the difference for boxes), unless a
    flat top is seen reaching as far back as the object does, which puts its back edge in view."""
    ahead = np.median(points, axis=0) - eye
    ahead = ahead - (ahead @ world_up) * world_up
    if np.linalg.norm(ahead) < 1e-6:  # seen from straight above: the whole footprint is in view
        return np.zeros(3)
    ahead = ahead / np.linalg.norm(ahead)
    depth, across, heights = points @ ahead, points @ np.cross(world_up, ahead), points @ world_up
    top = heights >= heights.max() - max(0.01, 0.03 * np.ptp(heights))
    if np.ptp(depth[top]) >= 0.8 * np.ptp(depth):
        return np.zeros(3)
    return ahead * max(0.0, np.ptp(across) - np.ptp(depth)) / 2

def box_of(name):
    """A world-axis box around every view's points, its centre moved behind the seen surfaces."""
    views = views_of(one_object(name))
    if not views:
        raise LookupError(f"no 3D points for the {name}")
    box = tools.Geometry.box_from_points(
        np.concatenate([p for _, p in views]), label=name, world_frame=recon.world_frame
    )
    behind = np.average(
        [hidden_depth(e, p) for e, p in views], axis=0, weights=[len(p) for _, p in views]
    )
    return replace(box, center=box.center + behind)

def camera_position(row=0):
    return np.asarray(recon.extrinsics)[row][:3, 3]  # by position: np.asarray drops frame indexing

def fmt(vector):
    return [round(float(v), 3) for v in vector]

def in_first_camera(point):
    return tools.Geometry.transform(point, tools.Geometry.invert(np.asarray(recon.extrinsics)[0]))

print(
    f"reconstruction: {len(recon)} frame(s), world frame {recon.world_frame}, "
    f"metric: {recon.is_metric}"
)
'''


@dataclass
class Plan:
    """A recognised question: its template and the cell that answers it; with choices, the
    answer is turned into the letter of the option it names."""

    template: str
    cell: str
    choices: tuple[str, ...] = ()


def _name(raw: str) -> str:
    return _ARTICLE.sub("", raw.strip().strip("'\"")).strip()


def _singular(word: str) -> str:
    """'boxes' -> 'box', 'chairs' -> 'chair', 'shelves' -> 'shelf' (the last word only)."""
    head, _, last = word.rpartition(" ")
    for plural, single in (
        ("ies", "y"),
        ("ves", "f"),
        ("xes", "x"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("sses", "ss"),
    ):
        if last.endswith(plural):
            last = last[: -len(plural)] + single
            break
    else:
        if last.endswith("s") and not last.endswith("ss"):
            last = last[:-1]
    return f"{head} {last}".strip()


_CENTRE_OF = r"(?:the )?cent(?:re|er)s? of "
_UNIT = r"(?:in (?:metres|meters|m|centimetres|centimeters|cm) )?"
_DISTANCE_PATTERNS = (
    rf"distance {_UNIT}between (?P<centres>{_CENTRE_OF})?(?P<a>.+?) and "
    rf"(?:{_CENTRE_OF})?(?P<b>.+?){_END}",
    rf"distance {_UNIT}from (?P<centres>{_CENTRE_OF})?(?P<a>.+?) to "
    rf"(?:{_CENTRE_OF})?(?P<b>.+?){_END}",
    rf"how far (?:away )?is (?P<a>.+?) from (?P<b>.+?){_END}",
    rf"how far apart are (?P<a>.+?) and (?P<b>.+?){_END}",
    r"how (?:many (?:metres|meters|centimetres|centimeters) )?(?:far|apart) (?:is|are) "
    rf"(?P<a>.+?) (?:from|and) (?P<b>.+?){_END}",
)


def _distance_pair(q: str, question: Question) -> Plan | None:
    match = next((m for m in (re.search(p, q) for p in _DISTANCE_PATTERNS) if m), None)
    if not match:
        return None
    a, b = _name(match.group("a")), _name(match.group("b"))
    if b in _CAMERA_WORDS or a in _CAMERA_WORDS:
        target = a if b in _CAMERA_WORDS else b
        return Plan(
            "distance_to_camera",
            f"name = {target!r}\n"
            "box = box_of(name)\n"
            "distance = float(np.linalg.norm(box.center - camera_position()))\n"
            "print(f'{name} centre {fmt(box.center)}, {distance:.3f} m from the first camera')\n"
            "ReturnAnswer(round(distance, 3))",
        )
    use_centres = bool(match.groupdict().get("centres")) or "centre" in q or "center" in q
    value = "float(np.linalg.norm(box_a.center - box_b.center))" if use_centres else "gap.closest"
    return Plan(
        "distance_between",
        f"box_a, box_b = box_of({a!r}), box_of({b!r})\n"
        f"gap = recon.distance_between(one_object({a!r}), one_object({b!r}))\n"
        f"distance = {value}\n"
        "print(f'centres {fmt(box_a.center)} and {fmt(box_b.center)}; closest points "
        "{gap.closest:.3f} m; "
        "answer {distance:.3f} m')\n"
        "ReturnAnswer(round(distance, 3))",
    )


def _count(q: str, question: Question) -> Plan | None:
    match = re.search(
        r"how many (?:different |distinct |separate )?(?P<a>[a-z][a-z \-]*?)"
        r" (?:are there|is there|are visible|can (?:you|be|i) see|can be seen|do you "
        r"see|do i see|appear"
        r"|in total|are (?:in|on|inside) |(?:does|do) (?:the|this) "
        r"(?:scene|room|image|video) (?:have|contain)"
        r"|are present|exist)",
        q,
    )
    match = match or re.search(
        r"(?:count|number of) (?:the |all )?(?P<a>[a-z][a-z \-]*?)(?: in | on |\?|\.|$)", q
    )
    if not match:
        return None
    thing = _singular(_name(match.group("a")))
    return Plan(
        "count",
        f"name = {thing!r}\n"
        "masks = find(name)\n"
        "ids = sorted({m.object_id for m in masks})\n"
        "per_frame = max(sum(1 for m in masks if m.frame_index == i) for i in "
        "{m.frame_index for m in masks})\n"
        "count = max(len(ids), per_frame)\n"
        "print(f'{name}: object ids {ids}, at most {per_frame} in one frame')\n"
        "ReturnAnswer(count)",
    )


def _size(q: str, question: Question) -> Plan | None:
    match = re.search(rf"how (?P<dim>tall|high|wide|long|big|large) is (?P<a>.+?){_END}", q)
    match = match or re.search(
        rf"what is the (?P<dim>height|width|length|size) of (?P<a>.+?){_END}", q
    )
    if not match:
        return None
    target = _name(match.group("a"))
    dim = match.group("dim")
    measure = {
        "tall": "vertical", "high": "vertical", "height": "vertical",
        "wide": "horizontal.min()", "width": "horizontal.min()",
        "long": "horizontal.max()", "length": "horizontal.max()",
    }.get(dim, "max(vertical, horizontal.max())")  # fmt: skip  # a table, kept in rows
    return Plan(
        "size",
        f"name = {target!r}\n"
        "points = np.concatenate([p for _, p in views_of(one_object(name))])\n"
        "vertical = float(np.ptp(points @ world_up))\n"
        "box = box_of(name)\n"
        "horizontal = np.array(sorted(box.size))[1:] if recon.world_frame == "
        "'first_camera' else box.size[:2]\n"
        f"size = float({measure})\n"
        f"print(f'{{name}}: vertical {{vertical:.3f}} m, box {{fmt(box.size)}}, answer "
        f"{{size:.3f}} m')\n"
        "ReturnAnswer(round(size, 3))",
    )


def _named_candidates(q: str, question: Question, pattern: str) -> list[str] | None:
    """Objects to compare: the options, or "..., the A or the B" written in the question."""
    if question.choices:
        return [_name(c) for c in question.choices]
    match = re.search(pattern + r".*?,\s*(?P<a>.+?) or (?P<b>.+?)\?", q)
    return [_name(match.group("a")), _name(match.group("b"))] if match else None


def _nearest(q: str, question: Question) -> Plan | None:
    match = re.search(
        r"\b(?P<cmp>closest|nearest|closer|nearer|farthest|furthest|farther) "
        r"(?:to|from) (?:the )?camera",
        q,
    )
    if not match:
        return None
    names = _named_candidates(q, question, match.group(0))
    if not names:
        return None
    pick = "max" if match.group("cmp") in ("farthest", "furthest", "farther") else "min"
    return Plan(
        "nearest_to_camera",
        f"names = {names!r}\n"
        "ranges = {n: float(np.linalg.norm(box_of(n).center - camera_position())) for n "
        "in names}\n"
        "print({n: round(r, 3) for n, r in ranges.items()})\n"
        f"ReturnAnswer({pick}(ranges, key=ranges.get))",
    )


def _side_from_camera(q: str, question: Question) -> Plan | None:
    match = re.search(r"is (?P<a>.+?) (?:to the )?left or (?:to the )?right of (?P<b>.+?)\?", q)
    if match:
        a, b = _name(match.group("a")), _name(match.group("b"))
        return Plan(
            "left_right_from_camera",
            f"a, b = in_first_camera(box_of({a!r}).center), "
            f"in_first_camera(box_of({b!r}).center)\n"
            "bearing_a, bearing_b = (math.degrees(math.atan2(p[0], p[2])) for p in (a, b))\n"
            "print(f'bearings from the first camera: {bearing_a:.1f} and "
            "{bearing_b:.1f} degrees (positive = right)')\n"
            "ReturnAnswer('right' if bearing_a > bearing_b else 'left')",
        )
    match = re.search(r"is (?P<a>.+?) in front of or behind (?P<b>.+?)\?", q)
    if match:
        a, b = _name(match.group("a")), _name(match.group("b"))
        return Plan(
            "front_behind_from_camera",
            f"a, b = in_first_camera(box_of({a!r}).center), "
            f"in_first_camera(box_of({b!r}).center)\n"
            "print(f'depths along the first camera: {a[2]:.3f} and {b[2]:.3f} m')\n"
            "ReturnAnswer('in front of' if a[2] < b[2] else 'behind')",
        )
    return None


def _standpoint(q: str, question: Question) -> Plan | None:
    stand = re.search(
        r"stand(?:ing)? (?:at|by|next to|beside) (?P<at>.+?),? (?:and )?fac(?:e|ing) "
        r"(?P<facing>.+?)[.,]",
        q,
    )
    if not stand:
        return None
    target = re.search(r"is (?P<t>.+?) to (?:your|my) left or (?:to (?:your|my) )?right", q)
    quadrant = None if target else re.search(r"(?:which|what) direction is (?P<t>.+?)\?", q)
    asked = target or quadrant
    if asked is None:
        return None
    at, facing = _name(stand.group("at")), _name(stand.group("facing"))
    goal = _name(asked.group("t"))
    answer = (
        "'left' if angle > 0 else 'right'"
        if target
        else "('front-' if abs(angle) < 90 else 'back-') + ('left' if angle > 0 else 'right')"
    )
    return Plan(
        "direction_from_standpoint",
        f"at, facing, goal = box_of({at!r}).center, box_of({facing!r}).center, "
        f"box_of({goal!r}).center\n"
        "side, angle = tools.Geometry.relative_direction(at, facing, goal, up=world_up)\n"
        "print(f'{side}, {angle:.1f} degrees (positive = left)')\n"
        f"ReturnAnswer({answer})",
    )


def _appearance(q: str, question: Question) -> Plan | None:
    if not re.search(
        r"(?:comes?|came) into view first|appears? first|first (?:to )?appear|seen first", q
    ):
        return None
    if not question.choices:
        return None
    names = [_name(c) for c in question.choices]
    return Plan(
        "appearance_order",
        f"names = {names!r}\n"
        "first_seen = {}\n"
        "for n in names:\n"
        "    try:\n"
        "        masks = find(n)\n"
        "    except Exception as missing:  # never found: it never came into view\n"
        "        print(f'{n}: {missing}')\n"
        "        first_seen[n] = math.inf\n"
        "        continue\n"
        "    largest = max(m.area for m in masks)\n"
        "    first_seen[n] = min(m.frame_index for m in masks if m.area >= 0.25 * largest)\n"
        "print(first_seen)\n"
        "ReturnAnswer(min(first_seen, key=first_seen.get))",
    )


_CAMERA = r"(?:the )?(?:camera|robot|viewer|observer)"
_MOVED = r"(?:move|moved|travel|travelled|traveled|go|went|drive|drove|translate|translated)"
_TURNED = r"(?:rotate|rotated|turn|turned|yaw|yawed|pan|panned)"
# What every camera-motion cell starts from: the first and the last sampled camera poses.
_MOTION_SETUP = (
    "poses = np.asarray(recon.extrinsics)  # by position: the first and the last sampled frame\n"
    "first, last = poses[0], poses[-1]\n"
    "if not recon.is_metric:\n"
    "    print('warning: the reconstruction is not metric; distances are in its own scale')\n"
)


def _camera_motion(q: str, question: Question) -> Plan | None:
    """How far / how much / which way the camera moved between the first and the last frame."""
    if (
        re.search(
            rf"how (?:far|much distance|many (?:metres|meters)) (?:did|has) {_CAMERA} {_MOVED}", q
        )
        or re.search(
            rf"(?:what|how much) (?:distance|displacement) (?:did|has) {_CAMERA} "
            rf"(?:cover|{_MOVED})",
            q,
        )
        or re.search(
            r"(?:distance|displacement) (?:travelled |traveled |covered |moved "
            rf")?(?:by|of) {_CAMERA}",
            q,
        )
    ):
        return Plan(
            "camera_translation",
            _MOTION_SETUP + "moved = float(np.linalg.norm(last[:3, 3] - first[:3, 3]))\n"
            "print(f'camera from {fmt(first[:3, 3])} to {fmt(last[:3, 3])}: {moved:.3f} m')\n"
            "ReturnAnswer(round(moved, 3))",
        )
    if re.search(
        rf"how (?:much|many degrees|far) (?:did|has) {_CAMERA} {_TURNED}", q
    ) or re.search(rf"(?:what|which) (?:angle|rotation) (?:did|has) {_CAMERA} {_TURNED}", q):
        return Plan(
            "camera_rotation",
            _MOTION_SETUP + "turn = tools.Geometry.invert(first)[:3, :3] @ last[:3, :3]\n"
            "angle = float(np.degrees(np.arccos(np.clip((np.trace(turn) - 1) / 2, -1, 1))))\n"
            "print(f'camera rotated by {angle:.2f} degrees')\n"
            "ReturnAnswer(round(angle, 2))",
        )
    if re.search(
        rf"(?:did|does|has) {_CAMERA} {_TURNED} (?:to (?:the|its) )?left or (?:to "
        r"(?:the|its) )?right",
        q,
    ):
        return Plan(
            "camera_turn_direction",
            _MOTION_SETUP
            + "ahead_first, ahead_last = first[:3, 2], last[:3, 2]  # optical z: where it looks\n"
            "turn = float(np.cross(ahead_first, ahead_last) @ world_up)\n"
            "print(f'viewing direction turned {turn:+.4f} about up (positive = left)')\n"
            "ReturnAnswer('left' if turn > 0 else 'right')",
        )
    match = re.search(
        rf"(?:did|does|has) {_CAMERA} {_MOVED} (?P<axis>forwards?|left|closer|towards?)", q
    )
    if match:
        forward = match.group("axis") in ("forward", "forwards", "closer", "toward", "towards")
        axis, positive, negative = (2, "forward", "backward") if forward else (0, "right", "left")
        return Plan(
            "camera_translation_direction",
            _MOTION_SETUP
            + "step = tools.Geometry.invert(first)[:3, :3] @ (last[:3, 3] - first[:3, 3])\n"
            f"print(f'moved {{fmt(step)}} m in the first camera (x right, y down, z forward)')\n"
            f"ReturnAnswer({positive!r} if step[{axis}] > 0 else {negative!r})",
        )
    return None


# Most specific first: a standpoint question also mentions left/right, a camera-distance one
# "how far".
TEMPLATES: tuple[Callable[[str, Question], Plan | None], ...] = (
    _camera_motion,
    _standpoint,
    _appearance,
    _nearest,
    _side_from_camera,
    _distance_pair,
    _count,
    _size,
)


def plan_for(question: Question) -> Plan | None:
    """The template that fits the question, with its cell; None when none does."""
    text = " ".join(question.text.lower().replace("’", "'").split())
    for template in TEMPLATES:
        plan = template(text, question)
        if plan is not None:
            plan.choices = tuple(question.choices)
            return plan
    return None


def choice_letter(answer: str | int | float | None, choices: tuple[str, ...] | list[str]):
    """The letter of the option `answer` names ("green box" for "the green box", "A. left" or
    "(B) right"); the answer unchanged when it names none or several, or there are no options."""
    if not choices or answer is None:
        return answer
    letters = [chr(ord("A") + i) for i in range(len(choices))]
    text = _option_text(str(answer))
    if text.upper() in letters:
        return text.upper()
    hits = [
        letter
        for letter, choice in zip(letters, choices, strict=True)
        if _option_text(choice) == text
    ]
    return hits[0] if len(hits) == 1 else answer


def _option_text(text: str) -> str:
    # "A. left", "(b) right", "c) up"
    text = re.sub(r"^\(?[a-z](?:\)|\.|:)\s+", "", text.strip().lower())
    return _name(text).strip(" .")


class RulesExecutor:
    """Runs the setup cell and the template's cell in the kernel; no VLM is ever called."""

    def __init__(
        self, kernel, trace, on_progress: Callable[[ProgressEvent], None] | None = None
    ) -> None:
        self.kernel = kernel
        self.trace = trace
        self.on_progress = on_progress

    def run(self, plan: Plan) -> Outcome:
        """Answers with `plan`, what `plan_for` made of the question."""
        history: list[StepRecord] = []
        results = []
        started = time.monotonic()
        for step, cell in enumerate((SETUP_CELL, plan.cell), 1):
            if self.on_progress is not None:
                self.on_progress(
                    ProgressEvent(
                        "executing", step, cell, plan.template, time.monotonic() - started
                    )
                )
            result = self.kernel.run(cell)
            results.append(result)
            history.append(StepRecord.of(step, cell, result))
            self.trace.step(step, cell, result)
            if result.status == "error":
                break
        answer = results[-1].answer if results and results[-1].status == "success" else None
        return Outcome(choice_letter(answer, plan.choices), history=history, results=results)
