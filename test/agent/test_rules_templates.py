"""The rules executor recognises templated questions (and only those)."""

from __future__ import annotations

import pytest

from spatialclaw_ros.agent.rules import _singular, plan_for
from spatialclaw_ros.agent.types import Question


@pytest.mark.parametrize(
    "text, choices, template, mentions",
    [
        (
            "What is the distance between the centres of the red box and the blue "
            "sphere, in metres?",
            [],
            "distance_between",
            ["'red box'", "'blue sphere'", "box_a.center - box_b.center"],
        ),
        (
            "How far is the green chair from the door?",
            [],
            "distance_between",
            ["'green chair'", "'door'", "gap.closest"],
        ),
        ("How far away is the red box from the camera?", [], "distance_to_camera", ["'red box'"]),
        ("How many different boxes are there in the image?", [], "count", ["name = 'box'"]),
        ("How many chairs are there?", [], "count", ["name = 'chair'"]),
        (
            "How tall is the yellow cylinder, in metres?",
            [],
            "size",
            ["'yellow cylinder'", "vertical"],
        ),
        (
            "Which of these objects is closest to the camera?",
            ["red box", "blue sphere"],
            "nearest_to_camera",
            ["['red box', 'blue sphere']", "min("],
        ),
        (
            "Which is farther from the camera, the lamp or the sofa?",
            [],
            "nearest_to_camera",
            ["['lamp', 'sofa']", "max("],
        ),
        (
            "From the camera's viewpoint, is the red box to the left or to the right of "
            "the blue sphere?",
            ["left", "right"],
            "left_right_from_camera",
            ["'red box'", "'blue sphere'"],
        ),
        (
            "Is the cup in front of or behind the plate?",
            [],
            "front_behind_from_camera",
            ["'cup'", "'plate'"],
        ),
        (
            "Imagine standing at the red box and facing the blue sphere. Is the green "
            "cylinder to your left or to your right?",
            ["left", "right"],
            "direction_from_standpoint",
            ["'red box'", "'blue sphere'", "'green cylinder'"],
        ),
        (
            "Imagine standing at the red box and facing the blue sphere. In which "
            "direction is the green cylinder?",
            ["front-left", "front-right", "back-left", "back-right"],
            "direction_from_standpoint",
            ["'front-'"],
        ),
        (
            "Which of these objects comes into view first in the video?",
            ["red box", "pink sphere"],
            "appearance_order",
            ["['red box', 'pink sphere']"],
        ),
    ],
)
def test_templates(text, choices, template, mentions):
    plan = plan_for(Question(text, choices))
    assert plan is not None and plan.template == template
    for needle in mentions:
        assert needle in plan.cell
    compile(plan.cell, "<cell>", "exec")  # every generated cell is valid python
    assert "ReturnAnswer(" in plan.cell


@pytest.mark.parametrize(
    "text",
    [
        "What colour is the sofa?",
        "Describe the room.",
        "Why is the door open?",
        "Which object is the oldest?",
    ],
)
def test_unknown_questions_are_not_guessed(text):
    assert plan_for(Question(text)) is None


def test_names_are_quoted_safely():
    plan = plan_for(Question("How tall is the box'); import os; print('x, in metres?"))
    assert plan is not None
    compile(plan.cell, "<cell>", "exec")
    assert "import os" not in plan.cell.replace(repr("box'); import os; print('x"), "")


@pytest.mark.parametrize(
    "plural, single",
    [
        ("boxes", "box"),
        ("chairs", "chair"),
        ("shelves", "shelf"),
        ("red benches", "red bench"),
        ("glass", "glass"),
        ("batteries", "battery"),
    ],
)
def test_singular(plural, single):
    assert _singular(plural) == single
