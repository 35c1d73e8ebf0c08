"""The rules executor with exact perception (sensor depth + label masks) gets templated questions
right on a synthetic scene whose answers are known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from spatialclaw_ros.agent import Agent, Question
from spatialclaw_ros.eval.synthetic import default_intrinsics, look_at, random_scene, render

from .conftest import EYE


@pytest.fixture(scope="module")
def rules_agent(tmp_path_factory, perception):
    from spatialclaw_ros.agent import AgentConfig

    config = AgentConfig.load(
        overrides={"executor": "rules", "trace_dir": str(tmp_path_factory.mktemp("traces"))}
    )
    return Agent(config, perception)


def _ask(agent, frames, text, choices=()):
    episode = agent.run(Question(text, list(choices)), [frames])
    assert episode.error is None, episode.error
    assert episode.tokens.calls == 0
    return episode


def _center(scene, name):
    return scene[name].center


def test_distance_between_centres(rules_agent, view, scene):
    episode = _ask(
        rules_agent,
        view,
        "What is the distance between the centres of the red box and the blue sphere, in metres?",
    )
    truth = np.linalg.norm(_center(scene, "red_box") - _center(scene, "blue_sphere"))
    assert episode.value == pytest.approx(truth, rel=0.05) and episode.unit == "m"


def test_distance_from_the_camera(rules_agent, view, scene):
    episode = _ask(rules_agent, view, "How far is the green cylinder from the camera?")
    assert episode.value == pytest.approx(
        np.linalg.norm(_center(scene, "green_cylinder") - EYE), rel=0.05
    )


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
        (
            "From the camera's viewpoint, is the red box to the left or to the right of "
            "the blue sphere?",
            ["left", "right"],
            "B",
        ),
        (
            "From the camera's viewpoint, is the blue sphere to the left or to the "
            "right of the green cylinder?",
            ["left", "right"],
            "A",
        ),
        (
            "Imagine standing at the red box and facing the blue sphere. Is the green "
            "cylinder to your left or to your right?",
            ["left", "right"],
            "B",
        ),
        (
            "Imagine standing at the green cylinder and facing the red box. In which "
            "direction is the yellow box?",
            ["front-left", "front-right", "back-left", "back-right"],
            "A",
        ),
        (
            "Which of these objects is closest to the camera?",
            ["green cylinder", "red box", "blue sphere"],
            "B",
        ),
    ],
)
def test_directions_and_comparisons(rules_agent, view, text, choices, answer):
    assert _ask(rules_agent, view, text, choices).answer == answer


def test_appearance_order(rules_agent, clip):
    # the camera pans from left (+y) to right (-y): the blue sphere is seen before the yellow box
    episode = _ask(
        rules_agent,
        clip,
        "Which of these objects comes into view first in the video?",
        ["yellow box", "blue sphere"],
    )
    assert episode.answer == "B"


def test_object_centres_lie_behind_the_visible_surfaces(rules_agent, view, scene):
    # a camera sees only the near half of a sphere or cylinder; the centre of what it sees is
    # about a quarter of the diameter too close (10 cm here)
    episode = _ask(
        rules_agent,
        view,
        "What is the distance between the centres of the blue sphere and the green cylinder?",
    )
    centres = {box.label: box.center for box in episode.objects}
    for name in ("blue sphere", "green cylinder"):
        assert np.linalg.norm(centres[name] - _center(scene, name.replace(" ", "_"))) < 0.03, name


@pytest.fixture(scope="module")
def sweep():
    """The ROS demo's scene and camera: six frames sliding along one wall of a random room."""
    room = random_scene(3, n_objects=4)
    half_x = room.room_size[0] / 2 - 0.3
    poses = [look_at((-half_x, y, 1.6), (1.0, 0.0, 0.3)) for y in np.linspace(-1.0, 1.0, 6)]
    return room, render(room, poses, default_intrinsics(320, 240))


def test_distance_and_height_over_several_views(rules_agent, sweep):
    room, frames = sweep
    episode = _ask(
        rules_agent,
        frames,
        "What is the distance between the centres of the blue box and the green sphere, "
        "in metres?",
    )
    assert episode.value == pytest.approx(
        np.linalg.norm(room["blue_box"].center - room["green_sphere"].center), rel=0.02
    )
    episode = _ask(rules_agent, frames, "How tall is the green sphere, in metres?")
    assert episode.value == pytest.approx(room["green_sphere"].height, rel=0.05)
