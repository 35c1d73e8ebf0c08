"""Worked examples for the cell writer's system prompt: one per question family.

Each shows a whole solution as the cells a model would write. Every example is also a test
(test/agent/test_worked_examples.py): its cells run in the real kernel on a synthetic scene
and must submit the right answer, so an example cannot teach a call that no longer works.
"""

from __future__ import annotations

from dataclasses import dataclass

from spatialclaw_ros.agent.types import Question


@dataclass(frozen=True)
class WorkedExample:
    family: str
    question: Question
    cells: tuple[str, ...]  # what the model writes, one cell per reply

    def render(self) -> str:
        cells = "\n".join(f"```python\n{cell}\n```" for cell in self.cells)
        return f"### {self.family}\nQuestion: {self.question.render()}\n{cells}"


EXAMPLES: tuple[WorkedExample, ...] = (
    WorkedExample(
        "Distance between objects",
        Question("How far is the red box from the blue sphere, in metres?"),
        (
            "frames = tools.Time.key_frames(16)  # spread over the video, first and "
            "last included\n"
            "recon = tools.Reconstruct(frames)\n"
            'box = tools.SAM3.propagate(frames, text="red box")\n'
            'ball = tools.SAM3.propagate(frames, text="blue sphere")\n'
            "print(recon)\n"
            "print(box, [m.area for m in box.masks])  # one object each, and masks of a "
            "sensible size?\n"
            "print(ball, [m.area for m in ball.masks])",
            "d = recon.distance_between(box, ball)\n"
            'print(f"closest points {d.closest:.2f} m, centres {d.centroid_distance:.2f} m")\n'
            '# between two objects = the gap between their surfaces; "centre to centre" '
            "= centroid_distance\n"
            "ReturnAnswer(round(d.closest, 2))",
        ),
    ),
    WorkedExample(
        "Size or height of an object",
        Question("How tall is the green cylinder, in centimetres?"),
        (
            "frames = tools.Time.key_frames(16)\n"
            "recon = tools.Reconstruct(frames)\n"
            'seg = tools.SAM3.propagate(frames, text="green cylinder")\n'
            "masks = [m for m in seg.masks if m.area >= 100]  # slivers at the image "
            "edge mislead\n"
            "# height = extent along the world's up axis; box sizes are along the box's own axes\n"
            "heights = [recon.height(m, trim=0.01) for m in masks]\n"
            'print(len(seg.masks), "masks, heights per view:", np.round(heights, 3))\n'
            "ReturnAnswer(round(float(np.median(heights)) * 100))  # median over views; cm asked",
        ),
    ),
    WorkedExample(
        "Counting",
        Question("How many boxes are there in the video?"),
        (
            'seg = tools.SAM3.propagate(InputImages, text="box")\n'
            "most_at_once = max(len(seg.for_frame(f.frame_index)) for f in InputImages)\n"
            'print(seg, "| most in one frame:", most_at_once)\n'
            "# two lines of evidence: identities tracked through the video, and the "
            "most seen at once;\n"
            "# when they disagree, show() the frames and look before deciding\n"
            "ReturnAnswer(len(seg.object_ids))",
        ),
    ),
    WorkedExample(
        "Relative direction from a standpoint",
        Question(
            "Standing at the red box and facing the green cylinder, where is the yellow box?",
            ["in front", "to the left", "behind", "to the right"],
        ),
        (
            "frames = tools.Time.key_frames(16)\n"
            "recon = tools.Reconstruct(frames)\n"
            "at = {n: recon.centroid(tools.SAM3.propagate(frames, text=n))\n"
            '      for n in ("red box", "green cylinder", "yellow box")}\n'
            "# decided in 3D, seen from above, about the world's up axis: never from "
            "image left/right\n"
            'side, angle = tools.Geometry.relative_direction(at["red box"], at["green '
            'cylinder"], at["yellow box"], up=recon)\n'
            'print(side, round(angle), "degrees (positive = left)", Metadata.options)\n'
            'ReturnAnswer({"front": "A", "left": "B", "back": "C", "right": "D"}[side])',
        ),
    ),
    WorkedExample(
        "Camera motion",
        Question(
            "Between the first and the last frame, which way did the camera turn?",
            ["left", "right"],
        ),
        (
            "recon = tools.Reconstruct(tools.Time.key_frames(16))\n"
            "first, last = recon.frame_indices[0], recon.frame_indices[-1]\n"
            "ahead_first = recon.extrinsics[first][:3, 2]  # optical axis (camera z) in "
            "the world\n"
            "ahead_last = recon.extrinsics[last][:3, 2]\n"
            "side, angle = tools.Geometry.relative_direction((0, 0, 0), ahead_first, "
            "ahead_last, up=recon)\n"
            "moved = recon.camera_centers()[-1] - recon.camera_centers()[0]\n"
            'print(f"turned {angle:+.0f} degrees (positive = left), moved '
            '{np.linalg.norm(moved):.2f} m")\n'
            'ReturnAnswer("A" if angle > 0 else "B")',
        ),
    ),
    WorkedExample(
        "Temporal order",
        Question(
            "Which of these appears first in the video?", ["the yellow box", "the blue sphere"]
        ),
        (
            "first_seen = {}\n"
            'for name in ("yellow box", "blue sphere"):\n'
            "    seg = tools.SAM3.propagate(InputImages, text=name)\n"
            "    seen = sorted(m.frame_index for m in seg.masks if m.area >= 50)  # "
            "ignore specks\n"
            "    first_seen[name] = tools.Time.frame_to_seconds(seen[0]) if seen else None\n"
            'print(first_seen, "seconds from the start (None: never seen)")\n'
            'ReturnAnswer("A" if first_seen["yellow box"] < first_seen["blue sphere"] else "B")',
        ),
    ),
    WorkedExample(
        "Correspondence between views",
        Question(
            "The first image marks a point at pixel (124, 60). Which point of the "
            "second image shows the same spot?",
            ["(62, 64)", "(95, 56)", "(131, 74)"],
        ),
        (
            "recon = tools.Reconstruct([InputImages[0], InputImages[1]])  # one "
            "reconstruction: one world\n"
            "one, two = recon.frame_indices\n"
            "spot = recon.point_map(one)[60, 124]  # row y, column x: the 3D point "
            "under the mark\n"
            "pixels, depth = tools.Geometry.project(spot, recon.intrinsics[two], "
            "recon.extrinsics[two])\n"
            "u, v = pixels[0]\n"
            'options = {"A": (62, 64), "B": (95, 56), "C": (131, 74)}\n'
            "best = min(options, key=lambda k: np.hypot(options[k][0] - u, options[k][1] - v))\n"
            'print(f"lands at ({u:.0f}, {v:.0f}), {depth[0]:.2f} m in front of camera '
            'two; nearest: {best}")\n'
            "# depth <= 0 or a pixel outside the image: the spot is not visible in the "
            "second view\n"
            "ReturnAnswer(best)",
        ),
    ),
)


def render_examples() -> str:
    return "\n\n".join(example.render() for example in EXAMPLES)
