"""Spinner: the background executor the demo, online replay and the tests spin nodes on."""

import pytest

from spatialclaw_ros.ros.spin import Spinner

pytestmark = pytest.mark.ros


def test_a_spinner_shuts_its_executor_down_only_once_nothing_spins_it():
    # rclpy 9.1.2's Executor.shutdown does not wait for a spin in progress: it destroys the guard
    # condition under it, and that spinner thread dies on "wait set is empty".
    spinner = Spinner(threads=4)
    spinner.node("spun")
    spinning_at_shutdown = []
    shutdown = spinner.executor.shutdown

    def recording_shutdown(*args, **kwargs):
        spinning_at_shutdown.append(spinner._thread.is_alive())
        return shutdown(*args, **kwargs)

    spinner.executor.shutdown = recording_shutdown
    spinner.close()
    assert spinning_at_shutdown == [False]
