"""The ray-caster's geometry must be exact: the benchmark's ground truth rests on it."""

from __future__ import annotations

import numpy as np
import pytest

from spatialclaw_ros.eval.synthetic import (
    Scene,
    SceneObject,
    default_intrinsics,
    look_at,
    random_scene,
    render,
    render_frame,
)
from spatialclaw_ros.frames import CameraIntrinsics

SMALL = CameraIntrinsics(fx=100.0, fy=100.0, cx=79.5, cy=59.5, width=160, height=120)


def _unproject(frame) -> np.ndarray:
    k = frame.intrinsics
    v, u = np.mgrid[0 : k.height, 0 : k.width]
    z = frame.depth.astype(np.float64)
    cam = np.stack([(u - k.cx) / k.fx * z, (v - k.cy) / k.fy * z, z], axis=-1)
    return cam @ frame.pose[:3, :3].T + frame.pose[:3, 3]


def test_look_at_gives_opencv_optical_axes_in_a_z_up_world():
    pose = look_at([0, 0, 1], [5, 0, 1])  # looking along map +x
    np.testing.assert_allclose(pose[:3, 0], [0, -1, 0], atol=1e-12)  # image right = map -y
    np.testing.assert_allclose(pose[:3, 1], [0, 0, -1], atol=1e-12)  # image down = map -z
    np.testing.assert_allclose(pose[:3, 2], [1, 0, 0], atol=1e-12)
    assert np.linalg.det(pose[:3, :3]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="parallel"):
        look_at([0, 0, 1], [0, 0, 0])


def test_box_face_depth_is_the_distance_along_the_optical_axis():
    box = SceneObject("red_box", "box", (200, 0, 0), [0.0, 0.0, 0.5], [1.0, 2.0, 1.0])
    frame = render_frame(Scene((box,)), look_at([-2.5, 0, 0.5], [0, 0, 0.5]), SMALL)
    on_box = frame.labels == 1
    assert on_box.sum() > 1000
    # The front face x = -0.5 is perpendicular to the optical axis: constant depth 2.0 m.
    np.testing.assert_allclose(frame.depth[on_box], 2.0, atol=1e-5)
    assert frame.label_names == {1: "red_box"}
    assert tuple(frame.image[60, 80]) != tuple(frame.image[5, 5])


def test_every_pixel_back_projects_onto_the_surface_it_is_labelled_with():
    sphere = SceneObject("blue_sphere", "sphere", (0, 0, 200), [0.5, 0.8, 0.4], [0.8, 0.8, 0.8])
    cylinder = SceneObject(
        "green_cylinder", "cylinder", (0, 200, 0), [0.3, -0.9, 0.5], [0.6, 0.6, 1.0]
    )
    box = SceneObject("red_box", "box", (200, 0, 0), [1.6, 0.0, 0.35], [0.5, 0.9, 0.7], yaw=0.6)
    scene = Scene((sphere, cylinder, box), room_size=(6, 5, 3))
    frame = render_frame(scene, look_at([-2.0, 0.3, 1.4], [0.8, 0, 0.4]), SMALL)
    points = _unproject(frame)
    assert not np.isnan(frame.depth).any()  # inside a closed room every ray hits something

    on_sphere = points[frame.labels == 1]
    np.testing.assert_allclose(np.linalg.norm(on_sphere - sphere.center, axis=1), 0.4, atol=1e-4)

    on_cyl = points[frame.labels == 2] - cylinder.center
    radial = np.hypot(on_cyl[:, 0], on_cyl[:, 1])
    on_side = np.abs(radial - 0.3) < 1e-4
    on_cap = np.abs(on_cyl[:, 2] - 0.5) < 1e-4
    assert np.all(on_side | on_cap) and on_side.any() and on_cap.any()

    local = (points[frame.labels == 3] - box.center) @ box.rotation
    on_face = np.isclose(np.abs(local), box.size / 2, atol=1e-4)
    assert np.all(on_face.any(axis=1)) and np.all(np.abs(local) <= box.size / 2 + 1e-4)

    room = points[frame.labels == 0]
    on_wall = np.isclose(np.abs(room[:, 0]), 3, atol=1e-4) | np.isclose(
        np.abs(room[:, 1]), 2.5, atol=1e-4
    )
    on_floor_or_ceiling = np.isclose(room[:, 2], 0, atol=1e-4) | np.isclose(
        room[:, 2], 3, atol=1e-4
    )
    assert np.all(on_wall | on_floor_or_ceiling)
    assert frame.label_names == {1: "blue_sphere", 2: "green_cylinder", 3: "red_box"}


def test_nearer_object_occludes_and_hidden_objects_are_not_named():
    front = SceneObject("red_box", "box", (200, 0, 0), [0, 0, 0.5], [0.4, 3.0, 1.0])
    hidden = SceneObject("blue_sphere", "sphere", (0, 0, 200), [1.0, 0, 0.3], [0.5, 0.5, 0.5])
    frame = render_frame(Scene((front, hidden)), look_at([-1.0, 0, 0.5], [0, 0, 0.5]), SMALL)
    assert 2 not in np.unique(frame.labels)
    assert frame.label_names == {1: "red_box"}


def test_camera_outside_the_room_sees_nothing_where_no_object_is():
    ball = SceneObject("red_sphere", "sphere", (200, 0, 0), [0, 0, 1], [1, 1, 1])
    # a pixel centre on the optical axis
    odd = CameraIntrinsics(100.0, 100.0, 80.0, 60.0, 161, 121)
    frame = render_frame(Scene((ball,), room_size=(2, 2, 2)), look_at([-10, 0, 1], [0, 0, 1]), odd)
    assert np.isnan(frame.depth[frame.labels == 0]).all()
    assert np.nanmin(frame.depth) == pytest.approx(9.5, abs=1e-5) == frame.depth[60, 80]


def test_render_builds_a_frame_set_with_moving_objects_and_timestamps():
    scene = random_scene(4, 5)
    name = scene.names[0]
    moved = [
        scene.with_object(scene[name].moved_to(scene[name].center + [0.3 * i, 0, 0]))
        for i in range(3)
    ]
    poses = [look_at([-3.5, -2.5, 1.5], [0, 0, 0.3])] * 3
    frames = render(moved, poses, SMALL, timestamps=[1.0, 1.5, 2.0], camera="front")
    assert frames.world_frame == "map" and frames.timestamps == [1.0, 1.5, 2.0]
    assert [f.index for f in frames] == [0, 1, 2] and frames.cameras == ["front"]
    assert frames.has_depth and frames.has_poses and frames.has_labels and frames.has_intrinsics
    assert not np.array_equal(frames[0].labels, frames[2].labels)
    with pytest.raises(ValueError, match="scenes for"):
        render(moved[:2], poses, SMALL)


def test_random_scene_is_seeded_named_and_objects_stand_apart_on_the_floor():
    a, b = random_scene(11, 9), random_scene(11, 9)
    assert a.names == b.names and all(
        np.array_equal(x.center, y.center) for x, y in zip(a.objects, b.objects, strict=True)
    )
    assert a.names != random_scene(12, 9).names
    assert len(set(a.names)) == 9 and all(
        n.split("_")[1] in ("box", "sphere", "cylinder") for n in a.names
    )
    for i, o in enumerate(a.objects):
        assert o.center[2] == pytest.approx(o.size[2] / 2)  # resting on the floor
        for p in a.objects[i + 1 :]:
            assert (
                np.hypot(*(o.center[:2] - p.center[:2])) > o.footprint_radius + p.footprint_radius
            )


def test_bad_input_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="shape"):
        SceneObject("x", "cone", (1, 2, 3), [0, 0, 0], [1, 1, 1])
    with pytest.raises(ValueError, match="sizes positive"):
        SceneObject("x", "box", (1, 2, 3), [0, 0, 0], [1, 0, 1])
    box = SceneObject("x", "box", (1, 2, 3), [0, 0, 0], [1, 1, 1])
    with pytest.raises(ValueError, match="unique"):
        Scene((box, box))
    with pytest.raises(ValueError, match="4x4"):
        render_frame(Scene((box,)), np.eye(3), SMALL)
    with pytest.raises(ValueError, match="n_objects"):
        random_scene(0, 0)


def test_default_intrinsics_has_the_requested_field_of_view():
    k = default_intrinsics(640, 480, hfov_deg=90.0)
    assert k.fx == pytest.approx(320.0) and (k.cx, k.cy) == (319.5, 239.5)
