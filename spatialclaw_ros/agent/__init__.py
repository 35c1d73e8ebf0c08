"""The agent: turns a question and frames into an answer by writing cells into the kernel.

Names are resolved lazily so that light users (the scripted VLM in tests and benches of other
areas) do not pull in LangGraph, the kernel and the perception stack.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Agent": "spatialclaw_ros.agent.agent",
    "AgentConfig": "spatialclaw_ros.agent.config",
    "VLMConfig": "spatialclaw_ros.agent.config",
    "Question": "spatialclaw_ros.agent.types",
    "Episode": "spatialclaw_ros.agent.types",
    "EpisodeError": "spatialclaw_ros.agent.types",
    "ProgressEvent": "spatialclaw_ros.agent.types",
    "StepRecord": "spatialclaw_ros.agent.types",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
