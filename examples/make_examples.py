"""Render the example photos shipped in examples/inputs/ (deterministic; restore_cli, NumPy, OpenCV, Pillow).

The project makes its own examples so nothing of unknown licence is committed: a street-like scene with text,
hard edges, fine texture and smooth gradients (``restore_cli.data.scenes.render_scene``, also the bench's
synthetic set), its motion-blurred version (blurred in linear light, fixed camera-shake trajectory), a gray
version (an "old photo"), a gray and blurred version, and a small RGBA
graphic that shows transparency is kept. Run from the repository root:

    .venv/bin/python examples/make_examples.py            # writes examples/inputs/*
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from restore_cli.data.scenes import render_scene
from restore_cli.data.synth import blur_linear, rasterize_trajectory

HEIGHT, WIDTH = 384, 512
SCENE_SEED = 7
# A fixed, slightly curved camera-shake path (x, y in pixels), about 21 px long: the same every run. Long
# enough that the blur detector of --order auto calls the blurred examples blurry.
SHAKE_PATH = [(0.0, 0.0), (3.6, 1.3), (7.6, 1.8), (11.2, 3.6), (14.0, 5.9), (16.4, 8.8), (17.6, 10.6)]


def shake_kernel(path: list[tuple[float, float]] = SHAKE_PATH) -> np.ndarray:
    """Rasterise the fixed camera path into a normalised blur kernel with training's rasteriser."""
    positions = np.array([complex(x, y) for x, y in path])
    extent = np.abs(positions - positions.mean()).max()
    size = int(np.ceil(extent * 2)) + 3
    size += 1 - size % 2
    return rasterize_trajectory(positions, size)


def motion_blur(rgb: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Blur a uint8 image in linear light (as a camera does) with training's ``blur_linear``."""
    blurred = blur_linear(rgb.astype(np.float32) / 255.0, kernel)
    return np.clip(np.round(blurred * 255), 0, 255).astype(np.uint8)


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
    scene = render_scene(HEIGHT, WIDTH, seed=SCENE_SEED)
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
