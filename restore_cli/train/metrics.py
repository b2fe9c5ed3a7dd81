"""PSNR and SSIM for validation during training, on 8-bit images (the convention results are reported in)."""

from __future__ import annotations

import cv2
import numpy as np


def psnr_u8(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 images of the same shape (peak 255); 100 for identical images."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 100.0 if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def ssim_u8(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM (Wang et al.: Gaussian window sigma 1.5, K1 0.01, K2 0.03), mean over pixels and channels."""
    x = a.astype(np.float64)
    y = b.astype(np.float64)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    scores = []
    for ch in range(x.shape[2]):
        xc, yc = x[..., ch], y[..., ch]

        def blur(t: np.ndarray) -> np.ndarray:
            return cv2.GaussianBlur(t, (11, 11), 1.5)[5:-5, 5:-5]

        mx, my = blur(xc), blur(yc)
        sxx = blur(xc * xc) - mx * mx
        syy = blur(yc * yc) - my * my
        sxy = blur(xc * yc) - mx * my
        num = (2 * mx * my + c1) * (2 * sxy + c2)
        den = (mx * mx + my * my + c1) * (sxx + syy + c2)
        scores.append(float(np.mean(num / den)))
    return float(np.mean(scores))


def to_u8(t) -> np.ndarray:
    """A C x H x W float tensor in [0, 1] -> H x W x C uint8 (rounded, clamped)."""
    arr = t.detach().float().clamp(0, 1).mul(255.0).round().byte().cpu().numpy()
    return arr.transpose(1, 2, 0)
