"""A hostile VLM behind the agent node: its replies try each class of kernel escape. The node
stays up, every goal ends with a result, nothing reaches the host, and a normal goal is still
answered afterwards."""

import os
import socket
import uuid

import pytest
from action_msgs.msg import GoalStatus
from ros_support import Asker
from test_agent_node import make_node

pytestmark = pytest.mark.ros

SECRET = "node-secret-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    folder = tmp_path_factory.mktemp("host")
    folder.chmod(0o777)
    secret = folder / "secret.txt"
    secret.write_text(SECRET)
    secret.chmod(0o644)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    yield folder, secret, listener
    listener.close()


def hostile_cells(folder, secret, port) -> list[str]:
    canary = folder / "canary"
    return [
        f"import enum\nprint(enum.bltns.open({str(secret)!r}).read())",
        f"g = ReturnAnswer.__func__.__globals__\ng['os'].system('touch {canary}')",
        "import dataclasses\n"
        f"C = type('C', (), {{'__annotations__': {{\"a=__import__('os').system('touch "
        f"{canary}')\": int}}}})\n"
        "dataclasses.dataclass(C)",
        f"import cv2\ncv2.imwrite('{canary}.png', np.zeros((2, 2, 3), np.uint8))",
        "a = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), shape=(1 << 20,), "
        "strides=(1 << 16,))\na[:] = 1",
        "import threading\nthreading.Thread(target=print).start()",
        f"import socket\nsocket.create_connection(('127.0.0.1', {port}))",
        "print(open('/etc/shadow').read())",
        "import traceback\nprint([f for f, _ in traceback.walk_stack(None)])",
        "x = bytearray(64 << 30)",  # past the memory limit
    ]


@pytest.fixture(scope="module")
def hostile_node(spinner, stream, vlm, tmp_path_factory):
    node = make_node(
        spinner, "spatialclaw_hostile", vlm.base_url, tmp_path_factory.mktemp("hostile")
    )
    yield node
    spinner.remove(node)


def test_hostile_replies_are_contained_and_the_node_keeps_serving(
    hostile_node, client_node, script, host
):
    folder, secret, listener = host
    asker = Asker(client_node, "/spatialclaw_hostile")
    pid = os.getpid()
    for cell in hostile_cells(folder, secret, listener.getsockname()[1]):
        script.set(cell, "ReturnAnswer(7)")
        out = asker.ask(timeout=90.0, question="How many objects are there?", cameras=["front"])
        assert out.status in (GoalStatus.STATUS_SUCCEEDED, GoalStatus.STATUS_ABORTED), cell
        text = " ".join(
            [out.result.answer, out.result.error_msg, *(f.observation for f in out.feedback)]
        )
        assert SECRET not in text, cell
        assert out.result.answer == "7", (cell, out.result.error_msg)
        assert not list(folder.glob("canary*")), cell
        with pytest.raises((socket.timeout, TimeoutError)):
            listener.accept()
        assert os.getpid() == pid
    script.set("ReturnAnswer(8)")
    out = asker.ask(timeout=60.0, question="How many objects are there?", cameras=["front"])
    assert out.status == GoalStatus.STATUS_SUCCEEDED and out.result.answer == "8"
