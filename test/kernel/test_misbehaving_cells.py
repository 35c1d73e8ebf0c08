"""Cells that misbehave without meaning harm: deep recursion, floods of output, values that
break when printed, exceptions that break when described, exits, threads, clobbered entry
points, odd text and odd images. Each has an exact outcome, and the kernel goes on."""

from __future__ import annotations

import numpy as np
import pytest

from spatialclaw_ros.kernel import Kernel, KernelConfig

from .conftest import make_frames

LONG_LINE = "z = [" + "1, " * 30000 + "undefined_name]"


@pytest.fixture(scope="module")
def kernel():
    with Kernel(make_frames(2)) as k:
        yield k


def alive(kernel) -> bool:
    result = kernel.run("print('alive')")
    return result.stdout == "alive\n" and not result.restarted


@pytest.mark.parametrize(
    ("code", "error"),
    [
        pytest.param(
            "def down(n):\n    return down(n + 1)\ndown(0)",
            "Error on line 2: return down(n + 1)\n"
            "RecursionError: maximum recursion depth exceeded",
            id="deep-recursion",
        ),
        pytest.param(
            "nest = []\nfor _ in range(100000):\n    nest = [nest]\nprint(nest)",
            "Error on line 4: print(nest)\n"
            "RecursionError: maximum recursion depth exceeded while getting the repr of "
            "an object",
            id="deeply-nested-print",
        ),
        pytest.param(
            "class E(Exception):\n    pass\nraise E(1, 2, {'x': [3]})",
            "Error on line 3: raise E(1, 2, {'x': [3]})\nE: (1, 2, {'x': [3]})",
            id="exception-with-odd-args",
        ),
        pytest.param(
            "raise Exception()",
            "Error on line 1: raise Exception()\nException",
            id="exception-without-message",
        ),
        pytest.param(
            "raise ValueError('ab' * 5000)",
            "Error on line 1: raise ValueError('ab' * 5000)\nValueError: "
            + "ab" * 150
            + " ... "
            + "ab" * 150,
            id="exception-with-huge-message",
        ),
        pytest.param(
            "class Mute(Exception):\n    def __str__(self):\n"
            "        raise ValueError('no text')\nraise Mute('x')",
            "Error on line 4: raise Mute('x')\n"
            "Mute: <the exception's message could not be shown: ValueError>",
            id="exception-whose-str-fails",
        ),
        pytest.param(
            "class Meta(type):\n    @property\n    def __name__(cls):\n"
            "        raise ValueError('nameless')\n"
            "class Odd(Exception, metaclass=Meta):\n    pass\nraise Odd()",
            "KernelError: the kernel could not report this cell (ValueError: nameless)",
            id="exception-whose-name-fails",
        ),
        pytest.param(
            "class Loud:\n    def __str__(self):\n"
            "        raise RuntimeError('str boom')\nprint(Loud())",
            "Error on line 3: raise RuntimeError('str boom')\nRuntimeError: str boom",
            id="print-of-broken-str",
        ),
        pytest.param(
            "raise SystemExit(3)",
            "Error on line 1: raise SystemExit(3)\nSystemExit: 3",
            id="system-exit",
        ),
        pytest.param(
            "raise KeyboardInterrupt",
            "Error on line 1: raise KeyboardInterrupt\nKeyboardInterrupt",
            id="keyboard-interrupt",
        ),
        pytest.param(
            "exit()",
            "Error on line 1: exit()\nNameError: name 'exit' is not defined",
            id="exit-builtin",
        ),
        pytest.param(
            LONG_LINE,
            f"Error on line 1: {LONG_LINE[:150]}\n"
            f"... [{len(LONG_LINE) - 300} characters cut] ...\n{LONG_LINE[-150:]}\n"
            "NameError: name 'undefined_name' is not defined",
            id="extremely-long-line",
        ),
        pytest.param(
            "z = " + "1 + " * 20000 + "1",
            "RecursionError: maximum recursion depth exceeded during ast construction",
            id="nested-too-deep-to-parse",
        ),
        pytest.param(
            "ReturnAnswer(float('inf'))",
            "Error on line 1: ReturnAnswer(float('inf'))\n"
            "ValueError: ReturnAnswer got inf; give a finite number",
            id="answer-inf",
        ),
        pytest.param(
            "ReturnAnswer(np.float32('nan'))",
            "Error on line 1: ReturnAnswer(np.float32('nan'))\n"
            "ValueError: ReturnAnswer got nan; give a finite number",
            id="answer-nan",
        ),
    ],
)
def test_a_failing_cell_reports_exactly_and_the_kernel_lives_on(kernel, code, error):
    result = kernel.run(code)
    assert (result.status, result.error_kind, result.error) == ("error", "code", error)
    assert not result.restarted
    assert alive(kernel)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (
            "import sys\nsys.exit(1)",
            "Error on line 1: import sys\n"
            "SandboxViolation: blocked by the sandbox: import of 'sys' is not allowed",
        ),
        (
            "import threading\nthreading.Thread(target=print).start()",
            "Error on line 1: import threading\n"
            "SandboxViolation: blocked by the sandbox: import of 'threading' is not "
            "allowed",
        ),
        (
            "from concurrent.futures import ThreadPoolExecutor",
            "Error on line 1: from concurrent.futures import ThreadPoolExecutor\n"
            "SandboxViolation: blocked by the sandbox: import of 'concurrent.futures' "
            "is not allowed",
        ),
        (
            "import signal\nsignal.signal(signal.SIGINT, print)",
            "Error on line 1: import signal\n"
            "SandboxViolation: blocked by the sandbox: import of 'signal' is not allowed",
        ),
        (
            "import time\ntime.clock_settime(0, 0.0)",
            "Error on line 2: time.clock_settime(0, 0.0)\n"
            "AttributeError: module 'time' has no attribute 'clock_settime'",
        ),
        (
            "from cv2 import imwrite",
            "Error on line 1: from cv2 import imwrite\n"
            "ImportError: cannot import name 'imwrite' from 'cv2' (unknown location)",
        ),
        (
            "import string",
            "Error on line 1: import string\n"
            "SandboxViolation: blocked by the sandbox: import of 'string' is not allowed",
        ),
    ],
    ids=[
        "sys-exit",
        "threads",
        "thread-pool",
        "signal-handler",
        "clock-setting",
        "cv2-file-function",
        "string-formatter",
    ],
)
def test_refused_cells_say_why(kernel, code, error):
    result = kernel.run(code)
    assert result.error == error
    assert result.error_kind == (
        "code"
        if error.startswith(("Error on line 2: time", "Error on line 1: from cv2"))
        else "sandbox"
    )
    assert alive(kernel)


def test_huge_output_is_cut_in_the_worker(kernel):
    result = kernel.run("print('x' * 10**7)")
    assert (
        result.stdout
        == "x" * 2000 + f"\n... [{10**7 + 1 - 4000} characters cut] ...\n" + "x" * 1999 + "\n"
    )


def test_text_that_utf8_cannot_carry_is_escaped(kernel):
    result = kernel.run("bad = '\\udcff'\nprint(bad, b'\\xff\\xfe', '\\x00')\nReturnAnswer(bad)")
    assert result.status == "success", result.feedback
    assert result.stdout == "\\udcff b'\\xff\\xfe' \x00\n"
    assert result.answer == "\\udcff" and result.variables == {"bad": "'\\udcff'"}


def test_values_that_break_when_described(kernel):
    result = kernel.run(
        "class BadRepr:\n    def __repr__(self):\n        raise ValueError('repr boom')\n"
        "class Exits:\n    def __repr__(self):\n        raise SystemExit('no')\n"
        "b, e = BadRepr(), Exits()"
    )
    assert result.status == "success", result.feedback
    assert result.variables["b"].startswith("BadRepr: <BadRepr instance at 0x")
    assert result.variables["e"] == "Exits (not summarised: SystemExit)"
    shown = kernel.run("b")
    assert (shown.error_kind, shown.error) == ("code", "ValueError: repr boom")
    assert alive(kernel)


def test_an_open_generator_closes_when_deleted(kernel):
    opened = kernel.run(
        "closings = []\ndef walk():\n    try:\n        yield 1\n        yield 2\n"
        "    finally:\n        closings.append('closed')\n"
        "walker = walk()\nnext(walker)"
    )
    assert opened.stdout == "1\n"
    kernel.run("del walker")
    assert kernel.run("print(closings)").stdout == "['closed']\n"


def test_clobbered_entry_points_come_back_in_the_next_cell(kernel):
    clobber = kernel.run("del tools\nReturnAnswer = 1\nshow = None")
    assert clobber.status == "success"
    assert clobber.warnings == [
        "tools, show, ReturnAnswer: part of the kernel, back to the original in the next cell"
    ]
    after = kernel.run(
        "print(tools.Geometry.distance([0, 0], [3, 4]))\nshow(InputImages[0])\nReturnAnswer('A')"
    )
    assert (after.status, after.stdout, len(after.images), after.answer) == (
        "success",
        "5.0\n",
        1,
        "A",
    )


def test_answer_given_twice_keeps_the_last_and_says_so(kernel):
    result = kernel.run("ReturnAnswer('A')\nReturnAnswer('B')")
    assert result.answer == "B"
    assert result.warnings == [
        "ReturnAnswer was called again in this cell: the last answer ('B') counts"
    ]


def test_shared_modules_patched_by_a_cell_do_not_break_reporting(kernel):
    kernel.run("plt.close = None\nplt.figure(figsize=(1, 1), dpi=20)")
    result = kernel.run("plt.figure(figsize=(2, 1), dpi=20)\n_ = plt.plot([1, 2])")
    assert result.status == "success" and [i.shape for i in result.images] == [(20, 40, 3)]


def test_nan_and_inf_flow_through(kernel):
    result = kernel.run(
        "v = np.full(20, np.nan)\nw = np.array([np.inf, -np.inf, np.nan])\n"
        "print(np.nansum(v), w.max())\nshow(v.reshape(4, 5), w.reshape(1, 3))"
    )
    assert result.stdout == "0.0 nan\n"
    assert result.variables == {
        "v": "ndarray float64 (20,)",
        "w": "ndarray float64 (3,) [ inf, -inf, nan]",
    }
    assert [i.max() for i in result.images] == [0, 0]  # nothing finite: black


@pytest.mark.parametrize(
    ("code", "pixels"),
    [
        # a depth map: stretched, NaN black
        ("np.array([[1.0, 2.0], [3.0, np.nan]])", [[0, 128], [255, 0]]),
        ("np.array([[0.0, 0.5], [1.0, 0.25]])", [[0, 128], [255, 64]]),  # 0-1 floats
        ("np.array([[0, 4], [2, 4]], np.int32)", [[0, 255], [128, 255]]),  # labels
        ("np.array([[True, False]])", [[255, 0]]),
        ("np.full((1, 2), -5.0)", [[0, 0]]),
        (
            "np.dstack([np.full((1, 2), 300.0), np.full((1, 2), 7.0), np.full((1, 2), "
            "-1.0)])[..., 0]",
            [[0, 0]],
        ),
    ],
    ids=["float-depth", "unit-float", "int-labels", "bool", "constant", "constant-slice"],
)
def test_show_of_single_channel_arrays(kernel, code, pixels):
    result = kernel.run(f"show({code})")
    assert result.status == "success", result.feedback
    image = result.images[0]
    assert image.dtype == np.uint8 and image.shape == (*np.shape(pixels), 3)
    assert image[..., 0].tolist() == pixels and (image[..., 0] == image[..., 2]).all()


def test_show_of_colour_arrays(kernel):
    result = kernel.run(
        "show(np.array([[[300.0, -2.0, 7.6]]]), np.array([[[1.0, 0.5, 0.0]]]), "
        "np.full((2, 2, 4), 9, np.uint8))"
    )
    assert [i.tolist() for i in result.images] == [
        [[[255, 0, 8]]],
        [[[255, 128, 0]]],
        [[[9, 9, 9]] * 2] * 2,
    ]


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (
            "show(np.zeros((0, 5, 3)))",
            "ValueError: an image must be H x W, H x W x 3 or H x W x 4 and not empty, "
            "got shape (0, 5, 3)",
        ),
        (
            "show(np.zeros((4, 4, 2)))",
            "ValueError: an image must be H x W, H x W x 3 or H x W x 4 and not empty, "
            "got shape (4, 4, 2)",
        ),
        (
            "show(np.zeros((2, 3, 4, 3)))",
            "ValueError: an image must be H x W, H x W x 3 or H x W x 4 and not empty, "
            "got shape (2, 3, 4, 3)",
        ),
        (
            "show('a picture')",
            "TypeError: an image must be an array, a frame or a matplotlib figure, not str",
        ),
        (
            "show(np.zeros((2, 2), complex))",
            "TypeError: an image needs a numeric dtype, got complex128",
        ),
    ],
    ids=["empty", "two-channel", "four-d", "string", "complex"],
)
def test_show_refuses_what_is_not_an_image(kernel, code, error):
    result = kernel.run(code)
    assert result.error == f"Error on line 1: {code}\n{error}"


def test_a_value_whose_repr_never_returns_costs_one_step_only():
    with Kernel(make_frames(1), config=KernelConfig(cell_timeout_s=2)) as k:
        k.run("kept = 11")
        stuck = k.run(
            "class Stuck:\n    def __repr__(self):\n        while True:\n"
            "            pass\nstuck = Stuck()"
        )
        after = k.run("print(kept, 'stuck' in dir())")
    assert (stuck.error_kind, stuck.restarted) == ("timeout", True)
    assert (
        stuck.note
        == "the kernel was restarted and steps [1] were re-run: earlier variables are restored"
    )
    assert after.stdout == "11 False\n" and not after.restarted
