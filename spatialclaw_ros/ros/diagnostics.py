"""`/diagnostics` for the nodes (diagnostic_msgs/DiagnosticArray, as diagnostic_updater publishes
it): one DiagnosticStatus per camera, goal queue, model state and VLM endpoint, built from values
the node already keeps, so the 1 Hz timer callback only reads counters.

The VLM endpoint is probed on a thread of its own (an HTTP request may take seconds), and the
diagnostics report its last result.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from rclpy.qos import QoSProfile

DIAGNOSTICS_TOPIC = "/diagnostics"
DIAGNOSTICS_PERIOD_S = 1.0
OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR


def status(
    node: Node, part: str, level: bytes, message: str, **values: object
) -> DiagnosticStatus:
    """A DiagnosticStatus named '<node>: <part>' (diagnostic_aggregator groups by the prefix)."""
    return DiagnosticStatus(
        level=level,
        name=f"{node.get_name()}: {part}",
        message=message,
        hardware_id=node.get_fully_qualified_name(),
        values=[KeyValue(key=key, value=_text(value)) for key, value in values.items()],
    )


def _text(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


class RateMeter:
    """Messages per second between two readings of a running count."""

    def __init__(self) -> None:
        self._last: tuple[int, float] | None = None

    def rate(self, count: int) -> float:
        now = time.monotonic()
        last, self._last = self._last, (count, now)
        if last is None or now <= last[1]:
            return 0.0
        return (count - last[0]) / (now - last[1])


class DiagnosticsPublisher:
    """Publishes what `collect()` returns on /diagnostics every DIAGNOSTICS_PERIOD_S."""

    def __init__(self, node: Node, collect, period_s: float = DIAGNOSTICS_PERIOD_S):
        self._node = node
        self._collect = collect
        self._publisher = node.create_publisher(
            DiagnosticArray, DIAGNOSTICS_TOPIC, QoSProfile(depth=10)
        )
        self._timer = node.create_timer(period_s, self._publish)

    def _publish(self) -> None:
        array = DiagnosticArray(status=self._collect())
        array.header.stamp = self._node.get_clock().now().to_msg()
        self._publisher.publish(array)

    def destroy(self) -> None:
        self._node.destroy_timer(self._timer)
        self._node.destroy_publisher(self._publisher)


@dataclass(frozen=True)
class Reachability:
    checked: bool
    reachable: bool
    detail: str


class EndpointProbe:
    """Checks every `interval_s` whether the OpenAI-compatible endpoint that `base_url()` names
    answers HTTP (any status counts: the server is there; a refused or timed-out connection does
    not). `check_now()` probes on the caller's thread (lifecycle configure)."""

    def __init__(self, base_url, interval_s: float = 5.0, timeout_s: float = 2.0):
        self._base_url = base_url
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._last = Reachability(False, False, "not checked yet")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def last(self) -> Reachability:
        with self._lock:
            return self._last

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="vlm-endpoint-probe", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._timeout_s + 1)
            self._thread = None

    def check_now(self) -> Reachability:
        url = self._base_url().rstrip("/") + "/models"
        try:
            with urllib.request.urlopen(url, timeout=self._timeout_s) as response:
                found = Reachability(True, True, f"{url} answered HTTP {response.status}")
        except urllib.error.HTTPError as error:  # the server answered, if only to refuse
            found = Reachability(True, True, f"{url} answered HTTP {error.code}")
        except (OSError, ValueError) as error:
            found = Reachability(
                True, False, f"{url} unreachable: {getattr(error, 'reason', error)}"
            )
        with self._lock:
            self._last = found
        return found

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check_now()
            self._stop.wait(self._interval_s)
