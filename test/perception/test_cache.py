import numpy as np
import pytest

from spatialclaw_ros.perception import PerceptionConfig, SegmentRequest, build_perception
from spatialclaw_ros.perception.cache import ResultCache


def test_a_second_request_on_the_same_frames_is_served_from_the_cache(front_frames):
    perception = build_perception(
        PerceptionConfig(reconstruct_backend="sensor", segment_backend="labels")
    )
    first = perception.reconstruct(front_frames)
    second = perception.reconstruct(front_frames)
    assert second is first and perception.cache.hits == 1 and perception.cache.misses == 1
    with pytest.raises(ValueError, match="read-only"):
        first.depth[0, 0, 0] = 1.0  # a caller cannot corrupt later hits
    perception.segment(front_frames, SegmentRequest([0], text="red box"))
    # another prompt: computed
    perception.segment(front_frames, SegmentRequest([0], text="blue chair"))
    assert perception.cache.misses == 3
    perception.segment(front_frames, SegmentRequest([0], text="red box"))
    assert perception.cache.hits == 2


def test_the_cache_is_bounded_by_entries_and_bytes():
    cache = ResultCache(max_entries=2, max_bytes=1000)
    for key in range(3):
        cache.get_or_compute((key,), lambda: np.zeros(10, np.uint8))
    assert len(cache) == 2
    # larger than the whole cache: not kept
    cache.get_or_compute(("big",), lambda: np.zeros(2000, np.uint8))
    assert len(cache) == 2 and ("big",) not in cache._entries
    calls = []
    cache.get_or_compute((1,), lambda: calls.append(1))
    assert calls == []  # key 1 was still cached (LRU kept the two newest)
