"""Validation measures during training: thin, training-specific wrappers of :mod:`restore_cli.bench.metrics`.

PSNR and SSIM are computed once, in bench.metrics; training reports the scikit-image-style per-channel SSIM
and caps PSNR of identical images at 100 dB so means and JSON logs stay finite.
"""

from __future__ import annotations

import math

import numpy as np

from restore_cli.bench.metrics import psnr, ssim_skimage

IDENTICAL_PSNR = 100.0
"""PSNR reported for identical images (bench.metrics says inf)."""


def psnr_u8(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 images of the same shape (peak 255); 100 for identical images."""
    value = psnr(a, b)
    return IDENTICAL_PSNR if math.isinf(value) else value


def ssim_u8(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM (Gaussian window sigma 1.5, K1 0.01, K2 0.03, 5-pixel crop), mean over pixels and channels."""
    return ssim_skimage(a, b)


def to_u8(t) -> np.ndarray:
    """A C x H x W float tensor in [0, 1] -> H x W x C uint8 (rounded, clamped)."""
    arr = t.detach().float().clamp(0, 1).mul(255.0).round().byte().cpu().numpy()
    return arr.transpose(1, 2, 0)


def pixels_to_u8(pixels: np.ndarray) -> np.ndarray:
    """H x W x C float pixels in [0, 1] -> uint8, rounded and clamped as :func:`to_u8` does."""
    return np.round(np.clip(pixels.astype(np.float32), 0.0, 1.0) * np.float32(255.0)).astype(np.uint8)
