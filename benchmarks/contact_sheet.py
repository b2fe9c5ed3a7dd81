"""Side-by-side contact sheet of inputs and restored outputs, for judging results by eye.

For photos with no ground truth (real blurry shots, historic black-and-white prints) numbers cannot say
whether restore helped; a person has to look. This pairs each input with the output `restore` wrote for it
(same stem + suffix) and tiles the pairs, optionally with a zoomed centre crop, into one PNG.

    python benchmarks/contact_sheet.py INPUT_DIR OUTPUT_DIR --suffix _deblurred --out sheet.png [--zoom]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from restore_cli.io import Image, read_image, write_image


def _fit(pixels: np.ndarray, height: int) -> np.ndarray:
    import cv2

    rgb = np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels
    width = max(1, round(rgb.shape[1] * height / rgb.shape[0]))
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


def _centre(pixels: np.ndarray, frac: float) -> np.ndarray:
    h, w = pixels.shape[:2]
    ch, cw = max(1, int(h * frac)), max(1, int(w * frac))
    y, x = (h - ch) // 2, (w - cw) // 2
    return pixels[y : y + ch, x : x + cw]


def build_sheet(pairs: list[tuple[Path, Path]], height: int, zoom: bool, columns: int) -> np.ndarray:
    """One row cell per pair: input | output (| zoomed input | zoomed output), cells in a grid."""
    cells = []
    for src, out in pairs:
        a, b = read_image(src).pixels, read_image(out).pixels
        parts = [_fit(a, height), _fit(b, height)]
        if zoom:  # a 1/3 centre crop, enlarged: blur and colour errors show at this scale
            parts += [_fit(_centre(a, 1 / 3), height), _fit(_centre(b, 1 / 3), height)]
        gap = np.ones((height, 6, 3), np.float32)
        row = parts[0]
        for p in parts[1:]:
            row = np.concatenate([row, gap, p], axis=1)
        cells.append(row)
    width = max(c.shape[1] for c in cells)
    cells = [np.pad(c, ((0, 12), (0, width - c.shape[1] + 12), (0, 0)), constant_values=1.0) for c in cells]
    rows = [np.concatenate(cells[i : i + columns], axis=1) for i in range(0, len(cells), columns)]
    full = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, full - r.shape[1]), (0, 0)), constant_values=1.0) for r in rows]
    return np.concatenate(rows, axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", type=Path)
    parser.add_argument("outputs", type=Path)
    parser.add_argument("--suffix", default="_restored")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--height", type=int, default=220)
    parser.add_argument("--columns", type=int, default=2)
    parser.add_argument("--zoom", action="store_true")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    pairs = []
    for src in sorted(p for p in args.inputs.iterdir() if p.is_file()):
        found = sorted(args.outputs.glob(f"{src.stem}{args.suffix}.*"))
        if found:
            pairs.append((src, found[0]))
    if args.limit:
        pairs = pairs[: args.limit]
    if not pairs:
        raise SystemExit(f"no outputs named <stem>{args.suffix}.* in {args.outputs} for {args.inputs}")
    sheet = build_sheet(pairs, args.height, args.zoom, args.columns)
    write_image(Image(pixels=sheet.astype(np.float32)), args.out, overwrite=True)
    print(f"{len(pairs)} pairs -> {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
