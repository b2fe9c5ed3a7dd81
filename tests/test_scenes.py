"""The one synthetic-scene renderer (bench's synthetic set and the shipped examples)."""

from __future__ import annotations

import numpy as np
import pytest

from restore_cli.data.scenes import render_scene


@pytest.mark.parametrize("size", [(48, 64), (192, 256), (61, 37)])
def test_render_scene_is_deterministic_and_photo_like(size: tuple[int, int]) -> None:
    first, again = render_scene(*size, seed=3), render_scene(*size, seed=3)
    other = render_scene(*size, seed=4)
    assert first.shape == (*size, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.std() > 20  # edges, text and texture, not a flat fill
    assert np.abs(first[..., 0].astype(int) - first[..., 2]).mean() > 5  # colour, not gray
