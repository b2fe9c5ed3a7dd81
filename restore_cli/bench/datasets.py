"""Benchmark datasets: readers for the layouts the datasets are published in, and a synthetic set.

Each reader returns a :class:`Dataset`: a list of :class:`Sample` (input and ground truth, loaded lazily as
8-bit RGB) plus how to score it (full-reference or not, ECC alignment first or not). Nothing is ever
downloaded; a missing dataset raises :class:`DatasetError` with the expected layout and where it is published.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from restore_cli.choices import IMAGE_EXTENSIONS
from restore_cli.data.scenes import render_scene
from restore_cli.data.synth import blur_linear, motion_kernel
from restore_cli.errors import UsageError
from restore_cli.io import read_rgb8

NAMED = ("synthetic", "gopro", "hide", "realblur-j", "realblur-r", "reds", "kaggle-blur")


class DatasetError(UsageError):
    """A benchmark dataset is missing or not in the expected layout (exit code 2: nothing was loaded)."""


@dataclass
class Sample:
    """One benchmark image: a blurred (or gray) input and, when the dataset has one, its ground truth."""

    name: str
    input_path: Path | None = None
    truth_path: Path | None = None
    make: Callable[[], tuple[np.ndarray, np.ndarray | None]] | None = None

    def load(self) -> tuple[np.ndarray, np.ndarray | None]:
        """(input, truth) as uint8 ``H x W x 3`` arrays (truth None when there is none)."""
        if self.make is not None:
            return self.make()
        assert self.input_path is not None
        source = read_rgb8(self.input_path)
        truth = read_rgb8(self.truth_path) if self.truth_path is not None else None
        return source, truth


@dataclass
class Dataset:
    """A named list of samples and how to score them."""

    name: str
    task: str
    samples: list[Sample]
    root: Path | None = None
    full_reference: bool = True
    align: bool = False  # RealBlur protocol: ECC homography of each output onto its ground truth
    warnings: list[str] = field(default_factory=list)

    def limited(self, limit: int | None) -> Dataset:
        if not limit:
            return self
        return Dataset(
            self.name,
            self.task,
            self.samples[:limit],
            self.root,
            self.full_reference,
            self.align,
            self.warnings,
        )


def _images(folder: Path) -> dict[str, Path]:
    """Image files under a folder, keyed by their path relative to it without the suffix."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file():
            found[path.relative_to(folder).with_suffix("").as_posix()] = path
    return found


def _pairs(blur_dir: Path, sharp_dir: Path, prefix: str = "") -> list[Sample]:
    blurred, sharp = _images(blur_dir), _images(sharp_dir)
    return [Sample(f"{prefix}{key}", blurred[key], sharp[key]) for key in sorted(blurred) if key in sharp]


def _missing(name: str, where: str, layout: str, published: str) -> DatasetError:
    return DatasetError(
        f"dataset {name!r} not found at {where}. Expected layout: {layout}. It is published at {published}; "
        "download it yourself and pass --root DIR (or set RESTORE_DATA). Nothing is downloaded automatically."
    )


def _locate(root: Path | None, names: tuple[str, ...]) -> list[Path]:
    """Candidate roots: --root itself, else $RESTORE_DATA/<name> for each usual folder name."""
    if root is not None:
        return [Path(root).expanduser()]
    base = os.environ.get("RESTORE_DATA")
    if not base:
        return []
    return [Path(base).expanduser() / n for n in names] + [Path(base).expanduser()]


def _where(root: Path | None, names: tuple[str, ...]) -> str:
    if root is not None:
        return str(root)
    base = os.environ.get("RESTORE_DATA")
    return f"$RESTORE_DATA ({base}) /{'|'.join(names)}" if base else "nowhere (no --root and no RESTORE_DATA)"


def _flat(folder: Path) -> list[Sample]:
    """The flattened layout the MPRNet/Restormer releases use: input/ + target/ (or blur/ + sharp/)."""
    for blur_name, sharp_name in (("input", "target"), ("blur", "sharp")):
        if (folder / blur_name).is_dir() and (folder / sharp_name).is_dir():
            return _pairs(folder / blur_name, folder / sharp_name)
    return []


# ---- named datasets --------------------------------------------------------------------------------------


def gopro(root: Path | None, *, blur_gamma: bool = False) -> Dataset:
    """GOPRO_Large ``test/<seq>/blur|blur_gamma|sharp/*.png``, or the flattened ``test/input|target``."""
    names = ("GOPRO_Large", "GoPro", "gopro")
    for base in _locate(root, names):
        test = base / "test" if (base / "test").is_dir() else base
        if not test.is_dir():
            continue
        blur_name = "blur_gamma" if blur_gamma else "blur"
        samples: list[Sample] = []
        for seq in sorted(p for p in test.iterdir() if p.is_dir()):
            if (seq / blur_name).is_dir() and (seq / "sharp").is_dir():
                samples += _pairs(seq / blur_name, seq / "sharp", prefix=f"{seq.name}/")
        samples = samples or _flat(test)
        if samples:
            return Dataset("gopro", "deblur", samples, base)
    raise _missing(
        "gopro",
        _where(root, names),
        "GOPRO_Large/test/<sequence>/{blur,blur_gamma,sharp}/*.png (or test/input + test/target)",
        "https://seungjunnah.github.io/Datasets/gopro (Nah et al., CVPR 2017)",
    )


def hide(root: Path | None) -> Dataset:
    """HIDE_dataset ``test/test-close-ups|test-long-shot/*.png``, truth in ``GT/``; or flattened."""
    names = ("HIDE_dataset", "HIDE", "hide")
    for base in _locate(root, names):
        if (base / "GT").is_dir() and (base / "test").is_dir():
            truth = _images(base / "GT")
            samples = []
            for part in sorted(p for p in (base / "test").iterdir() if p.is_dir()):
                for key, path in _images(part).items():
                    if key in truth:
                        samples.append(Sample(f"{part.name}/{key}", path, truth[key]))
            if samples:
                return Dataset("hide", "deblur", samples, base)
        flat = _flat(base / "test") if (base / "test").is_dir() else _flat(base)
        if flat:
            return Dataset("hide", "deblur", flat, base)
    raise _missing(
        "hide",
        _where(root, names),
        "HIDE_dataset/GT/*.png + HIDE_dataset/test/{test-close-ups,test-long-shot}/*.png "
        "(or input/ + target/)",
        "https://github.com/joanshen0508/HA_deblur (Shen et al., ICCV 2019)",
    )


def realblur(root: Path | None, variant: str) -> Dataset:
    """RealBlur-J or -R from its test list (``RealBlur_J_test_list.txt``: gt and blur paths per line)."""
    letter = variant[-1].upper()
    name = f"realblur-{letter.lower()}"
    names = ("RealBlur", f"RealBlur_{letter}", f"RealBlur-{letter}", "realblur")
    for base in _locate(root, names):
        listing = base / f"RealBlur_{letter}_test_list.txt"
        samples: list[Sample] = []
        if listing.is_file():
            for line in listing.read_text().splitlines():
                parts = line.split()
                if len(parts) < 2:
                    continue
                gt_rel = next((p for p in parts[:2] if "/gt/" in f"/{p}"), parts[0])
                blur_rel = next(p for p in parts[:2] if p != gt_rel)
                gt_path, blur_path = base / gt_rel, base / blur_rel
                if gt_path.is_file() and blur_path.is_file():
                    key = Path(blur_rel).with_suffix("").as_posix().replace("/blur/", "/")
                    samples.append(Sample(key, blur_path, gt_path))
        if not samples:
            for candidate in (
                base / "test",
                base / f"RealBlur_{letter}" / "test",
                base / f"RealBlur_{letter}",
            ):
                samples = _flat(candidate) if candidate.is_dir() else []
                if samples:
                    break
            samples = samples or _flat(base)
        if samples:
            return Dataset(name, "deblur", samples, base, align=True)
    raise _missing(
        name,
        _where(root, names),
        f"RealBlur/RealBlur_{letter}_test_list.txt + RealBlur-{letter}_ECC_IMCORR_centroid_itensity_ref/"
        "<scene>/{blur,gt}/*.png (or input/ + target/)",
        "http://cg.postech.ac.kr/research/realblur/ (Rim et al., ECCV 2020)",
    )


def reds(root: Path | None) -> Dataset:
    """REDS validation: ``val/val_blur/<seq>/*.png`` with ``val/val_sharp/<seq>/*.png``."""
    names = ("REDS", "reds")
    for base in _locate(root, names):
        for val in (base / "val", base):
            for blur_name, sharp_name in (("val_blur", "val_sharp"), ("blur", "sharp")):
                if (val / blur_name).is_dir() and (val / sharp_name).is_dir():
                    samples = _pairs(val / blur_name, val / sharp_name)
                    if samples:
                        return Dataset("reds", "deblur", samples, base)
    raise _missing(
        "reds",
        _where(root, names),
        "REDS/val/val_blur/<sequence>/*.png + REDS/val/val_sharp/<sequence>/*.png",
        "https://seungjunnah.github.io/Datasets/reds (Nah et al., CVPRW 2019)",
    )


def kaggle_blur(root: Path | None) -> Dataset:
    """Kaggle 'Blur dataset': ``sharp/``, ``motion_blurred/``, ``defocused_blurred/`` (not pixel-aligned)."""
    names = ("blur-dataset", "kaggle-blur", "blur_dataset")
    for base in _locate(root, names):
        if (base / "motion_blurred").is_dir() and (base / "sharp").is_dir():

            def stem(key: str) -> str:
                return key.rsplit("_", 1)[0] if "_" in key else key

            sharp = {stem(k): p for k, p in _images(base / "sharp").items()}
            samples = [
                Sample(key, path, sharp.get(stem(key)))
                for key, path in _images(base / "motion_blurred").items()
            ]
            if samples:
                warning = (
                    "kaggle-blur pairs are not pixel-aligned (hand-held shots): PSNR/SSIM would be "
                    "meaningless, "
                    "so only no-reference measures (sharpness, colourfulness) are reported"
                )
                return Dataset(
                    "kaggle-blur", "deblur", samples, base, full_reference=False, warnings=[warning]
                )
    raise _missing(
        "kaggle-blur",
        _where(root, names),
        "<root>/{sharp,motion_blurred,defocused_blurred}/*.jpg",
        "https://www.kaggle.com/datasets/kwentar/blur-dataset",
    )


def pairs_folder(folder: Path, task: str = "deblur") -> Dataset:
    """Any folder of pairs: ``blur/`` + ``sharp/`` or ``input/`` + ``target/`` (matched by relative name)."""
    samples = _flat(folder)
    if not samples:
        raise DatasetError(
            "no image pairs found; expected blur/ + sharp/ or input/ + target/ with matching file names",
            path=folder,
        )
    return Dataset(folder.name or str(folder), task, samples, folder)


def photos_folder(folder: Path) -> Dataset:
    """Any folder of colour photos for ``--task colorize``: the gray input is made on the fly from each."""
    files = _images(folder)
    if not files:
        raise DatasetError("no images found; give a folder of colour photos", path=folder)

    def maker(path: Path) -> Callable[[], tuple[np.ndarray, np.ndarray | None]]:
        def make() -> tuple[np.ndarray, np.ndarray | None]:
            truth = read_rgb8(path)
            return gray_like(truth), truth

        return make

    samples = [Sample(key, path, path, make=maker(path)) for key, path in files.items()]
    return Dataset(folder.name or str(folder), "colorize", samples, folder)


def gray_like(rgb: np.ndarray) -> np.ndarray:
    """The gray version of an 8-bit RGB image that keeps its CIE L (a = b = 0), as 8-bit RGB."""
    from restore_cli.bench.metrics import _lab

    lab = _lab(rgb)
    lab[:, :, 1:] = 0.0
    try:
        from restore_cli.color import lab_to_rgb_np  # type: ignore[attr-defined]

        rgb_gray = np.asarray(lab_to_rgb_np(lab.astype(np.float32)), dtype=np.float64)
    except ImportError:
        rgb_gray = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB).astype(np.float64)
    gray = np.clip(np.rint(rgb_gray.mean(axis=2) * 255.0), 0, 255).astype(np.uint8)
    return np.repeat(gray[:, :, None], 3, axis=2)


# ---- synthetic ------------------------------------------------------------------------------------------


def synthetic_kernel(index: int) -> np.ndarray:
    """The camera-shake kernel of synthetic sample ``index``: training's trajectory generator, fixed seed."""
    size = 9 + 2 * (index % 4)
    rng = np.random.default_rng(index)
    return motion_kernel(rng, size, length=rng.uniform(0.5, 1.0) * (size - 3))


def blur_u8(rgb8: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Blur an 8-bit sRGB image in linear light with training's ``blur_linear``; returns rounded uint8."""
    blurred = blur_linear(rgb8.astype(np.float32) / 255.0, kernel)
    return np.clip(np.rint(blurred * 255.0), 0, 255).astype(np.uint8)


def synthetic(count: int = 8, task: str = "deblur", height: int = 192, width: int = 256) -> Dataset:
    """A deterministic set built in memory: data.scenes renders, blurred by seeded camera-shake kernels."""

    def maker(index: int) -> Callable[[], tuple[np.ndarray, np.ndarray | None]]:
        def make() -> tuple[np.ndarray, np.ndarray | None]:
            sharp = render_scene(height, width, seed=1000 + index)
            if task == "colorize":
                return gray_like(sharp), sharp
            blurred = blur_u8(sharp, synthetic_kernel(index))
            return (gray_like(blurred) if task == "pipeline" else blurred), sharp

        return make

    samples = [Sample(f"scene{index:02d}", make=maker(index)) for index in range(count)]
    return Dataset("synthetic", task, samples, None)


def open_dataset(
    name: str, *, root: Path | None = None, task: str = "deblur", blur_gamma: bool = False
) -> Dataset:
    """A dataset by name (see ``NAMED``) or a folder path (pairs, or colour photos for colorize)."""
    key = name.lower()
    if key == "synthetic":
        return synthetic(task=task)
    if key == "gopro":
        dataset = gopro(root, blur_gamma=blur_gamma)
    elif key == "hide":
        dataset = hide(root)
    elif key in ("realblur-j", "realblur-r", "realblur_j", "realblur_r"):
        dataset = realblur(root, key)
    elif key == "reds":
        dataset = reds(root)
    elif key in ("kaggle-blur", "kaggle"):
        dataset = kaggle_blur(root)
    else:
        folder = Path(name).expanduser()
        if not folder.is_dir():
            raise DatasetError(
                f"unknown dataset {name!r}: use one of {', '.join(NAMED)} or a folder of pairs "
                "(blur/ + sharp/ or input/ + target/) or, for --task colorize, a folder of colour photos"
            )
        if task == "colorize" and not _flat(folder):
            return photos_folder(folder)
        dataset = pairs_folder(folder, task)
    if task == "colorize":  # colour ground truths of a pair dataset; inputs made gray from them
        dataset = _as_colorize(dataset)
    elif task == "pipeline":
        dataset = _as_pipeline(dataset)
    return dataset


def _as_colorize(dataset: Dataset) -> Dataset:
    def maker(sample: Sample) -> Callable[[], tuple[np.ndarray, np.ndarray | None]]:
        def make() -> tuple[np.ndarray, np.ndarray | None]:
            truth = read_rgb8(sample.truth_path or sample.input_path)  # type: ignore[arg-type]
            return gray_like(truth), truth

        return make

    samples = [Sample(s.name, s.input_path, s.truth_path, make=maker(s)) for s in dataset.samples]
    return Dataset(
        dataset.name, "colorize", samples, dataset.root, dataset.full_reference, False, dataset.warnings
    )


def _as_pipeline(dataset: Dataset) -> Dataset:
    def maker(sample: Sample) -> Callable[[], tuple[np.ndarray, np.ndarray | None]]:
        def make() -> tuple[np.ndarray, np.ndarray | None]:
            source, truth = sample.load()
            return gray_like(source), truth

        return make

    samples = [Sample(s.name, s.input_path, s.truth_path, make=maker(s)) for s in dataset.samples]
    return Dataset(
        dataset.name,
        "pipeline",
        samples,
        dataset.root,
        dataset.full_reference,
        dataset.align,
        dataset.warnings,
    )


__all__ = ["NAMED", "Dataset", "DatasetError", "Sample", "gray_like", "open_dataset", "synthetic"]
