"""The blur detector (restore_cli.blur): blurred photos score high, sharp, small and flat ones low."""

from __future__ import annotations

import numpy as np
import pytest

from restore_cli import blur
from tests import imagefactory as factory


def test_blur_score_tells_blurred_from_sharp() -> None:
    import cv2

    from restore_cli.data import synth

    scene = factory.make_scene(96, 128, seed=2)
    sharp_score = blur.blur_score(scene.astype(np.float32) / 255)
    assert sharp_score == pytest.approx(blur.blur_score(scene), abs=1e-6)  # uint8 and float alike
    assert sharp_score < 0.5
    assert blur.blur_score(scene[..., :1]) < 0.5  # one channel works too
    assert blur.blur_score(cv2.GaussianBlur(scene, (0, 0), 3)) >= 0.5  # defocus
    kernel = synth.motion_kernel(np.random.default_rng(0), 31, length=20)
    shaken = synth.blur_linear(scene.astype(np.float32) / 255, kernel)
    assert blur.blur_score(shaken) >= 0.5  # camera shake
    half = cv2.resize(scene, (64, 48), interpolation=cv2.INTER_AREA)
    assert blur.blur_score(half) < 0.5  # a smaller sharp photo is still sharp


def test_blur_score_calls_images_without_edges_sharp() -> None:
    ramp = np.tile(np.linspace(0, 1, 200, dtype=np.float32), (150, 1))
    flat = np.full((16, 16, 3), 0.5, np.float32)
    rng = np.random.default_rng(0)
    grain = np.clip(0.5 + rng.normal(0, 0.01, (120, 160)), 0, 1).astype(np.float32)
    for pixels in (flat, ramp, grain, np.zeros((1, 1, 3), np.float32)):
        assert blur.blur_score(pixels) == 0.0
    boxes = np.full((120, 160, 3), 0.9, np.float32)
    boxes[20:60, 30:90] = 0.1
    boxes[70:110, 100:150] = (0.8, 0.1, 0.1)
    assert blur.blur_score(boxes) < 0.5
