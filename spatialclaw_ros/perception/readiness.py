"""Loading the perception models in the background, and saying whether they are loaded.

The service is alive (`/health`) as soon as it listens, and ready (`/ready`) once its models are
loaded. A failed load is kept with its cause and retried on a schedule that doubles up to a cap;
requests that arrive meanwhile are answered 503 with that cause at once: they never start a load.
"""

from __future__ import annotations

import gc
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from spatialclaw_ros.perception.types import Perception

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    ready: bool
    state: str  # "loading" | "ready" | "failed"
    reason: str  # empty when ready
    attempts: int
    retry_in_s: float | None  # seconds until the next attempt after a failure


class ModelLoader:
    """Runs `load` on a background thread until it succeeds, with exponential backoff between
    failures (first_backoff_s, doubling, at most max_backoff_s)."""

    def __init__(
        self, load: Callable[[], None], first_backoff_s: float = 2.0, max_backoff_s: float = 300.0
    ):
        self._load = load
        self._first_backoff_s = first_backoff_s
        self._max_backoff_s = max_backoff_s
        self._lock = threading.Lock()
        self._state, self._reason, self._attempts = "loading", "the models are loading", 0
        self._retry_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="perception-model-loader", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def status(self) -> Readiness:
        with self._lock:
            retry_in = (
                None if self._retry_at is None else max(0.0, self._retry_at - time.monotonic())
            )
            return Readiness(
                self._state == "ready", self._state, self._reason, self._attempts, retry_in
            )

    def _run(self) -> None:
        backoff = self._first_backoff_s
        while not self._stop.is_set():
            with self._lock:
                self._attempts += 1
                attempt = self._attempts
            try:
                self._load()
            except Exception as error:  # noqa: BLE001 - reported, never raised into the service
                wait = backoff
                backoff = min(backoff * 2, self._max_backoff_s)
                with self._lock:
                    self._state = "failed"
                    self._reason = (
                        f"model load failed (attempt {attempt}, next in {wait:g} s): {error}"
                    )
                    self._retry_at = time.monotonic() + wait
                log.error("perception: %s", self._reason)
                self._stop.wait(wait)
                continue
            # the loaded models live as long as the process: keep them out of full collections
            gc.freeze()
            with self._lock:
                self._state, self._reason, self._retry_at = "ready", "", None
            log.info("perception: models loaded (attempt %d)", attempt)
            return


def load_models(perception: Perception) -> None:
    """Load the weights the configured backends need; a no-op for backends without weights
    (sensor depth, label images) and for a client of another service."""
    from spatialclaw_ros.perception.local import LocalPerception

    if not isinstance(perception, LocalPerception):
        return
    # A backend class can only be in use when its module was imported: look there, so that the
    # weightless backends never import torch here.
    da3 = sys.modules.get("spatialclaw_ros.perception.da3")
    fused = sys.modules.get("spatialclaw_ros.perception.fused")
    sam3 = sys.modules.get("spatialclaw_ros.perception.sam3")
    reconstructor = perception.reconstructor
    if fused is not None and isinstance(reconstructor, fused.FusedReconstructor):
        reconstructor = reconstructor.depth_model
    if da3 is not None and isinstance(reconstructor, da3.DA3Reconstructor):
        reconstructor.network  # noqa: B018 - the property loads the weights once
    if sam3 is not None and isinstance(perception.segmenter, sam3.Sam3Segmenter):
        # The image model proves the checkpoint loads; the tracker and video roles load on first
        # use.
        perception.segmenter.load("image")
