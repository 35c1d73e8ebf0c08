"""evenly_spaced: the frame positions file readers and SAM 3's exists() look at."""

import numpy as np
import pytest

from spatialclaw_ros.frames.sampling import evenly_spaced


def test_examples():
    assert evenly_spaced(10, 3) == [0, 4, 9]  # 4.5 rounds to even
    assert evenly_spaced(5, 10) == [0, 1, 2, 3, 4]
    assert evenly_spaced(7, 1) == [0]
    assert evenly_spaced(1, 4) == [0]
    assert evenly_spaced(4, 0) == []


@pytest.mark.parametrize("n", [1, 2, 3, 7, 50, 1001])
@pytest.mark.parametrize("k", [1, 2, 5, 16, 64])
def test_first_and_last_included_distinct_ascending(n, k):
    positions = evenly_spaced(n, k)
    assert positions[0] == 0 and positions[-1] == (n - 1 if k > 1 else 0)
    assert positions == sorted(set(positions)) and len(positions) == min(n, k)
    assert all(isinstance(p, int) for p in positions)
    assert positions == np.unique(np.linspace(0, n - 1, min(k, n)).round().astype(int)).tolist()
