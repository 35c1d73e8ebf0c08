"""The perception node's ROS services apply the HTTP service's limits and field checks (issue 14):
too many or too large images, NaN / zero intrinsics, NaN poses, thresholds and prompts out of range
get an error message, and while the models cannot load the services say why at once."""

from __future__ import annotations

import time

import pytest
from geometry_msgs.msg import Point
from ros_support import node_parameters, scene_frames, wait_for
from sensor_msgs.msg import Image

from spatialclaw_ros.ros.conversions import matrix_to_pose
from spatialclaw_ros.ros.images import (
    camera_info_from_intrinsics,
    image_from_array,
    image_from_rgb,
)
from spatialclaw_ros.srv import Reconstruct, Segment

pytestmark = pytest.mark.ros


def make_node(spinner, name: str, **parameters):
    from spatialclaw_ros.ros.perception_node import PerceptionNode

    node = PerceptionNode(
        node_name=name,
        context=spinner.context,
        parameter_overrides=node_parameters(**{"service.enabled": False, **parameters}),
    )
    spinner.add(node)
    return node


@pytest.fixture(scope="module")
def limited_node(spinner):
    """Sensor depth and label masks, at most 2 frames per call (set like any perception setting,
    here through the environment)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPATIALCLAW_PERCEPTION_MAX_FRAMES_PER_REQUEST", "2")
        node = make_node(
            spinner,
            "perception_limited",
            **{"perception.reconstruct_backend": "sensor", "perception.segment_backend": "labels"},
        )
    yield node
    spinner.remove(node)


@pytest.fixture(scope="module")
def frames():
    return scene_frames(n=3, width=40, height=30)


def call(client_node, srv_type, name, request):
    client = client_node.create_client(srv_type, name)
    assert client.wait_for_service(timeout_sec=10.0)
    return wait_for(client.call_async(request), 30.0)


def reconstruct(client_node, frames, spoil=None) -> Reconstruct.Response:
    request = Reconstruct.Request(
        images=[image_from_rgb(f.image) for f in frames],
        depths=[image_from_array(f.depth, "32FC1") for f in frames],
        camera_infos=[camera_info_from_intrinsics(f.intrinsics) for f in frames],
        camera_poses=[matrix_to_pose(f.pose) for f in frames],
    )
    if spoil is not None:
        spoil(request)
    return call(client_node, Reconstruct, "/perception_limited/reconstruct", request)


def refused(response, says: str) -> None:
    assert not response.success and says in response.error_msg, response.error_msg


def test_within_the_limits_it_answers(limited_node, client_node, frames):
    response = reconstruct(client_node, frames[:2])
    assert response.success, response.error_msg
    assert len(response.depths) == 2


def test_too_many_or_too_large_images(limited_node, client_node, frames):
    refused(reconstruct(client_node, frames), "3 images; the limit is 2")

    def huge(request):  # a header that declares 10^10 pixels, with no data behind it
        request.images[0] = Image(height=100_000, width=100_000, encoding="rgb8", step=300_000)

    refused(reconstruct(client_node, frames[:2], huge), "image 0 has 10000000000 pixels")


@pytest.mark.parametrize(
    "entry, value, says",
    [
        (0, float("nan"), "K has NaN"),
        (0, 0.0, "K needs positive focal lengths"),
        (4, -100.0, "K needs positive focal lengths"),
        (2, float("inf"), "K has NaN"),
    ],
)
def test_nan_zero_and_negative_intrinsics(limited_node, client_node, frames, entry, value, says):
    def spoil(request):
        k = list(request.camera_infos[1].k)
        k[entry] = value
        request.camera_infos[1].k = k

    refused(reconstruct(client_node, frames[:2], spoil), f"camera_infos[1]: {says}")


def test_nan_poses(limited_node, client_node, frames):
    def spoil(request):
        request.camera_poses[0].position.x = float("nan")

    refused(reconstruct(client_node, frames[:2], spoil), "camera_poses[0] has NaN")


def test_segment_prompts_out_of_range(limited_node, client_node, frames):
    image = [image_from_rgb(frames[0].image)]
    cases = [
        (
            Segment.Request(images=image, text="box", threshold=float("nan")),
            "threshold must be between 0 and 1",
        ),
        (
            Segment.Request(images=image, text="box", threshold=2.0),
            "threshold must be between 0 and 1",
        ),
        (Segment.Request(images=image, text="x" * 1001), "1001 characters; the limit is 1000"),
        (
            Segment.Request(images=image, points=[Point(x=1.0, y=1.0)] * 1025),
            "1025 points; the limit is 1024",
        ),
        (Segment.Request(images=image, points=[Point(x=float("nan"), y=1.0)]), "NaN"),
        (Segment.Request(images=image * 3, text="box"), "3 images; the limit is 2"),
    ]
    for request, says in cases:
        refused(call(client_node, Segment, "/perception_limited/segment", request), says)


def test_services_say_the_models_are_not_ready_instead_of_loading(
    spinner, client_node, frames, tmp_path
):
    """DA3 from a directory that holds no checkpoint, the hub off: the load fails in the
    background, and each call says so at once instead of trying to load again."""
    import huggingface_hub.constants as hub_constants

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(hub_constants, "HF_HUB_OFFLINE", True)
        node = make_node(
            spinner,
            "perception_unloadable",
            **{
                "perception.reconstruct_backend": "da3",
                "perception.segment_backend": "labels",
                "perception.da3_model": str(tmp_path / "missing"),
                "perception.device": "cpu",
            },
        )
        try:
            deadline = time.monotonic() + 60
            while node.models.status().state != "failed":
                assert time.monotonic() < deadline, node.models.status()
                time.sleep(0.05)
            request = Reconstruct.Request(images=[image_from_rgb(f.image) for f in frames[:1]])
            started = time.monotonic()
            response = call(
                client_node, Reconstruct, "/perception_unloadable/reconstruct", request
            )
            refused(response, "perception models not ready")
            assert "could not load Depth Anything 3" in response.error_msg
            assert time.monotonic() - started < 2.0
            # retried on its own schedule, not by the call
            assert node.models.status().attempts <= 2
        finally:
            spinner.remove(node)
