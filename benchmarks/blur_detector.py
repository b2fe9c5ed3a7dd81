"""Fit and check the blur detector of ``--order auto`` and ``restore inspect`` (restore_cli.blur.blur_score).

    python benchmarks/blur_detector.py fit --data /work/shared/data      # train/ only; prints the constants
    python benchmarks/blur_detector.py evaluate --data /work/shared/data # confusion tables

``fit`` measures edge widths (blur.blur_features) on every third photo of ``train/`` at full, half and quarter
size (label: sharp) and on the same photos blurred twice each by restore_cli.data.synth's default
Degradation (label: blurry when the kernel's spatial standard deviation is at least 2 px; milder draws are
left out as ambiguous), then fits a class-balanced, L2-regularised logistic regression and prints the
constants to paste into restore_cli/io.py. Nothing from ``val/`` or ``real-blurry/`` is used to fit.

``evaluate`` runs blur.blur_score as shipped on ``val/`` (full size, 2x and 4x smaller: all sharp),
``real-blurry/`` (all blurry) and generated flat or low-texture images (all "needs nothing"), and prints one
confusion table per set.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restore_cli import blur, io  # noqa: E402
from restore_cli.data import synth  # noqa: E402

LABEL_MIN_STD = 2.0
AMBIGUOUS = (0.0, LABEL_MIN_STD)


def load(path: Path) -> np.ndarray:
    image = io.read_image(path)
    pixels = image.pixels
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels


def smaller(pixels: np.ndarray, factor: int) -> np.ndarray:
    h, w = pixels.shape[:2]
    return cv2.resize(pixels, (w // factor, h // factor), interpolation=cv2.INTER_AREA)


def kernel_std(kernel: np.ndarray) -> float:
    """Spatial standard deviation of a blur kernel along its longest axis, in pixels."""
    k = kernel / kernel.sum()
    yy, xx = np.mgrid[: k.shape[0], : k.shape[1]]
    my, mx = (k * yy).sum(), (k * xx).sum()
    cov = np.array(
        [
            [(k * (yy - my) ** 2).sum(), (k * (yy - my) * (xx - mx)).sum()],
            [(k * (yy - my) * (xx - mx)).sum(), (k * (xx - mx) ** 2).sum()],
        ]
    )
    return float(np.sqrt(np.linalg.eigvalsh(cov)[-1]))


def collect(data: Path) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    rng = np.random.default_rng(1)
    files = sorted((data / "train").glob("*/*"))[1::3]
    degradation = synth.Degradation()
    rows, labels, tags, names = [], [], [], []
    for index, path in enumerate(files):
        pixels = load(path)
        for tag, variant in (("s1", pixels), ("s2", smaller(pixels, 2)), ("s4", smaller(pixels, 4))):
            rows.append(blur.blur_feature_vector(blur.blur_features(variant)))
            labels.append(0)
            tags.append(tag)
            names.append(str(path))
        for _ in range(2):
            kernel = degradation.sample_kernel(rng)
            blurred = degradation.add_noise_and_jpeg(synth.blur_linear(pixels, kernel), rng)
            std = kernel_std(kernel)
            if std < LABEL_MIN_STD:
                continue
            rows.append(blur.blur_feature_vector(blur.blur_features(blurred)))
            labels.append(1)
            tags.append("blur")
            names.append(str(path))
        print(f"{index + 1}/{len(files)} {path.name}", file=sys.stderr)
    return np.array(rows), np.array(labels), tags, names


def fit_logistic(
    z: np.ndarray, y: np.ndarray, l2: float = 0.1, steps: int = 3000
) -> tuple[np.ndarray, float]:
    weights, bias = np.zeros(z.shape[1]), 0.0
    sample_weight = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ weights + bias)))
        g = (p - y) * sample_weight
        weights -= 0.1 * (z.T @ g / len(y) + l2 * weights / len(y))
        bias -= 0.1 * g.mean()
    return weights, bias


def fit(data: Path, cache: Path | None) -> None:
    if cache is not None and cache.exists():
        saved = np.load(cache)
        x, y, tags, names = saved["x"], saved["y"], list(saved["tags"]), list(saved["names"])
    else:
        x, y, tags, names = collect(data)
        if cache is not None:
            np.savez(cache, x=x, y=y, tags=np.array(tags), names=np.array(names))
    mean, std = x.mean(0), x.std(0) + 1e-9
    z = (x - mean) / std
    folds = {name: i % 5 for i, name in enumerate(sorted(set(names)))}
    fold = np.array([folds[n] for n in names])
    logits = np.zeros(len(y))
    for k in range(5):
        w, b = fit_logistic(z[fold != k], y[fold != k])
        logits[fold == k] = z[fold == k] @ w + b
    tags_arr = np.array(tags)
    for tag in ("s1", "s2", "s4", "blur"):
        mask = tags_arr == tag
        right = int(((logits[mask] > 0) == y[mask]).sum())
        print(f"5-fold on train, {tag}: {right}/{int(mask.sum())} right")
    w, b = fit_logistic(z, y)
    print(f"_BLUR_MEAN = {tuple(round(float(v), 4) for v in mean)}")
    print(f"_BLUR_STD = {tuple(round(float(v), 4) for v in std)}")
    print(f"_BLUR_WEIGHTS = {tuple(round(float(v), 4) for v in w)}")
    print(f"_BLUR_BIAS = {round(float(b), 4)}")


def generated_flat() -> dict[str, np.ndarray]:
    """Images that need nothing: flat, gradients, faint noise, sharp shapes on flat ground, tiny ones."""
    rng = np.random.default_rng(7)
    out: dict[str, np.ndarray] = {}
    for side in (16, 64, 512):
        out[f"flat-{side}"] = np.full((side, side, 3), 0.5, np.float32)
    ramp = np.linspace(0, 1, 640, dtype=np.float32)
    out["h-gradient"] = np.repeat(np.tile(ramp, (480, 1))[..., None], 3, axis=2)
    out["v-gradient"] = np.repeat(np.tile(ramp[:480, None], (1, 640))[..., None], 3, axis=2)
    yy, xx = np.mgrid[:480, :640]
    radial = np.clip(np.hypot(yy - 240, xx - 320) / 400, 0, 1).astype(np.float32)
    out["radial"] = np.stack([radial, 1 - radial, np.full_like(radial, 0.4)], axis=2)
    for sigma in (0.005, 0.02):
        noisy = np.clip(0.5 + rng.standard_normal((480, 640, 1)).astype(np.float32) * sigma, 0, 1)
        out[f"noise-{sigma}"] = np.repeat(noisy, 3, axis=2)
    shapes = np.full((480, 640, 3), 0.9, np.float32)
    shapes[100:200, 100:300] = 0.1
    shapes[250:400, 350:500] = (0.8, 0.1, 0.1)
    out["two-boxes"] = shapes
    text = np.full((200, 600), 255, np.uint8)
    cv2.putText(text, "restore 1234", (10, 120), cv2.FONT_HERSHEY_SIMPLEX, 2.5, 0, 3)
    out["text"] = np.repeat(text[..., None].astype(np.float32) / 255, 3, axis=2)
    checker = (((yy // 32) + (xx // 32)) % 2).astype(np.float32)
    out["checker"] = np.repeat(checker[..., None], 3, axis=2)
    out["lowcontrast-texture"] = np.repeat(
        np.clip(0.5 + 0.03 * rng.standard_normal((480, 640, 1)), 0, 1).astype(np.float32), 3, axis=2
    )
    out["tiny-icon"] = out["two-boxes"][::30, ::30].copy()
    return out


def table(name: str, truth: str, predicted_blurry: list[bool]) -> str:
    n = len(predicted_blurry)
    said_blurry = sum(predicted_blurry)
    right = said_blurry if truth == "blurry" else n - said_blurry
    share = f"{right}/{n} ({100 * right / n:.1f}%)"
    return f"| {name} | {truth} | {n} | {said_blurry} | {n - said_blurry} | {share} |"


def evaluate(data: Path, verbose: bool) -> None:
    lines = ["| set | truth | images | said blurry | said sharp | right |", "|---|---|---:|---:|---:|---:|"]
    val = sorted((data / "val").glob("*/*"))
    for factor in (1, 2, 4):
        said = []
        for path in val:
            pixels = load(path)
            score = blur.blur_score(pixels if factor == 1 else smaller(pixels, factor))
            said.append(score >= 0.5)
            if verbose and score >= 0.5:
                print(f"val/{factor}x {path.name}: {score:.3f}", file=sys.stderr)
        label = "val, full size" if factor == 1 else f"val, {factor}x smaller"
        lines.append(table(label, "sharp", said))
    said = []
    for path in sorted((data / "real-blurry").iterdir()):
        score = blur.blur_score(load(path))
        said.append(score >= 0.5)
        if verbose:
            print(f"real-blurry {path.name}: {score:.3f}", file=sys.stderr)
    lines.append(table("real-blurry", "blurry", said))
    said = []
    for name, pixels in generated_flat().items():
        score = blur.blur_score(pixels)
        said.append(score >= 0.5)
        if verbose:
            print(f"generated {name}: {score:.3f}", file=sys.stderr)
    lines.append(table("generated flat / low texture", "sharp (needs nothing)", said))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=("fit", "evaluate"))
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--cache", type=Path, help="fit: keep the measured features here (.npz) for re-fits")
    args = parser.parse_args()
    if args.command == "fit":
        fit(args.data, args.cache)
    else:
        evaluate(args.data, args.verbose)


if __name__ == "__main__":
    main()
