"""The light tools, called directly (inside the kernel they are the same functions)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from spatialclaw_ros.perception.types import Box3D
from spatialclaw_ros.tools import InputImage, describe
from spatialclaw_ros.tools.draw import Draw
from spatialclaw_ros.tools.geometry import Geometry
from spatialclaw_ros.tools.graph import Graph
from spatialclaw_ros.tools.images import cap_long_edge, to_rgb
from spatialclaw_ros.tools.masks import Mask
from spatialclaw_ros.tools.timing import Time

K = np.array([[100.0, 0, 64], [0, 100.0, 48], [0, 0, 1]])


def test_distance_and_angles():
    assert Geometry.distance([0, 0, 0], [3, 4, 12]) == 13.0
    assert Geometry.angle_between([1, 0, 0], [0, 2, 0]) == pytest.approx(90.0)
    r = Geometry.rotation_between([1, 0, 0], [0, 1, 0])
    np.testing.assert_allclose(r @ [1, 0, 0], [0, 1, 0], atol=1e-9)
    np.testing.assert_allclose(Geometry.rotation([0, 0, 1], 90) @ [1, 0, 0], [0, 1, 0], atol=1e-9)


def test_project_then_unproject_returns_the_points():
    pose = Geometry.pose(Geometry.rotation([0, 1, 0], 20), [0.5, -0.2, 0.1])
    points = np.array([[0.3, 0.1, 3.0], [-0.5, 0.4, 4.0]])
    pixels, depth = Geometry.project(points, K, pose)
    np.testing.assert_allclose(Geometry.unproject(pixels, depth, K, pose), points, atol=1e-9)
    np.testing.assert_allclose(Geometry.invert(pose) @ pose, np.eye(4), atol=1e-12)


def test_fit_plane_finds_the_floor_among_outliers():
    rng = np.random.default_rng(1)
    floor = np.column_stack(
        [
            rng.uniform(-2, 2, 400),
            np.full(400, 1.5) + rng.normal(0, 0.003, 400),
            rng.uniform(1, 5, 400),
        ]
    )
    clutter = rng.uniform(-2, 2, (100, 3))
    plane = Geometry.fit_plane(np.vstack([floor, clutter]), threshold=0.02)
    assert abs(abs(plane.normal[1]) - 1.0) < 1e-3
    assert abs(plane.distance([0, 1.5, 3.0])) < 0.005
    assert len(plane.inliers) >= 400


@pytest.mark.parametrize(
    ("target", "expected"),
    [((0, 0, 5), "front"), ((-3, 0, 0), "left"), ((3, 0, 0), "right"), ((0, 0, -4), "back")],
)
def test_relative_direction_in_camera_world(target, expected):
    sector, _ = Geometry.relative_direction((0, 0, 0), (0, 0, 1), target, up=(0, -1, 0))
    assert sector == expected


def test_relative_direction_in_map_frame():
    assert Geometry.relative_direction((0, 0, 0), (1, 0, 0), (0, 2, 0), up=(0, 0, 1)) == (
        "left",
        pytest.approx(90.0),
    )


def test_normalized_points_to_pixels():
    np.testing.assert_allclose(
        Geometry.normalized_to_pixel([[0, 0], [1000, 500]], 101, 51), [[0, 0], [100, 25]]
    )


def test_mask_measurements():
    a = np.zeros((10, 10), bool)
    a[2:4, 3:7] = True
    b = np.zeros((10, 10), bool)
    b[3:5, 3:7] = True
    assert Mask.area(a) == 8 and Mask.bbox(a) == (3, 2, 6, 3) and Mask.centroid(a) == (4.5, 2.5)
    assert Mask.iou(a, b) == pytest.approx(4 / 12)
    assert Mask.area(Mask.intersection(a, b)) == 4 and Mask.area(Mask.union(a, b)) == 12
    speck = a.copy()
    speck[9, 9] = True
    np.testing.assert_array_equal(Mask.largest_component(speck), a)
    with pytest.raises(ValueError, match="empty"):
        Mask.centroid(np.zeros((3, 3), bool))


def test_time_conversions():
    frames = [
        InputImage(np.zeros((2, 2, 3), np.uint8), 0, 5 * i, 10.0 + 0.25 * i, "cam")
        for i in range(5)
    ]
    time = Time([frames])
    assert time.seconds(frames[2]) == 0.5 and time.frame_to_seconds(15) == 0.75
    assert time.frame_at(0.6).frame_index == 10 and time.seconds_to_frame(0.9) == 20
    assert time.duration() == 1.0
    with pytest.raises(IndexError):
        time.duration(video=3)


def test_scene_graph_relations_from_the_camera():
    objects = [
        Box3D("chair", np.array([-1.0, 0.0, 3.0]), np.ones(3)),
        Box3D("table", np.array([1.0, 0.0, 3.0]), np.ones(3)),
        Box3D("lamp", np.array([1.0, -1.0, 6.0]), np.ones(3)),
    ]
    graph = Graph.scene_graph(objects, near=2.5)
    assert isinstance(graph, nx.MultiDiGraph)
    relations = Graph.relations(graph)
    assert "chair left_of table (2.00 m)" in relations and "chair near table (2.00 m)" in relations
    assert "lamp above table (3.16 m)" in relations and "lamp behind table (3.16 m)" in relations
    assert "table right_of chair (2.00 m)" in relations


def test_plots_and_drawings_are_rgb_images():
    image = Graph.plot([1, 3, 2], title="t")
    assert image.shape == (400, 600, 3) and image.dtype == np.uint8
    assert Graph.draw(Graph.scene_graph([Box3D("a", np.zeros(3), np.ones(3))])).shape == (
        600,
        600,
        3,
    )
    canvas = np.zeros((20, 30, 3), np.uint8)
    boxed = Draw.box(canvas, (5, 5, 15, 12), color=(255, 0, 0), thickness=1)
    assert tuple(boxed[5, 10]) == (255, 0, 0) and tuple(boxed[8, 10]) == (0, 0, 0)
    assert canvas.sum() == 0  # drawing never changes its input
    mask = np.zeros((20, 30), bool)
    mask[0, 0] = True
    assert tuple(Draw.mask(canvas, mask, (200, 100, 0), alpha=0.5)[0, 0]) == (100, 50, 0)
    assert tuple(Draw.points(canvas, [[10, 10]], color=(0, 255, 0), radius=2)[10, 10]) == (
        0,
        255,
        0,
    )
    assert tuple(Draw.line(canvas, (0, 19), (29, 19), color=(0, 0, 9), thickness=1)[19, 15]) == (
        0,
        0,
        9,
    )


def test_labelled_points_match_points_then_labels():
    canvas = np.zeros((40, 60, 3), np.uint8)
    labelled = Draw.points(
        canvas, [[5, 10], [30, 25]], color=(0, 255, 0), radius=2, labels=["a", "b"]
    )
    expected = Draw.points(canvas, [[5, 10], [30, 25]], color=(0, 255, 0), radius=2)
    expected = Draw.label(
        Draw.label(expected, "a", (9, 10), (0, 255, 0)), "b", (34, 25), (0, 255, 0)
    )
    assert np.array_equal(labelled, expected) and labelled.any()
    assert canvas.sum() == 0


def test_image_conversion_and_cap():
    assert to_rgb(np.ones((4, 5))).tolist() == np.full((4, 5, 3), 255, np.uint8).tolist()
    assert to_rgb(np.zeros((4, 5, 4), np.uint8)).shape == (4, 5, 3)
    with pytest.raises(ValueError, match="image must be"):
        to_rgb(np.zeros(5))
    assert cap_long_edge(np.zeros((1000, 500, 3), np.uint8), 768).shape == (768, 384, 3)
    assert cap_long_edge(np.zeros((10, 5, 3), np.uint8), 768).shape == (10, 5, 3)


def test_box_and_distance_from_points():
    box = Geometry.box_from_points(np.array([[0, 0, 0], [2, 1, 4], [np.nan, 0, 0]]), "crate")
    np.testing.assert_allclose(box.center, [1, 0.5, 2])
    np.testing.assert_allclose(box.size, [2, 1, 4])
    d = Geometry.object_distance([[0, 0, 0], [1, 0, 0]], [[4, 0, 0]], "a", "b")
    assert d.closest == 3.0 and d.centroid_distance == 3.5 and d.point_a.tolist() == [1, 0, 0]


def test_describe_covers_every_tool():
    text = describe()
    for name in (
        "tools.Reconstruct(",
        "tools.SAM3.segment(",
        "tools.SAM3.propagate(",
        "tools.SAM3.exists(",
        "tools.Geometry.fit_plane(",
        "tools.Mask.iou(",
        "tools.Time.frame_at(",
        "tools.Graph.scene_graph(",
        "tools.Draw.box(",
        "vlm.locate(",
        "vlm.ask(",
        "ReturnAnswer(x)",
        "show(x)",
        "Metadata",
    ):
        assert name in text, name
    assert "_link" not in text


def test_every_import_the_reference_promises_is_allowed():
    from spatialclaw_ros.kernel.policy import module_allowed
    from spatialclaw_ros.tools.reference import ENTRY_POINTS

    listed = ENTRY_POINTS.split("Allowed imports:")[1].split(". No files")[0]
    modules = [item.split("(")[0].strip() for item in listed.replace("\n", " ").split(",")]
    assert len(modules) >= 20
    assert [m for m in modules if not module_allowed(m)] == []
