"""The perception node: its ROS services answer other nodes over DDS, and the FastAPI service it
starts answers the kernels' HTTP client with the same models."""

import socket

import numpy as np
import pytest
from ros_support import node_parameters, scene_frames, wait_for
from sensor_msgs.msg import RegionOfInterest

from spatialclaw_ros.perception import PerceptionConfig, PerceptionError, build_perception
from spatialclaw_ros.ros.conversions import matrix_to_pose, pose_to_matrix
from spatialclaw_ros.ros.images import (
    camera_info_from_intrinsics,
    depth_from_image,
    image_array,
    image_from_array,
    image_from_rgb,
    intrinsics_from_camera_info,
)
from spatialclaw_ros.srv import Reconstruct, Segment

pytestmark = pytest.mark.ros
TOKEN = "test-token-not-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def perception_node(spinner):
    from spatialclaw_ros.ros.perception_node import PerceptionNode

    port = free_port()
    node = PerceptionNode(
        context=spinner.context,
        parameter_overrides=node_parameters(
            **{
                "perception.reconstruct_backend": "sensor",
                "perception.segment_backend": "labels",
                "perception.token": TOKEN,
                "service.port": port,
            }
        ),
    )
    spinner.add(node)
    yield node, f"http://127.0.0.1:{port}"
    spinner.remove(node)


@pytest.fixture(scope="module")
def frames():
    return scene_frames(n=3, width=80, height=60)


def call(client_node, srv_type, name, request, timeout=30.0):
    client = client_node.create_client(srv_type, name)
    assert client.wait_for_service(timeout_sec=10.0)
    return wait_for(client.call_async(request), timeout)


def reconstruct_request(frames, with_sensor_data=True) -> Reconstruct.Request:
    request = Reconstruct.Request(images=[image_from_rgb(f.image) for f in frames])
    if with_sensor_data:
        request.depths = [image_from_array(f.depth, "32FC1") for f in frames]
        request.camera_infos = [camera_info_from_intrinsics(f.intrinsics) for f in frames]
        request.camera_poses = [matrix_to_pose(f.pose) for f in frames]
    return request


def test_reconstruct_service_returns_the_sensor_geometry(perception_node, client_node, frames):
    response = call(
        client_node,
        Reconstruct,
        "/spatialclaw_perception/reconstruct",
        reconstruct_request(frames),
    )
    assert response.success, response.error_msg
    assert response.is_metric and len(response.depths) == len(response.camera_poses) == 3
    for frame, depth, info, pose in zip(
        frames, response.depths, response.camera_infos, response.camera_poses, strict=True
    ):
        got = depth_from_image(depth)
        finite = np.isfinite(frame.depth)
        assert np.allclose(got[finite], frame.depth[finite], atol=1e-4)
        assert np.allclose(intrinsics_from_camera_info(info).matrix(), frame.intrinsics.matrix())
        assert np.allclose(pose_to_matrix(pose), frame.pose, atol=1e-6)


def test_bad_service_requests_get_an_error_and_the_node_keeps_serving(
    perception_node, client_node, frames
):
    no_depth = call(
        client_node,
        Reconstruct,
        "/spatialclaw_perception/reconstruct",
        reconstruct_request(frames, False),
    )
    assert not no_depth.success and "depth" in no_depth.error_msg.lower()
    uneven = reconstruct_request(frames)
    uneven.depths = uneven.depths[:2]
    response = call(client_node, Reconstruct, "/spatialclaw_perception/reconstruct", uneven)
    assert not response.success and "2 depths for 3 images" in response.error_msg

    two_prompts = Segment.Request(
        images=[image_from_rgb(frames[0].image)],
        text="red box",
        box=RegionOfInterest(x_offset=1, y_offset=1, width=10, height=10),
    )
    response = call(client_node, Segment, "/spatialclaw_perception/segment", two_prompts)
    assert not response.success and "exactly one prompt" in response.error_msg
    # the labels backend without label images, and label names that do not pair with ids
    by_text = Segment.Request(images=[image_from_rgb(frames[0].image)], text="red box")
    response = call(client_node, Segment, "/spatialclaw_perception/segment", by_text)
    assert not response.success and "label" in response.error_msg.lower()
    by_text.label_images, by_text.label_ids, by_text.label_names = (
        [image_from_array(frames[0].labels, "32SC1")],
        [1, 2],
        ["red box"],
    )
    response = call(client_node, Segment, "/spatialclaw_perception/segment", by_text)
    assert not response.success and "2 label_ids but 1 label_names" in response.error_msg

    response = call(
        client_node,
        Reconstruct,
        "/spatialclaw_perception/reconstruct",
        reconstruct_request(frames),
    )
    assert response.success


def test_segment_service_reads_a_simulators_label_images(perception_node, client_node, frames):
    names = frames[0].label_names
    request = Segment.Request(
        images=[image_from_rgb(f.image) for f in frames],
        text="blue ball",
        label_images=[image_from_array(f.labels.astype(np.uint16), "16UC1") for f in frames],
        label_ids=list(names),
        label_names=list(names.values()),
    )
    response = call(client_node, Segment, "/spatialclaw_perception/segment", request)
    assert response.success, response.error_msg
    ball = next(i for i, name in names.items() if name == "blue ball")
    assert [m.frame_index for m in response.masks] == [0, 1, 2]
    for frame, mask in zip(frames, response.masks, strict=True):
        assert mask.label == "blue ball"
        assert np.array_equal(image_array(mask.mask) > 0, frame.labels == ball)


def test_http_service_serves_kernels_with_the_token(perception_node, frames):
    _, url = perception_node
    client = build_perception(PerceptionConfig(service_url=url, token=TOKEN))
    reconstruction = client.reconstruct(frames)
    assert reconstruction.backend == "sensor" and reconstruction.depth.shape == (3, 60, 80)
    finite = np.isfinite(frames[1].depth)
    assert np.allclose(reconstruction.depth[1][finite], frames[1].depth[finite], atol=1e-4)
    intruder = build_perception(PerceptionConfig(service_url=url, token="wrong"))
    with pytest.raises(PerceptionError):
        intruder.reconstruct(frames)
