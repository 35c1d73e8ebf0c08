"""Online replay: synthetic questions exported to a bag, played into the running agent node over
DDS on simulated time and asked as goals, score exactly as offline replay of the same bag does."""

import pytest
from ros_support import add_agent_node, offline_answers

from spatialclaw_ros.agent import Question
from spatialclaw_ros.agent.rules import plan_for
from spatialclaw_ros.eval.records import read_predictions, read_samples
from spatialclaw_ros.eval.synthetic import bag as synthetic_bag
from spatialclaw_ros.eval.synthetic.benchmark import SyntheticConfig, generate, write_benchmark
from spatialclaw_ros.ros.replay import replay_into_node

pytestmark = pytest.mark.ros
ODOMETRY_TOPIC = "/replay/camera_odom"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A few small clips (two single images, a three-view rotation, an 8-frame video in four
    variants) as one bag, and the questions the rules executor covers plus one it does not."""
    root = tmp_path_factory.mktemp("replay")
    config = SyntheticConfig(
        seed=11,
        clips={"single_image": 2, "multi_view": 1, "video": 1},
        width=160,
        height=120,
        video_frames=(8, 8),
    )
    samples_path = write_benchmark(generate(config), root / "bench")
    questions = read_samples(synthetic_bag.export_benchmark_bag(samples_path, root / "bag"))
    covered = [q for q in questions if plan_for(Question(q.question, list(q.options))) is not None]
    uncovered = [q for q in questions if q not in covered]
    chosen = [q for q in covered if "reversed" not in q.id][:8] + uncovered[:1]
    for position, question in enumerate(chosen):
        question.extra["group_info"] = {"type": "test", "position": position}
    return root, chosen


@pytest.fixture(scope="module")
def replayed_node(spinner, exported):
    root, _ = exported
    camera = {
        "image_topic": synthetic_bag.COLOR_TOPIC,
        "info_topic": synthetic_bag.INFO_TOPIC,
        "depth_topic": synthetic_bag.DEPTH_TOPIC,
        "labels_topic": synthetic_bag.LABELS_TOPIC,
        "label_names_topic": synthetic_bag.LABEL_NAMES_TOPIC,
        # the odometry is the optical frame's own pose
        "base_to_optical": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0],
    }
    values = {
        "use_sim_time": True,
        "cameras": ["camera"],
        **{f"camera.camera.{key}": value for key, value in camera.items()},
        "pose_source": "odom",
        "odom_topic": ODOMETRY_TOPIC,
        "perception.reconstruct_backend": "sensor",
        "perception.segment_backend": "labels",
        "agent.executor": "rules",
        "agent.trace_dir": str(root / "node_traces"),
        "goal_timeout_s": 120.0,
    }
    node = add_agent_node(spinner, "replayed", values)
    yield node
    spinner.remove(node)


def test_questions_replayed_through_the_node_score_as_offline(exported, replayed_node):
    root, questions = exported
    bag = root / "bag"
    online = replay_into_node(
        bag,
        questions,
        root / "online",
        action="/replayed/ask",
        rate=8.0,
        executor="rules",
        odometry_topic=ODOMETRY_TOPIC,
        odometry_frame=synthetic_bag.OPTICAL_FRAME,
        answer_timeout_s=120.0,
        progress=False,
    )
    offline = offline_answers(bag, questions, root, concurrency=2)

    assert [p.sample_id for p in online] == [q.id for q in questions]
    answered = online[:-1] + offline[:-1]
    assert not any(p.error for p in answered), [
        (p.sample_id, p.error) for p in answered if p.error
    ]
    assert [(p.sample_id, p.prediction, p.score) for p in online] == [
        (p.sample_id, p.prediction, p.score) for p in offline
    ]
    # every answer says what it was computed from, the same clip online as offline
    assert [p.frames_used for p in online[:-1]] == [p.frames_used for p in offline[:-1]]
    assert all(p.frames_used >= 1 and not p.frames_note for p in online[:-1])
    # the covered ones are mostly right
    assert sum(p.score for p in online[:-1]) >= 0.75 * (len(online) - 1)
    # the one no template covers is an error of its own, online and offline, never an answer
    assert (
        online[-1].score == 0.0 and online[-1].error == offline[-1].error == "unsupported_question"
    )
    assert [p.group_info for p in online] == [q.extra["group_info"] for q in questions]
    assert all(p.executor == "rules" and p.steps >= 1 for p in online[:-1])
    # in the order they were asked
    written = read_predictions(root / "online" / "predictions.jsonl")
    assert sorted(p.sample_id for p in written) == sorted(q.id for q in questions)
    # each question saw exactly its own clip: the node kept every replayed frame and its poses came
    # from the bag
    assert replayed_node.inputs["camera"].counts.dropped == 0, replayed_node.inputs[
        "camera"
    ].counts.last_error
    assert replayed_node.poses.world_frame == "map"


def test_replay_refuses_questions_without_replay_times(exported, tmp_path):
    root, questions = exported
    bare = read_samples(root / "bench" / "samples.jsonl")[:1]
    with pytest.raises(ValueError, match="extra\\['replay'\\]"):
        replay_into_node(root / "bag", bare, tmp_path)
