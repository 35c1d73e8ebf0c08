"""Shared pieces for the agent's tests: a synthetic scene with exact geometry, the ground-truth
perception backends (sensor depth + label masks), and a scripted VLM that answers by role."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

from spatialclaw_ros.agent import AgentConfig, prompts
from spatialclaw_ros.eval.synthetic import Scene, SceneObject, default_intrinsics, look_at, render

EYE = np.array([0.0, 0.0, 1.4])


def make_scene() -> Scene:
    return Scene(
        (
            SceneObject("red_box", "box", (205, 40, 40), (2.5, -0.8, 0.3), (0.6, 0.6, 0.6)),
            SceneObject("blue_sphere", "sphere", (45, 75, 210), (3.0, 0.9, 0.25), (0.5, 0.5, 0.5)),
            SceneObject(
                "green_cylinder", "cylinder", (40, 165, 65), (4.0, 0.0, 0.5), (0.4, 0.4, 1.0)
            ),
            SceneObject("yellow_box", "box", (235, 205, 40), (3.5, -1.8, 0.2), (0.4, 0.4, 0.4)),
        ),
        name="test_room",
    )


@pytest.fixture(scope="session")
def scene() -> Scene:
    return make_scene()


@pytest.fixture(scope="session")
def view(scene):
    """One 320x240 view of the scene from the doorway."""
    return render(scene, [look_at(EYE, (3.0, -0.3, 0.4))], default_intrinsics(320, 240))


@pytest.fixture(scope="session")
def clip(scene):
    """Four small frames of the camera panning left to right."""
    poses = [look_at(EYE, (3.0, y, 0.4)) for y in (1.2, 0.4, -0.4, -1.2)]
    return render(scene, poses, default_intrinsics(160, 120), timestamps=[0.0, 0.5, 1.0, 1.5])


@pytest.fixture(scope="session")
def perception():
    """Exact perception: the renderer's depth and poses, and its instance labels as masks."""
    from spatialclaw_ros.perception import PerceptionConfig, build_perception

    return build_perception(
        PerceptionConfig(reconstruct_backend="sensor", segment_backend="labels")
    )


@pytest.fixture
def make_config(tmp_path) -> Callable[..., AgentConfig]:
    def make(base_url: str = "http://127.0.0.1:9/v1", **overrides) -> AgentConfig:
        settings = {
            "vlm.base_url": base_url,
            "vlm.retry_backoff_s": 0.01,
            "vlm.timeout_s": 20.0,
            "trace_dir": str(tmp_path / "traces"),
            "max_prompt_frames": 4,
        }
        settings.update(overrides)
        return AgentConfig.load(overrides=settings)

    return make


def role_of(body: dict) -> str:
    """Which part of the agent sent a request: plan, cell, fallback, answer or sub
    (vlm.locate/ask)."""
    first = body["messages"][0]
    if first["role"] != "system":
        return "sub"
    system = first["content"]
    if system == prompts.planner_system():
        return "plan"
    if system.startswith(prompts.FALLBACK_SYSTEM[:40]):
        return "fallback"
    if system.startswith(prompts.DIRECT_SYSTEM[:40]):
        return "answer"
    return "cell"


def image_count(message: dict) -> int:
    content = message["content"]
    return 0 if isinstance(content, str) else sum(p["type"] == "image_url" for p in content)


def text_of(message: dict) -> str:
    content = message["content"]
    return (
        content
        if isinstance(content, str)
        else "\n".join(p["text"] for p in content if p["type"] == "text")
    )


@dataclass
class RoleScript:
    """Scripted replies per role, each list served in order (a callable for ScriptedVLM)."""

    cells: list[str] = field(default_factory=list)
    plan: str = "1. Find the objects. 2. Measure. 3. Answer."
    fallback: list[str] = field(default_factory=lambda: ["Answer: A"])
    answer: list[str] = field(default_factory=lambda: ["Answer: A"])
    sub: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    def __call__(self, body: dict) -> str:
        role = role_of(body)
        self.seen.append(role)
        if role == "plan":
            return self.plan
        queue = {
            "cell": self.cells,
            "fallback": self.fallback,
            "answer": self.answer,
            "sub": self.sub,
        }[role]
        if not queue:
            raise LookupError(f"no scripted {role} reply left")
        return queue.pop(0)


def cell(code: str, purpose: str = "next step") -> str:
    return (
        f"Purpose: {purpose}\nReasoning: scripted.\nNext goal: continue.\n```python\n{code}\n```"
    )
