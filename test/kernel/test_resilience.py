"""Cells that run away: timeouts, memory, a dead worker. The episode goes on."""

from __future__ import annotations

import os
import signal

from spatialclaw_ros.kernel import Kernel, KernelConfig

from .conftest import SensorPerception, make_frames


def test_infinite_loop_is_stopped_and_state_is_restored():
    perception = SensorPerception()
    with Kernel(make_frames(2), perception=perception, config=KernelConfig(cell_timeout_s=2)) as k:
        k.run("keep = 7\nr = tools.Reconstruct(InputImages)")
        looping = k.run("while True: pass")
        after = k.run("print(keep, float(r.depth[10, 0, 0]))")
    assert looping.status == "error" and looping.error_kind == "timeout" and looping.restarted
    assert looping.error == "TimeoutError: the cell ran longer than 2 s and was stopped"
    assert (
        looping.note
        == "the kernel was restarted and steps [1] were re-run: earlier variables are restored"
    )
    assert after.stdout == "7 2.5\n"
    assert perception.calls == ["reconstruct"]  # the re-run used the recorded reply


def test_allocation_beyond_the_limit_fails_clearly_and_the_kernel_goes_on():
    with Kernel(make_frames(1), config=KernelConfig(memory_limit_mb=1024)) as k:
        k.run("small = np.arange(3)")
        big = k.run("huge = np.ones((1000, 1000, 1000))")
        grow = k.run("chunks = [bytearray(10**7) for _ in range(1000)]")
        after = k.run("print(small.sum(), 'huge' in dir(), 'chunks' in dir())")
    for result in (big, grow):
        assert result.status == "error" and result.error_kind == "memory" and not result.restarted
        assert result.error.endswith(
            "MemoryError: the cell ran out of memory (the kernel is limited to 1024 MiB)"
        )
    assert after.stdout == "3 False False\n"


def test_a_killed_worker_is_replaced_before_the_next_cell():
    with Kernel(make_frames(1)) as k:
        k.run("x = 5")
        os.kill(k._worker.process.pid, signal.SIGKILL)
        k._worker.process.wait()
        result = k.run("print(x * 2)")
    assert result.restarted and result.stdout == "10\n"
    assert (
        result.note
        == "the kernel was restarted and steps [1] were re-run: earlier variables are restored"
    )


def test_without_restore_the_note_says_state_is_gone():
    with Kernel(
        make_frames(1), config=KernelConfig(cell_timeout_s=1, restore_on_restart=False)
    ) as k:
        k.run("x = 5")
        looping = k.run("while True: pass")
        after = k.run("x")
    assert (
        looping.note
        == "the kernel was restarted; variables from earlier steps are gone, re-create "
        "what you need"
    )
    assert after.error_kind == "code" and "NameError" in after.error


def test_concurrent_kernels_can_check_cells_at_the_same_time():
    # Kernels of concurrent episodes check their cells in host threads. On CPython 3.11 two
    # parses at once could fail with "AST constructor recursion depth mismatch" whenever garbage
    # collection ran Python code mid-parse (python/cpython#106905); this provokes exactly that.
    import gc
    import sys
    import threading

    from spatialclaw_ros.kernel import policy

    class Finalised:
        def __del__(self) -> None:
            sum(range(50))

    cell = "\n".join(f"x{i} = [a + b for a, b in zip(p, q) if a]" for i in range(30))
    errors: list[str] = []

    def check_many() -> None:
        for _ in range(150):
            junk = [Finalised() for _ in range(5)]
            for item in junk:
                item.cycle = item  # collected by the cycle collector, which runs finalisers
            del junk
            try:
                assert policy.check(cell) == []
            except SystemError as error:
                errors.append(str(error))
                return

    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()
    sys.setswitchinterval(1e-6)
    gc.set_threshold(50, 5, 5)
    try:
        threads = [threading.Thread(target=check_many) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
        gc.set_threshold(*thresholds)
    assert errors == []
