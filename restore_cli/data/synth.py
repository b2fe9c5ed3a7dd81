"""Blur synthesis for training: camera-shake, Gaussian and defocus kernels applied in linear light.

Real blur happens to light, not to gamma-encoded pixel values, so every blur here converts sRGB to linear
(gamma 2.2), convolves with OpenCV, and converts back. Noise and JPEG re-compression come after, as in
a camera.
Everything is vectorised (NumPy / OpenCV); the only Python loop walks the few dozen trajectory steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

GAMMA = 2.2


def to_linear(srgb: np.ndarray, gamma: float = GAMMA) -> np.ndarray:
    """sRGB-encoded float image in [0, 1] -> linear light (the recipe's simple power law)."""
    return np.power(np.clip(srgb, 0.0, 1.0, dtype=np.float32), gamma, dtype=np.float32)


def to_srgb(linear: np.ndarray, gamma: float = GAMMA) -> np.ndarray:
    """Linear light -> sRGB-encoded float image in [0, 1]."""
    return np.power(np.clip(linear, 0.0, 1.0), 1.0 / gamma, dtype=np.float32)


def convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """True convolution (kernel flipped) of an H x W or H x W x C float32 image, reflected borders."""
    flipped = np.ascontiguousarray(kernel[::-1, ::-1], dtype=np.float32)
    out = cv2.filter2D(
        np.ascontiguousarray(image, dtype=np.float32), -1, flipped, borderType=cv2.BORDER_REFLECT
    )
    if image.ndim == 3 and out.ndim == 2:  # OpenCV drops a trailing singleton channel
        out = out[..., None]
    return out


def blur_linear(image: np.ndarray, kernel: np.ndarray, gamma: float = GAMMA) -> np.ndarray:
    """Blur an sRGB float image in [0, 1] with ``kernel`` in linear light; returns float32 in [0, 1]."""
    return to_srgb(convolve(to_linear(image, gamma), kernel), gamma)


# --- kernels ---


def camera_shake_trajectory(
    rng: np.random.Generator,
    steps: int = 64,
    length: float = 20.0,
    inertia: float | None = None,
    jitter: float | None = None,
    jerk_rate: float | None = None,
) -> np.ndarray:
    """A random 2-D camera path (``steps`` complex positions, total length about ``length`` pixels).

    The velocity keeps its direction (inertia), is perturbed by Gaussian jitter, pulled back towards the
    start (a hand returns to where it aimed), and now and then reversed by a sudden jerk, as in the
    trajectories of Boracchi and Foi used for DeblurGAN's synthetic data.
    """
    pull_back = 0.7 * rng.uniform() if inertia is None else inertia
    jitter = 10.0 * rng.uniform() if jitter is None else jitter
    jerk_rate = 0.2 * rng.uniform() if jerk_rate is None else jerk_rate
    anxiety = 10.0 ** rng.uniform(-3.0, -1.0)  # how strongly the random terms act each step (log-uniform)
    step_len = length / max(steps - 1, 1)
    velocity = step_len * np.exp(1j * rng.uniform(0.0, 2.0 * math.pi))
    positions = np.zeros(steps, dtype=np.complex128)
    noise = rng.standard_normal((steps, 2))
    jerks = rng.uniform(size=steps) < jerk_rate * 0.05  # rare: about one jerk in 100-1000 steps
    jerk_angles = rng.uniform(-0.5, 0.5, size=steps)
    for t in range(steps - 1):
        jerk = 2.0 * velocity * np.exp(1j * (math.pi + jerk_angles[t])) if jerks[t] else 0.0
        shake = jitter * complex(noise[t, 0], noise[t, 1]) - pull_back * positions[t]
        velocity = velocity + jerk + anxiety * shake * step_len
        speed = abs(velocity)
        velocity = velocity / speed * step_len if speed > 0 else step_len + 0j
        positions[t + 1] = positions[t] + velocity
    return positions


def rasterize_trajectory(
    positions: np.ndarray,
    size: int,
    oversample: int = 8,
    dwell: np.ndarray | None = None,
    parts: int = 1,
) -> np.ndarray:
    """Draw a trajectory into a ``size`` x ``size`` kernel with bilinear splatting (sub-pixel accurate).

    The path is linearly interpolated ``oversample`` times per step, centred on its (exposure-weighted)
    centroid, shrunk if it would leave the kernel, and normalised to sum 1. ``dwell`` (one positive weight per
    step) is the exposure the camera spends at each step: a hand slowing down leaves a brighter spot, as in
    recorded kernels; None is constant exposure. ``parts`` > 1 returns ``parts x size x size``: the kernel
    split into consecutive stretches of the path (same centring and scale; together they sum to 1).
    """
    n = len(positions)
    t = np.linspace(0, n - 1, (n - 1) * oversample + 1)
    fine = np.interp(t, np.arange(n), positions.real)
    fine_y = np.interp(t, np.arange(n), positions.imag)
    exposure = np.ones_like(t) if dwell is None else np.interp(t, np.arange(n), dwell)
    x = fine - np.average(fine, weights=exposure)
    y = fine_y - np.average(fine_y, weights=exposure)
    half = (size - 1) / 2.0
    extent = max(np.abs(x).max(), np.abs(y).max(), 1e-9)
    limit = half - 1.0
    if extent > limit:
        x, y = x * (limit / extent), y * (limit / extent)
    x, y = x + half, y + half
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = x - x0, y - y0
    part = np.minimum((t * parts / max(n - 1, 1)).astype(np.int64), parts - 1)
    kernel = np.zeros((parts, size, size), dtype=np.float64)
    for dx, dy, w in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        index = (part, np.clip(y0 + dy, 0, size - 1), np.clip(x0 + dx, 0, size - 1))
        np.add.at(kernel, index, w * exposure)
    kernel /= kernel.sum()
    return (kernel[0] if parts == 1 else kernel).astype(np.float32)


def motion_kernel(rng: np.random.Generator, size: int = 31, length: float | None = None) -> np.ndarray:
    """A random camera-shake kernel (non-negative, sums to 1); ``length`` in pixels (default random)."""
    if length is None:
        length = rng.uniform(0.15, 1.0) * (size - 3)
    path = camera_shake_trajectory(rng, length=length)
    # Smoothly varying exposure along the path (log-normal, random strength), like real shake.
    strength = rng.uniform(0.0, 1.0)
    noise = np.convolve(rng.standard_normal(len(path) + 8), np.ones(9) / 3.0, mode="valid")
    return rasterize_trajectory(path, size, dwell=np.exp(strength * noise))


def gaussian_kernel(sigma: float) -> np.ndarray:
    """Isotropic Gaussian kernel of standard deviation ``sigma`` (0 gives the 1 x 1 identity kernel)."""
    if sigma <= 0:
        return np.ones((1, 1), dtype=np.float32)
    radius = max(1, math.ceil(3.0 * sigma))
    g = cv2.getGaussianKernel(2 * radius + 1, sigma, ktype=cv2.CV_64F)
    k = g @ g.T
    return (k / k.sum()).astype(np.float32)


def defocus_kernel(radius: float, supersample: int = 8) -> np.ndarray:
    """Anti-aliased uniform disk of ``radius`` pixels (out-of-focus blur), sums to 1."""
    if radius <= 0.5:
        return np.ones((1, 1), dtype=np.float32)
    half = math.ceil(radius)
    size = 2 * half + 1
    coords = (np.arange(size * supersample) + 0.5) / supersample - size / 2.0
    xx, yy = np.meshgrid(coords, coords)
    inside = (xx**2 + yy**2 <= radius**2).astype(np.float64)
    k = inside.reshape(size, supersample, size, supersample).mean(axis=(1, 3))
    return (k / k.sum()).astype(np.float32)


# --- degradations ---


@dataclass
class Degradation:
    """How training inputs are made from sharp photos: which blur, how often, and what comes after.

    ``kind`` picks the blur: "motion", "gaussian", "defocus" or "mixed" (choose by the probabilities
    below; motion-heavy by default because the product is judged on real camera shake).
    """

    kind: str = "mixed"
    kernel_size: int = 31
    p_motion: float = 0.7
    p_gaussian: float = 0.15
    p_defocus: float = 0.15
    motion_length: tuple[float, float] = (0.15, 1.0)  # fraction of the kernel size
    gaussian_sigma: tuple[float, float] = (0.0, 3.0)
    defocus_radius: tuple[float, float] = (1.0, 6.0)
    p_noise: float = 0.5
    noise_sigma: tuple[float, float] = (0.0, 0.02)  # Gaussian, in sRGB units
    p_poisson: float = 0.2
    poisson_peak: tuple[float, float] = (100.0, 1000.0)  # photons at white
    p_jpeg: float = 0.3
    jpeg_quality: tuple[int, int] = (60, 95)
    gamma: float = GAMMA
    # Closer to real cameras (issue 11, after RSBlur, Rim et al. 2022). All off by default: none has been
    # shown to help yet (that needs a GPU training run). They run in torch (restore_cli.data.degrade), on the
    # training device with --synth-device device or in the data workers otherwise.
    p_saturate: float = 0.0  # share of samples whose clipped highlights are brightened above 1 before blur
    saturate_gain: tuple[float, float] = (1.5, 6.0)  # how much more light a clipped pixel stood for
    noise_model: str = "srgb"  # "srgb": Poisson + Gaussian in sRGB (as trained so far); "sensor": below
    read_sigma: tuple[float, float] = (0.0005, 0.01)  # "sensor": Gaussian read noise in linear light
    crf: str = "gamma"  # "gamma": the fixed power law; "random": a gamma per sample in gamma_range
    gamma_range: tuple[float, float] = (1.8, 2.6)
    rotation_copies: int = 1  # > 1: spatially varying shake, this many rotated copies along the path
    rotation_degrees: float = 1.0  # largest camera roll over the exposure

    KINDS = ("motion", "gaussian", "defocus", "mixed")
    NOISE_MODELS = ("srgb", "sensor")
    CRFS = ("gamma", "random")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"unknown blur kind {self.kind!r}; choose one of {', '.join(self.KINDS)}")
        if self.noise_model not in self.NOISE_MODELS:
            raise ValueError(f"unknown noise model {self.noise_model!r}; choose srgb or sensor")
        if self.crf not in self.CRFS:
            raise ValueError(f"unknown camera response {self.crf!r}; choose gamma or random")

    @property
    def camera_steps(self) -> bool:
        """True when a step only the torch implementation has is on (then ``apply`` runs that one)."""
        return (
            self.p_saturate > 0
            or self.noise_model != "srgb"
            or self.crf != "gamma"
            or self.rotation_copies > 1
        )

    @property
    def max_kernel_size(self) -> int:
        """The side of the largest kernel this synthesis can draw (motion, Gaussian or defocus)."""
        sizes = [self.kernel_size]
        if self.kind in ("gaussian", "mixed") and self.gaussian_sigma[1] > 0:
            sizes.append(2 * max(1, math.ceil(3.0 * self.gaussian_sigma[1])) + 1)
        if self.kind in ("defocus", "mixed") and self.defocus_radius[1] > 0.5:
            sizes.append(2 * math.ceil(self.defocus_radius[1]) + 1)
        return max(sizes)

    def pick_kind(self, rng: np.random.Generator) -> str:
        """The blur kind of one sample ("mixed" chooses by the mix probabilities)."""
        if self.kind != "mixed":
            return self.kind
        p = np.array([self.p_motion, self.p_gaussian, self.p_defocus], dtype=np.float64)
        return ("motion", "gaussian", "defocus")[int(rng.choice(3, p=p / p.sum()))]

    def kernel_of_kind(self, kind: str, rng: np.random.Generator) -> np.ndarray:
        """Draw one kernel of ``kind``."""
        if kind == "motion":
            frac = rng.uniform(*self.motion_length)
            return motion_kernel(rng, self.kernel_size, length=frac * (self.kernel_size - 3))
        if kind == "gaussian":
            return gaussian_kernel(rng.uniform(*self.gaussian_sigma))
        return defocus_kernel(rng.uniform(*self.defocus_radius))

    def sample_kernel(self, rng: np.random.Generator) -> np.ndarray:
        """Draw one blur kernel according to ``kind`` and the mix probabilities."""
        return self.kernel_of_kind(self.pick_kind(rng), rng)

    def add_noise_and_jpeg(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Sensor noise (Poisson in linear light, Gaussian in sRGB) then optional JPEG re-compression."""
        out = image
        if self.p_poisson > 0 and rng.uniform() < self.p_poisson:
            peak = rng.uniform(*self.poisson_peak)
            lin = to_linear(out, self.gamma)
            out = to_srgb(rng.poisson(lin * peak).astype(np.float32) / peak, self.gamma)
        if self.p_noise > 0 and rng.uniform() < self.p_noise:
            sigma = rng.uniform(*self.noise_sigma)
            out = np.clip(out + rng.standard_normal(out.shape).astype(np.float32) * sigma, 0.0, 1.0)
        if self.p_jpeg > 0 and rng.uniform() < self.p_jpeg:
            out = jpeg_roundtrip(out, int(rng.integers(self.jpeg_quality[0], self.jpeg_quality[1] + 1)))
        return out.astype(np.float32, copy=False)

    def apply(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Degrade an sRGB float32 image in [0, 1] (H x W x C): blur in linear light, noise, JPEG."""
        if self.camera_steps:
            return self._apply_torch(image, rng)
        blurred = blur_linear(image, self.sample_kernel(rng), self.gamma)
        return self.add_noise_and_jpeg(blurred, rng)

    def describe(self) -> str:
        """One line for the weights' metadata."""
        if self.kind == "mixed":
            mix = f"motion {self.p_motion:g} / gaussian {self.p_gaussian:g} / defocus {self.p_defocus:g}"
        else:
            mix = self.kind
        return (
            f"{mix}, kernel {self.kernel_size}, linear light gamma {self.gamma:g}, "
            f"noise p={self.p_noise:g} sigma<={self.noise_sigma[1]:g}, poisson p={self.p_poisson:g}, "
            f"jpeg p={self.p_jpeg:g} q{self.jpeg_quality[0]}-{self.jpeg_quality[1]}" + self._describe_camera()
        )

    def _describe_camera(self) -> str:
        parts = []
        if self.p_saturate > 0:
            parts.append(
                f"saturated highlights p={self.p_saturate:g} gain {self.saturate_gain[0]:g}-"
                f"{self.saturate_gain[1]:g}"
            )
        if self.noise_model == "sensor":
            parts.append(
                f"sensor noise (Poisson-Gaussian in linear light, read sigma <= {self.read_sigma[1]:g})"
            )
        if self.crf == "random":
            parts.append(f"camera response gamma {self.gamma_range[0]:g}-{self.gamma_range[1]:g}")
        if self.rotation_copies > 1:
            parts.append(
                f"spatially varying shake ({self.rotation_copies} copies, roll <= "
                f"{self.rotation_degrees:g} deg)"
            )
        return "".join(", " + p for p in parts)

    def _apply_torch(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The camera steps through restore_cli.data.degrade on CPU (one sample)."""
        import torch

        from restore_cli.data.degrade import degrade_batch, draw_params

        params = draw_params(self, rng)
        batch = {k: torch.as_tensor(np.asarray(v))[None] for k, v in params.items()}
        u8 = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
        x = torch.from_numpy(np.ascontiguousarray(u8.transpose(2, 0, 1)))[None]
        out = degrade_batch(x, batch)[0]
        return np.ascontiguousarray(out.permute(1, 2, 0).numpy(), dtype=np.float32)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG at ``quality`` (float [0, 1] in and out, gray or RGB)."""
    u8 = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", u8, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 arrays
        return image
    dec = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if image.ndim == 3 and dec.ndim == 2:
        dec = dec[..., None]
    return dec.astype(np.float32) / 255.0
