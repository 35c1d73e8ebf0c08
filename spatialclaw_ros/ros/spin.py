"""Spinning nodes: as a process (init, spin until Ctrl-C, clean up), or on a background thread in a
private context (the demo, online replay, the tests), plus polling for what the spinning fills
in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import rclpy
from rclpy.executors import (
    ExternalShutdownException,
    MultiThreadedExecutor,
    SingleThreadedExecutor,
)
from rclpy.node import Node

NodeT = TypeVar("NodeT", bound=Node)


def spin_node(
    make_node: Callable[[], Node], args: list[str] | None = None, threads: int = 4
) -> int:
    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        executor = MultiThreadedExecutor(num_threads=threads)
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


class Spinner:
    """A private rclpy context (independent of any other rclpy.init in the process) and an executor
    of `threads` threads spinning it on a background thread. As a context manager it closes on
    exit: the executor stops, the nodes still added are destroyed, the context shuts down."""

    def __init__(self, threads: int = 4):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.executor: SingleThreadedExecutor | MultiThreadedExecutor
        if threads == 1:
            self.executor = SingleThreadedExecutor(context=self.context)
        else:
            self.executor = MultiThreadedExecutor(num_threads=threads, context=self.context)
        self._nodes: list[Node] = []
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:
            # rclpy 9.1.2's Executor.shutdown does not wait for a spin in progress: it destroys
            # the guard condition under it ("wait set is empty"). Only an error while running is
            # news.
            if not self._closing.is_set():
                raise

    def __enter__(self) -> Spinner:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def node(self, name: str) -> Node:
        """A new plain node in this context, spinning."""
        return self.add(rclpy.create_node(name, context=self.context))

    def add(self, node: NodeT) -> NodeT:
        """Spin `node` (made with `context=spinner.context`); it is destroyed on close."""
        self.executor.add_node(node)
        self._nodes.append(node)
        return node

    def remove(self, node: Node) -> None:
        self.executor.remove_node(node)
        self._nodes.remove(node)
        node.destroy_node()

    def close(self) -> None:
        self._closing.set()
        self.executor.shutdown()
        self._thread.join(timeout=5)
        while self._nodes:
            self._nodes.pop().destroy_node()
        self.context.try_shutdown()


def wait_until(condition: Callable[[], object], timeout_s: float, poll_s: float = 0.01) -> bool:
    """Poll `condition` until it holds (True) or `timeout_s` seconds pass (False)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll_s)
    return True
