"""Render the example photos shipped in examples/inputs/ (deterministic; NumPy, OpenCV and Pillow only).

The project makes its own examples so nothing of unknown licence is committed: a street-like scene with text,
hard edges, fine texture and smooth gradients, its motion-blurred version (blurred in linear light, fixed
camera-shake trajectory), a gray version (an "old photo"), a gray and blurred version, and a small RGBA
graphic that shows transparency is kept. Run from the repository root:

    .venv/bin/python examples/make_examples.py            # writes examples/inputs/*
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

HEIGHT, WIDTH = 384, 512
GAMMA = 2.2
# A fixed, slightly curved camera-shake path (x, y in pixels), about 21 px long: the same every run. Long
# enough that the blurred examples score well below the default --blur-threshold (100) of --order auto.
SHAKE_PATH = [(0.0, 0.0), (3.6, 1.3), (7.6, 1.8), (11.2, 3.6), (14.0, 5.9), (16.4, 8.8), (17.6, 10.6)]


def render_scene(height: int = HEIGHT, width: int = WIDTH, seed: int = 7) -> np.ndarray:
    """A colour scene (uint8 H x W x 3 RGB): sky gradient, buildings with windows, a chart, text, texture."""
    rng = np.random.default_rng(seed)
    img = np.zeros((height, width, 3), np.float32)
    # Sky: vertical gradient from deep to pale blue; ground: warm grey with fine noise texture (gravel).
    horizon = int(height * 0.62)
    t = np.linspace(0.0, 1.0, horizon, dtype=np.float32)[:, None]
    img[:horizon] = (1 - t)[..., None] * np.array([40, 90, 170], np.float32) + t[..., None] * np.array(
        [190, 215, 235], np.float32
    )
    gravel = rng.normal(0, 18, (height - horizon, width, 1)).astype(np.float32)
    img[horizon:] = np.array([128, 118, 105], np.float32) + gravel
    # Sun with a soft halo.
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    halo = np.exp(-((xx - 430) ** 2 + (yy - 60) ** 2) / (2 * 35.0**2))[..., None]
    img = img * (1 - halo) + np.array([255, 240, 200], np.float32) * halo
    img = np.clip(img, 0, 255).astype(np.uint8)
    img = np.ascontiguousarray(img)

    # Buildings: flat colours with a grid of windows (sharp edges everywhere).
    buildings = [
        (20, 110, 120, (150, 70, 60)),
        (130, 70, 110, (200, 180, 120)),
        (250, 140, 90, (90, 110, 140)),
    ]
    for x0, top, w, colour in buildings:
        cv2.rectangle(img, (x0, top), (x0 + w, horizon), colour, -1)
        for wy in range(top + 10, horizon - 20, 22):
            for wx in range(x0 + 8, x0 + w - 14, 18):
                lit = (wx * 7 + wy * 3) % 5 == 0
                cv2.rectangle(img, (wx, wy), (wx + 9, wy + 12), (250, 220, 120) if lit else (35, 40, 55), -1)
    # A resolution chart: black/white stripes of decreasing period and a checkerboard.
    x0, y0 = 360, 150
    for i, period in enumerate((8, 6, 4, 3, 2)):
        for k in range(0, 60, period * 2):
            cv2.rectangle(
                img, (x0 + k, y0 + i * 12), (x0 + k + period - 1, y0 + i * 12 + 9), (15, 15, 15), -1
            )
            cv2.rectangle(
                img,
                (x0 + k + period, y0 + i * 12),
                (x0 + k + 2 * period - 1, y0 + i * 12 + 9),
                (245, 245, 245),
                -1,
            )
    for cy in range(6):
        for cx in range(8):
            colour = (20, 20, 20) if (cx + cy) % 2 else (235, 235, 235)
            cv2.rectangle(img, (430 + cx * 9, 150 + cy * 9), (438 + cx * 9, 158 + cy * 9), colour, -1)
    # Coloured discs and a diagonal line (curved and slanted edges).
    for (cx, cy, r), colour in zip(
        ((60, 300, 28), (130, 320, 20), (200, 300, 14)), ((220, 40, 40), (40, 170, 60), (240, 200, 30))
    ):
        cv2.circle(img, (cx, cy), r, colour, -1, lineType=cv2.LINE_AA)
    cv2.line(img, (250, 370), (500, 250), (250, 250, 250), 3, lineType=cv2.LINE_AA)
    # Text: a sign and a small caption (the most telling test for a deblurrer).
    cv2.rectangle(img, (150, 20), (350, 62), (250, 250, 245), -1)
    cv2.rectangle(img, (150, 20), (350, 62), (30, 30, 30), 2)
    cv2.putText(img, "RESTORE", (165, 53), cv2.FONT_HERSHEY_DUPLEX, 1.1, (180, 20, 20), 2, cv2.LINE_AA)
    cv2.putText(
        img, "Main St. 1904", (360, 235), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (20, 20, 20), 1, cv2.LINE_AA
    )
    cv2.putText(img, "sharp edges, fine text", (20, 370), cv2.FONT_HERSHEY_PLAIN, 1.0, (250, 250, 250), 1)
    return img


def shake_kernel(path: list[tuple[float, float]] = SHAKE_PATH, oversample: int = 8) -> np.ndarray:
    """Rasterise the fixed camera path into a normalised blur kernel (float32, odd square size)."""
    pts = np.array(path, np.float64)
    pts -= pts.mean(0)
    size = int(np.ceil(np.abs(pts).max() * 2)) + 3
    size += 1 - size % 2
    big = np.zeros((size * oversample, size * oversample), np.float32)
    centre = (size * oversample) / 2
    scaled = [(int(round(centre + x * oversample)), int(round(centre + y * oversample))) for x, y in pts]
    for a, b in zip(scaled[:-1], scaled[1:]):
        cv2.line(big, a, b, 1.0, thickness=max(1, oversample // 2))
    kernel = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)
    return kernel / kernel.sum()


def motion_blur(rgb: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Blur a uint8 image in linear light (as a camera does), then re-encode to sRGB-like gamma."""
    linear = (rgb.astype(np.float32) / 255.0) ** GAMMA
    blurred = cv2.filter2D(linear, -1, kernel, borderType=cv2.BORDER_REFLECT)
    return np.clip(np.round(np.clip(blurred, 0, 1) ** (1 / GAMMA) * 255), 0, 255).astype(np.uint8)


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma, like an old black-and-white print (uint8 H x W)."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def render_badge(size: int = 160) -> np.ndarray:
    """A small RGBA graphic with a transparent background (shows that alpha survives restoration)."""
    rgba = np.zeros((size, size, 4), np.uint8)
    cv2.circle(rgba, (size // 2, size // 2), size // 2 - 6, (30, 110, 200, 255), -1, lineType=cv2.LINE_AA)
    cv2.circle(rgba, (size // 2, size // 2), size // 2 - 22, (250, 250, 250, 255), -1, lineType=cv2.LINE_AA)
    cv2.putText(
        rgba, "R", (size // 2 - 22, size // 2 + 22), cv2.FONT_HERSHEY_DUPLEX, 2.0, (30, 110, 200, 255), 3
    )
    return rgba


def make_examples(out_dir: Path) -> list[Path]:
    """Write every example image into ``out_dir`` and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scene = render_scene()
    blurred = motion_blur(scene, shake_kernel())
    files = {
        "street.jpg": Image.fromarray(scene),
        "street_blurred.jpg": Image.fromarray(blurred),
        "street_gray.jpg": Image.fromarray(to_gray(scene)),
        "street_gray_blurred.jpg": Image.fromarray(to_gray(blurred)),
        "badge_rgba.png": Image.fromarray(render_badge(), "RGBA"),
    }
    written = []
    for name, pil in files.items():
        path = out_dir / name
        if path.suffix == ".jpg":
            pil.save(path, quality=90, optimize=True)
        else:
            pil.save(path, optimize=True)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "inputs")
    args = parser.parse_args()
    for path in make_examples(args.out):
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
