"""Image quality measures, computed the way the deblurring literature reports them.

All full-reference measures take two 8-bit images (``H x W x C`` uint8, or float arrays already on the
0..255 scale) and use the whole image: no border crop, all channels (the GoPro convention).

SSIM comes in two flavours, because papers use both and they differ by up to ~0.01:

``ssim_matlab3d``
    What MATLAB's ``ssim(A, ref)`` returns for two ``uint8`` RGB images, as the common GoPro/HIDE
    evaluation scripts call it. MATLAB treats a 3-D array as a volume: the local statistics are computed with
    a 3-D Gaussian window (sigma 1.5, size 2*ceil(3*sigma)+1 = 11 in every dimension, ``imgaussfilt3``) with
    'replicate' padding -- so along the channel axis (only 3 deep) the 11-tap window reads replicated edge
    channels. C1 = (0.01*255)^2, C2 = (0.03*255)^2, exponents 1, C3 = C2/2, and the value is the mean of the
    SSIM map over every pixel and channel (no crop). The Gaussian is separable, so we filter rows and columns
    with OpenCV (BORDER_REPLICATE) and the channel axis with an explicit clipped-index sum.
    Checked in tests/test_metrics.py against a slow direct implementation with a full 11x11x11 kernel
    (scipy.ndimage.correlate, mode 'nearest').

``ssim_skimage``
    ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=255, channel_axis=-1)``: per-channel 2-D SSIM with an 11x11
    Gaussian window, 'reflect' (half-sample symmetric) padding, the SSIM map cropped by 5 pixels on each side
    before averaging, then the mean over channels. Checked against scikit-image in the tests.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

DATA_RANGE = 255.0
K1, K2 = 0.01, 0.03
SIGMA = 1.5
SSIM_VARIANTS = ("matlab3d", "skimage")


def _as_float(image: np.ndarray) -> np.ndarray:
    """A float64 ``H x W x C`` array on the 0..255 scale (gray ``H x W`` becomes ``H x W x 1``)."""
    array = np.asarray(image, dtype=np.float64)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ValueError(f"expected an H x W or H x W x C image, got shape {array.shape}")
    return array


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_float(a), _as_float(b)
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {x.shape} vs {y.shape}")
    return x, y


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Float pixels in [0, 1] -> uint8, rounded as an 8-bit PNG writer rounds them (clip, *255, round)."""
    array = np.asarray(pixels)
    if array.dtype == np.uint8:
        return array
    return np.clip(np.rint(np.clip(array, 0.0, 1.0) * 255.0), 0, 255).astype(np.uint8)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error over all pixels and channels, on the 0..255 scale."""
    x, y = _pair(a, b)
    return float(np.mean((x - y) ** 2))


def mae(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute error over all pixels and channels, on the 0..255 scale."""
    x, y = _pair(a, b)
    return float(np.mean(np.abs(x - y)))


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """PSNR in dB: 10*log10(255^2 / MSE) over the full image, all channels (inf for identical images)."""
    error = mse(a, b)
    if error == 0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / error)


def gaussian_taps(sigma: float = SIGMA, radius: int | None = None) -> np.ndarray:
    """Normalised 1-D Gaussian, 2*radius+1 taps (radius ceil(3*sigma) = 5 for sigma 1.5, as MATLAB)."""
    radius = int(math.ceil(3 * sigma)) if radius is None else radius
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-(x**2) / (2 * sigma**2))
    return taps / taps.sum()


def _filter2d(channel: np.ndarray, taps: np.ndarray, border: int) -> np.ndarray:
    return cv2.sepFilter2D(channel, cv2.CV_64F, taps, taps, borderType=border)


def _filter3d_replicate(volume: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable 3-D Gaussian of an ``H x W x C`` volume, 'replicate' padding in every dimension."""
    planes = np.stack(
        [_filter2d(volume[:, :, c], taps, cv2.BORDER_REPLICATE) for c in range(volume.shape[2])], axis=2
    )
    depth = volume.shape[2]
    radius = len(taps) // 2
    out = np.zeros_like(planes)
    for k, weight in enumerate(taps):
        index = np.clip(np.arange(depth) + k - radius, 0, depth - 1)
        out += weight * planes[:, :, index]
    return out


def _ssim_map(x: np.ndarray, y: np.ndarray, blur, data_range: float) -> np.ndarray:
    """The SSIM map with C3 = C2/2 folded in (the form both MATLAB and scikit-image use)."""
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    mu_x, mu_y = blur(x), blur(y)
    sigma_x = blur(x * x) - mu_x * mu_x
    sigma_y = blur(y * y) - mu_y * mu_y
    sigma_xy = blur(x * y) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + c1) * (2 * sigma_xy + c2)
    denominator = (mu_x**2 + mu_y**2 + c1) * (sigma_x + sigma_y + c2)
    return numerator / denominator


def ssim_matlab3d(a: np.ndarray, b: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """SSIM as MATLAB's ``ssim`` computes it on RGB (3-D) arrays; see the module docstring."""
    x, y = _pair(a, b)
    taps = gaussian_taps(SIGMA)
    if x.shape[2] == 1:  # a 2-D image in MATLAB: imgaussfilt, replicate padding
        blur = lambda v: _filter2d(v[:, :, 0], taps, cv2.BORDER_REPLICATE)[:, :, None]  # noqa: E731
    else:
        blur = lambda v: _filter3d_replicate(v, taps)  # noqa: E731
    return float(np.mean(_ssim_map(x, y, blur, data_range)))


def ssim_skimage(a: np.ndarray, b: np.ndarray, data_range: float = DATA_RANGE) -> float:
    """Per-channel SSIM as scikit-image computes it (Gaussian 11x11, sigma 1.5, population covariance)."""
    x, y = _pair(a, b)
    # scipy.ndimage.gaussian_filter(truncate=3.5) -> radius int(3.5*1.5+0.5) = 5, mode 'reflect'.
    taps = gaussian_taps(SIGMA, radius=5)
    pad = 5
    values = []
    for c in range(x.shape[2]):
        blur = lambda v: _filter2d(v, taps, cv2.BORDER_REFLECT)  # noqa: E731
        ssim_map = _ssim_map(x[:, :, c], y[:, :, c], blur, data_range)
        cropped = ssim_map[pad : ssim_map.shape[0] - pad, pad : ssim_map.shape[1] - pad]
        values.append(float(np.mean(cropped)))
    return float(np.mean(values))


def ssim(a: np.ndarray, b: np.ndarray, variant: str = "matlab3d") -> float:
    """SSIM by name: ``matlab3d`` (MATLAB on RGB volumes, the GoPro convention) or ``skimage``."""
    if variant == "matlab3d":
        return ssim_matlab3d(a, b)
    if variant == "skimage":
        return ssim_skimage(a, b)
    raise ValueError(f"unknown SSIM variant {variant!r}; use one of {', '.join(SSIM_VARIANTS)}")


def colorfulness(image: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness of an RGB image (0..255 scale): sigma_rgyb + 0.3 mu_rgyb."""
    try:  # the project's own implementation, when it exists, is the one everything else uses
        from restore_cli.color import colorfulness as project_colorfulness  # type: ignore[attr-defined]
    except ImportError:
        project_colorfulness = None
    array = _as_float(image)
    if array.shape[2] == 1:
        return 0.0
    if project_colorfulness is not None:
        return float(project_colorfulness(array[:, :, :3] / DATA_RANGE))
    r, g, b = array[:, :, 0], array[:, :, 1], array[:, :, 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    spread = math.sqrt(float(np.var(rg)) + float(np.var(yb)))
    centre = math.sqrt(float(np.mean(rg)) ** 2 + float(np.mean(yb)) ** 2)
    return spread + 0.3 * centre


def _lab(image: np.ndarray) -> np.ndarray:
    """CIE Lab (D65) of an RGB image on the 0..255 scale, via restore_cli.color when it exists."""
    rgb = (_as_float(image) / DATA_RANGE).astype(np.float32)
    if rgb.shape[2] == 1:
        rgb = np.repeat(rgb, 3, axis=2)
    try:
        from restore_cli.color import rgb_to_lab_np  # type: ignore[attr-defined]

        return np.asarray(rgb_to_lab_np(rgb), dtype=np.float64)
    except ImportError:
        return cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab).astype(np.float64)


def mean_ab_error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean Euclidean distance between the (a, b) chroma of two RGB images, in Lab units."""
    x, y = _pair(a, b)
    lab_x, lab_y = _lab(x), _lab(y)
    return float(np.mean(np.sqrt(np.sum((lab_x[:, :, 1:] - lab_y[:, :, 1:]) ** 2, axis=2))))


def full_reference(output: np.ndarray, truth: np.ndarray, ssim_variant: str = "matlab3d") -> dict[str, float]:
    """PSNR, SSIM (the named variant), MSE and MAE of an 8-bit output against its ground truth."""
    return {
        "psnr": psnr(output, truth),
        "ssim": ssim(output, truth, ssim_variant),
        "mse": mse(output, truth),
        "mae": mae(output, truth),
    }


def laplacian_variance(image: np.ndarray) -> float:
    """Variance of the Laplacian of the luma (a no-reference sharpness measure; higher is sharper)."""
    array = _as_float(image)
    luma = array[:, :, 0] if array.shape[2] == 1 else array[:, :, :3] @ np.array([0.299, 0.587, 0.114])
    return float(cv2.Laplacian(luma, cv2.CV_64F).var())


__all__ = [
    "SSIM_VARIANTS",
    "colorfulness",
    "full_reference",
    "gaussian_taps",
    "laplacian_variance",
    "mae",
    "mean_ab_error",
    "mse",
    "psnr",
    "ssim",
    "ssim_matlab3d",
    "ssim_skimage",
    "to_uint8",
]
