"""The kernel's behaviour as agent code sees it: state, rollback, images, answers, tools,
feedback."""

from __future__ import annotations

import numpy as np
import pytest

from spatialclaw_ros.frames import Frame, FrameSet
from spatialclaw_ros.kernel import Kernel, KernelConfig
from spatialclaw_ros.perception.types import Box3D, ObjectDistance

from .conftest import BOX, BrightestSpotVLM, FailingPerception, SensorPerception, make_frames


@pytest.fixture(scope="module")
def services():
    return SensorPerception(), BrightestSpotVLM()


@pytest.fixture(scope="module")
def kernel(services):
    perception, vlm = services
    with Kernel(
        make_frames(), perception=perception, vlm=vlm, options=["A. left", "B. right"]
    ) as k:
        yield k


def test_state_persists_between_cells(kernel):
    assert kernel.run("counter = 41").status == "success"
    result = kernel.run("counter += 1\ncounter")
    assert result.stdout == "42\n"
    assert result.variables == {"counter": "42"}


def test_failed_cell_rolls_back_new_and_changed_variables(kernel):
    kernel.run("kept = 1")
    failed = kernel.run("kept = 2\nfresh = 3\nraise ValueError('boom')")
    assert failed.status == "error" and failed.error_kind == "code"
    assert failed.error == "Error on line 3: raise ValueError('boom')\nValueError: boom"
    assert kernel.run("print(kept, 'fresh' in dir())").stdout == "1 False\n"


def test_error_points_at_the_failing_line_inside_a_call(kernel):
    result = kernel.run("def f(v):\n    return v[5]\n\nvalue = f([1, 2])")
    assert result.error == "Error on line 2: return v[5]\nIndexError: list index out of range"


def test_syntax_error_is_reported_with_its_line(kernel):
    result = kernel.run("x = 1\ny = (2 +\n")
    assert result.status == "error" and result.error_kind == "code"
    assert result.error.startswith("Error on line 2: y = (2 +\nSyntaxError:")


def test_show_attaches_the_frame_pixels(kernel, frames):
    result = kernel.run("show(InputImages[1])")
    assert len(result.images) == 1
    np.testing.assert_array_equal(result.images[0], frames[1].image)


def test_show_caps_the_long_edge():
    with Kernel(make_frames(1), config=KernelConfig(max_image_edge=32)) as k:
        result = k.run("show(np.zeros((100, 200, 3), np.uint8))")
    assert result.images[0].shape == (16, 32, 3)


def test_plt_show_and_open_figures_are_captured(kernel):
    result = kernel.run("plt.figure(figsize=(4, 3), dpi=50)\nplt.plot([0, 1], [1, 0])\nplt.show()")
    assert [i.shape for i in result.images] == [(150, 200, 3)]
    result = kernel.run("fig, ax = plt.subplots(figsize=(2, 2), dpi=50)\nax.plot([1, 2])")
    # left open: attached at the end, like a notebook
    assert [i.shape for i in result.images] == [(100, 100, 3)]


def test_image_budget_is_per_episode():
    with Kernel(make_frames(1), config=KernelConfig(max_images=2)) as k:
        first = k.run("show(InputImages[0])")
        second = k.run("show(InputImages[0], InputImages[0])")
    assert len(first.images) == 1 and len(second.images) == 1
    assert second.warnings == [
        "show(): the image budget for this episode is used up; image not attached"
    ]
    assert k.images_left == 0


@pytest.mark.parametrize(
    ("code", "answer"),
    [
        ("ReturnAnswer('B')", "B"),
        ("ReturnAnswer(3)", 3),
        ("ReturnAnswer(2.5)", 2.5),
        ("ReturnAnswer(np.float64(1.25))", 1.25),
    ],
)
def test_return_answer_keeps_type_and_value(kernel, code, answer):
    result = kernel.run(code)
    assert result.answer == answer and type(result.answer) is type(answer)
    assert f"answer submitted: {answer}" in result.feedback


@pytest.mark.parametrize(
    "code", ["ReturnAnswer([1, 2])", "ReturnAnswer(True)", "ReturnAnswer(float('nan'))"]
)
def test_return_answer_rejects_other_values(kernel, code):
    result = kernel.run(code)
    assert result.status == "error" and result.answer is None
    assert "ReturnAnswer" in result.error


def test_answer_of_a_failed_cell_is_discarded(kernel):
    result = kernel.run("ReturnAnswer('A')\n1 / 0")
    assert result.status == "error" and result.answer is None


def test_metadata_describes_the_inputs(kernel):
    result = kernel.run(
        "print(Metadata.frame_count, Metadata.fps, Metadata.duration, "
        "Metadata.timestamps, Metadata.options)"
    )
    assert result.stdout == "4 2.0 1.5 [0.0, 0.5, 1.0, 1.5] ['A. left', 'B. right']\n"
    frame = kernel.run("f = InputImages[2]\nprint(f.frame_index, f.timestamp, f.camera, f.shape)")
    assert frame.stdout == "20 101.0 front (48, 64, 3)\n"


def test_frames_are_read_only(kernel):
    result = kernel.run("InputImages[0][0, 0] = 0")
    assert result.status == "error" and "read-only" in result.error


def test_several_videos_get_numbered_names():
    with Kernel([make_frames(2, "a"), make_frames(3, "b")]) as k:
        result = k.run(
            "print(len(InputImages_1), len(InputImages_2), len(InputImages), "
            "InputImages_2[0].video)"
        )
    assert result.stdout == "2 3 5 1\n"


def test_reconstruct_proxy_returns_host_depth(kernel, services):
    code = (
        "r = tools.Reconstruct(InputImages, frame_indices=[10, 30])\n"
        "print(r.frame_indices, float(r.depth[30, 0, 0]), r.depth.dtype)"
    )
    result = kernel.run(code)
    assert result.stdout == "[10, 30] 3.5 float32\n"
    assert result.tool_calls == ["tools.Reconstruct"]
    assert (
        result.variables["r"]
        == "Reconstruction: 2 frames 64x48, metric, backend sensor, world map"
    )


def test_sam3_proxy_text_and_points(kernel):
    result = kernel.run(
        "seg = tools.SAM3.segment(InputImages[0], text='red box')\n"
        "m = seg.masks[0]\n"
        "print(m.label, tools.Mask.area(m), tools.Mask.bbox(m))\n"
        "print(tools.SAM3.exists(InputImages, 'red box'), "
        "tools.SAM3.exists(InputImages[0], 'chair'))\n"
        "pts = tools.SAM3.segment(InputImages[1], points=[[25, 12]])\n"
        "print(len(pts.masks), pts.masks[0].frame_index)"
    )
    rows, cols = BOX
    area = (rows.stop - rows.start) * (cols.stop - cols.start)
    assert result.stdout == f"red box {area} (20, 10, 35, 19)\nTrue False\n1 10\n"


@pytest.mark.parametrize(
    "code, message",
    [
        (
            "tools.SAM3.segment(InputImages[0], points=[[25, 12]], point_labels=[1, 0])",
            "PerceptionError: point_labels must have one entry (1 or 0) per point",
        ),
        (
            "tools.SAM3.propagate(InputImages[:2], text='red box', prompt_frame=20)",
            "PerceptionError: prompt_frame 20 is not among frame_indices [0, 10]",
        ),
        (
            "tools.SAM3.segment(InputImages[0], box=[30, 10, 20, 19])",
            "PerceptionError: box must be x0, y0, x1, y1 pixels with x1 > x0 and y1 > "
            "y0, got [30.0, 10.0, 20.0, 19.0]",
        ),
    ],
)
def test_malformed_segment_requests_are_refused_on_the_host(kernel, services, code, message):
    perception, _ = services
    before = list(perception.calls)
    result = kernel.run(code)
    assert result.status == "error" and result.error_kind == "perception", result.error
    assert message in result.error
    assert perception.calls == before  # checked before perception was asked


def test_vlm_proxy_records_queries(kernel, frames):
    result = kernel.run(
        "p = vlm.locate(InputImages[0], 'the red box')\n"
        "none = vlm.locate([InputImages[0]], 'a unicorn')\n"
        "text = vlm.ask(InputImages[:2], 'how bright?')\n"
        "print(none, text)"
    )
    assert result.status == "success", result.error
    mean = f"mean {frames[0].image.mean():.1f}"
    assert result.stdout == f"not visible {mean}\n"
    # the red box is the brightest thing; its first pixel is at x=20, y=10 of a 64 x 48 frame
    assert result.vlm_queries == [
        f"locate 'the red box' (1 image) -> [({20 / 63 * 1000:.1f}, {10 / 47 * 1000:.1f})]",
        "locate 'a unicorn' (1 image) -> not visible",
        f"ask 'how bright?' (2 images) -> '{mean}'",
    ]


def test_objects_and_distances_are_collected(kernel):
    result = kernel.run(
        "chair = tools.Geometry.box_from_points([[0, 0, 1], [1, 1, 2]], 'chair', "
        "world_frame='map')\n"
        "found = {'all': [chair]}\n"
        "gap = tools.Geometry.object_distance([[0, 0, 0]], [[3, 4, 0], [6, 8, 0]], 'p', 'q')"
    )
    assert [b.label for b in result.objects] == ["chair"]
    assert isinstance(result.objects[0], Box3D) and result.objects[0].world_frame == "map"
    np.testing.assert_allclose(result.objects[0].center, [0.5, 0.5, 1.5])
    np.testing.assert_allclose(result.objects[0].size, [1.0, 1.0, 1.0])
    assert isinstance(result.distances[0], ObjectDistance)
    assert (result.distances[0].closest, result.distances[0].centroid_distance) == (5.0, 7.5)


def test_missing_services_give_clear_errors(frames):
    with Kernel(frames) as k:
        rec = k.run("tools.Reconstruct(InputImages)")
        ask = k.run("vlm.ask(InputImages[0], 'hi')")
    assert rec.error_kind == "perception" and "without perception" in rec.error
    assert ask.error_kind == "vlm" and "without a VLM" in ask.error


def test_perception_failure_is_reported_as_perception(frames):
    with Kernel(frames, perception=FailingPerception()) as k:
        result = k.run("r = tools.Reconstruct(InputImages)")
        after = k.run("print('still alive')")
    assert result.error_kind == "perception"
    assert (
        result.error == "Error on line 1: r = tools.Reconstruct(InputImages)\n"
        "HostServiceError: RuntimeError: depth model crashed"
    )
    assert after.stdout == "still alive\n"


def test_feedback_format_exact():
    with Kernel(make_frames(2)) as k:
        ok = k.run(
            "d = tools.Geometry.distance([0, 0, 0], [3, 4, 0])\nprint('distance', d)\n"
            "show(InputImages[0])\nReturnAnswer(d)"
        )
        bad = k.run("print('before')\nzz = 1\nundefined_name")
    assert ok.feedback == (
        "[step 1] success\n"
        "output:\n"
        "distance 5.0\n"
        "variables:\n"
        "- d: 5.0\n"
        "images attached: 1 (249 left)\n"
        "tool calls: tools.Geometry.distance\n"
        "answer submitted: 5.0"
    )
    assert bad.feedback == (
        "[step 2] error (code)\n"
        "Error on line 3: undefined_name\n"
        "NameError: name 'undefined_name' is not defined\n"
        "output:\n"
        "before\n"
        "The cell's new and changed variables were rolled back."
    )


def test_long_output_is_cut_in_the_middle():
    with Kernel(make_frames(1), config=KernelConfig(max_output_chars=20)) as k:
        result = k.run("print('a' * 50 + 'b' * 50)")
    assert result.stdout == "aaaaaaaaaa\n... [81 characters cut] ...\nbbbbbbbbb\n"


def test_empty_cell_says_no_output(kernel):
    result = kernel.run("")
    assert result.status == "success" and result.feedback.endswith("] success\n(no output)")


def test_bad_inputs_are_refused_clearly(frames):
    duplicate = FrameSet(
        [Frame(np.zeros((4, 4, 3), np.uint8)), Frame(np.zeros((4, 4, 3), np.uint8))]
    )
    with pytest.raises(ValueError, match="repeated Frame.index"):
        Kernel(duplicate)
    with pytest.raises(TypeError, match="FrameSet"):
        Kernel([])
    with Kernel(frames) as k, pytest.raises(TypeError, match="code must be a str"):
        k.run(b"print(1)")


def test_metadata_carries_intrinsics(kernel):
    assert (
        kernel.run("print(Metadata.intrinsics.fx, Metadata.intrinsics.matrix()[0, 2])").stdout
        == "50.0 31.5\n"
    )


def test_agent_defined_classes_are_summarised_without_harming_the_worker(kernel):
    # Describing a class must not compile a signature (refused by the sandbox), and a value
    # that breaks while being described must not take the worker down with it.
    step = kernel.run(
        "class Marker:\n    pass\n\nclass Loud(list):\n    def __len__(self):\n"
        "        raise ValueError('no')\n\nloud = Loud()"
    )
    assert step.status == "success", step.error
    assert step.variables == {
        "Marker": "class Marker",
        "Loud": "class Loud",
        "loud": "Loud (not summarised: ValueError)",
    }
    after = kernel.run("print(type(loud) is Loud, Marker is not None)")
    assert after.status == "success" and after.stdout == "True True\n" and not after.restarted
