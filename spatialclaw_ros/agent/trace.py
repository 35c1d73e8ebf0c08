"""The episode trace: every prompt, reply, cell, feedback and image, with timings and tokens.

A trace is a folder: `trace.jsonl` (one event per line, in order), `images/*.png` (each image
once, named by content) and `report.md`, a readable rendering of the same events.
`render_report(folder)` rebuilds the report from the JSONL at any time.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from spatialclaw_ros.agent.vlm_client import ByIdentity, VLMExchange

TRACE_FILE = "trace.jsonl"
REPORT_FILE = "report.md"


class Trace:
    """Writes one episode's events. With `root=None` it records nothing (tracing switched off)."""

    def __init__(self, root: str | Path | None, question: str, executor: str) -> None:
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self.path: Path | None = None
        self.seconds = 0.0  # spent writing, so an episode can say what its trace cost
        # image -> its name, each image hashed and written once
        self._saved = ByIdentity(self._save)
        if root is None:
            return
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        slug = re.sub(r"[^a-z0-9]+", "-", question.lower()).strip("-")[:40] or "question"
        self.path = _new_folder(Path(root) / f"{stamp}-{slug}")
        self.event("episode_start", question=question, executor=executor)

    def event(self, kind: str, **data: Any) -> None:
        if self.path is None:
            return
        began = time.perf_counter()
        record = {"event": kind, "t": round(time.monotonic() - self.started, 4), **data}
        line = json.dumps(record, ensure_ascii=False, default=_jsonable)
        with self._lock, (self.path / TRACE_FILE).open("a", encoding="utf-8") as f:
            f.write(line + "\n")
            self.seconds += time.perf_counter() - began

    def images(self, images: list[np.ndarray]) -> list[str]:
        """Save images as PNG (once per content); returns their paths relative to the trace."""
        if self.path is None:
            return []
        began = time.perf_counter()
        names = [self._saved(image) for image in images]
        with self._lock:
            self.seconds += time.perf_counter() - began
        return names

    def _save(self, image: np.ndarray) -> str:
        assert self.path is not None
        image = np.ascontiguousarray(image)
        digest = hashlib.blake2b(
            image.tobytes() + str(image.shape).encode(), digest_size=8
        ).hexdigest()
        name = f"images/{digest}.png"
        target = self.path / name
        if not target.exists():
            bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
            cv2.imwrite(str(target), bgr)
        return name

    def vlm_exchange(self, exchange: VLMExchange) -> None:
        """The VLM client's listener: one event per call, images saved beside it."""
        if self.path is None:
            return
        messages = [
            {"role": m.role, "text": m.text, "images": self.images(m.images)}
            for m in exchange.messages
        ]
        self.event(
            "vlm",
            purpose=exchange.purpose,
            messages=messages,
            reply=exchange.reply,
            # kept for reading the trace; never sent back to the model
            reasoning=exchange.reasoning,
            finish_reason=exchange.finish_reason,
            tool_calls=[{"name": c.name, "arguments": c.arguments} for c in exchange.tool_calls],
            prompt_tokens=exchange.prompt_tokens,
            completion_tokens=exchange.completion_tokens,
            elapsed=round(exchange.elapsed, 4),
            attempts=exchange.attempts,
            error=exchange.error,
        )

    def step(self, step: int, code: str, result: Any) -> None:
        """One executed cell with the kernel's report of it (a StepResult)."""
        if self.path is None:
            return
        self.event(
            "step",
            step=step,
            code=code,
            status=result.status,
            error_kind=result.error_kind,
            feedback=result.feedback,
            elapsed=result.elapsed,
            images=self.images(list(result.images)),
            tool_calls=list(result.tool_calls),
            vlm_queries=list(result.vlm_queries),
            answer=result.answer,
        )

    def finish(self, **summary: Any) -> None:
        if self.path is None:
            return
        self.event("episode_end", **summary)
        began = time.perf_counter()
        render_report(self.path)
        self.seconds += time.perf_counter() - began


def _new_folder(base: Path) -> Path:
    """`base`, or `base-2`, `base-3`... if a concurrent episode with the same question got there
    first."""
    path, n = base, 1
    while True:
        try:
            (path / "images").mkdir(parents=True, exist_ok=False)
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "__dataclass_fields__"):
        return {k: getattr(value, k) for k in value.__dataclass_fields__}
    return str(value)


def read_events(folder: str | Path) -> list[dict[str, Any]]:
    path = Path(folder) / TRACE_FILE
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def render_report(folder: str | Path) -> Path:
    """Write report.md: the episode as a person reads it (prompts, cells, feedback, images)."""
    folder = Path(folder)
    out: list[str] = []
    for e in read_events(folder):
        kind = e["event"]
        if kind == "episode_start":
            out += [f"# {e['question']}", "", f"executor: `{e['executor']}`", ""]
        elif kind == "vlm":
            status = (
                f"error: {e['error']}"
                if e.get("error")
                else f"{e['prompt_tokens']}+{e['completion_tokens']} tokens"
            )
            out += [
                f"## VLM call: {e['purpose']} (t={e['t']:.2f} s, {e['elapsed']:.2f} s, {status})",
                "",
            ]
            for m in e["messages"]:
                out += [f"**{m['role']}**", "", _fence(m["text"]), ""]
                out += [f"![]({name})" for name in m["images"]]
                out += [""] if m["images"] else []
            if e.get("reply"):
                out += ["**reply**", "", _fence(e["reply"]), ""]
        elif kind == "step":
            out += [
                f"## Step {e['step']}: {e['status']} ({e['elapsed']:.2f} s)",
                "",
                "```python",
                e["code"],
                "```",
                "",
            ]
            out += ["**feedback**", "", _fence(e["feedback"]), ""]
            out += [f"![]({name})" for name in e.get("images", [])] + [""]
        elif kind == "episode_end":
            out += ["## Result", ""]
            out += [f"- {k}: {v}" for k, v in e.items() if k not in ("event",)]
            out += [""]
        else:
            details = ", ".join(f"{k}={v}" for k, v in e.items() if k not in ("event", "t"))
            out += [f"- *{kind}* (t={e['t']:.2f} s): {details}", ""]
    target = folder / REPORT_FILE
    target.write_text("\n".join(out), encoding="utf-8")
    return target


def _fence(text: str) -> str:
    ticks = "````" if "```" in text else "```"
    return f"{ticks}text\n{text}\n{ticks}"
