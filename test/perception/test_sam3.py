"""SAM 3 through our wrapper on tiny random transformers models, loaded from disk offline."""

import numpy as np
import pytest

from spatialclaw_ros.perception import PerceptionError, SegmentRequest
from spatialclaw_ros.perception.sam3 import Sam3Segmenter


@pytest.fixture(scope="module")
def sam3(sam3_tiny_dir, hub_offline):
    return Sam3Segmenter(sam3_tiny_dir, device="cpu", threshold=0.0)


def assert_masks_fit(segmentation, frames):
    for m in segmentation.masks:
        assert m.mask.dtype == bool and m.mask.shape == (frames[0].height, frames[0].width)
        assert 0.0 <= m.score <= 1.0


def test_text_prompt_on_one_image_returns_every_query_above_threshold(sam3, random_frames):
    frames = random_frames(3)
    result = sam3.segment(frames, SegmentRequest([11], text="red box"))
    assert len(result) == 4  # the tiny detector has four queries, all kept at threshold 0
    assert result.frame_indices == [11] and result.labels == ["red box"]
    assert_masks_fit(result, frames)
    assert sorted(result.object_ids) == [0, 1, 2, 3]
    strict = sam3.segment(frames, SegmentRequest([11], text="red box", threshold=0.99))
    assert len(strict) == 0


def test_box_and_point_prompts_on_one_image(sam3, random_frames):
    frames = random_frames(3)
    boxed = sam3.segment(frames, SegmentRequest([10], box=np.array([10, 10, 40, 40]), label="cup"))
    pointed = sam3.segment(frames, SegmentRequest([12], points=np.array([[20.0, 30.0]])))
    assert len(boxed) == 1 and boxed.best().label == "cup" and boxed.frame_indices == [10]
    assert len(pointed) == 1 and pointed.best().label == "object" and pointed.frame_indices == [12]
    assert_masks_fit(boxed, frames)
    assert_masks_fit(pointed, frames)


def test_text_prompt_propagates_through_a_clip(sam3, random_frames):
    frames = random_frames(3)
    result = sam3.segment(frames, SegmentRequest([10, 11, 12], text="red box"))
    assert result.frame_indices == [10, 11, 12]
    assert all(len(result.for_frame(i)) >= 1 for i in (10, 11, 12))
    assert_masks_fit(result, frames)


def test_point_prompt_propagates_both_ways_from_the_prompt_frame(sam3, random_frames):
    frames = random_frames(3)
    result = sam3.segment(
        frames, SegmentRequest([10, 11, 12], points=np.array([[20, 30]]), prompt_frame=11)
    )
    assert [m.frame_index for m in result.for_object(1)] == [10, 11, 12]
    assert_masks_fit(result, frames)


def test_exists_uses_the_threshold(sam3_tiny_dir, sam3, random_frames):
    frames = random_frames(2)
    assert sam3.exists(frames, "chair") is True
    picky = Sam3Segmenter(sam3_tiny_dir, device="cpu", threshold=0.99)
    picky._loaded = sam3._loaded  # same weights
    assert picky.exists(frames, "chair") is False


def test_bad_prompts_are_refused_before_the_model_runs(sam3, random_frames):
    frames = random_frames(2)
    with pytest.raises(PerceptionError, match="frames \\[3\\] are not in the frame set"):
        sam3.segment(frames, SegmentRequest([3], text="cup"))
    with pytest.raises(PerceptionError, match="prompt_frame"):
        sam3.segment(frames, SegmentRequest([10, 11], points=np.array([[1, 1]]), prompt_frame=12))
    with pytest.raises(PerceptionError, match="points must be"):
        sam3.segment(frames, SegmentRequest([10], points=np.array([1, 2, 3])))
    with pytest.raises(PerceptionError, match="text prompt is empty"):
        sam3.segment(frames, SegmentRequest([10], text="  "))
    with pytest.raises(PerceptionError, match="could not load"):
        Sam3Segmenter("/nonexistent/sam3", device="cpu").segment(
            frames, SegmentRequest([10], text="cup")
        )
