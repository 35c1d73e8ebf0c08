"""The rules executor recognises the common phrasings of each template, the camera-motion ones
included, and turns answers into option letters when options carry articles or letters."""

from __future__ import annotations

import pytest

from spatialclaw_ros.agent import Question
from spatialclaw_ros.agent.rules import choice_letter, plan_for

PARAPHRASES = {
    "count": [
        "How many boxes are there?",
        "How many boxes are in the scene?",
        "How many boxes can you see?",
        "How many boxes are visible?",
        "How many chairs are in the room?",
        "Count the chairs.",
        "What is the number of chairs in the image?",
        "How many chairs does the scene contain?",
    ],
    "distance_between": [
        "What is the distance between the red box and the green box?",
        "What is the distance in meters between the centre of the red box and the "
        "centre of the green box?",
        "What is the distance from the sofa to the door?",
        "How far is the red box from the green box?",
        "How far apart are the red box and the blue ball?",
        "How many meters apart are the sofa and the door?",
    ],
    "distance_to_camera": [
        "How far is the red box from the camera?",
        "How far away is the door from the camera?",
    ],
    "camera_translation": [
        "How far did the camera move between the first and the last frame?",
        "How far did the camera travel?",
        "How far has the robot moved?",
        "What distance did the camera cover?",
        "What is the distance travelled by the camera?",
        "How many meters did the camera move?",
    ],
    "camera_rotation": [
        "How much did the camera rotate?",
        "How many degrees did the camera turn?",
        "How far did the robot turn?",
    ],
    "camera_turn_direction": [
        "Did the camera turn left or right?",
        "Did the robot rotate to the left or to the right?",
    ],
    "camera_translation_direction": [
        "Did the camera move forward or backward?",
        "Did the camera move left or right?",
    ],
}


@pytest.mark.parametrize(
    "template, question", [(t, q) for t, qs in PARAPHRASES.items() for q in qs]
)
def test_each_phrasing_finds_its_template(template, question):
    plan = plan_for(Question(question))
    assert plan is not None and plan.template == template, (question, plan and plan.template)


def test_questions_outside_every_template_find_none():
    for question in ("What colour is the wall?", "Is the door open?", "Describe the room."):
        assert plan_for(Question(question)) is None


def test_distances_between_centres_measure_centres_and_others_the_gap():
    centres = plan_for(
        Question(
            "What is the distance in metres between the centre of the red box and the "
            "centre of the "
            "green box?"
        )
    )
    assert (
        "box_of('red box'), box_of('green box')" in centres.cell
        and "box_a.center - box_b.center" in centres.cell
    )
    gap = plan_for(Question("How far apart are the red box and the blue ball?"))
    assert "distance = gap.closest" in gap.cell


def test_answers_become_the_letters_of_the_options_they_name():
    assert choice_letter("green box", ["the red box", "the green box"]) == "B"
    assert choice_letter("left", ["A. left", "B. right"]) == "A"
    assert choice_letter("(b) right", ["left", "right"]) == "B"
    assert choice_letter("C", ["x", "y", "z"]) == "C"
    # names none: unchanged
    assert choice_letter("blue ball", ["the red box", "the green box"]) == "blue ball"
    assert choice_letter(1.5, []) == 1.5
    plan = plan_for(Question("Which is closest to the camera?", ["the red box", "the green box"]))
    assert plan.template == "nearest_to_camera" and plan.choices == (
        "the red box",
        "the green box",
    )
