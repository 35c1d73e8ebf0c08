"""The sandboxed, stateful kernel that runs the VLM's code: `Kernel(videos, ...).run(code)`."""

from spatialclaw_ros.kernel.containment import SandboxUnavailable
from spatialclaw_ros.kernel.host import Kernel
from spatialclaw_ros.kernel.process import KernelStartError
from spatialclaw_ros.kernel.types import KernelConfig, StepResult, VLMDispatch

__all__ = [
    "Kernel",
    "KernelConfig",
    "KernelStartError",
    "SandboxUnavailable",
    "StepResult",
    "VLMDispatch",
]
