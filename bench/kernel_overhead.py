"""Per-step overhead of the sandboxed kernel, next to a Jupyter kernel round trip measured in
the same run.

Prints medians for: getting a kernel cold (a contained worker started for it) and warm (from
the pool of pre-started workers); a trivial cell in our kernel; the same in a Jupyter
(ipykernel) kernel driven by jupyter_client; a cell that moves a 32-frame 518x518 depth stack
(plus its confidence) from the host through tools.Reconstruct; the depth stack alone over the
channel, through shared memory and copied through the socket; and a cell that prints 100,000
lines next to the same loop without printing (the worker keeps only the head and tail).
Targets: a warm kernel under 50 ms; trivial step within 2x of Jupyter; the depth stack under
10 ms; the whole Reconstruct cell under 40 ms.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time

import numpy as np

from spatialclaw_ros.frames import Frame, FrameSet
from spatialclaw_ros.kernel import Kernel, KernelConfig
from spatialclaw_ros.kernel.pool import POOL
from spatialclaw_ros.kernel.wire import HOST_TO_WORKER, Channel
from spatialclaw_ros.kernel.wire_types import WIRE_TYPES
from spatialclaw_ros.perception.types import Reconstruction

FLOOD_LINES = 100_000


class PrecomputedPerception:
    """Hands out one fixed reconstruction, so the figure is the kernel's transport alone."""

    def __init__(self, frames: int, size: int) -> None:
        depth = np.random.default_rng(0).random((frames, size, size), dtype=np.float32) * 5
        self.reconstruction = Reconstruction(
            depth=depth,
            confidence=np.ones_like(depth),
            intrinsics=np.tile(np.eye(3), (frames, 1, 1)),
            extrinsics=np.tile(np.eye(4), (frames, 1, 1)),
            is_metric=True,
            frame_indices=list(range(frames)),
            backend="bench",
        )

    def reconstruct(self, frames, frame_indices=None):
        return self.reconstruction

    def segment(self, frames, request):
        raise NotImplementedError


def timed(fn, repeats: int, pause_s: float = 0.0) -> float:
    """Median time of `fn`; `pause_s` between runs (not timed) lets background preparation
    (shared-memory files) catch up, as it does between the calls of a real episode."""
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
        time.sleep(pause_s)
    return statistics.median(samples)


def jupyter_round_trip(repeats: int) -> float:
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    try:
        client.execute_interactive("x = 1", timeout=30)  # warm up
        return timed(lambda: client.execute_interactive("x = 1", timeout=30), repeats)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeats", type=int, default=30, help="runs per figure (median reported)"
    )
    parser.add_argument("--frames", type=int, default=32, help="frames in the depth stack")
    parser.add_argument("--size", type=int, default=518, help="depth map side, pixels")
    args = parser.parse_args()

    perception = PrecomputedPerception(args.frames, args.size)
    videos = FrameSet(
        [
            Frame(np.zeros((args.size, args.size, 3), np.uint8), index=i, timestamp=i / 10)
            for i in range(args.frames)
        ]
    )
    print(f"starting kernels ({args.repeats} repeats each) ...", flush=True)
    cold_samples, warm_samples = [], []
    for i in range(max(3, args.repeats // 6)):
        # a memory limit no other kernel uses: no pre-started worker fits, one is started for it
        start = time.perf_counter()
        with Kernel(videos, config=KernelConfig(memory_limit_mb=4000 + i, warm_workers=0)):
            cold_samples.append(time.perf_counter() - start)
        # asks the pool to keep workers for the default configuration
        with Kernel(videos) as filler:
            spec = filler.worker.spec
        deadline = time.monotonic() + 30
        while POOL.warm(spec) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        start = time.perf_counter()
        with Kernel(videos):
            warm_samples.append(time.perf_counter() - start)
    cold, warm = statistics.median(cold_samples), statistics.median(warm_samples)
    with Kernel(videos, perception=perception) as kernel:
        kernel.run("x = 1")
        trivial = timed(lambda: kernel.run("x = 1"), args.repeats)
        kernel.run("r = tools.Reconstruct(InputImages)")
        reconstruct = timed(
            lambda: kernel.run("r = tools.Reconstruct(InputImages)"),
            max(5, args.repeats // 3),
            pause_s=0.3,
        )
        quiet = timed(
            lambda: kernel.run(f"for i in range({FLOOD_LINES}):\n    str(i)"),
            max(3, args.repeats // 10),
        )
        flood = timed(
            lambda: kernel.run(f"for i in range({FLOOD_LINES}):\n    print(i)"),
            max(3, args.repeats // 10),
        )
    jupyter = jupyter_round_trip(args.repeats)

    def channel_time(shared: bool) -> float:
        a, b = socket.socketpair()
        sender = Channel(a, WIRE_TYPES, WIRE_TYPES, share_memory=shared)
        receiver = Channel(b, WIRE_TYPES, WIRE_TYPES, limits=HOST_TO_WORKER)

        def move_depth() -> None:
            thread = threading.Thread(target=sender.send, args=(perception.reconstruction.depth,))
            thread.start()
            receiver.receive()
            thread.join()

        try:
            return timed(move_depth, args.repeats, pause_s=0.3)
        finally:
            a.close()
            b.close()

    channel_shared, channel_copied = channel_time(True), channel_time(False)
    mb = perception.reconstruction.depth.nbytes / 2**20

    print(
        f"kernel, cold (contained worker started, {args.frames} frames):   {cold * 1000:8.1f} ms"
    )
    print(
        f"kernel, warm (pre-started worker from the pool):   {warm * 1000:8.1f} ms   "
        f"({cold / warm:.0f}x faster; target < 50)"
    )
    print(f"trivial cell, our kernel:                          {trivial * 1000:8.2f} ms")
    print(f"trivial cell, Jupyter kernel (jupyter_client):     {jupyter * 1000:8.2f} ms")
    print(
        f"  ratio ours / Jupyter:                            {trivial / jupyter:8.2f} x "
        "  (target <= 2)"
    )
    print(
        f"Reconstruct cell, depth + confidence {2 * mb:.0f} MiB:        "
        f"{reconstruct * 1000:8.1f} ms   (target < 40)"
    )
    print(
        "  of which beyond a trivial cell:                  "
        f"{(reconstruct - trivial) * 1000:8.1f} ms"
    )
    print(
        f"depth stack alone, shared memory ({mb:.0f} MiB):          "
        f"{channel_shared * 1000:8.1f} ms   (target < 10)"
    )
    print(
        "depth stack alone, copied through the socket:      "
        f"{channel_copied * 1000:8.1f} ms   ({channel_copied / channel_shared:.1f}x the "
        "shared-memory time)"
    )
    print(f"cell printing {FLOOD_LINES:,} lines (output capped):       {flood * 1000:8.1f} ms")
    print(
        f"  same loop without printing:                      {quiet * 1000:8.1f} ms   "
        f"({flood / quiet:.1f} x)"
    )


if __name__ == "__main__":
    main()
