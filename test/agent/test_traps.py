"""Silent traps and teaching feedback, in the real kernel on a synthetic scene with exact depth.

Each trap used to give a wrong number without any error: the up axis of a robot world, an
oriented box's size[2] read as a height, per-frame arrays indexed with frame numbers.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from spatialclaw_ros.eval.synthetic import default_intrinsics, look_at, render
from spatialclaw_ros.frames import FrameSet
from spatialclaw_ros.kernel import Kernel

from .conftest import EYE


@pytest.fixture(scope="module")
def kernel(scene, perception):
    """One view of the scene from the doorway, plus a clip whose frames are numbered 0, 10, 20,
    30."""
    view = render(scene, [look_at(EYE, (3.0, -0.3, 0.4))], default_intrinsics(320, 240))
    poses = [look_at(EYE, (3.0, y, 0.4)) for y in (1.2, 0.4, -0.4, -1.2)]
    clip = render(scene, poses, default_intrinsics(160, 120), timestamps=[0.0, 0.5, 1.0, 1.5])
    # numbered as a sampler leaves them; every frame names every object, as simulators publish
    # their class list whatever is in view (so an object out of view gets 0 masks, not an error)
    names = {k: v for f in clip.frames for k, v in (f.label_names or {}).items()}
    sampled = FrameSet(
        [
            dataclasses.replace(f, index=10 * i, label_names=names)
            for i, f in enumerate(clip.frames)
        ],
        world_frame=clip.world_frame,
        name="sampled",
    )
    with Kernel([view, sampled], perception=perception) as k:
        k.run("recon = tools.Reconstruct(InputImages_1)\nclip = tools.Reconstruct(InputImages_2)")
        yield k


def _run(kernel, code: str):
    result = kernel.run(code)
    assert result.status == "success", result.feedback
    return result.stdout.strip()


def test_up_comes_from_the_reconstruction(kernel):
    assert _run(kernel, "print(recon.world_frame, recon.up.tolist())") == "map [0.0, 0.0, 1.0]"


@pytest.mark.parametrize(
    "standpoint, facing, target",
    [
        ("red box", "green cylinder", "yellow box"),
        ("red box", "yellow box", "green cylinder"),
        ("green cylinder", "red box", "blue sphere"),
    ],
)
def test_relative_direction_uses_the_worlds_up(kernel, scene, standpoint, facing, target):
    code = (
        "c = {n: recon.centroid(tools.SAM3.segment(InputImages_1[0], text=n)) for n in "
        f"({standpoint!r}, {facing!r}, {target!r})}}\n"
        f"print(tools.Geometry.relative_direction(c[{standpoint!r}], c[{facing!r}], "
        f"c[{target!r}], up=recon)[0])"
    )
    got = _run(kernel, code)
    a, b, t = (scene[n.replace(" ", "_")].center for n in (standpoint, facing, target))
    (fx, fy), (tx, ty) = (b - a)[:2], (t - a)[:2]
    # z up: positive is to the left
    angle = np.degrees(np.arctan2(fx * ty - fy * tx, fx * tx + fy * ty))
    assert got == ("front", "left", "back", "right")[int(((angle + 45) % 360) // 90)]


def test_relative_direction_has_no_default_up(kernel):
    result = kernel.run("tools.Geometry.relative_direction((0, 0, 0), (1, 0, 0), (0, 1, 0))")
    assert (
        result.status == "error" and "missing 1 required positional argument: 'up'" in result.error
    )


@pytest.mark.parametrize("name", ["red box", "green cylinder", "blue sphere"])
def test_height_is_the_extent_along_up(kernel, scene, name):
    code = (
        f"seg = tools.SAM3.segment(InputImages_1[0], text={name!r})\n"
        "print(round(recon.height(seg), 3), round(float(recon.box_3d(seg, "
        "upright=True).size[2]), 3))"
    )
    height, upright = map(float, _run(kernel, code).split())
    truth = scene[name.replace(" ", "_")].size[2]
    assert height == pytest.approx(truth, rel=0.06) and upright == pytest.approx(height, abs=1e-6)


def test_per_frame_arrays_are_indexed_by_frame_number(kernel):
    assert _run(kernel, "print(clip.frame_indices)") == "[0, 10, 20, 30]"
    same = _run(
        kernel,
        "print(np.allclose(clip.extrinsics[20], clip.extrinsics[:][2]), clip.depth[30].shape)",
    )
    assert same == "True (120, 160)"
    result = kernel.run("clip.extrinsics[2]")
    assert result.status == "error" and "frame 2 is not in this reconstruction" in result.error
    assert "[0, 10, 20, 30]" in result.error
    # the helpers that walk rows, numpy's own functions and printing still work on them
    assert (
        _run(kernel, "print(clip.point_map(30).shape, clip.camera_centers().shape)")
        == "(120, 160, 3) (4, 3)"
    )
    stats = (
        "d = clip.depth\nprint(np.median(d) == np.median(np.asarray(d)), "
        "float(np.nanmax(d)) > 0, d.ravel()[5] == d[0][0, 5])"
    )
    assert _run(kernel, stats) == "True True True"
    assert _run(kernel, "print(clip.extrinsics)").startswith("[[[")
    assert _run(kernel, "print(len([e for e in clip.extrinsics]), len(list(clip.depth)))") == "4 4"


def test_attribute_error_lists_attributes_and_the_closest_name(kernel):
    result = kernel.run(
        "seg = tools.SAM3.segment(InputImages_1[0], text='red box')\nseg.frame_index"
    )
    assert result.status == "error"
    assert "Did you mean 'frame_indices'?" in result.error and "Segmentation has:" in result.error
    assert "for_frame" in result.error and "best" in result.error
    result = kernel.run("recon.camera_centres()")
    assert "Did you mean 'camera_centers'?" in result.error


def test_empty_segmentation_says_what_to_do(kernel):
    # the yellow box is out of view in the clip's first frame
    result = kernel.run(
        "seg = tools.SAM3.segment(InputImages_2[0], text='yellow box')\nmask = seg.masks[0]"
    )
    assert result.status == "error" and "IndexError" in result.error
    assert "0 masks" in result.error and "vlm.locate" in result.error
    assert any("0 masks for text 'yellow box'" in w for w in result.warnings)


def test_a_copied_frame_gets_the_right_advice(kernel):
    result = kernel.run("tools.SAM3.segment(np.array(InputImages_1[0]), text='red box')")
    assert result.status == "error" and "a copy or an array computed from it" in result.error


def test_results_print_short(kernel):
    printed = _run(
        kernel, "print(recon)\nprint(tools.SAM3.segment(InputImages_1[0], text='red box'))"
    )
    assert (
        len(printed) < 400
        and "Reconstruction(1 frames [0]" in printed
        and "up (0.0, 0.0, 1.0)" in printed
    )


def test_undefined_names_point_to_what_exists(kernel):
    assert "tools.Reconstruct" in kernel.run("Reconstruct(InputImages_1)").error
    # no guess
    assert kernel.run("print(recn)").error.endswith("NameError: name 'recn' is not defined")
    assert "dir(x) lists its attributes" in kernel.run("help(recon)").error
