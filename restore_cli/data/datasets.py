"""Training datasets: sharp photos with on-the-fly blur synthesis, and aligned blur/sharp pairs.

Every sample is a pure function of ``(seed, index)``: sample ``i`` draws its photo, crop, augmentation and
blur from ``np.random.default_rng([seed, i])``. So results do not depend on the number of worker processes,
and resuming only needs the index of the next sample (the "data position").
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from restore_cli.choices import IMAGE_EXTENSIONS
from restore_cli.data.synth import Degradation
from restore_cli.errors import BadImageError, UsageError

PREFETCH_FACTOR = 4  # batches each data worker prepares ahead
PAIR_LAYOUTS = (("blur", "sharp"), ("input", "target"))


def find_images(root: str | Path) -> list[Path]:
    """All images under ``root`` (recursive, sorted, by suffix)."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise UsageError("folder not found; give a folder of photos", root)
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def read_rgb_u8(path: str | Path) -> np.ndarray:
    """Decode a training image as H x W x 3 uint8 RGB through restore_cli.io (upright, sRGB)."""
    from restore_cli.io import read_rgb8

    try:
        return read_rgb8(path)
    except BadImageError as exc:
        raise BadImageError(f"{exc.message}; remove it from the training folder", path) from exc


def decode_photos(paths: list[Path], root: Path, what: str, threads: int = 2) -> list[np.ndarray]:
    """Decode every training photo once (uint8 RGB, kept in RAM), ``threads`` at a time."""
    if not paths:
        raise UsageError(f"no images (jpg/png/tif) found; give a folder of {what}", root)
    with ThreadPoolExecutor(max(1, threads)) as pool:
        return list(pool.map(read_rgb_u8, paths))


def to_gray_u8(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of an RGB uint8 image, H x W x 1."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None]


def augment(arrays: Sequence[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """The same random flip and 90-degree rotation applied to every array of a sample."""
    flip = rng.uniform() < 0.5
    turns = int(rng.integers(4))
    out = []
    for a in arrays:
        if flip:
            a = a[:, ::-1]
        if turns:
            a = np.rot90(a, turns)
        out.append(np.ascontiguousarray(a))
    return out


def random_crop_box(h: int, w: int, size: int, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left corner of a random ``size`` x ``size`` window inside an h x w image."""
    return int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))


def ensure_min_side(img: np.ndarray, size: int) -> np.ndarray:
    """Upscale an image whose shorter side is below ``size`` (rare tiny training photos)."""
    h, w = img.shape[:2]
    if min(h, w) >= size:
        return img
    scale = size / min(h, w)
    out = cv2.resize(
        img, (max(size, round(w * scale)), max(size, round(h * scale))), interpolation=cv2.INTER_CUBIC
    )
    return out if out.ndim == img.ndim else out[..., None]


def _hwc_to_chw_float(a: np.ndarray):
    import torch

    if a.ndim == 2:
        a = a[..., None]
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


class SharpPhotoDataset:
    """Sharp photos from a folder tree, decoded once and kept in RAM as uint8; blurred inputs made on the fly.

    ``dataset[i]`` returns ``(blurred, sharp)`` float tensors C x patch x patch in [0, 1]. A crop larger than
    the patch (by the kernel radius) is blurred and then centre-cropped, so no blur sees a border.

    With ``on_device=True`` the workers do not blur: ``dataset[i]`` is a dict with the uint8 crop (margin
    included) and the sample's random choices (:func:`restore_cli.data.degrade.draw_params`), and the trainer
    makes the whole batch's inputs on its device with :meth:`make_inputs`.
    """

    def __init__(
        self,
        root: str | Path,
        patch: int = 128,
        degradation: Degradation | None = None,
        seed: int = 0,
        gray: bool = False,
        images: list[np.ndarray] | None = None,
        decode_threads: int = 2,
        on_device: bool = False,
    ) -> None:
        self.root = Path(root)
        self.patch = patch
        self.on_device = on_device
        self.degradation = degradation or Degradation()
        self.seed = seed
        self.gray = gray
        if images is None:
            self.paths = find_images(self.root)
            images = decode_photos(self.paths, self.root, "sharp photos", decode_threads)
        else:
            self.paths = []
        self.images = images
        # Room for the largest kernel's radius (+4), so the kept patch never sees a border of the crop.
        self.margin = self.degradation.max_kernel_size // 2 + 4

    def __len__(self) -> int:  # nominal: the stream of samples is unbounded
        return 2**62

    @property
    def num_photos(self) -> int:
        return len(self.images)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.images)

    def _crop(self, index: int) -> tuple[np.ndarray, np.random.Generator]:
        """The sample's uint8 crop (patch plus margin on each side, augmented) and its generator."""
        rng = np.random.default_rng([self.seed, index])
        img = self.images[int(rng.integers(len(self.images)))]
        big = self.patch + 2 * self.margin
        img = ensure_min_side(img, big)
        y, x = random_crop_box(img.shape[0], img.shape[1], big, rng)
        crop = img[y : y + big, x : x + big]
        if self.gray:
            crop = to_gray_u8(crop)
        (crop,) = augment([crop], rng)
        return crop, rng

    def sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Sample ``index`` as float32 H x W x C arrays (blurred, sharp)."""
        crop, rng = self._crop(index)
        sharp = crop.astype(np.float32) / 255.0
        blurred = self.degradation.apply(sharp, rng)
        m = self.margin
        return blurred[m : m + self.patch, m : m + self.patch], sharp[m : m + self.patch, m : m + self.patch]

    def raw_sample(self, index: int) -> dict:
        """Sample ``index`` for on-device synthesis: uint8 crop (C x S x S) and its random choices."""
        import torch

        from restore_cli.data.degrade import draw_params

        crop, rng = self._crop(index)
        params = draw_params(self.degradation, rng)
        return {
            "sharp_u8": torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1))),
            **{k: torch.as_tensor(v) for k, v in params.items()},
        }

    def __getitem__(self, index: int):
        if self.on_device:
            return self.raw_sample(index)
        blurred, sharp = self.sample(index)
        return _hwc_to_chw_float(blurred), _hwc_to_chw_float(sharp)

    def make_inputs(self, batch: dict, device) -> tuple:
        """(blurred, sharp) float tensors B x C x patch x patch on ``device`` from a batch of raw samples."""
        from restore_cli.data.degrade import degrade_batch

        sharp_u8 = batch["sharp_u8"].to(device, non_blocking=True)
        blurred = degrade_batch(sharp_u8, batch)
        m, p = self.margin, self.patch
        sharp = sharp_u8[:, :, m : m + p, m : m + p].float().div_(255.0)
        return blurred[:, :, m : m + p, m : m + p].contiguous(), sharp

    def describe(self) -> str:
        gray = ", gray" if self.gray else ""
        where = ", synthesised on the training device" if self.on_device else ""
        return (
            f"{self.num_photos} sharp photos from {self.root} (patch {self.patch}{gray}), "
            f"synthetic blur: {self.degradation.describe()}{where}"
        )


class ColorPhotoDataset:
    """Colour photos (decoded once, uint8 in RAM) for colorization: ``dataset[i]`` is ``(l_norm, ab)``.

    ``l_norm`` is ``1 x patch x patch`` = (L - 50) / 100 and ``ab`` is ``2 x patch x patch`` in Lab units
    (CIE Lab, D65, via restore_cli.color). Crops are random with horizontal flips only (skies stay on top).
    Photos that are nearly gray (colourfulness below ``min_colorfulness``) are left out: they teach only gray.
    ``root`` may be a list of folders: their photos are pooled (each photo equally likely).
    """

    def __init__(
        self,
        root: str | Path | Sequence[str | Path],
        patch: int = 128,
        seed: int = 0,
        images: list[np.ndarray] | None = None,
        min_colorfulness: float = 5.0,
        decode_threads: int = 2,
        short_side: tuple[float, float] | None = (224.0, 320.0),
    ) -> None:
        from restore_cli.color import colorfulness

        roots = [Path(root)] if isinstance(root, (str, Path)) else [Path(r) for r in root]
        if not roots:
            raise UsageError("no training folders given; give --data FOLDER")
        self.roots = roots
        self.root = roots[0]
        self.patch = patch
        self.short_side = short_side
        self.seed = seed
        if images is None:
            images = []
            for folder in roots:
                images += decode_photos(find_images(folder), folder, "colour photos", decode_threads)
        small = [cv2.resize(a, (64, 64), interpolation=cv2.INTER_AREA) for a in images]
        keep = [i for i, a in enumerate(small) if colorfulness(a) >= min_colorfulness]
        self.skipped_gray = len(images) - len(keep)
        self.images = [images[i] for i in keep]
        if not self.images:
            raise UsageError(
                "no colour photos found (all are gray); give a folder of colour photos", self.root
            )

    def __len__(self) -> int:
        return 2**62

    @property
    def num_photos(self) -> int:
        return len(self.images)

    def sample(self, index: int) -> np.ndarray:
        """Sample ``index`` as an RGB uint8 crop."""
        rng = np.random.default_rng([self.seed, index])
        img = self.images[int(rng.integers(len(self.images)))]
        # Colorizers see the whole photo at a short side of about 256 px (their work size), so train at
        # that scale: resize the short side to a random 224..320 px before cropping (not full-res crops).
        short = float(rng.uniform(*self.short_side)) if self.short_side else 0.0
        if short and min(img.shape[:2]) > short:
            f = short / min(img.shape[:2])
            size = (max(1, round(img.shape[1] * f)), max(1, round(img.shape[0] * f)))
            img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        img = ensure_min_side(img, self.patch)
        y, x = random_crop_box(img.shape[0], img.shape[1], self.patch, rng)
        crop = img[y : y + self.patch, x : x + self.patch]
        if rng.uniform() < 0.5:
            crop = crop[:, ::-1]
        return np.ascontiguousarray(crop)

    def __getitem__(self, index: int):
        import torch

        from restore_cli.color import rgb_to_lab_np

        lab = rgb_to_lab_np(self.sample(index).astype(np.float32) / 255.0).astype(np.float32)
        l_norm = (lab[..., :1] - 50.0) / 100.0
        return (
            torch.from_numpy(np.ascontiguousarray(l_norm.transpose(2, 0, 1))),
            torch.from_numpy(np.ascontiguousarray(lab[..., 1:].transpose(2, 0, 1))),
        )

    def ab_samples(self, size: int = 64) -> np.ndarray:
        """ab values of every photo resized to ``size`` x ``size`` (``M x 2``), for the colour prior."""
        from restore_cli.color import rgb_to_lab_np

        out = []
        for img in self.images:
            small = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
            out.append(rgb_to_lab_np(small)[..., 1:].reshape(-1, 2))
        return np.concatenate(out).astype(np.float32)

    def describe(self) -> str:
        return (
            f"{self.num_photos} colour photos from {', '.join(map(str, self.roots))} (patch {self.patch}, "
            f"{self.skipped_gray} near-gray photos left out), gray input made on the fly"
        )


def find_pairs(root: str | Path) -> list[tuple[Path, Path]]:
    """Aligned (blurred, sharp) files: GoPro ``*/blur|sharp``, ``input|target``, or ``blur/`` + ``sharp/``.

    Any folder holding both halves of a layout contributes the files present under the same relative path in
    both halves.
    """
    root = Path(root)
    if not root.is_dir():
        raise UsageError("folder not found; give a folder of blur/sharp pairs", root)
    pairs: list[tuple[Path, Path]] = []
    for dirpath, dirnames, _ in os.walk(root):
        names = set(dirnames)
        for a, b in PAIR_LAYOUTS:
            if a in names and b in names:
                blur_dir, sharp_dir = Path(dirpath) / a, Path(dirpath) / b
                for blur in find_images(blur_dir):
                    sharp = sharp_dir / blur.relative_to(blur_dir)
                    if sharp.is_file():
                        pairs.append((blur, sharp))
                dirnames[:] = [d for d in dirnames if d not in (a, b)]
    return sorted(pairs)


def has_pairs(root: str | Path) -> bool:
    """True when ``root`` holds an aligned-pair layout (so training reads pairs instead of synthesising)."""
    root = Path(root)
    for _dirpath, dirnames, _ in os.walk(root):
        names = set(dirnames)
        if any(a in names and b in names for a, b in PAIR_LAYOUTS):
            return True
    return False


class PairedDataset:
    """Aligned blur/sharp pairs (GoPro and friends); random aligned crops, flips and rotations.

    Files are decoded when needed (a GoPro-size set does not fit in RAM); ``cache=True`` keeps them.
    """

    def __init__(
        self, root: str | Path, patch: int = 128, seed: int = 0, gray: bool = False, cache: bool = False
    ) -> None:
        self.root = Path(root)
        self.pairs = find_pairs(root)
        if not self.pairs:
            raise UsageError(
                "no blur/sharp pairs found (expected */blur + */sharp or input/ + target/)", root
            )
        self.patch = patch
        self.seed = seed
        self.gray = gray
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] | None = {} if cache else None

    def __len__(self) -> int:
        return 2**62

    def _load(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._cache is not None and k in self._cache:
            return self._cache[k]
        blur_path, sharp_path = self.pairs[k]
        blur, sharp = read_rgb_u8(blur_path), read_rgb_u8(sharp_path)
        if blur.shape != sharp.shape:
            raise BadImageError(f"size {blur.shape[:2]} differs from its sharp twin {sharp_path}", blur_path)
        if self._cache is not None:
            self._cache[k] = (blur, sharp)
        return blur, sharp

    def sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, index])
        blur, sharp = self._load(int(rng.integers(len(self.pairs))))
        blur, sharp = ensure_min_side(blur, self.patch), ensure_min_side(sharp, self.patch)
        y, x = random_crop_box(blur.shape[0], blur.shape[1], self.patch, rng)
        crops = [a[y : y + self.patch, x : x + self.patch] for a in (blur, sharp)]
        if self.gray:
            crops = [to_gray_u8(a) for a in crops]
        blur_c, sharp_c = augment(crops, rng)
        return blur_c.astype(np.float32) / 255.0, sharp_c.astype(np.float32) / 255.0

    def __getitem__(self, index: int):
        blurred, sharp = self.sample(index)
        return _hwc_to_chw_float(blurred), _hwc_to_chw_float(sharp)

    def describe(self) -> str:
        return f"{len(self.pairs)} blur/sharp pairs from {self.root} (patch {self.patch})"


class IndexStream:
    """Sampler yielding sample indices ``start + rank, start + rank + world, ...`` forever.

    ``start`` is the global data position (samples consumed by all processes), so resuming is exact and each
    process of a distributed run sees its own share.
    """

    def __init__(self, start: int = 0, rank: int = 0, world: int = 1) -> None:
        self.start, self.rank, self.world = start, rank, world

    def __iter__(self) -> Iterator[int]:
        i = self.start + self.rank
        while True:
            yield i
            i += self.world

    def __len__(self) -> int:
        return 2**62


def _worker_init(_worker_id: int) -> None:
    import torch

    torch.set_num_threads(1)


def make_loader(dataset, batch: int, start: int = 0, workers: int = 1, rank: int = 0, world: int = 1):
    """Endless DataLoader over ``dataset`` from data position ``start`` (workers overlap the compute)."""
    import torch
    from torch.utils.data import DataLoader

    kwargs = {}
    if workers > 0:
        # OpenCV's thread pool does not survive fork (a worker touching it hangs), so it is switched off in
        # the parent before the workers are forked; each worker then runs OpenCV on its own single thread.
        cv2.setNumThreads(1)
        kwargs = {
            "worker_init_fn": _worker_init,
            "prefetch_factor": PREFETCH_FACTOR,
            "persistent_workers": False,
        }
    return DataLoader(
        dataset,
        batch_size=batch,
        sampler=IndexStream(start, rank, world),
        num_workers=workers,
        pin_memory=torch.cuda.is_available(),
        drop_last=True,
        # Its own generator: creating the iterator must not draw from torch's global RNG (exact resume).
        generator=torch.Generator().manual_seed(0),
        **kwargs,
    )
