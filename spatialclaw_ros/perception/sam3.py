"""The `sam3` backend: SAM 3 through transformers, on CPU or GPU.

One checkpoint (a hub id such as facebook/sam3, or a local directory) serves four model classes,
each loaded on first use:
- Sam3Model + Sam3Processor: every instance matching a text prompt on one image;
- Sam3TrackerModel + Sam3TrackerProcessor: the one object under points or inside a box on one
image;
- Sam3VideoModel + Sam3VideoProcessor: text prompt detected and tracked through a clip;
- Sam3TrackerVideoModel + Sam3TrackerVideoProcessor: a point/box prompt on one frame propagated
  forwards and backwards through a clip.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from spatialclaw_ros.frames import Frame, FrameSet
from spatialclaw_ros.frames.sampling import evenly_spaced
from spatialclaw_ros.perception.devices import inference_dtype, resolve_device
from spatialclaw_ros.perception.errors import PerceptionError
from spatialclaw_ros.perception.inputs import select_frames
from spatialclaw_ros.perception.types import ObjectMask, Segmentation, SegmentRequest

log = logging.getLogger(__name__)

EXISTS_MAX_FRAMES = 8  # exists() without frame indices checks this many evenly spaced frames
ROLES = {
    "image": ("Sam3Model", "Sam3Processor"),
    "tracker": ("Sam3TrackerModel", "Sam3TrackerProcessor"),
    "video": ("Sam3VideoModel", "Sam3VideoProcessor"),
    "tracker_video": ("Sam3TrackerVideoModel", "Sam3TrackerVideoProcessor"),
}


class Sam3Segmenter:
    name = "sam3"

    def __init__(
        self, model: str, device: str = "auto", threshold: float = 0.5, mask_threshold: float = 0.5
    ):
        self.model_id = model
        self.device = resolve_device(device)
        self.dtype = inference_dtype(self.device)
        self.threshold = threshold
        self.mask_threshold = mask_threshold
        self._loaded: dict[str, tuple] = {}

    def params(self) -> tuple:
        return (self.model_id, self.threshold, self.mask_threshold)

    def preload(self, role: str, model, processor) -> None:
        """Use models built by the caller (e.g. random full-size weights in a benchmark) for one
        role."""
        if role not in ROLES:
            raise PerceptionError(f"unknown SAM 3 role {role!r}; roles: {', '.join(ROLES)}")
        self._loaded[role] = (model.to(self.device, dtype=self.dtype).eval(), processor)

    def load(self, role: str) -> tuple:
        """(model, processor) for one role, loaded once."""
        if role not in self._loaded:
            import transformers

            model_name, processor_name = ROLES[role]
            log.info("loading %s from %s on %s", model_name, self.model_id, self.device)
            try:
                model, loading = getattr(transformers, model_name).from_pretrained(
                    self.model_id, output_loading_info=True
                )
                processor = getattr(transformers, processor_name).from_pretrained(self.model_id)
            except (OSError, ValueError) as error:
                where = (
                    "local directory"
                    if Path(self.model_id).exists()
                    else "hub id (facebook/sam3 is gated: log in)"
                )
                raise PerceptionError(
                    f"could not load {model_name} from {self.model_id!r} ({where}): {error}"
                ) from error
            if loading.get("missing_keys"):
                # transformers maps one SAM 3 checkpoint onto four classes; unmapped weights stay
                # random
                log.warning(
                    "%s: %d weights not found in %s and left random",
                    model_name,
                    len(loading["missing_keys"]),
                    self.model_id,
                )
            self._loaded[role] = (model.to(self.device, dtype=self.dtype).eval(), processor)
        return self._loaded[role]

    def segment(self, frames: FrameSet, request: SegmentRequest) -> Segmentation:
        chosen = request.validate(frames)
        threshold = self.threshold if request.threshold is None else request.threshold
        if request.text is not None:
            if len(chosen) == 1:
                masks = self._image_text(chosen[0], request.text, threshold)
            else:
                masks = self._video_text(chosen, request.text, threshold)
            return Segmentation(masks, request.text)
        label = request.label or "object"
        if len(chosen) == 1:
            masks = self._image_geometry(chosen[0], request, label)
        else:
            masks = self._video_geometry(chosen, request, label)
        return Segmentation(masks, "points" if request.points is not None else "box")

    def exists(self, frames: FrameSet, name: str, frame_indices: list[int] | None = None) -> bool:
        if frame_indices is None:
            frame_indices = [
                frames[p].index for p in evenly_spaced(len(frames), EXISTS_MAX_FRAMES)
            ]
        return any(
            self._image_text(frame, name, self.threshold)
            for frame in select_frames(frames, frame_indices)
        )

    @torch.inference_mode()
    def _image_text(self, frame: Frame, text: str, threshold: float) -> list[ObjectMask]:
        model, processor = self.load("image")
        inputs = self._on_device(processor(images=frame.image, text=text, return_tensors="pt"))
        outputs = model(**inputs)
        result = processor.post_process_instance_segmentation(
            outputs,
            threshold=threshold,
            mask_threshold=self.mask_threshold,
            target_sizes=[(frame.height, frame.width)],
        )[0]
        return [
            ObjectMask(_bool(mask), text, float(score), frame.index, k)
            for k, (mask, score) in enumerate(zip(result["masks"], result["scores"], strict=True))
        ]

    @torch.inference_mode()
    def _image_geometry(
        self, frame: Frame, request: SegmentRequest, label: str
    ) -> list[ObjectMask]:
        model, processor = self.load("tracker")
        inputs = self._on_device(
            processor(images=frame.image, return_tensors="pt", **_geometry_prompt(request))
        )
        outputs = model(**inputs, multimask_output=False)
        masks = processor.post_process_masks(
            outputs.pred_masks.float().cpu(), inputs["original_sizes"].cpu(), mask_threshold=0.0
        )[0]
        score = float(outputs.iou_scores.reshape(-1)[0])
        return [
            ObjectMask(
                _bool(masks.reshape(-1, frame.height, frame.width)[0]),
                label,
                score,
                frame.index,
                1,
            )
        ]

    @torch.inference_mode()
    def _video_text(self, chosen: list[Frame], text: str, threshold: float) -> list[ObjectMask]:
        model, processor = self.load("video")
        session = self._video_session(processor, chosen)
        session = processor.add_text_prompt(inference_session=session, text=text)
        masks = []
        for output in model.propagate_in_video_iterator(
            inference_session=session, max_frame_num_to_track=len(chosen)
        ):
            result = processor.postprocess_outputs(session, output)
            frame = chosen[output.frame_idx]
            for object_id, score, mask in zip(
                _ints(result["object_ids"]), result["scores"], result["masks"], strict=True
            ):
                if float(score) >= threshold:
                    masks.append(
                        ObjectMask(_bool(mask), text, float(score), frame.index, object_id)
                    )
        return masks

    @torch.inference_mode()
    def _video_geometry(
        self, chosen: list[Frame], request: SegmentRequest, label: str
    ) -> list[ObjectMask]:
        model, processor = self.load("tracker_video")
        session = self._video_session(processor, chosen)
        start = [f.index for f in chosen].index(request.first_frame)
        processor.add_inputs_to_inference_session(
            inference_session=session, frame_idx=start, obj_ids=1, **_geometry_prompt(request)
        )
        height, width = chosen[0].height, chosen[0].width
        by_position: dict[int, ObjectMask] = {}
        directions = [False, True] if start > 0 else [False]
        for reverse in directions:
            for output in model.propagate_in_video_iterator(
                session, start_frame_idx=start, reverse=reverse
            ):
                mask = processor.post_process_masks(
                    [output.pred_masks.float().cpu()],
                    original_sizes=[[height, width]],
                    binarize=True,
                )[0]
                score = (
                    float(torch.sigmoid(output.object_score_logits.float()).reshape(-1)[0])
                    if output.object_score_logits is not None
                    else 1.0
                )
                frame = chosen[output.frame_idx]
                by_position[output.frame_idx] = ObjectMask(
                    _bool(mask.reshape(-1, height, width)[0]), label, score, frame.index, 1
                )
        return [by_position[p] for p in sorted(by_position)]

    def _video_session(self, processor, chosen: list[Frame]):
        # frames stay in CPU memory; only the frame being processed moves to the device
        return processor.init_video_session(
            video=np.stack([f.image for f in chosen]),
            inference_device=self.device,
            processing_device="cpu",
            video_storage_device="cpu",
            dtype=self.dtype,
        )

    def _on_device(self, inputs):
        return {
            k: (
                v.to(self.device, dtype=self.dtype)
                if torch.is_floating_point(v)
                else v.to(self.device)
            )
            if isinstance(v, torch.Tensor)
            else v
            for k, v in inputs.items()
        }


def _geometry_prompt(request: SegmentRequest) -> dict:
    """Processor keyword arguments for a point or box prompt on one object in one image."""
    if request.points is not None:
        points = np.asarray(request.points, dtype=np.float64).tolist()
        return {"input_points": [[points]], "input_labels": [[request.positive_labels().tolist()]]}
    return {"input_boxes": [[np.asarray(request.box, dtype=np.float64).tolist()]]}


def _bool(mask) -> np.ndarray:
    array = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    return array > 0 if array.dtype != bool else array


def _ints(values: Iterable) -> list[int]:
    return [int(v) for v in values]
