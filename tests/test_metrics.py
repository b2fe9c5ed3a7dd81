"""Quality metrics of ``restore bench`` against hand-computed values, scikit-image and a slow MATLAB SSIM.

How the MATLAB-3D reference numbers were derived: MATLAB's ``ssim(A, ref)`` on two uint8 H x W x 3 arrays
treats them as volumes (``imgaussfilt3`` with sigma 1.5, an 11 x 11 x 11 window, 'replicate' padding,
C1 = (0.01*255)^2, C2 = (0.03*255)^2, mean of the map with no crop). ``_slow_matlab3d`` below computes exactly
that with the full 3-D kernel (scipy.ndimage.correlate, mode 'nearest' = replicate), independently of the
separable OpenCV code in restore_cli.bench.metrics; the constants in ``test_matlab3d_reference_numbers``
were printed by it for the fixed, formula-made pair ``_fixed_pair()`` and are pinned here so that a change to
either implementation is noticed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from restore_cli.bench import metrics


def _fixed_pair() -> tuple[np.ndarray, np.ndarray]:
    """A 40 x 48 RGB pair made from formulas only (no RNG), with structure, colour and a distortion."""
    y, x = np.mgrid[0:40, 0:48]
    r = (x * 5 + y * 3) % 256
    g = ((x // 6 + y // 6) % 2) * 200 + 20
    b = (128 + 100 * np.sin(x / 4.0) * np.cos(y / 5.0)).astype(int)
    ref = np.stack([r, g, b], axis=2).clip(0, 255).astype(np.uint8)
    distorted = ref.astype(int) + ((x * 7 + y * 11) % 23 - 11)[:, :, None] * np.array([1, -1, 2])
    distorted[10:20, 10:30] = distorted[10:20, 10:30] // 2
    return distorted.clip(0, 255).astype(np.uint8), ref


def _slow_matlab3d(a: np.ndarray, b: np.ndarray) -> float:
    from scipy import ndimage

    taps = np.exp(-(np.arange(-5, 6) ** 2) / (2 * 1.5**2))
    kernel = taps[:, None, None] * taps[None, :, None] * taps[None, None, :]
    kernel /= kernel.sum()

    def blur(v: np.ndarray) -> np.ndarray:
        return ndimage.correlate(v, kernel, mode="nearest")

    x, y = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = blur(x), blur(y)
    sx, sy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    ssim_map = (2 * mx * my + c1) * (2 * sxy + c2) / ((mx**2 + my**2 + c1) * (sx + sy + c2))
    return float(ssim_map.mean())


def _random_pair(seed: int, shape=(33, 41, 3), noise=25) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, shape)
    b = np.clip(a + rng.integers(-noise, noise + 1, shape), 0, 255)
    return a.astype(np.uint8), b.astype(np.uint8)


def test_psnr_mse_mae_by_hand() -> None:
    a = np.zeros((4, 4, 3), np.uint8)
    b = a.copy()
    b[1, 2, 0] = 10  # one element of 48 differs by 10
    assert metrics.mse(a, b) == pytest.approx(100 / 48)
    assert metrics.mae(a, b) == pytest.approx(10 / 48)
    assert metrics.psnr(a, b) == pytest.approx(10 * math.log10(255**2 * 48 / 100))
    assert metrics.psnr(a, a) == math.inf


def test_psnr_uses_all_channels_no_crop() -> None:
    a = np.full((10, 10, 3), 100, np.uint8)
    b = a.copy()
    b[0, 0, :] = 110  # an error on the border would vanish if the metric cropped
    assert metrics.mse(a, b) == pytest.approx(300 / 300)
    assert metrics.psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 1.0))


def test_psnr_matches_skimage() -> None:
    from skimage.metrics import peak_signal_noise_ratio

    a, b = _random_pair(1)
    assert metrics.psnr(a, b) == pytest.approx(peak_signal_noise_ratio(b, a, data_range=255), abs=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ssim_skimage_matches_scikit_image(seed: int) -> None:
    from skimage.metrics import structural_similarity

    a, b = _random_pair(seed, noise=10 + 20 * seed)
    expected = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1
    )
    assert metrics.ssim_skimage(a, b) == pytest.approx(expected, abs=1e-9)
    a2, b2 = _fixed_pair()
    expected2 = structural_similarity(
        a2, b2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1
    )
    assert metrics.ssim(a2, b2, "skimage") == pytest.approx(expected2, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 3])
def test_ssim_matlab3d_matches_slow_3d_implementation(seed: int) -> None:
    a, b = _random_pair(seed)
    assert metrics.ssim_matlab3d(a, b) == pytest.approx(_slow_matlab3d(a, b), abs=1e-10)


def test_matlab3d_reference_numbers() -> None:
    a, b = _fixed_pair()
    reference = 0.9390601627
    assert _slow_matlab3d(a, b) == pytest.approx(reference, abs=1e-9)
    assert metrics.ssim(a, b, "matlab3d") == pytest.approx(reference, abs=1e-9)
    assert metrics.psnr(a, b) == pytest.approx(19.8234515232, abs=1e-9)
    # The two SSIM conventions really differ (this is why the table names the one it used).
    assert abs(metrics.ssim(a, b, "skimage") - reference) > 1e-3


def test_ssim_identity_symmetry_and_bad_variant() -> None:
    a, b = _fixed_pair()
    assert metrics.ssim_matlab3d(a, a) == pytest.approx(1.0)
    assert metrics.ssim_skimage(b, b) == pytest.approx(1.0)
    assert metrics.ssim_matlab3d(a, b) == pytest.approx(metrics.ssim_matlab3d(b, a))
    with pytest.raises(ValueError, match="unknown SSIM variant"):
        metrics.ssim(a, b, "fast")
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.psnr(a, b[:-1])


def test_to_uint8_rounds_like_a_png_writer() -> None:
    pixels = np.array([[[-0.1, 0.5, 1.2]], [[1 / 255, 0.499 / 255, 254.5 / 255]]], np.float32)
    assert metrics.to_uint8(pixels).tolist() == [[[0, 128, 255]], [[1, 0, 254]]]


def test_colorfulness_by_hand_and_gray_is_zero() -> None:
    gray = np.full((8, 8, 3), 90, np.uint8)
    assert metrics.colorfulness(gray) == pytest.approx(0.0)
    image = np.zeros((2, 2, 3), np.uint8)
    image[0] = (255, 0, 0)
    image[1] = (0, 0, 255)
    rg = np.array([255, 255, 0, 0], float)
    yb = np.array([127.5, 127.5, -255, -255])
    expected = math.sqrt(rg.var() + yb.var()) + 0.3 * math.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    assert metrics.colorfulness(image) == pytest.approx(expected, rel=1e-6)


def test_mean_ab_error() -> None:
    a, _ = _fixed_pair()
    assert metrics.mean_ab_error(a, a) == pytest.approx(0.0, abs=1e-6)
    gray = np.repeat(a.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    assert metrics.mean_ab_error(a, gray) > 5.0
    pure_red = np.zeros((2, 2, 3), np.uint8)
    pure_red[...] = (255, 0, 0)
    neutral = np.full((2, 2, 3), 128, np.uint8)
    # sRGB red is about (a, b) = (80.1, 67.2) in CIE Lab D65; gray is (0, 0).
    assert metrics.mean_ab_error(pure_red, neutral) == pytest.approx(math.hypot(80.1, 67.2), abs=0.5)
