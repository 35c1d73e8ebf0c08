"""The kernel's public types: its configuration, what a step returns, and the VLM service."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from spatialclaw_ros.perception.types import Box3D, ObjectDistance

ErrorKind = Literal["code", "sandbox", "timeout", "memory", "perception", "vlm"]


@dataclass(frozen=True)
class KernelConfig:
    cell_timeout_s: float = 600.0  # wall clock per cell, host calls included
    memory_limit_mb: int = 4096  # address space of the worker process
    cpu_limit_s: int = 3600  # CPU seconds over the worker's life (a backstop; restarts reset it)
    max_images: int = 250  # show() budget per episode
    max_image_edge: int = 768  # longer side of attached images, pixels
    max_output_chars: int = 4000  # stdout in the feedback (the middle is cut)
    startup_timeout_s: float = 120.0
    restore_on_restart: bool = True  # re-run earlier successful cells after a restart
    max_message_mb: int = 512  # largest message accepted from the worker
    max_step_mb: int = 1024  # everything accepted from the worker during one step
    max_cell_chars: int = 100_000  # longer cells are refused before they are parsed
    max_images_per_step: int = 32  # show() images attached by one cell
    warm_workers: int = 2  # pre-started workers kept ready for the next episode
    # Operating-system containment (kernel/containment.py): the worker's uid/gid when the host
    # runs as root, the largest file it may write in its scratch directory, and whether it may
    # start when a layer (identity, network, filesystem, seccomp) cannot be had here.
    sandbox_uid: int = 65534
    sandbox_gid: int = 65534
    scratch_file_mb: int = 64
    allow_weaker_sandbox: bool = False


@dataclass
class StepResult:
    """What one `Kernel.run` produced. `feedback` is the text the VLM reads."""

    step: int
    status: Literal["success", "error"]
    stdout: str = ""
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    error_kind: ErrorKind | None = None
    answer: str | int | float | None = None
    images: list[np.ndarray] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    tool_calls: list[str] = field(default_factory=list)
    vlm_queries: list[str] = field(default_factory=list)
    objects: list[Box3D] = field(default_factory=list)
    distances: list[ObjectDistance] = field(default_factory=list)
    feedback: str = ""
    elapsed: float = 0.0
    restarted: bool = False
    note: str = ""  # what happened to the kernel itself (restart, restored state)


class VLMDispatch(Protocol):
    """Host-side VLM access for `vlm.locate` / `vlm.ask` (each call a fresh session)."""

    def locate(self, images: list[np.ndarray], query: str) -> list[tuple[float, float]] | str: ...

    def ask(self, images: list[np.ndarray], query: str) -> str: ...
