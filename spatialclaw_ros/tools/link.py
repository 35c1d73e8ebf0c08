"""How tools reach the services that live on the host (perception, the VLM).

Inside the kernel's worker process the link is a channel to the host process; the tools
only see this small interface, so they stay free of any transport.
"""

from __future__ import annotations

from typing import Any, Protocol


class HostLink(Protocol):
    def call(self, op: str, **payload: Any) -> Any:
        """Ask the host to run `op` and return its reply; raises HostServiceError on failure."""
        ...


class HostServiceError(RuntimeError):
    """A host-side service (perception or the VLM) failed or is not configured."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "perception" | "vlm"
