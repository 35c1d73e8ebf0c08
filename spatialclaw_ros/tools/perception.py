"""tools.Reconstruct and tools.SAM3: perception runs on the host; these ask for it over the
link."""

from __future__ import annotations

import warnings

import numpy as np

from spatialclaw_ros.perception.types import Reconstruction, Segmentation
from spatialclaw_ros.tools.inputs import InputImage
from spatialclaw_ros.tools.link import HostLink


def frame_refs(frames, frame_indices=None) -> tuple[int, list[int]]:
    """(video, [frame_index, ...]) for one InputImage or a list of them from one video."""
    frames = [frames] if isinstance(frames, InputImage) else list(frames)
    if not frames or not all(isinstance(f, InputImage) and f.frame_index >= 0 for f in frames):
        raise TypeError(
            "pass frames from InputImages (one frame or a list), not copies or other arrays"
        )
    videos = {f.video for f in frames}
    if len(videos) != 1:
        raise ValueError("all frames must come from the same video")
    indices = [f.frame_index for f in frames]
    if frame_indices is not None:
        wanted = [int(i) for i in frame_indices]
        missing = sorted(set(wanted) - set(indices))
        if missing:
            raise ValueError(f"frame_indices {missing} are not among the frames given")
        indices = wanted
    return videos.pop(), indices


class Reconstruct:
    """tools.Reconstruct(frames, frame_indices=None) -> Reconstruction.

    Depth, camera poses and intrinsics for frames of one video (a list of InputImages or one
    frame; `frame_indices` picks some of them by `.frame_index`). The result has `depth`
    (N x H x W metres if `is_metric`), `confidence`, `intrinsics` (N x 3 x 3), `extrinsics`
    (N x 4 x 4 camera-to-world, OpenCV axes), `frame_indices`, `world_frame`, `up`, and helpers
    such as points_of(mask, frame_index), centroid(mask), height(mask), box_3d(mask), bev().
    The per-frame arrays are indexed by frame number: recon.extrinsics[f] is frame f's pose.
    Give it 8-32 frames spread over the video (more cost time; fewer leave gaps)."""

    def __init__(self, link: HostLink) -> None:
        self._link = link

    def __call__(self, frames, frame_indices=None) -> Reconstruction:
        video, indices = frame_refs(frames, frame_indices)
        reconstruction = self._link.call("reconstruct", video=video, frame_indices=indices)
        return reconstruction.indexed_by_frame()


class SAM3:
    """Segmentation with SAM 3: masks from a text prompt, points or a box, on one frame or
    propagated through frames. Results are Segmentation objects: `.masks` is a list of ObjectMask
    (mask H x W bool, label, score, frame_index, object_id)."""

    def __init__(self, link: HostLink) -> None:
        self._link = link

    def _request(
        self, frames, text, points, point_labels, box, prompt_frame, threshold
    ) -> Segmentation:
        given = [
            name
            for name, value in (("text", text), ("points", points), ("box", box))
            if value is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one prompt: text=, points= or box=")
        video, indices = frame_refs(frames)
        request = {"video": video, "frame_indices": indices, "threshold": threshold}
        if text is not None:
            request["text"] = str(text)
        if points is not None:
            request["points"] = np.asarray(points, dtype=np.float64).reshape(-1, 2)
            if point_labels is not None:
                request["point_labels"] = np.asarray(point_labels, dtype=np.int64)
        if box is not None:
            request["box"] = np.asarray(box, dtype=np.float64).reshape(4)
        if prompt_frame is not None:
            request["prompt_frame"] = int(getattr(prompt_frame, "frame_index", prompt_frame))
        segmentation = self._link.call("segment", **request)
        if not segmentation.masks:
            prompt = (
                f"text {text!r}" if text is not None else "points" if points is not None else "box"
            )
            warnings.warn(
                f"0 masks for {prompt}: rephrase the prompt (a simpler noun), or locate "
                "the object with "
                "vlm.locate and prompt with points",
                stacklevel=3,
            )
        return segmentation

    def segment(
        self, frame, text=None, points=None, box=None, point_labels=None, threshold=None
    ) -> Segmentation:
        """Masks on one frame from text ("red chair"), points (N x 2 pixels x, y) or a box
        (x0, y0, x1, y1 pixels). `point_labels`: 1 = on the object, 0 = not (default all 1)."""
        if isinstance(frame, (list, tuple)):
            raise TypeError("segment() takes one frame; use propagate() for several frames")
        if not isinstance(frame, InputImage) or frame.frame_index < 0:
            raise TypeError(
                "segment() takes a frame of InputImages itself (e.g. InputImages[3]); a "
                "copy or an array "
                "computed from it has no frame number to segment"
            )
        return self._request(frame, text, points, point_labels, box, None, threshold)

    def propagate(
        self,
        frames,
        text=None,
        points=None,
        box=None,
        prompt_frame=None,
        point_labels=None,
        threshold=None,
    ) -> Segmentation:
        """Track objects through frames of one video. Points/box prompts are given on
        `prompt_frame` (a frame or its frame_index; default the first frame)."""
        return self._request(frames, text, points, point_labels, box, prompt_frame, threshold)

    def exists(self, frames, name: str) -> bool:
        """Whether an object called `name` is visible in a frame (or in any of several frames)."""
        video, indices = frame_refs(frames, None)
        return bool(self._link.call("exists", video=video, frame_indices=indices, name=str(name)))
