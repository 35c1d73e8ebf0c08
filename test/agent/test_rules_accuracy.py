"""The rules executor with exact perception (sensor depth + label masks) gets templated questions
right on a synthetic scene whose answers are known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from spatialclaw_ros.agent import Agent, Question

from .conftest import EYE


@pytest.fixture(scope="module")
def rules_agent(tmp_path_factory, perception):
    from spatialclaw_ros.agent import AgentConfig

    config = AgentConfig.load(overrides={"executor": "rules", "trace_dir": str(tmp_path_factory.mktemp("traces"))})
    return Agent(config, perception)


def _ask(agent, frames, text, choices=()):
    episode = agent.run(Question(text, list(choices)), [frames])
    assert episode.error is None, episode.error
    assert episode.tokens.calls == 0
    return episode


def _center(scene, name):
    return scene[name].center


def test_distance_between_centres(rules_agent, view, scene):
    episode = _ask(rules_agent, view, "What is the distance between the centres of the red box and the blue sphere, in metres?")
    truth = np.linalg.norm(_center(scene, "red_box") - _center(scene, "blue_sphere"))
    assert episode.value == pytest.approx(truth, rel=0.05) and episode.unit == "m"


def test_distance_from_the_camera(rules_agent, view, scene):
    episode = _ask(rules_agent, view, "How far is the green cylinder from the camera?")
    assert episode.value == pytest.approx(np.linalg.norm(_center(scene, "green_cylinder") - EYE), rel=0.05)


def test_height(rules_agent, view, scene):
    episode = _ask(rules_agent, view, "How tall is the green cylinder, in metres?")
    assert episode.value == pytest.approx(scene["green_cylinder"].height, rel=0.05)


def test_count(rules_agent, view):
    assert _ask(rules_agent, view, "How many different boxes are there in the image?").value == 2.0


def test_count_over_a_video(rules_agent, clip):
    assert _ask(rules_agent, clip, "How many different boxes are there in the video?").value == 2.0


@pytest.mark.parametrize(
    "text, choices, answer",
    [
        ("From the camera's viewpoint, is the red box to the left or to the right of the blue sphere?",
         ["left", "right"], "B"),
        ("From the camera's viewpoint, is the blue sphere to the left or to the right of the green cylinder?",
         ["left", "right"], "A"),
        ("Imagine standing at the red box and facing the blue sphere. Is the green cylinder to your left or to your right?",
         ["left", "right"], "B"),
        ("Imagine standing at the green cylinder and facing the red box. In which direction is the yellow box?",
         ["front-left", "front-right", "back-left", "back-right"], "A"),
        ("Which of these objects is closest to the camera?", ["green cylinder", "red box", "blue sphere"], "B"),
    ],
)  # fmt: skip
def test_directions_and_comparisons(rules_agent, view, text, choices, answer):
    assert _ask(rules_agent, view, text, choices).answer == answer


def test_appearance_order(rules_agent, clip):
    # the camera pans from left (+y) to right (-y): the blue sphere is seen before the yellow box
    episode = _ask(rules_agent, clip, "Which of these objects comes into view first in the video?",
                   ["yellow box", "blue sphere"])  # fmt: skip
    assert episode.answer == "B"
