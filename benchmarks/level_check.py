"""Mean brightness of restored outputs against their inputs (and, for pairs, against the sharp truth).

Deblurring in this project is trained on blur made in linear light, so a sharp photo is darker in sRGB than
its blurred version (Jensen's inequality) and a good model darkens its input. This measures by how much:

    python benchmarks/level_check.py INPUT_DIR OUTPUT_DIR [--sharp SHARP_DIR]

OUTPUT_DIR holds, for each input, a PNG of the same name (``restore bench --save-outputs``) or one with the
suffix ``_deblurred`` (``restore deblur``). With ``--sharp`` it also prints the truth's level difference and
the PSNR the outputs would have if their per-channel mean were forced back to the input's (in sRGB, or in
linear light): the cost of a "keep the input's level" step.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from restore_cli.bench.metrics import psnr, to_uint8
from restore_cli.data.synth import GAMMA
from restore_cli.io import read_rgb8


def _find_output(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.png", f"{stem}_deblurred.png", f"{stem}_deblurred.jpg"):
        if (folder / name).is_file():
            return folder / name
    return None


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of ``a`` as it would be saved (8 bits) against ``b``, both float in [0, 1]."""
    return psnr(to_uint8(a), to_uint8(b))


def measure(inp: np.ndarray, out: np.ndarray, sharp: np.ndarray | None = None) -> dict[str, float]:
    """Level differences (in levels of 255) and, with ``sharp``, PSNR with and without level keeping."""
    lin_in, lin_out = inp**GAMMA, np.clip(out, 0.0, 1.0) ** GAMMA
    row = {"srgb": (out.mean() - inp.mean()) * 255.0, "linear": (lin_out.mean() - lin_in.mean()) * 255.0}
    if sharp is not None:
        row["truth_srgb"] = (sharp.mean() - inp.mean()) * 255.0
        row["psnr"] = _psnr(out, sharp)
        row["psnr_keep_srgb"] = _psnr(out + (inp.mean((0, 1)) - out.mean((0, 1))), sharp)
        scale = lin_in.mean((0, 1)) / np.maximum(lin_out.mean((0, 1)), 1e-9)
        row["psnr_keep_linear"] = _psnr(np.clip(lin_out * scale, 0.0, 1.0) ** (1.0 / GAMMA), sharp)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", type=Path)
    parser.add_argument("outputs", type=Path)
    parser.add_argument("--sharp", type=Path, help="folder of sharp truths with the inputs' file names")
    args = parser.parse_args()
    rows = []
    for path in sorted(p for p in args.inputs.iterdir() if p.is_file()):
        out_path = _find_output(args.outputs, path.stem)
        if out_path is None:
            continue
        inp = read_rgb8(path).astype(np.float64) / 255.0
        out = read_rgb8(out_path).astype(np.float64) / 255.0
        sharp = read_rgb8(args.sharp / path.name).astype(np.float64) / 255.0 if args.sharp else None
        row = measure(inp, out, sharp)
        rows.append(row)
        print(path.name, " ".join(f"{k} {v:+.3f}" for k, v in row.items()))
    if not rows:
        raise SystemExit("no outputs found for these inputs")
    keys = rows[0].keys()
    means = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    print(f"{len(rows)} photos, mean:", " ".join(f"{k} {v:+.3f}" for k, v in means.items()))
    srgb = [r["srgb"] for r in rows]
    print(f"output - input (sRGB levels): min {min(srgb):+.3f} max {max(srgb):+.3f}")
    if args.sharp:
        corr = np.corrcoef(srgb, [r["truth_srgb"] for r in rows])[0, 1]
        print(f"per-photo correlation of the output's and the truth's level change: {corr:.2f}")


if __name__ == "__main__":
    main()
