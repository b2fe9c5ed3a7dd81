"""Blur synthesis as a batch in torch, so a GPU makes its own training inputs (``--synth-device device``).

Workers only crop and augment uint8 photos and draw each sample's random choices (its kernel, noise level,
JPEG quality, ...) as small arrays with the sample's own NumPy generator; :func:`degrade_batch` then applies
them to the whole batch on the training device:

1. sRGB -> linear light (the camera response: gamma 2.2, or a per-sample gamma with ``crf="random"``);
2. optional saturated highlights: pixels clipped in the sharp photo are brightened above 1 (light the sensor
   could not record), so that after the blur they still clip and smear as real highlights do;
3. the blur: per-sample kernels applied by FFT (a true convolution, equal to ``synth.convolve`` away from the
   borders, which the margin crops off); with ``rotation_copies`` > 1 the camera path is split into segments
   and each segment's kernel blurs a slightly rotated copy (a small camera roll over the exposure: blur that
   varies across the frame);
4. clip to [0, 1] (the sensor saturates), sensor noise, back to sRGB, optional Gaussian noise in sRGB;
5. optional JPEG (8x8 DCT with the IJG tables at the sample's quality, 4:2:0 chroma, in torch).

The same code runs on CPU (tests compare it with :mod:`restore_cli.data.synth`) and on CUDA. It runs in
float32 outside autocast. Every random number comes from the sample's seed, so a batch's inputs do not depend
on the device's global RNG state (resume stays exact).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from restore_cli.data.synth import Degradation, camera_shake_trajectory, rasterize_trajectory

# IJG (libjpeg) base quantisation tables, quality 50.
_LUMA_Q = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
]  # fmt: skip
_CHROMA_Q = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99, *([99] * 32),
]  # fmt: skip

# Per-sample scalars, in this order, in the ``scalars`` vector a worker hands over.
SCALARS = ("gamma", "saturate_gain", "poisson_peak", "read_sigma", "srgb_sigma", "jpeg_quality", "angle")


# --- what a worker draws (NumPy, per sample) ---


def motion_segments(
    rng: np.random.Generator, size: int, length: float, segments: int
) -> tuple[np.ndarray, np.ndarray]:
    """A camera-shake kernel split into ``segments`` consecutive parts of its path (segments x size x size).

    The parts sum to the whole kernel (the kernel of ``synth.motion_kernel`` drawn the same way); part j is
    the light gathered while the camera moved along the j-th stretch of its path. Returns (parts, the share
    of exposure in each part).
    """
    path = camera_shake_trajectory(rng, length=length)
    strength = rng.uniform(0.0, 1.0)
    noise = np.convolve(rng.standard_normal(len(path) + 8), np.ones(9) / 3.0, mode="valid")
    stack = rasterize_trajectory(path, size, dwell=np.exp(strength * noise), parts=max(1, segments))
    stack = stack.reshape(-1, size, size)
    shares = stack.reshape(len(stack), -1).sum(1)
    return stack, (shares / shares.sum()).astype(np.float32)


def pad_kernel(kernel: np.ndarray, size: int) -> np.ndarray:
    """Centre a (smaller, odd-sized) kernel in a ``size`` x ``size`` array of zeros."""
    kh, kw = kernel.shape
    if kh > size or kw > size:
        raise ValueError(f"kernel {kernel.shape} is larger than {size} x {size}")
    out = np.zeros((size, size), dtype=np.float32)
    y, x = (size - kh) // 2, (size - kw) // 2
    out[y : y + kh, x : x + kw] = kernel
    return out


def draw_params(deg: Degradation, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One sample's random choices for :func:`degrade_batch`: kernels, scalars and a noise seed.

    Kernels are ``copies x K x K`` (K = ``deg.max_kernel_size``); with one copy they are the kernels
    ``deg.sample_kernel`` draws. Scalars follow :data:`SCALARS` (0 means "off" for the optional steps).
    """
    copies = max(1, deg.rotation_copies)
    size = deg.max_kernel_size
    kernels = np.zeros((copies, size, size), dtype=np.float32)
    kind = deg.pick_kind(rng)
    angle = 0.0
    if kind == "motion" and copies > 1:
        frac = rng.uniform(*deg.motion_length)
        parts, _ = motion_segments(rng, deg.kernel_size, frac * (deg.kernel_size - 3), copies)
        kernels[:] = [pad_kernel(part, size) for part in parts]
        angle = float(rng.uniform(-1.0, 1.0) * deg.rotation_degrees)
    else:
        kernels[0] = pad_kernel(deg.kernel_of_kind(kind, rng), size)
    gamma = deg.gamma
    if deg.crf == "random":
        gamma = float(rng.uniform(*deg.gamma_range))
    saturate = 0.0
    if deg.p_saturate > 0 and rng.uniform() < deg.p_saturate:
        saturate = float(rng.uniform(*deg.saturate_gain))
    peak = read = srgb_sigma = 0.0
    if deg.noise_model == "sensor":
        if deg.p_noise > 0 and rng.uniform() < deg.p_noise:
            peak = float(rng.uniform(*deg.poisson_peak))
            read = float(rng.uniform(*deg.read_sigma))
    else:
        if deg.p_poisson > 0 and rng.uniform() < deg.p_poisson:
            peak = float(rng.uniform(*deg.poisson_peak))
        if deg.p_noise > 0 and rng.uniform() < deg.p_noise:
            srgb_sigma = float(rng.uniform(*deg.noise_sigma))
    quality = 0.0
    if deg.p_jpeg > 0 and rng.uniform() < deg.p_jpeg:
        quality = float(rng.integers(deg.jpeg_quality[0], deg.jpeg_quality[1] + 1))
    scalars = np.array([gamma, saturate, peak, read, srgb_sigma, quality, angle], dtype=np.float32)
    return {
        "kernels": kernels,
        "scalars": scalars,
        "seed": np.int64(rng.integers(0, 2**62)),
    }


# --- what the training device does (torch, per batch) ---


def fft_blur(x, kernels):
    """Convolve ``B x C x H x W`` with per-sample ``B x K x K`` kernels by FFT (circular at the borders).

    Equal to ``synth.convolve`` (a true convolution) except within the kernel radius of the borders.
    """
    import torch

    b, _c, h, w = x.shape
    k = kernels.shape[-1]
    r = k // 2
    if k > h or k > w:
        raise ValueError(f"kernel {k} x {k} is larger than the {h} x {w} crop")
    padded = x.new_zeros((b, h, w))
    padded[:, :k, :k] = kernels
    padded = torch.roll(padded, shifts=(-r, -r), dims=(1, 2))  # kernel centre at (0, 0)
    spectrum = torch.fft.rfft2(x) * torch.fft.rfft2(padded)[:, None]
    return torch.fft.irfft2(spectrum, s=(h, w))


def rotate(x, angles_deg, centres):
    """Rotate each sample of ``B x C x H x W`` by its angle (degrees) around its centre (pixel x, y)."""
    import torch
    import torch.nn.functional as F

    b, _c, h, w = x.shape
    theta = torch.deg2rad(angles_deg)
    cos, sin = torch.cos(theta), torch.sin(theta)
    # Normalised coordinates (align_corners=False): u = (2 x + 1) / w - 1.
    cx = (2 * centres[:, 0] + 1) / w - 1
    cy = (2 * centres[:, 1] + 1) / h - 1
    aspect = h / w
    mat = torch.zeros((b, 2, 3), dtype=x.dtype, device=x.device)
    mat[:, 0, 0] = cos
    mat[:, 0, 1] = -sin * aspect
    mat[:, 1, 0] = sin / aspect
    mat[:, 1, 1] = cos
    mat[:, 0, 2] = cx - cos * cx + sin * aspect * cy
    mat[:, 1, 2] = cy - sin / aspect * cx - cos * cy
    grid = F.affine_grid(mat, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _qtable(base: list[int], quality):
    """IJG quality scaling of a base table, per sample: ``B x 8 x 8``."""
    import torch

    q = quality.clamp(1, 100)
    scale = torch.where(q < 50, 5000.0 / q, 200.0 - 2.0 * q)
    table = torch.tensor(base, dtype=quality.dtype, device=quality.device).view(1, 8, 8)
    return ((table * scale.view(-1, 1, 1) + 50.0) / 100.0).floor().clamp(1, 255)


def _dct_matrix(device, dtype):
    import torch

    n = torch.arange(8, dtype=torch.float64)
    m = torch.cos((2 * n[None, :] + 1) * n[:, None] * math.pi / 16) * math.sqrt(2 / 8)
    m[0] /= math.sqrt(2)
    return m.to(device=device, dtype=dtype)


def _blockwise(plane, table):
    """Quantise a ``B x H x W`` plane (multiples of 8, level-shifted) with per-sample ``B x 8 x 8`` tables."""
    b, h, w = plane.shape
    d = _dct_matrix(plane.device, plane.dtype)
    blocks = plane.reshape(b, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4)
    coeffs = d @ blocks @ d.T
    t = table[:, None, None]
    coeffs = (coeffs / t).round() * t
    out = d.T @ coeffs @ d
    return out.permute(0, 1, 3, 2, 4).reshape(b, h, w)


def jpeg(x, quality):
    """JPEG round trip of sRGB ``B x C x H x W`` in [0, 1] (C = 1 or 3) at per-sample ``quality``.

    Baseline JPEG as libjpeg does it by default: 8-bit values, JFIF YCbCr, 4:2:0 chroma (box down, bilinear
    up), the IJG tables scaled by quality, rounding. Not bit-exact with libjpeg (its integer DCT rounds
    differently), close to it (tests measure how close).
    """
    import torch
    import torch.nn.functional as F

    b, c, h, w = x.shape
    ph, pw = (-h) % 16, (-w) % 16
    v = torch.round(x.clamp(0, 1) * 255.0)
    if ph or pw:
        v = F.pad(v, (0, pw, 0, ph), mode="replicate")
    luma_t = _qtable(_LUMA_Q, quality)
    if c == 1:
        out = _blockwise(v[:, 0] - 128.0, luma_t)[:, None] + 128.0
    else:
        r, g, bl = v[:, 0], v[:, 1], v[:, 2]
        y = 0.299 * r + 0.587 * g + 0.114 * bl
        cb = -0.168736 * r - 0.331264 * g + 0.5 * bl + 128.0
        cr = 0.5 * r - 0.418688 * g - 0.081312 * bl + 128.0
        y, cb, cr = (torch.round(p).clamp(0, 255) for p in (y, cb, cr))
        chroma_t = _qtable(_CHROMA_Q, quality)
        y = _blockwise(y - 128.0, luma_t) + 128.0
        small = F.avg_pool2d(torch.stack([cb, cr], 1), 2)
        sh, sw = small.shape[-2:]
        qc = _blockwise(small.reshape(b * 2, sh, sw) - 128.0, chroma_t.repeat_interleave(2, 0)) + 128.0
        qc = qc.reshape(b, 2, sh, sw).clamp(0, 255)
        cb, cr = F.interpolate(qc, scale_factor=2, mode="bilinear", align_corners=False).unbind(1)
        y = y.clamp(0, 255)
        out = torch.stack(
            [
                y + 1.402 * (cr - 128.0),
                y - 0.344136 * (cb - 128.0) - 0.714136 * (cr - 128.0),
                y + 1.772 * (cb - 128.0),
            ],
            1,
        )
    out = torch.round(out).clamp(0, 255)[..., :h, :w] / 255.0
    return out


def _noise_generators(seeds, device):
    import torch

    gens = []
    for s in seeds.tolist():
        g = torch.Generator(device=device)
        g.manual_seed(int(s) & (2**63 - 1))
        gens.append(g)
    return gens


def degrade_batch(sharp_u8, params: dict[str, Any], saturate_threshold: float = 0.98):
    """Blurred float inputs (``B x C x H x W`` in [0, 1]) from uint8 sharp crops and :func:`draw_params`.

    ``sharp_u8`` and ``params`` (batched by the DataLoader) may be on any device; the work happens on
    ``sharp_u8``'s device in float32.
    """
    import torch

    dev = sharp_u8.device
    x = sharp_u8.to(torch.float32) / 255.0
    kernels = params["kernels"].to(dev, torch.float32)
    # Decisions read the loader's CPU copy, so the GPU is never waited for; the maths uses the device copy.
    host = params["scalars"].detach().to("cpu", torch.float32)
    scalars = params["scalars"].to(dev, torch.float32, non_blocking=True)
    gens = _noise_generators(params["seed"], dev)
    b, _c, h, w = x.shape
    view = (b, 1, 1, 1)
    gamma = scalars[:, 0].view(view)
    lin = x.clamp(0, 1).pow(gamma)
    gain = scalars[:, 1].view(view)
    if bool((host[:, 1] > 0).any()):
        # Pixels clipped in the photo (brightest channel at the top) stood for more light than 1.
        clipped = (x.amax(1, keepdim=True) >= saturate_threshold).to(lin.dtype)
        lin = lin * torch.where(gain > 0, 1.0 + (gain - 1.0) * clipped, torch.ones_like(clipped))
    copies = kernels.shape[1]
    angles = scalars[:, 6]
    if copies == 1 or not bool((host[:, 6] != 0).any()):
        blurred = fft_blur(lin, kernels.sum(1))
    else:
        # Rotation centre: anywhere in (or a little outside) the crop, drawn from each sample's seed.
        centres = torch.stack([torch.rand(2, generator=g, device=dev) for g in gens]) * 2.0 - 0.5
        centres = centres * torch.tensor([w, h], dtype=torch.float32, device=dev)
        blurred = torch.zeros_like(lin)
        for j in range(copies):
            t = (j + 0.5) / copies - 0.5  # the copy's place in the exposure, -0.5 .. 0.5
            turned = rotate(lin, angles * t, centres)
            blurred = blurred + fft_blur(turned, kernels[:, j])
    blurred = blurred.clamp(0.0, 1.0)
    srgb_sigma = scalars[:, 4]
    noisy = []
    for i in range(b):
        s = blurred[i]
        peak, read = float(host[i, 2]), float(host[i, 3])
        if peak > 0:
            s = torch.poisson(s * peak, generator=gens[i]) / peak
        if read > 0:
            s = s + torch.randn(s.shape, generator=gens[i], device=dev) * read
        noisy.append(s)
    lin_out = torch.stack(noisy).clamp(0.0, 1.0)
    out = lin_out.pow(1.0 / gamma)
    if bool((host[:, 4] > 0).any()):
        gauss = torch.stack([torch.randn(out.shape[1:], generator=g, device=dev) for g in gens])
        out = (out + gauss * srgb_sigma.view(view)).clamp(0.0, 1.0)
    quality = scalars[:, 5]
    if bool((host[:, 5] > 0).any()):
        compressed = jpeg(out, quality.clamp(min=1.0))
        out = torch.where((quality > 0).view(view), compressed, out)
    return out
