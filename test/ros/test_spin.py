"""Spinner: the background executor the demo, online replay and the tests spin nodes on."""

import pytest

from spatialclaw_ros.ros.spin import Spinner

pytestmark = pytest.mark.ros


class ShutDownUnderItsSpin:
    """What rclpy 9.1.2's executor does when shut down while it spins on another thread: it
    destroys the guard condition under the spin."""

    def spin(self):
        raise RuntimeError("failed to wait on wait set: wait set is empty")


def test_an_executor_error_is_raised_only_while_the_spinner_runs():
    with Spinner(threads=2) as spinner:
        spinner.node("spun")
    spinner.executor = ShutDownUnderItsSpin()
    spinner._spin()  # closing: rclpy's shutdown race, not news
    spinner._closing.clear()
    with pytest.raises(RuntimeError, match="wait set is empty"):
        spinner._spin()
