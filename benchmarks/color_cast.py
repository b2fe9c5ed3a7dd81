"""Global colour casts of colorized photos: mean CIE a* and b* of each output, against its truth if any.

A colorizer that tints whole photos (sepia, blue) shows it in the mean a*/b* of its outputs. With truths (the
colour originals, matched by file stem) this prints the mean bias (output - truth); without (historic photos)
it flags outputs whose mean b* is above the gray input's neutral (0) by more than ``--cast`` (default 8).

    python benchmarks/color_cast.py OUTPUT_DIR [--truth DIR] [--suffix _colorized] [--cast 8] [--json F]

Outputs of ``restore bench --save-outputs`` are named like their truths (no suffix).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from restore_cli.color import rgb_to_lab_np
from restore_cli.data.datasets import find_images, read_rgb_u8


def mean_ab(path: Path) -> tuple[float, float]:
    lab = rgb_to_lab_np(read_rgb_u8(path).astype(np.float32) / 255.0)
    return float(lab[..., 1].mean()), float(lab[..., 2].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outputs", type=Path)
    parser.add_argument("--truth", type=Path, default=None)
    parser.add_argument("--suffix", default="")
    parser.add_argument("--cast", type=float, default=8.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    truths = {p.stem: p for p in find_images(args.truth)} if args.truth else {}
    rows = []
    for out in find_images(args.outputs):
        stem = out.stem[: len(out.stem) - len(args.suffix)] if args.suffix else out.stem
        a, b = mean_ab(out)
        row = {"name": stem, "mean_a": round(a, 2), "mean_b": round(b, 2)}
        if stem in truths:
            ta, tb = mean_ab(truths[stem])
            row.update(
                truth_a=round(ta, 2), truth_b=round(tb, 2), bias_a=round(a - ta, 2), bias_b=round(b - tb, 2)
            )
        rows.append(row)
    if not rows:
        raise SystemExit(f"no images in {args.outputs}")
    summary = {
        "images": len(rows),
        "mean_a": round(float(np.mean([r["mean_a"] for r in rows])), 2),
        "mean_b": round(float(np.mean([r["mean_b"] for r in rows])), 2),
        "max_b": round(float(max(r["mean_b"] for r in rows)), 2),
        f"casts_b_over_{args.cast:g}": [r["name"] for r in rows if r["mean_b"] > args.cast],
    }
    with_truth = [r for r in rows if "bias_a" in r]
    if with_truth:
        summary["bias_a"] = round(float(np.mean([r["bias_a"] for r in with_truth])), 2)
        summary["bias_b"] = round(float(np.mean([r["bias_b"] for r in with_truth])), 2)
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "images": rows}, indent=1))


if __name__ == "__main__":
    main()
