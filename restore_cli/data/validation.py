"""Fixed validation sets for training: sharp photos blurred by recorded kernels, or aligned pairs.

The pairs are made once (fixed seed, linear light, 8-bit rounded like a real file) and kept in memory as
uint8, centre-cropped to a fixed size so a validation pass is quick on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from restore_cli.data.datasets import find_images, find_pairs, has_pairs, read_rgb_u8, to_gray_u8
from restore_cli.data.synth import blur_linear
from restore_cli.errors import UsageError


def load_kernels(folder: str | Path) -> list[np.ndarray]:
    """The recorded blur kernels (``*.npy``, 2-D float, normalised to sum 1), sorted by name."""
    folder = Path(folder)
    files = sorted(folder.glob("*.npy")) if folder.is_dir() else []
    if not files:
        raise UsageError("no kernels (*.npy) found; give --val-kernels a folder of recorded kernels", folder)
    kernels = []
    for f in files:
        k = np.load(f, allow_pickle=False).astype(np.float32)
        if k.ndim != 2 or k.min() < 0 or k.sum() <= 0:
            raise UsageError("not a 2-D non-negative blur kernel; remove it from the folder", f)
        kernels.append(k / k.sum())
    return kernels


def pick_kernel(kernels: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """One recorded kernel for the next photo, transposed half the time (another real-looking shake).

    Validation and `restore data synth --kernels` both call this with the same seeded generator, so they
    blur photo i with the same kernel.
    """
    k = kernels[int(rng.integers(len(kernels)))]
    return np.ascontiguousarray(k.T) if rng.uniform() < 0.5 else k


def center_crop(img: np.ndarray, size: int, multiple: int = 16) -> np.ndarray:
    """Central ``size`` x ``size`` window (smaller images: the largest multiple-of-``multiple`` square)."""
    h, w = img.shape[:2]
    s = min(size, h, w)
    s -= s % multiple
    y, x = (h - s) // 2, (w - s) // 2
    return img[y : y + s, x : x + s]


@dataclass
class ValSet:
    """Validation pairs in memory: ``blurred[i]`` and ``sharp[i]`` are uint8 H x W x C."""

    blurred: list[np.ndarray]
    sharp: list[np.ndarray]
    recipe: str
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sharp)


def kernel_val_set(
    folder: str | Path,
    kernels_dir: str | Path,
    size: int = 256,
    seed: int = 0,
    limit: int | None = None,
    gray: bool = False,
) -> ValSet:
    """Sharp photos from ``folder``, each blurred by a recorded kernel chosen with a fixed seed.

    The blur is applied in linear light to a window larger than the crop by the kernel radius, so the
    centre crop never sees a border; the blurred crop is rounded to 8 bits.
    """
    paths = find_images(folder)
    if not paths:
        raise UsageError("no validation images found; give --val a folder of sharp photos", folder)
    if limit:
        paths = paths[:limit]
    kernels = load_kernels(kernels_dir)
    rng = np.random.default_rng(seed)
    blurred, sharp, names = [], [], []
    for path in paths:
        img = read_rgb_u8(path)
        if gray:
            img = to_gray_u8(img)
        k = pick_kernel(kernels, rng)
        pad = max(k.shape) // 2 + 2
        window = center_crop(img, size + 2 * pad, multiple=1)
        blur = blur_linear(window.astype(np.float32) / 255.0, k)
        blur_u8 = np.clip(blur * 255.0 + 0.5, 0, 255).astype(np.uint8)
        if blur_u8.ndim == 2:
            blur_u8 = blur_u8[..., None]
        blurred.append(center_crop(blur_u8, size))
        sharp.append(center_crop(window, size))
        names.append(str(path))
    recipe = (
        f"{len(sharp)} photos from {folder}, centre crop {size}, blurred in linear light (gamma 2.2) by the "
        f"{len(kernels)} recorded kernels in {kernels_dir} (seed {seed}, random transpose), 8-bit; "
        "PSNR/SSIM on 8-bit RGB"
    )
    return ValSet(blurred, sharp, recipe, names)


def paired_val_set(
    folder: str | Path, size: int = 256, limit: int | None = None, gray: bool = False
) -> ValSet:
    """Centre crops of aligned blur/sharp pairs (GoPro layout or blur/ + sharp/)."""
    pairs = find_pairs(folder)
    if limit:
        pairs = pairs[:limit]
    blurred, sharp, names = [], [], []
    for bp, sp in pairs:
        b, s = read_rgb_u8(bp), read_rgb_u8(sp)
        if gray:
            b, s = to_gray_u8(b), to_gray_u8(s)
        blurred.append(center_crop(b, size))
        sharp.append(center_crop(s, size))
        names.append(str(bp))
    recipe = f"{len(sharp)} pairs from {folder}, centre crop {size}; PSNR/SSIM on 8-bit RGB"
    return ValSet(blurred, sharp, recipe, names)


def make_val_set(
    folder: str | Path,
    kernels_dir: str | Path,
    size: int = 256,
    seed: int = 0,
    limit: int | None = None,
    gray: bool = False,
) -> ValSet:
    """Pairs if ``folder`` has a pair layout, else sharp photos blurred by the recorded kernels."""
    if has_pairs(folder):
        return paired_val_set(folder, size, limit, gray)
    return kernel_val_set(folder, kernels_dir, size, seed, limit, gray)


def color_val_set(folder: str | Path, size: int = 256, limit: int | None = None) -> ValSet:
    """Centre crops of colour photos for colorization (``blurred`` holds the gray version, 1 channel)."""
    paths = find_images(folder)
    if not paths:
        raise UsageError("no validation images found; give --val a folder of colour photos", folder)
    if limit:
        paths = paths[:limit]
    gray, color, names = [], [], []
    for path in paths:
        img = center_crop(read_rgb_u8(path), size, multiple=16)
        color.append(img)
        gray.append(to_gray_u8(img))
        names.append(str(path))
    recipe = (
        f"{len(color)} photos from {folder}, centre crop {size}; colorized from L, "
        "PSNR on 8-bit RGB, colourfulness (Hasler-Suesstrunk) and mean a/b vs truth"
    )
    return ValSet(gray, color, recipe, names)
