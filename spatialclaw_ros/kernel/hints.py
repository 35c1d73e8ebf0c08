"""Hints added to a failed cell's error: what the model most likely meant, and what it can use.

Runs in the worker after a cell failed, on objects the cell touched. It reads class and instance
dictionaries only (never `dir()` or `__getattr__`), so an agent-defined object cannot run code
or stall the worker while its error is described.
"""

from __future__ import annotations

import difflib
import sys
import types
from typing import cast

MAX_LISTED = 40  # attribute names listed in one hint
TOOL_NAMES = ("Reconstruct", "SAM3", "Geometry", "Mask", "Time", "Graph", "Draw")
NO_HELP = (
    "help() is not available in the kernel: print(x) summarises a value, dir(x) lists "
    "its attributes, "
    "and the tool reference in the instructions documents every tool and result type"
)
EMPTY_SEGMENTATION = (
    "0 masks: rephrase the prompt, or locate the object with vlm.locate and prompt with points "
    "(tools.Geometry.normalized_to_pixel converts its 0-1000 points)"
)


def public_attributes(obj: object) -> list[str]:
    """The public names an object offers: its class chain's and its own instance attributes."""
    owner = type(obj)
    classes = cast(type, obj).__mro__ if issubclass(owner, type) else owner.__mro__
    names: set[str] = set()
    for klass in classes:
        names.update(klass.__dict__)
    try:
        names.update(object.__getattribute__(obj, "__dict__"))
    except BaseException:  # noqa: BLE001 - no instance dictionary, or one that refuses to be read
        pass
    return sorted(name for name in names if isinstance(name, str) and not name.startswith("_"))


def attribute_hint(error: AttributeError) -> str:
    """A "Did you mean ...?" and the available attributes, for an attribute that does not exist."""
    name, obj = getattr(error, "name", None), getattr(error, "obj", None)
    if not isinstance(name, str) or obj is None or _is_facade(obj):
        return ""
    available = public_attributes(obj)
    if not available:
        return ""
    lowered = {a.lower(): a for a in available}
    close = difflib.get_close_matches(name, available, n=1, cutoff=0.6) or [
        lowered.get(name.lower(), "")
    ]
    guess = f"Did you mean {close[0]!r}? " if close[0] else ""
    listed = ", ".join(available[:MAX_LISTED]) + (", ..." if len(available) > MAX_LISTED else "")
    return (
        f"{guess}{type(obj).__name__ if not isinstance(obj, type) else obj.__name__} has: {listed}"
    )


def name_hint(error: NameError) -> str:
    """Where a name a model reaches for lives: a tool (tools.X), or what stands in for help().
    Other undefined names get no guess: they are mostly variables a failed cell rolled back."""
    name = getattr(error, "name", None)
    if name in TOOL_NAMES:
        return f"the tools live on the tools object: tools.{name}"
    return NO_HELP if name == "help" else ""


def _is_facade(obj: object) -> bool:
    """A module the kernel built to stand for a real one with some names left out on purpose
    (the sandbox's `time` and `cv2`): it is not the module imported under its name, and its
    refusal already says what is missing."""
    return isinstance(obj, types.ModuleType) and sys.modules.get(obj.__name__) is not obj


def error_hint(error: BaseException, warnings: list[str]) -> str:
    """One line of advice for a failed cell ("" when there is none)."""
    try:
        if isinstance(error, AttributeError):
            hint = attribute_hint(error)
        elif isinstance(error, NameError):
            hint = name_hint(error)
        elif isinstance(error, IndexError) and any("0 masks" in w for w in warnings):
            hint = f"a segmentation in this cell found {EMPTY_SEGMENTATION}"
        else:
            hint = ""
    except BaseException:  # noqa: BLE001 - a hint must never hide the error it explains
        hint = ""
    return f"\nHint: {hint}" if hint else ""
