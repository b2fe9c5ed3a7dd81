"""The blur detector behind ``--order auto`` and ``restore inspect``: how likely a photo is blurred.

Kept apart from :mod:`restore_cli.io` (which only decodes and encodes); fitted and checked by
``benchmarks/blur_detector.py``.
"""

from __future__ import annotations

import numpy as np

BLUR_MAX_SIDE = 2048
"""Images with a longer side are reduced (by an integer factor, area average) before blur is measured."""

BLUR_MIN_EDGES = 50
"""Fewer edges than this and there is too little detail to call an image blurry: its score is 0."""

BLUR_MAX_WIDTH = 64.0
"""Edges wider than this many pixels count as shading, not blur."""

BLUR_NOISE_FLOOR = 0.002
"""Noise estimates below this (in [0, 1] units) are taken as this: clean renders look like photos."""

# A logistic model, fitted by `benchmarks/blur_detector.py fit` on train/ only: every photo sharp at full,
# half and quarter size and with sensor noise and JPEG, against the same photos blurred with the training
# synthesis's camera steps (restore_cli.data.degrade: saturated highlights, sensor noise, a random camera
# response, JPEG), at full size and downscaled 2x and 4x, labelled blurry from a kernel spatial std of 1 px;
# plus 300 generated clean renders (shapes, text, checks), sharp and blurred. Chosen among candidates by
# 5-fold cross-validation on those rows (the most blur found with every sharp variant at least 97% right):
# the sharp class weighs 0.85 of the loss, and pairwise products of the standardised features enter too.
# Features (blur_feature_vector): for the edge-width percentiles 5, 10, 25 and 50, the log of the widest and
# of the narrowest of the four directions, log noise, and the two gradient-energy ratios; standardised with
# _BLUR_MEAN / _BLUR_STD into z; logit = z . _BLUR_WEIGHTS + (z_i z_j, i <= j) . _BLUR_PAIRS + _BLUR_BIAS.
# Measured results (val, real-blurry, generated flat images): README, "How --order auto decides".
_BLUR_MEAN = (1.1512, 0.8617, 1.2229, 0.9365, 1.3588, 1.0734, 1.5359, 1.2431, -4.7092, -0.3934, -0.3901)
_BLUR_STD = (0.2270, 0.1905, 0.2365, 0.1917, 0.2591, 0.1991, 0.2895, 0.2217, 0.9046, 0.3870, 0.3445)
_BLUR_WEIGHTS = (1.0228, 0.3002, 1.0025, 0.1444, 0.9656, -0.0885, 0.6304, -0.0302, -0.1392, -1.2988, -0.5333)
_BLUR_PAIRS = (
    -0.0230, 0.0164, -0.0079, 0.0474, -0.0020, 0.1135, 0.0223, 0.2170, 0.0294, 0.1163, -0.0119, 0.0597,
    0.0316, 0.0789, 0.0461, 0.1222, 0.0778, 0.1626, 0.1227, 0.2095, 0.0134, -0.0065, 0.0538, -0.0229,
    0.0856, -0.0219, 0.1397, 0.0452, 0.0861, -0.0478, 0.0776, 0.0420, 0.0931, 0.0237, 0.1073, 0.0779,
    0.1774, 0.0082, -0.0949, 0.0173, -0.1558, -0.0019, -0.1150, -0.0359, -0.0972, 0.0256, -0.0815,
    -0.0093, 0.0923, 0.1251, -0.0412, -0.3665, -0.1702, -0.1645, -0.0563, 0.0236, -0.1495, 0.0850,
    0.0608, -0.1001, -0.5691, 0.0442, -0.5183, 0.5100, 0.3702, 0.0536
)  # fmt: skip
_BLUR_BIAS = -1.7225
_BLUR_PERCENTILES = (5, 10, 25, 50)
_BLUR_DIRECTIONS = "xyda"


def _luma(pixels: np.ndarray) -> np.ndarray:
    """float32 luma in [0, 1] (BT.601, as OpenCV) from any pixels this module hands out."""
    import cv2

    values = np.asarray(pixels)
    if values.ndim == 2:
        values = values[..., None]
    if values.dtype == np.uint8:
        values = values.astype(np.float32) / 255.0
    elif values.dtype == np.uint16:
        values = values.astype(np.float32) / 65535.0
    else:
        values = np.asarray(values, dtype=np.float32)
    if values.shape[2] >= 3:
        return cv2.cvtColor(np.ascontiguousarray(values[..., :3]), cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(values[..., 0])


def _noise_sigma(luma: np.ndarray) -> float:
    """Immerkaer's fast estimate of Gaussian noise (it also rises with fine texture, which blur removes)."""
    import cv2

    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    response = cv2.filter2D(luma, -1, kernel)
    if min(luma.shape) < 3:
        return 0.0
    return float(np.sqrt(np.pi / 2) * np.abs(response[1:-1, 1:-1]).mean() / 6)


def _edge_widths(derivative: np.ndarray, across: np.ndarray, min_rise: float, step: float) -> np.ndarray:
    """Widths in pixels (``step`` per array step) of the edges met along the rows of ``derivative``.

    An edge is a run: a stretch of one row where the derivative keeps its sign, from the dark to the bright
    side. Its width is rise / steepest step, the width of a perfect ramp of the same height and slope: about
    2.5 px for a sharp edge (after the light smoothing) and more for a blurred one. Kept: runs rising over
    ``min_rise``, not cut by the image border (NaN), no wider than :data:`BLUR_MAX_WIDTH` (wider is shading),
    and crossed roughly head-on: ``across`` (1 where this row direction is the closest of the four to the
    gradient) must hold for most of the run's rise, since an edge crossed at a slant looks wider than it is.
    """
    h, w = derivative.shape
    valid = ~np.isnan(derivative)
    signs = np.where(valid, np.sign(np.nan_to_num(derivative, nan=0.0)), 2).astype(np.int8)
    breaks = np.ones(signs.shape, dtype=bool)
    breaks[:, 1:] = signs[:, 1:] != signs[:, :-1]
    starts = np.flatnonzero(breaks.ravel())
    ends = np.append(starts[1:], signs.size) - 1
    flat_signs = signs.ravel()
    magnitude = np.abs(np.nan_to_num(derivative, nan=0.0).ravel()).astype(np.float64)
    rise = np.add.reduceat(magnitude, starts)  # one sign per run: the sum of |d| is |sum of d|
    peak = np.maximum.reduceat(magnitude, starts)
    head_on = np.add.reduceat(magnitude * np.nan_to_num(across, nan=0.0).ravel(), starts)
    before = np.full(len(starts), 2, dtype=np.int8)
    inner = starts % w > 0
    before[inner] = flat_signs[starts[inner] - 1]
    after = np.full(len(starts), 2, dtype=np.int8)
    inner = ends % w < w - 1
    after[inner] = flat_signs[ends[inner] + 1]
    widths = rise / np.maximum(peak, 1e-12) * step
    keep = (
        (flat_signs[starts] != 2)
        & (before != 2)
        & (after != 2)
        & (rise > min_rise)
        & (widths <= BLUR_MAX_WIDTH)
        & (head_on > 0.5 * rise)
    )
    return widths[keep]


def _diagonal_rows(values: np.ndarray, anti: bool) -> np.ndarray:
    """The diagonals of ``values`` (down-right, or down-left when ``anti``) as NaN-padded rows."""
    h, w = values.shape
    if anti:
        values = values[:, ::-1]
    sheared = np.full((h, w + h - 1), np.nan, dtype=np.float32)
    rows = np.arange(h)[:, None]
    sheared[rows, np.arange(w)[None, :] - rows + h - 1] = values  # one column per diagonal
    return np.ascontiguousarray(sheared.T)


def _gradient_energy_ratios(luma: np.ndarray) -> tuple[float, float]:
    """log(E1 / E2) and log(E2 / E4), E_s the mean squared gradient of luma reduced s times (area average).

    Across a sharp edge the ratio of neighbouring scales is about 1/2 (energy per pixel step stays, the
    step count quarters, the edge pixels halve); across an edge blurred wider than the reduction it falls
    towards 1/4: blur takes fine-scale gradient energy away first. Sensor noise pushes it up, which the
    noise feature lets the model allow for. An image too small to reduce twice gets a sharp edge's ratios.
    """
    import cv2

    energies = []
    level = luma
    for _ in range(3):
        if min(level.shape) < 4:
            return float(np.log(0.5)), float(np.log(0.5))
        dx = level[:, 1:] - level[:, :-1]
        dy = level[1:, :] - level[:-1, :]
        energies.append(float((dx * dx).mean() + (dy * dy).mean()) + 1e-10)
        size = (level.shape[1] // 2, level.shape[0] // 2)
        level = cv2.resize(level[: 2 * size[1], : 2 * size[0]], size, interpolation=cv2.INTER_AREA)
    return float(np.log(energies[0] / energies[1])), float(np.log(energies[1] / energies[2]))


def blur_features(pixels: np.ndarray) -> dict[str, float]:
    """Edge-width percentiles in four directions (x, y and both diagonals, in pixels), edge counts, noise
    and gradient-energy ratios between scales: what :func:`blur_score` decides from."""
    import cv2

    luma = _luma(pixels)
    factor = -(-max(luma.shape) // BLUR_MAX_SIDE)
    if factor > 1:
        size = (max(1, luma.shape[1] // factor), max(1, luma.shape[0] // factor))
        luma = cv2.resize(luma, size, interpolation=cv2.INTER_AREA)
    noise = _noise_sigma(luma)
    smooth = cv2.GaussianBlur(luma, (0, 0), 1.0)  # steadies the steepest step against noise
    h, w = smooth.shape
    nan = np.float32(np.nan)
    dx = np.full_like(smooth, nan)
    dx[:, 1:-1] = (smooth[:, 2:] - smooth[:, :-2]) / 2
    dy = np.full_like(smooth, nan)
    dy[1:-1, :] = (smooth[2:, :] - smooth[:-2, :]) / 2
    dd = np.full_like(smooth, nan)  # down-right
    dd[1:-1, 1:-1] = (smooth[2:, 2:] - smooth[:-2, :-2]) / 2
    da = np.full_like(smooth, nan)  # down-left
    da[1:-1, 1:-1] = (smooth[2:, :-2] - smooth[:-2, 2:]) / 2
    min_rise = max(0.08, 8 * noise)
    # Which of the four directions each pixel's gradient is closest to (diagonal steps are sqrt(2) px long).
    per_pixel = np.stack([np.abs(dx), np.abs(dy), np.abs(dd) / np.sqrt(2), np.abs(da) / np.sqrt(2)])
    closest = np.argmax(np.nan_to_num(per_pixel, nan=-1.0), axis=0)
    across = [(closest == k).astype(np.float32) for k in range(4)]
    features: dict[str, float] = {"noise": noise}
    features["g12"], features["g24"] = _gradient_energy_ratios(luma)
    directions = (
        ("x", dx, across[0], 1.0),
        ("y", np.ascontiguousarray(dy.T), np.ascontiguousarray(across[1].T), 1.0),
        ("d", _diagonal_rows(dd, anti=False), _diagonal_rows(across[2], anti=False), float(np.sqrt(2))),
        ("a", _diagonal_rows(da, anti=True), _diagonal_rows(across[3], anti=True), float(np.sqrt(2))),
    )
    for name, derivative, head_on, step in directions:
        widths = _edge_widths(derivative, head_on, min_rise, step)
        features["n" + name] = float(len(widths))
        for p in _BLUR_PERCENTILES:
            features[f"p{p}{name}"] = float(np.percentile(widths, p)) if len(widths) >= 20 else float("nan")
    return features


def blur_feature_vector(features: dict[str, float]) -> np.ndarray:
    """The classifier's inputs from :func:`blur_features`: per percentile, the log of the widest and the
    narrowest direction (a direction with fewer than 20 edges counts as sharp, 2.5 px), log noise, and the
    gradient-energy ratios between scales 1 and 2 and between 2 and 4 (logs)."""
    vector = []
    for p in _BLUR_PERCENTILES:
        values = [features[f"p{p}{d}"] for d in _BLUR_DIRECTIONS]
        values = [v if v == v else 2.5 for v in values]
        vector += [np.log(max(values)), np.log(min(values))]
    # Fine texture and sensor noise, which blur smooths away; floored so that a clean synthetic image (no
    # noise at all) is not taken for an extremely smooth, blurred one.
    vector.append(np.log(max(features["noise"], BLUR_NOISE_FLOOR)))
    vector += [features["g12"], features["g24"]]
    return np.array(vector, dtype=np.float64)


def blur_score(pixels: np.ndarray) -> float:
    """How likely the image is blurred (camera shake or focus), from 0 (sharp) to 1 (blurry).

    Measured on luma from the widths of its edges: a sharp photo has some edges about a pixel wide,
    however soft the rest; a shaken or defocused one has none, in at least one direction. An image with
    fewer than :data:`BLUR_MIN_EDGES` contrasty edges (flat, a smooth gradient, a tiny icon) scores 0:
    there is nothing a deblur model could sharpen. The decision rule is ``score >= 0.5``.
    """
    features = blur_features(pixels)
    if sum(features["n" + d] for d in _BLUR_DIRECTIONS) < BLUR_MIN_EDGES:
        return 0.0
    z = (blur_feature_vector(features) - np.asarray(_BLUR_MEAN)) / np.asarray(_BLUR_STD)
    i, j = np.triu_indices(len(z))
    logit = float(z @ np.asarray(_BLUR_WEIGHTS) + (z[i] * z[j]) @ np.asarray(_BLUR_PAIRS) + _BLUR_BIAS)
    return float(1.0 / (1.0 + np.exp(-logit)))


__all__ = ["BLUR_MAX_SIDE", "BLUR_MIN_EDGES", "blur_features", "blur_feature_vector", "blur_score"]
