"""Fit and check the blur detector of ``--order auto`` and ``restore inspect`` (restore_cli.blur.blur_score).

    python benchmarks/blur_detector.py fit --data /work/shared/data --jobs 2  # train/ only; prints constants
    python benchmarks/blur_detector.py evaluate --data /work/shared/data     # confusion tables

``fit`` measures blur.blur_features on every photo of ``train/`` in nine versions. Sharp: full, half and
quarter size, and full and half size with sensor noise and JPEG. Blurred, with the camera steps of
restore_cli.data.degrade (saturated highlights, sensor noise in linear light, a random camera response,
JPEG after): the training synthesis's own kernel mix at full size, milder shake and focus (kernel spatial
std about 1-3 px) at full size, and blurred captures downscaled 2x and 4x. A blurred version is labelled
blurry when its kernel's spatial std at the size measured is at least ``LABEL_MIN_STD`` (1 px); milder ones
are left out. Also GRAPHICS generated clean renders (shapes, text, checks on flat ground: screenshots,
diagrams), sharp at full and half size and blurred. Candidate models (feature sets, pair terms, which blur
they are trained to call blurry, how much the sharp class weighs) are compared by 5-fold cross-validation
over photos and one is chosen by the rule in ``fit``; the chosen one is refitted on all rows and its
constants printed, to paste into
restore_cli/blur.py. Nothing from ``val/`` or ``real-blurry/`` is used to fit or to choose.

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

LABEL_MIN_STD = 1.0
"""A blurred photo is labelled blurry when its kernel's spatial std (at the size measured) is this or more."""


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


# What a camera and the way home do to a photo, sharp or not: sensor noise (Poisson + Gaussian) and JPEG.
SHARP_CAMERA = synth.Degradation(p_noise=0.7, noise_sigma=(0.0, 0.015), p_poisson=0.5, p_jpeg=1.0)
# Blurred captures with the camera steps of restore_cli.data.degrade: saturated highlights, sensor noise
# in linear light, a random camera response; JPEG afterwards (after downscaling, where there is one).
_CAMERA = dict(p_saturate=0.25, noise_model="sensor", crf="random", p_noise=0.8, p_jpeg=0.0)
BLUR_KINDS = {
    # tag: (degradation, downscale factor)
    "b1": (synth.Degradation(**_CAMERA), 1),  # the training synthesis's own mix (std about 1 to 8 px)
    "m1": (  # milder shake and focus: std about 1 to 3 px, the blur real photos most often have
        synth.Degradation(
            motion_length=(0.05, 0.35), gaussian_sigma=(0.8, 2.5), defocus_radius=(1.5, 4.0), **_CAMERA
        ),
        1,
    ),
    "b2": (synth.Degradation(**_CAMERA), 2),  # a blurred capture, downscaled 2x
    "b4": (synth.Degradation(kernel_size=63, motion_length=(0.3, 1.0), **_CAMERA), 4),  # and 4x
}


def camera_blur(
    pixels: np.ndarray, degradation: synth.Degradation, factor: int, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """Blur with degradation's camera steps (restore_cli.data.degrade), downscale by factor, maybe JPEG.

    Returns the image and its kernel's spatial std at the returned size. The photo is reflect-padded by the
    kernel size first: degrade's FFT blur is circular, and the pad (a multiple of 16) keeps JPEG's blocks.
    """
    import torch

    from restore_cli.data.degrade import degrade_batch, draw_params

    params = draw_params(degradation, rng)
    std = kernel_std(params["kernels"].sum(0)) / factor
    pad = 16 * -(-degradation.max_kernel_size // 16)
    padded = cv2.copyMakeBorder(pixels, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    u8 = np.clip(padded * 255.0 + 0.5, 0, 255).astype(np.uint8)
    x = torch.from_numpy(np.ascontiguousarray(u8.transpose(2, 0, 1)))[None]
    batch = {k: torch.as_tensor(np.asarray(v))[None] for k, v in params.items()}
    out = degrade_batch(x, batch)[0].permute(1, 2, 0).numpy()[pad:-pad, pad:-pad]
    out = np.ascontiguousarray(out, dtype=np.float32)
    if factor > 1:
        out = smaller(out, factor)
    if rng.uniform() < 0.6:
        out = synth.jpeg_roundtrip(out, int(rng.integers(60, 96)))
    return out, std


def photo_rows(index: int, path: Path) -> list[tuple[dict[str, float], str, float]]:
    """Every training row of one train/ photo: (features, tag, kernel std; 0 for sharp)."""
    rng = np.random.default_rng([1, index])
    pixels = load(path)
    rows = []
    for tag, variant in (
        ("s1", pixels),
        ("s2", smaller(pixels, 2)),
        ("s4", smaller(pixels, 4)),
        ("c1", SHARP_CAMERA.add_noise_and_jpeg(pixels, rng)),
        ("c2", SHARP_CAMERA.add_noise_and_jpeg(smaller(pixels, 2), rng)),
    ):
        rows.append((blur.blur_features(variant), tag, 0.0))
    for tag, (degradation, factor) in BLUR_KINDS.items():
        blurred, std = camera_blur(pixels, degradation, factor, rng)
        rows.append((blur.blur_features(blurred), tag, std))
    return rows


def _photo_rows(job: tuple[int, Path]) -> list[tuple[dict[str, float], str, float]]:
    index, path = job
    rows = photo_rows(index, path)
    print(f"{index + 1} {path.name}", file=sys.stderr)
    return rows


def graphic(rng: np.random.Generator) -> np.ndarray:
    """A clean render (a screenshot, a diagram, a scanned page): shapes, lines and text on a flat or
    graded ground, hard or anti-aliased edges, sometimes faint noise. Photos always carry texture and
    noise, so without these a clean sharp edge looks to the model like a photo with its detail blurred
    away."""
    h, w = int(rng.integers(160, 720)), int(rng.integers(160, 960))
    ground = rng.uniform(0, 1, 3).astype(np.float32)
    canvas = np.empty((h, w, 3), np.float32)
    canvas[:] = ground
    if rng.uniform() < 0.5:
        ramp = np.linspace(0, rng.uniform(-0.4, 0.4), w if rng.uniform() < 0.5 else h, dtype=np.float32)
        canvas += ramp[None, :, None] if len(ramp) == w else ramp[:, None, None]
    canvas = np.round(np.clip(canvas, 0, 1) * 255).astype(np.uint8)  # OpenCV draws text on 8 bits only
    line = cv2.LINE_AA if rng.uniform() < 0.5 else cv2.LINE_8
    for _ in range(int(rng.integers(2, 12))):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x0, x1 = sorted(int(v) for v in rng.integers(0, w, 2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, h, 2))
        kind = rng.integers(0, 5)
        if kind == 0:
            cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, -1, line)
        elif kind == 1:
            cv2.circle(canvas, (x0, y0), int(rng.integers(4, max(5, min(h, w) // 3))), colour, -1, line)
        elif kind == 2:
            cv2.line(canvas, (x0, y0), (x1, y1), colour, int(rng.integers(1, 6)), line)
        elif kind == 3:
            text = "".join(chr(int(c)) for c in rng.integers(48, 91, int(rng.integers(3, 12))))
            font = int(
                rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_PLAIN])
            )
            scale = float(rng.uniform(0.6, 3.0))
            cv2.putText(canvas, text, (x0, max(y0, 20)), font, scale, colour, int(rng.integers(1, 4)), line)
        else:
            cell = int(rng.integers(4, 48))
            yy, xx = np.mgrid[y0:y1, x0:x1]
            mask = ((yy // cell + xx // cell) % 2).astype(bool)
            canvas[y0:y1, x0:x1][mask] = colour
    out = canvas.astype(np.float32) / 255
    if rng.uniform() < 0.5:
        out = np.clip(out + rng.normal(0, rng.uniform(0, 0.006), out.shape), 0, 1)
    return out.astype(np.float32)


GRAPHICS = 300


def graphic_rows(index: int) -> list[tuple[dict[str, float], str, float]]:
    """Rows of one generated render: sharp (g1), sharp at half size (g2), blurred as a capture (gb)."""
    rng = np.random.default_rng([2, index])
    pixels = graphic(rng)
    blurred, std = camera_blur(pixels, BLUR_KINDS["b1"][0], 1, rng)
    rows = [(blur.blur_features(pixels), "g1", 0.0), (blur.blur_features(smaller(pixels, 2)), "g2", 0.0)]
    return rows + [(blur.blur_features(blurred), "gb", std)]


def collect(data: Path, jobs: int) -> dict[str, np.ndarray]:
    """Features of every train/ photo's variants (sharp: s1 s2 s4 c1 c2; blurred: BLUR_KINDS) and of
    GRAPHICS generated renders (g1 g2 sharp, gb blurred)."""
    import multiprocessing

    files = sorted((data / "train").glob("*/*"))
    work = list(enumerate(files))
    if jobs > 1:
        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            per_photo = pool.map(_photo_rows, work, chunksize=4)
    else:
        per_photo = [_photo_rows(job) for job in work]
    per_photo += [graphic_rows(i) for i in range(GRAPHICS)]
    names = [str(path) for path in files] + [f"graphic-{i}" for i in range(GRAPHICS)]
    keys = sorted(per_photo[0][0][0])
    table: dict[str, list] = {"features": [], "tags": [], "stds": [], "names": []}
    for name, rows in zip(names, per_photo):
        for features, tag, std in rows:
            table["features"].append([features[k] for k in keys])
            table["tags"].append(tag)
            table["stds"].append(std)
            table["names"].append(name)
    return {"keys": np.array(keys), **{k: np.array(v) for k, v in table.items()}}


def fit_logistic(
    z: np.ndarray, y: np.ndarray, sharp_weight: float = 0.5, l2: float = 0.1, steps: int = 3000
) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by gradient descent; the sharp class weighs ``sharp_weight``,
    the blurry one 1 - ``sharp_weight`` (0.5: balanced)."""
    weights, bias = np.zeros(z.shape[1]), 0.0
    sample_weight = np.where(y == 1, (1 - sharp_weight) / y.mean(), sharp_weight / (1 - y.mean()))
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ weights + bias)))
        g = (p - y) * sample_weight
        weights -= 0.1 * (z.T @ g / len(y) + l2 * weights / len(y))
        bias -= 0.1 * g.mean()
    return weights, bias


def pairs(z: np.ndarray) -> np.ndarray:
    """Products z_i z_j (i <= j) of standardised features, in blur._BLUR_PAIRS's order."""
    i, j = np.triu_indices(z.shape[1])
    return z[:, i] * z[:, j]


class Model:
    """Logistic regression on standardised features, optionally with their pairwise products."""

    def __init__(self, width: int, quadratic: bool, label_std: float, sharp_weight: float) -> None:
        self.width, self.quadratic, self.label_std, self.sharp_weight = (
            width,
            quadratic,
            label_std,
            sharp_weight,
        )

    def design(self, x: np.ndarray) -> np.ndarray:
        z = (x[:, : self.width] - self.mean) / self.std
        if not self.quadratic:
            return z
        return np.hstack([z, (pairs(z) - self.pair_mean) / self.pair_std])

    def fit(self, x: np.ndarray, y: np.ndarray, stds: np.ndarray) -> Model:
        keep = (y == 0) | (stds >= self.label_std)
        x, y = x[keep, : self.width], y[keep]
        self.mean, self.std = x.mean(0), x.std(0) + 1e-9
        if self.quadratic:
            products = pairs((x - self.mean) / self.std)
            self.pair_mean, self.pair_std = products.mean(0), products.std(0) + 1e-9
        self.weights, self.bias = fit_logistic(
            self.design(x), y, self.sharp_weight, steps=1500 if self.quadratic else 3000
        )
        return self

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.design(x) @ self.weights + self.bias

    def constants(self) -> dict[str, object]:
        """blur.py's constants: the pair terms' own standardisation folded into their weights."""
        n = self.width
        linear, bias = self.weights[:n], float(self.bias)
        out: dict[str, object] = {"_BLUR_MEAN": self.mean, "_BLUR_STD": self.std, "_BLUR_WEIGHTS": linear}
        if self.quadratic:
            scaled = self.weights[n:] / self.pair_std
            out["_BLUR_PAIRS"] = scaled
            bias -= float(scaled @ self.pair_mean)
        out["_BLUR_BIAS"] = bias
        return out


# The detector's constants before this synthesis (commit 3853ff7), to compare with on the same rows.
BEFORE = {
    "mean": (1.1655, 0.8545, 1.2464, 0.9342, 1.4022, 1.0849, 1.6076, 1.2752, -4.5697),
    "std": (0.2574, 0.2168, 0.2774, 0.2246, 0.3136, 0.2429, 0.3492, 0.2688, 0.9029),
    "weights": (0.8801, 0.1982, 0.9984, 0.1738, 1.2411, 0.3634, 1.2693, 0.8499, -1.7027),
    "bias": -1.1433,
}
SHARP_TAGS = ("s1", "s2", "s4", "c1", "c2", "g1", "g2")
BLUR_TAGS = (*BLUR_KINDS, "gb")
FEATURE_SETS = {"edges": 9, "edges+ratios": 11}  # leading entries of blur.blur_feature_vector
STD_BINS = (1.0, 1.5, 2.0, 3.0, np.inf)
LABEL_STDS = (1.0, 1.5, 2.0)  # what a candidate is trained to call blurry (milder rows left out of its fit)
SHARP_WEIGHTS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85)  # the sharp class's share of the loss


def rows_of(saved: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """(full feature vectors, labels, tags, photo names, kernel stds, enough edges) of the rows fit uses.

    Blurred rows whose kernel std is under LABEL_MIN_STD are left out (too mild to call). Rows with too
    few edges are never fitted on: blur_score calls them sharp (0) whatever the model says.
    """
    keys = list(saved["keys"])
    vectors, enough = [], []
    for values in saved["features"]:
        features = dict(zip(keys, values))
        vectors.append(blur.blur_feature_vector(features))
        enough.append(sum(features["n" + d] for d in "xyda") >= blur.BLUR_MIN_EDGES)
    tags, stds = saved["tags"], saved["stds"]
    sharp = np.isin(tags, SHARP_TAGS)
    keep = sharp | (stds >= LABEL_MIN_STD)
    y = (~sharp).astype(np.float64)
    columns = (np.array(vectors), y, tags, saved["names"], stds, np.array(enough))
    return tuple(c[keep] for c in columns)


def cross_validate(model: Model, x, y, names, stds, enough) -> np.ndarray:
    """Held-out decisions (True: blurry) by 5 folds of photos (all variants of a photo in one fold)."""
    folds = {name: i % 5 for i, name in enumerate(sorted(set(names)))}
    fold = np.array([folds[n] for n in names])
    said = np.zeros(len(y), dtype=bool)
    for k in range(5):
        train, test = (fold != k) & enough, (fold == k) & enough
        model.fit(x[train], y[train], stds[train])
        said[test] = model.logits(x[test]) > 0
    return said


def report(
    name: str, said: np.ndarray, y: np.ndarray, tags: np.ndarray, stds: np.ndarray
) -> dict[str, float]:
    """Share right per tag (and, for blurred rows, per kernel-std bin); prints one line."""
    shares: dict[str, float] = {}
    for tag in (*SHARP_TAGS, *BLUR_TAGS):
        mask = tags == tag
        shares[tag] = float((said[mask] == y[mask]).mean())
    blurred = y == 1
    for lo, hi in zip(STD_BINS[:-1], STD_BINS[1:]):
        mask = blurred & (stds >= lo) & (stds < hi)
        shares[f"std {lo:g}-{hi:g}"] = float(said[mask].mean())
    print(f"{name}: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in shares.items()), flush=True)
    return shares


def fit(data: Path, cache: Path | None, jobs: int) -> None:
    if cache is not None and cache.exists():
        saved = dict(np.load(cache))
    else:
        saved = collect(data, jobs)
        if cache is not None:
            np.savez(cache, **saved)
    x, y, tags, names, stds, enough = rows_of(saved)
    renders = sum(1 for n in set(names) if n.startswith("graphic-"))
    print(
        f"{len(set(names)) - renders} photos and {renders} renders: {int((y == 0).sum())} sharp rows, "
        f"{int(y.sum())} blurry rows"
    )
    # The detector before (commit 3853ff7) on the same rows; it was fitted on every third photo of train/
    # (blur std >= 2 px, no camera steps), so only the other two thirds are held out from it.
    z = (x[:, :9] - np.asarray(BEFORE["mean"])) / np.asarray(BEFORE["std"])
    before = (z @ np.asarray(BEFORE["weights"]) + BEFORE["bias"] > 0) & enough
    files = sorted((data / "train").glob("*/*"))
    unseen = ~np.isin(names, [str(f) for f in files[1::3]])
    report("before (photos it was not fitted on)", before[unseen], y[unseen], tags[unseen], stds[unseen])
    # Candidates, all scored by the same 5-fold cross-validation on train/ (every blurred row with a
    # kernel std >= LABEL_MIN_STD counts as blurry, whatever the candidate was trained to call blurry).
    # Chosen: every sharp tag at least 97% right; then the highest mean share right over the blurred tags,
    # except that the simplest candidate within 1 point of that best is taken (features before pairs,
    # fewer features first): a richer model has to earn its constants. (The 1-point rule was added after
    # the first run, where the pairs won by 0.25 points; it looks at these train/ figures only.)
    results = {}
    for set_name, width in FEATURE_SETS.items():
        for quadratic in (False, True):
            for label_std in LABEL_STDS:
                for sharp_weight in SHARP_WEIGHTS:
                    model = Model(width, quadratic, label_std, sharp_weight)
                    said = cross_validate(model, x, y, names, stds, enough)
                    key = (set_name, quadratic, label_std, sharp_weight)
                    name = f"{set_name}{' x pairs' if quadratic else ''}, label std >= {label_std:g}, "
                    name += f"sharp weight {sharp_weight:g}"
                    results[key] = report(name, said, y, tags, stds)
    fine = [k for k, r in results.items() if min(r[t] for t in SHARP_TAGS) >= 0.97]
    blurred = {k: float(np.mean([results[k][t] for t in BLUR_TAGS])) for k in (fine or results)}
    best = max(blurred.values())
    close = [k for k, v in blurred.items() if v >= best - 0.01]
    chosen = min(close, key=lambda k: (k[1], FEATURE_SETS[k[0]], -blurred[k]))
    print(f"chosen: {chosen}")
    set_name, quadratic, label_std, sharp_weight = chosen
    model = Model(FEATURE_SETS[set_name], quadratic, label_std, sharp_weight)
    model.fit(x[enough], y[enough], stds[enough])
    for name, value in model.constants().items():
        if isinstance(value, float):
            print(f"{name} = {value:.4f}")
        else:
            print(f"{name} = ({', '.join(f'{float(v):.4f}' for v in value)})")


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
    parser.add_argument("--jobs", type=int, default=1, help="fit: processes measuring the photos")
    args = parser.parse_args()
    if args.command == "fit":
        fit(args.data, args.cache, args.jobs)
    else:
        evaluate(args.data, args.verbose)


if __name__ == "__main__":
    main()
