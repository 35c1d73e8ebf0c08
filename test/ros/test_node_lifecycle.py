"""The agent node as ROS 2 users expect it (issue 15), over real DDS from a client node: lifecycle
transitions through the lifecycle services, parameters changed with the parameter services,
/diagnostics, and latched topics (label names published before the node started; the last answer
and markers for a subscriber that joins late)."""

import json
import time

import pytest
from action_msgs.msg import GoalStatus
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from ros_support import SCENE, Asker, wait_for, wait_until
from std_msgs.msg import String
from test_agent_node import MEASURE_CELL, dead_vlm_url, make_node
from visualization_msgs.msg import MarkerArray

from spatialclaw_ros.action import AskSpatial
from spatialclaw_ros.msg import SpatialAnswer
from spatialclaw_ros.ros.qos import LATCHED_NAMES_QOS, LATCHED_QOS

pytestmark = pytest.mark.ros
R = AskSpatial.Result
NAME = "spatialclaw_managed"
NAMES_TOPIC = "/managed/label_names"
COUNT_CELL = "ReturnAnswer(len(InputImages))"


@pytest.fixture(scope="module")
def names_publisher(client_node):
    """Label names announced once, before the node exists (as a simulator does at scene load)."""
    publisher = client_node.create_publisher(String, NAMES_TOPIC, LATCHED_NAMES_QOS)
    publisher.publish(String(data=json.dumps({str(SCENE.label_id(n)): n for n in SCENE.names})))
    yield publisher
    client_node.destroy_publisher(publisher)


@pytest.fixture(scope="module")
def managed(spinner, stream, vlm, tmp_path_factory, names_publisher):
    """Left unconfigured (lifecycle.autostart false); its label names come only from the topic."""
    node = make_node(
        spinner,
        NAME,
        vlm.base_url,
        tmp_path_factory.mktemp("managed"),
        **{
            "lifecycle.autostart": False,
            "camera.front.label_names": [""],
            "camera.front.label_names_topic": NAMES_TOPIC,
        },
    )
    yield node
    spinner.remove(node)


@pytest.fixture(scope="module")
def lifecycle(client_node):
    return Lifecycle(client_node, f"/{NAME}")


@pytest.fixture(scope="module")
def asker(managed, client_node):
    return Asker(client_node, f"/{NAME}")


class Lifecycle:
    """A client of a lifecycle node's ~/change_state and ~/get_state services."""

    def __init__(self, node, server: str):
        self.change = node.create_client(ChangeState, f"{server}/change_state")
        self.get = node.create_client(GetState, f"{server}/get_state")
        assert self.change.wait_for_service(timeout_sec=10.0) and self.get.wait_for_service(
            timeout_sec=10.0
        )

    def state(self) -> str:
        return wait_for(self.get.call_async(GetState.Request()), 10.0).current_state.label

    def transition(self, transition_id: int) -> bool:
        request = ChangeState.Request(transition=Transition(id=transition_id))
        return wait_for(self.change.call_async(request), 60.0).success

    def ensure_active(self) -> None:
        if self.state() == "unconfigured":
            assert self.transition(Transition.TRANSITION_CONFIGURE)
        if self.state() == "inactive":
            assert self.transition(Transition.TRANSITION_ACTIVATE)
        assert self.state() == "active"


def answered_frames(result) -> None:
    """COUNT_CELL's answer: the frames the kernel got, as many as the result says were used (up
    to the 4 asked for; fewer when the machine is loaded and the 2 s window holds fewer)."""
    assert result.success, result.error_msg
    assert result.answer == str(result.frames_used) and 1 <= result.frames_used <= 4, result


def refused_as_not_active(asker, state: str) -> None:
    out = asker.ask(timeout=10.0, question="How many frames?", cameras=["front"])
    assert out.status == GoalStatus.STATUS_ABORTED
    assert out.result.error_code == R.BUSY
    assert "not active" in out.result.error_msg and f"'{state}'" in out.result.error_msg, (
        out.result.error_msg
    )


def test_lifecycle_transitions_through_the_services(managed, lifecycle, asker, script):
    assert lifecycle.state() == "unconfigured"
    assert managed.models.state == "not loaded" and managed.models.loads == 0
    refused_as_not_active(asker, "unconfigured")

    assert lifecycle.transition(Transition.TRANSITION_CONFIGURE)
    assert lifecycle.state() == "inactive"
    assert managed.models.state == "loaded" and managed.models.loads == 1
    refused_as_not_active(asker, "inactive")

    assert lifecycle.transition(Transition.TRANSITION_ACTIVATE)
    assert lifecycle.state() == "active"
    script.set(COUNT_CELL)
    began = time.monotonic()
    out = asker.ask(question="How many frames do you see?", cameras=["front"])
    took = time.monotonic() - began
    assert out.result.success, out.result.error_msg
    answered_frames(out.result)
    # The models were loaded by configure: the first goal loaded nothing (the count is unchanged),
    # and it started sampling frames at once rather than after a load.
    assert managed.models.loads == 1
    assert out.feedback[0].stage == "sampling" and out.feedback[0].elapsed < 1.0, out.feedback[0]
    print(
        f"first goal after activate: {took:.2f} s (models loaded at configure in "
        f"{managed.models.load_s:.3f} s)"
    )

    assert lifecycle.transition(Transition.TRANSITION_DEACTIVATE)
    assert lifecycle.state() == "inactive"
    refused_as_not_active(asker, "inactive")
    assert lifecycle.transition(Transition.TRANSITION_CLEANUP)
    assert lifecycle.state() == "unconfigured" and managed.models.state == "not loaded"
    # An impossible transition is refused by the state machine, and the node stays where it was.
    assert not lifecycle.transition(Transition.TRANSITION_ACTIVATE)
    assert lifecycle.state() == "unconfigured"
    lifecycle.ensure_active()
    assert managed.models.loads == 2


def test_label_names_published_before_the_node_started_are_used(managed, lifecycle, asker, script):
    lifecycle.ensure_active()
    script.set(MEASURE_CELL)
    out = asker.ask(question="How far apart are the red box and the blue ball?", cameras=["front"])
    assert out.result.success, out.result.error_msg
    assert sorted(o.label for o in out.result.objects) == ["blue ball", "red box"]


def test_a_late_subscriber_gets_the_last_answer_and_markers(
    managed, lifecycle, asker, script, spinner
):
    lifecycle.ensure_active()
    script.set("ReturnAnswer('late but latched')")
    out = asker.ask(question="Say something for later.", cameras=["front"])
    assert out.result.success and out.result.answer == "late but latched"
    late = spinner.node("late_rviz")
    try:
        answers, markers = [], []
        late.create_subscription(SpatialAnswer, f"/{NAME}/answer", answers.append, LATCHED_QOS)
        late.create_subscription(MarkerArray, f"/{NAME}/markers", markers.append, LATCHED_QOS)
        wait_until(lambda: answers and markers, 10.0, "the latched answer and markers")
        assert [a.answer for a in answers] == ["late but latched"]
        assert answers[0].question == "Say something for later."
        assert (
            len(markers) == 1 and markers[0].markers[0].action == markers[0].markers[0].DELETEALL
        )
    finally:
        spinner.remove(late)


def set_parameters(client_node, **values) -> list:
    client = AsyncParameterClient(client_node, NAME)
    assert client.wait_for_services(timeout_sec=10.0)
    response = wait_for(
        client.set_parameters([Parameter(k, value=v) for k, v in values.items()]), 10.0
    )
    return list(response.results)


def test_parameters_apply_at_run_time_and_read_only_ones_are_refused(
    managed, lifecycle, asker, script, client_node, vlm
):
    lifecycle.ensure_active()
    # Step budget: two cells needed, one allowed.
    script.set("x = 1", "ReturnAnswer(x)")
    assert set_parameters(client_node, **{"agent.max_steps": 1})[0].successful
    out = asker.ask(question="Set x, then answer it.", cameras=["front"])
    assert out.result.steps == 1, out.result
    assert set_parameters(client_node, **{"agent.max_steps": 30})[0].successful
    script.set("x = 1", "ReturnAnswer(x)")
    out = asker.ask(question="Set x, then answer it.", cameras=["front"])
    assert (out.result.steps, out.result.answer) == (2, "1")

    # VLM endpoint: the next goal goes to the new one.
    assert set_parameters(client_node, **{"vlm.base_url": dead_vlm_url()})[0].successful
    out = asker.ask(timeout=30.0, question="How many frames?", cameras=["front"])
    assert out.result.error_code == R.VLM_UNAVAILABLE, out.result.error_msg
    assert set_parameters(client_node, **{"vlm.base_url": vlm.base_url})[0].successful
    script.set(COUNT_CELL)
    answered_frames(asker.ask(question="How many frames?", cameras=["front"]).result)
    # Buffer thinning: at most one frame per 0.5 s is kept from now on (the stream sends 30 Hz).
    counts = managed.inputs["front"].counts
    assert set_parameters(client_node, **{"buffer.min_interval_s": 0.5})[0].successful
    kept_before = counts.kept
    time.sleep(2.0)
    assert 2 <= counts.kept - kept_before <= 5
    assert set_parameters(client_node, **{"buffer.min_interval_s": 0.1})[0].successful

    # Refused: a read-only parameter (with rclpy's reason), a value outside its range, a bad URL.
    refused = set_parameters(client_node, cameras=["front"])[0]
    assert not refused.successful and "read-only" in refused.reason
    refused = set_parameters(client_node, **{"agent.max_steps": 0})[0]
    assert not refused.successful and refused.reason
    assert managed._agent.config.max_steps == 30


def test_diagnostics_report_camera_rate_queue_models_and_vlm(
    managed, lifecycle, asker, script, vlm, client_node
):
    lifecycle.ensure_active()
    arrays: list[DiagnosticArray] = []
    subscription = client_node.create_subscription(
        DiagnosticArray, "/diagnostics", arrays.append, 10
    )
    try:

        def latest(part: str) -> dict[str, str] | None:
            for array in reversed(arrays):
                for status in array.status:
                    if status.name == f"{NAME}: {part}":
                        return {
                            "level": status.level,
                            "message": status.message,
                            **{kv.key: kv.value for kv in status.values},
                        }
            return None

        wait_until(
            lambda: (
                sum(
                    latest(p) is not None
                    for p in ("camera front", "goals", "models", "vlm endpoint")
                )
                == 4
                and float(latest("camera front")["rate (Hz)"]) > 0
            ),
            10.0,
            "diagnostics of every part",
        )
        front = latest("camera front")
        assert 15.0 < float(front["rate (Hz)"]) < 45.0, front  # the stream sends 30 Hz
        # kept at 10 Hz
        assert int(front["kept"]) > 0 and int(front["dropped (thinning)"]) > int(front["kept"])
        assert (
            latest("camera idle")["level"] == b"\x01"
            and "no frames" in latest("camera idle")["message"]
        )
        models = latest("models")
        assert (models["state"], models["level"]) == ("loaded", b"\x00")
        # probed every 5 s with a 2 s timeout: on a loaded machine one probe may time out
        wait_until(
            lambda: latest("vlm endpoint")["reachable"] == "True",
            15.0,
            "the VLM endpoint to be reachable",
        )
        assert latest("vlm endpoint")["url"] == vlm.base_url

        # One goal held by a stalled VLM, two waiting behind it: the queue shows them.
        script.set(COUNT_CELL, COUNT_CELL, COUNT_CELL)
        vlm.stall_next(1, 3.0)
        handles = [asker.send(question=f"Count {i}.", cameras=["front"])[0] for i in range(3)]
        wait_until(
            lambda: (latest("goals") or {}).get("queue length") == "2",
            5.0,
            "two queued goals in /diagnostics",
        )
        assert latest("goals")["running"] == "1" and latest("goals")["lifecycle state"] == "active"
        results = [h.get_result_async() for h in handles]
        wait_until(lambda: all(r.done() for r in results), 60.0, "the three goals")
        assert all(r.result().result.success for r in results)
        wait_until(
            lambda: latest("goals")["queue length"] == "0" and latest("goals")["running"] == "0",
            5.0,
            "the queue to empty in /diagnostics",
        )
    finally:
        client_node.destroy_subscription(subscription)


def test_perception_node_serves_only_when_active(spinner, client_node):
    from ros_support import node_parameters, scene_frames
    from test_perception_node import reconstruct_request

    from spatialclaw_ros.ros.perception_node import PerceptionNode
    from spatialclaw_ros.srv import Reconstruct

    name = "perception_managed"
    node = spinner.add(
        PerceptionNode(
            node_name=name,
            context=spinner.context,
            parameter_overrides=node_parameters(
                **{
                    "perception.reconstruct_backend": "sensor",
                    "perception.segment_backend": "labels",
                    "service.enabled": False,
                    "lifecycle.autostart": False,
                }
            ),
        )
    )
    try:
        lifecycle = Lifecycle(client_node, f"/{name}")
        client = client_node.create_client(Reconstruct, f"/{name}/reconstruct")
        assert client.wait_for_service(timeout_sec=10.0)
        request = reconstruct_request(scene_frames(n=2, width=80, height=60))

        def reconstruct():
            return wait_for(client.call_async(request), 30.0)

        assert lifecycle.state() == "unconfigured" and node.models is None
        response = reconstruct()
        assert (
            not response.success
            and "not active (lifecycle state 'unconfigured')" in response.error_msg
        )
        assert lifecycle.transition(Transition.TRANSITION_CONFIGURE)
        wait_until(lambda: node.models.status().ready, 10.0, "the models to load")
        assert "not active (lifecycle state 'inactive')" in reconstruct().error_msg
        assert (
            lifecycle.transition(Transition.TRANSITION_ACTIVATE) and lifecycle.state() == "active"
        )
        response = reconstruct()
        assert response.success and len(response.depths) == 2, response.error_msg
        assert lifecycle.transition(Transition.TRANSITION_DEACTIVATE)
        assert "not active" in reconstruct().error_msg
    finally:
        spinner.remove(node)


def test_both_nodes_read_the_settings_files_and_parameters_override_them(
    spinner, tmp_path, monkeypatch
):
    """One source for every setting: the agent's and perception's own YAML files (the ones
    `spatialclaw ask` and `spatialclaw eval` read), then SPATIALCLAW_* variables, then ROS
    parameters; an empty string parameter (a launch argument left empty) sets nothing."""
    from ros_support import node_parameters

    from spatialclaw_ros.ros.agent_node import SpatialClawNode
    from spatialclaw_ros.ros.diagnostics import OK
    from spatialclaw_ros.ros.perception_node import PerceptionNode

    agent_file = tmp_path / "agent.yaml"
    agent_file.write_text(
        "executor: rules\nmax_steps: 7\nvlm:\n  model: from-file\n  timeout_s: 33\n"
    )
    perception_file = tmp_path / "perception.yaml"
    perception_file.write_text(
        "perception:\n  reconstruct_backend: sensor\n  segment_backend: labels\n  device: cpu\n"
    )
    monkeypatch.setenv("SPATIALCLAW_VLM_MAX_RETRIES", "5")
    monkeypatch.setenv("SPATIALCLAW_PERCEPTION_CHUNK_SIZE", "9")
    files = {
        "agent.config": str(agent_file),
        "perception.config": str(perception_file),
        "lifecycle.autostart": False,
    }
    agent = spinner.add(
        SpatialClawNode(
            node_name="settings_agent",
            context=spinner.context,
            parameter_overrides=node_parameters(
                **files,
                cameras=["front"],
                **{"vlm.model": "from-parameter", "vlm.base_url": "", "vlm.timeout_s": 44.0},
            ),
        )
    )
    perception = spinner.add(
        PerceptionNode(
            node_name="settings_perception",
            context=spinner.context,
            parameter_overrides=node_parameters(
                **files, **{"perception.device": "auto", "service.enabled": False}
            ),
        )
    )
    try:
        config = agent.settings.agent
        assert (config.executor, config.max_steps) == ("rules", 7)  # the file
        assert config.vlm.max_retries == 5  # the environment
        assert (config.vlm.model, config.vlm.timeout_s) == ("from-parameter", 44.0)  # parameters
        assert config.vlm.base_url == "http://127.0.0.1:8000/v1"  # "" sets nothing: the default
        # each parameter shows the value in force
        assert agent.get_parameter("agent.max_steps").value == 7
        assert agent.get_parameter("vlm.max_retries").value == 5
        assert agent.get_parameter("perception.segment_backend").value == "labels"
        assert agent.settings.perception.reconstruct_backend == "sensor"
        assert agent.settings.perception.chunk_size == 9
        # the rules executor asks no VLM: its endpoint being down is no fault in /diagnostics
        vlm_status = next(d for d in agent._diagnostics() if d.name.endswith("vlm endpoint"))
        assert vlm_status.level == OK and "not used by the rules executor" in vlm_status.message
        served = perception._config
        assert (served.reconstruct_backend, served.device, served.chunk_size) == (
            "sensor",
            "auto",
            9,
        )
    finally:
        spinner.remove(agent)
        spinner.remove(perception)


def test_frames_keep_buffering_while_the_node_configures(
    spinner, stream, vlm, client_node, tmp_path, monkeypatch
):
    """Configuring loads the models (seconds for DA3 and SAM 3), in a lifecycle service callback:
    the camera streams are in groups of their own, so frames keep arriving meanwhile."""
    from spatialclaw_ros.perception import readiness

    loading = []

    def slow_load(perception):
        loading.append(time.monotonic())
        time.sleep(2.0)

    monkeypatch.setattr(readiness, "load_models", slow_load)
    name = "slow_configure"
    node = make_node(spinner, name, vlm.base_url, tmp_path, **{"lifecycle.autostart": False})
    try:
        change = client_node.create_client(ChangeState, f"/{name}/change_state")
        assert change.wait_for_service(timeout_sec=10.0)
        configured = change.call_async(
            ChangeState.Request(transition=Transition(id=Transition.TRANSITION_CONFIGURE))
        )
        wait_until(lambda: loading, 10.0, "configure to start loading the models")
        before = node.inputs["front"].counts.received
        time.sleep(1.5)
        during = node.inputs["front"].counts.received - before
        assert not configured.done()  # still loading
        # 30 Hz for 1.5 s; with the streams in the services' group none would arrive
        assert during >= 10, during
        assert wait_for(configured, 10.0).success
    finally:
        spinner.remove(node)
