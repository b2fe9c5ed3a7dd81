"""Colour maths for colorization: sRGB <-> CIE Lab (D65), the 313 quantised ab bins, and their statistics.

Conversions follow the same constants as ``skimage.color`` (sRGB primaries, D65 white, CIE epsilon/kappa), so
results agree with it to float precision. Torch functions take ``N x 3 x H x W`` tensors and are
differentiable; the ``*_np`` twins take ``H x W x 3`` arrays. The ab bins and the class-rebalancing recipe are
those of Zhang et al., "Colorful Image Colorization" (ECCV 2016).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

# Linear sRGB -> XYZ (D65), as in skimage.color; its inverse goes back.
_XYZ_FROM_RGB = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
_RGB_FROM_XYZ = np.linalg.inv(_XYZ_FROM_RGB)
# Reference white of D65 for the 2-degree observer.
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
_EPS = 0.008856  # (6/29)^3, where the cube-root branch of f(t) starts
_KAPPA = 7.787  # slope of the linear branch of f(t)
_DELTA = 16.0 / 116.0

# The 313 in-gamut ab bin centres of Zhang et al. (grid 10), as the official ``pts_in_hull.npy`` holds them:
# ordered by a, then b, both ascending. For each a (from -90 to 100 in steps of 10), the inclusive b range.
_BIN_ROWS = (
    (-90, 50, 90),
    (-80, 20, 90),
    (-70, 0, 90),
    (-60, -20, 90),
    (-50, -30, 100),
    (-40, -40, 100),
    (-30, -50, 100),
    (-20, -50, 100),
    (-10, -60, 100),
    (0, -70, 100),
    (10, -80, 90),
    (20, -80, 90),
    (30, -90, 90),
    (40, -100, 90),
    (50, -100, 80),
    (60, -110, 80),
    (70, -110, 80),
    (80, -110, 70),
    (90, -110, 70),
    (100, -90, 0),
)
NUM_BINS = 313
BIN_GRID = 10.0


# ---------------------------------------------------------------------------------------------- torch


def _srgb_to_linear(c: torch.Tensor) -> torch.Tensor:
    return torch.where(c > 0.04045, ((c.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4, c / 12.92)


def _linear_to_srgb(c: torch.Tensor) -> torch.Tensor:
    return torch.where(c > 0.0031308, 1.055 * c.clamp_min(0.0031308) ** (1 / 2.4) - 0.055, c * 12.92)


def _lab_f(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t > _EPS, t.clamp_min(_EPS) ** (1 / 3), _KAPPA * t + _DELTA)


def _lab_f_inv(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t > 0.2068966, t.clamp_min(0.2068966) ** 3, (t - _DELTA) / _KAPPA)


def _mix(x: torch.Tensor, matrix: np.ndarray) -> torch.Tensor:
    m = torch.as_tensor(matrix, dtype=x.dtype, device=x.device)
    return torch.einsum("ij,njhw->nihw", m, x)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] (``N x 3 x H x W``) to CIE Lab (D65): L in [0, 100], a and b about -110..110."""
    if rgb.dim() != 4 or rgb.shape[1] != 3:
        raise ValueError(f"rgb_to_lab expects N x 3 x H x W, got {tuple(rgb.shape)}")
    xyz = _mix(_srgb_to_linear(rgb), _XYZ_FROM_RGB)
    white = torch.as_tensor(_WHITE_D65, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    fx, fy, fz = _lab_f(xyz / white).unbind(1)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], 1)


def lab_to_rgb(lab: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    """CIE Lab (D65, ``N x 3 x H x W``) to sRGB; out-of-gamut colours clipped to [0, 1] unless told not to."""
    if lab.dim() != 4 or lab.shape[1] != 3:
        raise ValueError(f"lab_to_rgb expects N x 3 x H x W, got {tuple(lab.shape)}")
    lum, a, b = lab.unbind(1)
    fy = (lum + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = (fy - b / 200.0).clamp_min(0.0)  # as skimage: negative z is not a colour
    white = torch.as_tensor(_WHITE_D65, dtype=lab.dtype, device=lab.device).view(1, 3, 1, 1)
    xyz = _lab_f_inv(torch.stack([fx, fy, fz], 1)) * white
    rgb = _linear_to_srgb(_mix(xyz, _RGB_FROM_XYZ))
    return rgb.clamp(0.0, 1.0) if clamp else rgb


# ---------------------------------------------------------------------------------------------- numpy


def _srgb_to_linear_np(c: np.ndarray) -> np.ndarray:
    return np.where(c > 0.04045, ((np.maximum(c, 0.04045) + 0.055) / 1.055) ** 2.4, c / 12.92)


def _linear_to_srgb_np(c: np.ndarray) -> np.ndarray:
    return np.where(c > 0.0031308, 1.055 * np.maximum(c, 0.0031308) ** (1 / 2.4) - 0.055, c * 12.92)


def _out_dtype(x: np.ndarray) -> np.dtype:
    return x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float32)


def rgb_to_lab_np(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] (``H x W x 3``) to CIE Lab (D65); computed in float64, returned as the input's float."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb_to_lab_np expects H x W x 3, got {rgb.shape}")
    xyz = _srgb_to_linear_np(rgb.astype(np.float64)) @ _XYZ_FROM_RGB.T
    t = xyz / _WHITE_D65
    f = np.where(t > _EPS, np.cbrt(t), _KAPPA * t + _DELTA)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    lab = np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], -1)
    return lab.astype(_out_dtype(rgb))


def lab_to_rgb_np(lab: np.ndarray, clamp: bool = True) -> np.ndarray:
    """CIE Lab (D65, ``H x W x 3``) to sRGB, clipped to [0, 1] unless told not to."""
    lab = np.asarray(lab)
    if lab.ndim != 3 or lab.shape[2] != 3:
        raise ValueError(f"lab_to_rgb_np expects H x W x 3, got {lab.shape}")
    lab64 = lab.astype(np.float64)
    fy = (lab64[..., 0] + 16.0) / 116.0
    fx = fy + lab64[..., 1] / 500.0
    fz = np.maximum(fy - lab64[..., 2] / 200.0, 0.0)
    f = np.stack([fx, fy, fz], -1)
    xyz = np.where(f > 0.2068966, f**3, (f - _DELTA) / _KAPPA) * _WHITE_D65
    rgb = _linear_to_srgb_np(xyz @ _RGB_FROM_XYZ.T)
    if clamp:
        rgb = np.clip(rgb, 0.0, 1.0)
    return rgb.astype(_out_dtype(lab))


# ---------------------------------------------------------------------------------------------- ab bins


@lru_cache(maxsize=1)
def _bins_np() -> np.ndarray:
    points = [(a, b) for a, lo, hi in _BIN_ROWS for b in range(lo, hi + 1, 10)]
    return np.array(points, dtype=np.float32)


def ab_bins() -> torch.Tensor:
    """The 313 in-gamut ab bin centres (``313 x 2``, float32) in the order of Zhang et al.'s pts_in_hull."""
    return torch.from_numpy(_bins_np().copy())


def _bins_like(bins: torch.Tensor | None, ref: torch.Tensor) -> torch.Tensor:
    bins = ab_bins() if bins is None else torch.as_tensor(bins)
    return bins.to(device=ref.device, dtype=ref.dtype if ref.is_floating_point() else torch.float32)


def _bin_sq_distances(ab: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """Squared distance of every ab pixel (``N x 2 x H x W``) to every bin (``Q x 2``): ``N x Q x H x W``."""
    diff = ab.unsqueeze(1) - bins.view(1, -1, 2, 1, 1)
    return diff.pow(2).sum(2)


def nearest_bin(ab: torch.Tensor, bins: torch.Tensor | None = None) -> torch.Tensor:
    """Index of the nearest bin for each pixel of ``ab`` (``N x 2 x H x W``): ``N x H x W`` int64."""
    bins = _bins_like(bins, ab)
    return _bin_sq_distances(ab, bins).argmin(1)


def soft_encode(
    ab: torch.Tensor, bins: torch.Tensor | None = None, k: int = 5, sigma: float = 5.0
) -> torch.Tensor:
    """Soft class targets ``N x Q x H x W``: Gaussian weights (``sigma``) on the ``k`` nearest bins, sum 1.

    This is the soft-encoding of Zhang et al.: a pixel's ab votes for its 5 nearest bins instead of one, which
    keeps the classification target smooth in ab space.
    """
    bins = _bins_like(bins, ab)
    d2 = _bin_sq_distances(ab, bins)
    near_d2, near_idx = d2.topk(k, dim=1, largest=False)
    weights = torch.softmax(-near_d2 / (2.0 * sigma * sigma), dim=1)  # exp(-d^2/2s^2), normalised
    return torch.zeros_like(d2).scatter_(1, near_idx, weights)


def empirical_prior(ab_samples: torch.Tensor | np.ndarray, bins: torch.Tensor | None = None) -> torch.Tensor:
    """Frequency of each bin (``Q``, sums to 1) over ab samples (``N x 2 x H x W`` or ``M x 2``).

    Each sample counts for its nearest bin. To accumulate over a large dataset, sum
    ``torch.bincount(nearest_bin(ab).flatten(), minlength=Q)`` over batches and normalise.
    """
    ab = torch.as_tensor(ab_samples, dtype=torch.float32)
    if ab.dim() == 2:
        ab = ab.t().reshape(1, 2, -1, 1)
    bins = _bins_like(bins, ab)
    counts = torch.bincount(nearest_bin(ab, bins).flatten(), minlength=bins.shape[0]).to(torch.float64)
    total = counts.sum()
    if total == 0:
        raise ValueError("empirical_prior needs at least one ab sample")
    return (counts / total).to(torch.float32)


def smooth_prior(prior: torch.Tensor, bins: torch.Tensor | None = None, sigma: float = 5.0) -> torch.Tensor:
    """The prior blurred by a Gaussian (``sigma`` in ab units) over the bin centres; still sums to 1."""
    prior = torch.as_tensor(prior, dtype=torch.float64)
    bins = _bins_like(bins, prior)
    if prior.shape != (bins.shape[0],):
        raise ValueError(f"prior must have {bins.shape[0]} entries, got {tuple(prior.shape)}")
    d2 = torch.cdist(bins, bins).pow(2)
    kernel = torch.exp(-d2 / (2.0 * sigma * sigma))
    kernel = kernel / kernel.sum(0, keepdim=True)  # each bin spreads exactly its own mass
    smoothed = kernel @ prior
    return smoothed / smoothed.sum()


def rebalance_weights(
    prior: torch.Tensor, lam: float = 0.5, sigma: float = 5.0, bins: torch.Tensor | None = None
) -> torch.Tensor:
    """Class-rebalancing weights (``Q``, float32) of Zhang et al.

    w ~ 1 / ((1 - lam) * smoothed_prior + lam / Q), normalised so that the expected weight under the smoothed
    prior is 1; rare (saturated) colours then weigh more in the classification loss.
    """
    smoothed = smooth_prior(prior, bins, sigma)
    q = smoothed.shape[0]
    weights = 1.0 / ((1.0 - lam) * smoothed + lam / q)
    weights = weights / (smoothed * weights).sum()
    return weights.to(torch.float32)


def annealed_mean(logits: torch.Tensor, bins: torch.Tensor | None = None, T: float = 0.38) -> torch.Tensor:
    """Decode class logits ``N x Q x H x W`` to ab ``N x 2 x H x W``: mean of softmax(logits / T) over bins.

    T = 1 is the plain mean (desaturated), T -> 0 the mode (patchy); Zhang et al. use T = 0.38.
    """
    bins = _bins_like(bins, logits)
    probs = torch.softmax(logits / T, dim=1)
    return torch.einsum("nqhw,qc->nchw", probs, bins)


# ------------------------------------------------------------------------------------------- decoding
#
# How a 313-bin prediction becomes the colour of a photo. Every setting lives here; the engine calls
# decode_bins at the model's resolution, then guided_coefficients to carry ab to full resolution along the
# edges of the full-resolution L, then scales by the user's strength. The numbers were chosen by measurement
# on 60 photos of train/ and train-color/ made gray (not val) and on the historic photos of old-photos/
# (docs/INTERNALS.md, "Colour" gives the table).

ANNEAL_T = 0.38  # Zhang et al.'s; T 0.6 and 1.0 measured less colourful and warmer on old photos
CONFIDENCE_RADIUS = 15.0  # ab distance within which predicted mass agrees with the decoded colour
CONFIDENCE_MASS = 0.6  # that much agreeing mass (or more) is full confidence; less pulls toward neutral
CONFIDENT_GAIN = 1.6  # chroma gain where the model is sure; sets ~80% colourfulness on the tuning set
GUIDE_RADIUS = 4  # box radius of the guided filter, in pixels of the model's working image (short side 256)
GUIDE_EPS = 0.01  # guided-filter regularisation on L / 100: edges weaker than ~10 L units are smoothed over
MAX_STRENGTH = 2.0


def confidence(probs: torch.Tensor, ab: torch.Tensor, bins: torch.Tensor | None = None) -> torch.Tensor:
    """Confidence in [0, CONFIDENT_GAIN] of a decoded colour ``ab`` (``N x 2 x H x W``): ``N x 1 x H x W``.

    ``probs`` (``N x Q x H x W``) is the predicted ab distribution. The agreeing mass is the probability the
    model itself gives to colours within CONFIDENCE_RADIUS of ``ab``: near 1 when one colour is predicted,
    small when the mass is split between distant colours (blue sky vs. brown wall: their annealed mean is a
    colour neither mode wants, a brown or a blue blotch) or smeared everywhere. Confidence
    ``g * min(1, mass / CONFIDENCE_MASS)`` keeps sure pixels (boosted by g) and pulls unsure ones toward
    neutral gray, which costs little when wrong.
    """
    bins = _bins_like(bins, probs)
    near = _bin_sq_distances(ab, bins) <= CONFIDENCE_RADIUS**2
    mass = (probs * near).sum(1, keepdim=True)
    return CONFIDENT_GAIN * (mass / CONFIDENCE_MASS).clamp(max=1.0)


def decode_bins(logits: torch.Tensor, bins: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The colorizer's decoding: class logits ``N x Q x H x W`` -> (ab ``N x 2 x H x W``, confidence).

    ab is the annealed mean (T = ANNEAL_T) scaled by its :func:`confidence` under the plain (T = 1)
    distribution.
    """
    logits = logits.float()
    bins = _bins_like(bins, logits)
    ab = annealed_mean(logits, bins, ANNEAL_T)
    weight = confidence(torch.softmax(logits, dim=1), ab, bins)
    return ab * weight, weight


def _box(x: np.ndarray, radius: int) -> np.ndarray:
    import cv2

    return cv2.boxFilter(x, -1, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def guided_coefficients(
    guide: np.ndarray, src: np.ndarray, radius: int = GUIDE_RADIUS, eps: float = GUIDE_EPS
) -> np.ndarray:
    """Guided filter (He, Sun and Tang 2013) of ``src`` (``H x W x C``) by the gray ``guide`` (``H x W``).

    Returns the averaged linear coefficients ``H x W x 2C``: ``[A, B]`` with ``filtered = A * guide + B``.
    They vary slowly, so they can be resized to a larger size and applied to the full-resolution guide there
    (the fast guided filter, He and Sun 2015): colour then changes where the full-resolution L changes, and
    does not bleed across its edges. Box filters only (cv2.ximgproc is not in the headless OpenCV wheel).
    """
    guide = np.asarray(guide, dtype=np.float32)
    src = np.asarray(src, dtype=np.float32)
    if src.ndim == 2:
        src = src[..., None]
    if guide.shape != src.shape[:2]:
        raise ValueError(f"guide {guide.shape} and source {src.shape[:2]} differ in size")
    radius = max(0, min(int(radius), (min(guide.shape) - 1) // 2))
    mean_i = _box(guide, radius)[..., None]
    mean_p = _box(src, radius).reshape(src.shape)
    cov = _box(guide[..., None] * src, radius).reshape(src.shape) - mean_i * mean_p
    var = _box(guide * guide, radius)[..., None] - mean_i * mean_i
    a = cov / (np.maximum(var, 0.0) + eps)
    b = mean_p - a * mean_i
    coeffs = np.concatenate([a, b], axis=2)
    return _box(coeffs, radius).reshape(coeffs.shape).astype(np.float32)


def apply_guided(coeffs: np.ndarray, guide: np.ndarray) -> np.ndarray:
    """``A * guide + B`` for coefficients from :func:`guided_coefficients` (``H x W x 2C``): ``H x W x C``."""
    c = coeffs.shape[2] // 2
    out = coeffs[..., :c] * np.asarray(guide, dtype=np.float32)[..., None]
    out += coeffs[..., c:]
    return out


def check_strength(strength: float) -> float:
    """Colour strength: 0 gray, 1 the model's colour, up to MAX_STRENGTH (ab scaled); else ValueError."""
    value = float(strength)
    if not 0.0 <= value <= MAX_STRENGTH:  # also rejects NaN
        raise ValueError(f"--strength {strength} is out of range; use 0 (gray) to {MAX_STRENGTH:g}")
    return value


# ---------------------------------------------------------------------------------------------- metrics


def colorfulness(rgb: np.ndarray) -> float:
    """Colourfulness of Hasler and Suesstrunk (2003) on the 0..255 scale.

    ``rgb`` is ``H x W x 3``: floats in [0, 1] or uint8/uint16 integers. Gray images score 0; typical photos
    15..60; the metric is used to tell whether a colorizer is washed out compared with the ground truth.
    """
    arr = np.asarray(rgb)
    if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 1):
        return 0.0
    if arr.ndim != 3 or arr.shape[2] < 3:
        raise ValueError(f"colorfulness expects H x W x 3, got {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer):
        scale = 255.0 / np.iinfo(arr.dtype).max
    else:
        scale = 255.0
    x = arr[..., :3].astype(np.float64) * scale
    rg = x[..., 0] - x[..., 1]
    yb = 0.5 * (x[..., 0] + x[..., 1]) - x[..., 2]
    spread = np.sqrt(rg.std() ** 2 + yb.std() ** 2)
    centre = np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return float(spread + 0.3 * centre)


__all__ = [
    "ANNEAL_T",
    "BIN_GRID",
    "MAX_STRENGTH",
    "NUM_BINS",
    "ab_bins",
    "annealed_mean",
    "apply_guided",
    "check_strength",
    "colorfulness",
    "confidence",
    "decode_bins",
    "guided_coefficients",
    "empirical_prior",
    "lab_to_rgb",
    "lab_to_rgb_np",
    "nearest_bin",
    "rebalance_weights",
    "rgb_to_lab",
    "rgb_to_lab_np",
    "smooth_prior",
    "soft_encode",
]
