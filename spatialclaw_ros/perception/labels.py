"""The `labels` backend: instance label images and a label map, as simulators publish them.

A text prompt matches a label name when, after lower-casing, treating "_" and "-" as spaces and
dropping a plural "s", the words of one contain the words of the other: "red chair" matches
"red_chair", "chair" matches "red_chair", "the red chairs" matches "red chair".
A point prompt selects the instance under the (first positive) point; a box prompt the instance
covering most of the box.
"""

from __future__ import annotations

import re

import numpy as np

from spatialclaw_ros.frames import Frame, FrameSet
from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.inputs import select_frames
from spatialclaw_ros.perception.types import ObjectMask, Segmentation, SegmentRequest

FILLER_WORDS = frozenset({"the", "a", "an", "of"})


def label_words(text: str) -> frozenset[str]:
    words = re.split(r"[\s_\-]+", text.lower().strip())
    return frozenset(
        w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
        for w in words
        if w and w not in FILLER_WORDS
    )


def names_match(query: str, name: str) -> bool:
    asked, named = label_words(query), label_words(name)
    return bool(asked) and bool(named) and (asked <= named or named <= asked)


class LabelSegmenter:
    name = "labels"

    def params(self) -> tuple:
        return ()

    def segment(self, frames: FrameSet, request: SegmentRequest) -> Segmentation:
        chosen = request.validate(frames)
        _require_labels(chosen)
        if request.text is not None:
            ids = self._ids_for_text(chosen, request.text)
            prompt = request.text
        else:
            prompt_frame = next(f for f in chosen if f.index == request.first_frame)
            ids = {self._id_for_geometry(prompt_frame, request)}
            prompt = "points" if request.points is not None else "box"
        masks = []
        for frame in chosen:
            names = frame.label_names or {}
            labels = _labels_of(frame)
            for instance in sorted(ids):
                mask: np.ndarray = labels == instance
                if mask.any():
                    label = request.label or names.get(instance, str(instance))
                    masks.append(ObjectMask(mask, label, 1.0, frame.index, int(instance)))
        return Segmentation(masks, prompt)

    def exists(self, frames: FrameSet, name: str, frame_indices: list[int] | None = None) -> bool:
        chosen = select_frames(frames, frame_indices)
        _require_labels(chosen)
        return any(
            names_match(name, label) and np.any(f.labels == instance)
            for f in chosen
            for instance, label in (f.label_names or {}).items()
        )

    def _ids_for_text(self, chosen: list[Frame], text: str) -> set[int]:
        known: dict[int, str] = {}
        for f in chosen:
            known.update(f.label_names or {})
        ids = {instance for instance, label in known.items() if names_match(text, label)}
        if not ids:
            listing = ", ".join(sorted(set(known.values()))) or "none"
            raise PerceptionError(f"no label matches {text!r}; known labels: {listing}")
        return ids

    def _id_for_geometry(self, frame: Frame, request: SegmentRequest) -> int:
        labels = _labels_of(frame)
        h, w = labels.shape
        if request.points is not None:
            points = np.asarray(request.points, dtype=np.float64)
            positive = points[request.positive_labels() == 1]
            if len(positive) == 0:
                raise PerceptionError("a point prompt needs at least one positive point (label 1)")
            x, y = int(round(positive[0][0])), int(round(positive[0][1]))
            if not (0 <= x < w and 0 <= y < h):
                raise PerceptionError(f"point ({x}, {y}) is outside the {w}x{h} image")
            instance = int(labels[y, x])
        else:
            x0, y0, x1, y1 = np.clip(
                np.round(np.asarray(request.box, dtype=np.float64)), 0, [w, h, w, h]
            ).astype(int)
            inside = labels[y0:y1, x0:x1]
            counts = (
                np.bincount(inside[inside > 0].ravel()) if (inside > 0).any() else np.zeros(1, int)
            )
            instance = int(np.argmax(counts))
        if instance == 0:
            raise PerceptionError(
                f"the prompt on frame {frame.index} selects background, not a labelled object"
            )
        return instance


def _labels_of(frame: Frame) -> np.ndarray:
    if frame.labels is None:
        raise PerceptionError(f"frame {frame.index} has no label image")
    return frame.labels


def _require_labels(chosen: list[Frame]) -> None:
    missing = [f.index for f in chosen if f.labels is None]
    if missing:
        raise PerceptionError(
            f"frames {missing} have no label image; the labels backend needs instance labels"
        )
