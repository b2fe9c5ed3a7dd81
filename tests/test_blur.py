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


def _camera(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What a camera and a JPEG encoder add to any photo: some noise, then compression."""
    from restore_cli.data import synth

    noisy = np.clip(pixels + rng.normal(0, 0.01, pixels.shape).astype(np.float32), 0, 1)
    return synth.jpeg_roundtrip(noisy, 80)


def test_blur_score_catches_mild_and_downscaled_blur_through_noise_and_jpeg() -> None:
    import cv2

    from restore_cli.data import scenes, synth

    rng = np.random.default_rng(0)
    scene = scenes.render_scene(384, 512, seed=1).astype(np.float32) / 255
    assert blur.blur_score(_camera(scene, rng)) < 0.5  # noise and JPEG are not blur
    mild = synth.blur_linear(scene, synth.gaussian_kernel(2.0))  # a kernel std of 2 px
    assert blur.blur_score(_camera(mild, rng)) >= 0.5
    shaken = synth.blur_linear(scene, synth.gaussian_kernel(5.0))
    half = cv2.resize(shaken, (256, 192), interpolation=cv2.INTER_AREA)  # 2.5 px once downscaled
    assert blur.blur_score(_camera(half, rng)) >= 0.5


def test_gradient_energy_falls_from_fine_to_coarse_scale_when_blurred() -> None:
    from restore_cli.data import scenes, synth

    scene = scenes.render_scene(192, 256, seed=0).astype(np.float32) / 255
    sharp = blur.blur_features(scene)
    blurred = blur.blur_features(synth.blur_linear(scene, synth.gaussian_kernel(2.0)))
    assert blurred["g12"] < sharp["g12"] - 0.5  # blur takes the finest scale's energy first
    assert blurred["g24"] < sharp["g24"]
    tiny = blur.blur_features(np.full((3, 3, 3), 0.5, np.float32))
    assert tiny["g12"] == pytest.approx(np.log(0.5))  # too small to reduce: a sharp edge's ratio


def test_clean_renders_are_sharp() -> None:
    import cv2

    text = np.full((200, 600), 255, np.uint8)
    cv2.putText(text, "Hello 42", (10, 120), cv2.FONT_HERSHEY_DUPLEX, 2.0, 0, 2, cv2.LINE_AA)
    assert blur.blur_score(text[..., None]) < 0.5
    yy, xx = np.mgrid[:240, :320]
    checks = (((yy // 16) + (xx // 16)) % 2).astype(np.float32)
    assert blur.blur_score(checks) < 0.5
