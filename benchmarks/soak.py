"""Soak test: run many small images through one process and check that memory stays flat.

The images go through the same path as ``restore deblur DIR -o OUT`` (batch.expand_inputs -> plan_outputs ->
batch.run -> Restorer.run -> io.write_image), in one process. RSS is read from /proc after a warm-up and at
the end; the growth must stay under --max-growth-mb (default 50). Without --weights it uses the default deblur
weights when there are any, else a tiny random NAFNet written to a temporary file (memory behaviour, not
quality, is what is measured). Prints a short report and exits 1 if memory grew too much.

    .venv/bin/python benchmarks/soak.py --count 500
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux /proc; falls back to ru_maxrss elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_inputs(folder: Path, count: int, size: int) -> None:
    """``count`` distinct small photos (gradients, noise, a bar; a few sizes and modes) in ``folder``."""
    rng = np.random.default_rng(0)
    for i in range(count):
        h, w = size - (i % 7), size + (i % 5)
        yy, xx = np.mgrid[0:h, 0:w]
        img = np.stack([xx / w, yy / h, ((xx + yy + i) % 32) / 32], -1) + rng.normal(0, 0.03, (h, w, 3))
        pil = PILImage.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8), "RGB")
        if i % 10 == 3:
            pil = pil.convert("L")
        elif i % 10 == 7:
            pil.putalpha(128)
        pil.save(folder / f"img{i:04d}.{'jpg' if i % 4 == 1 and pil.mode != 'RGBA' else 'png'}")


def tiny_weights(folder: Path) -> Path:
    import torch

    from restore_cli.models import create_model
    from restore_cli.weights import save_weights

    hyper = {"width": 8, "enc_blocks": [1, 1], "middle_blocks": 1, "dec_blocks": [1, 1]}
    torch.manual_seed(0)
    path = folder / "soak-tiny.safetensors"
    save_weights(path, create_model("nafnet", **hyper), "nafnet", hyper)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description="restore soak test: memory must stay flat over many images")
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--size", type=int, default=96, help="approximate side of each image in pixels")
    parser.add_argument("--warmup", type=int, default=25, help="images processed before the baseline RSS")
    parser.add_argument("--weights", type=Path, default=None, help="deblur .safetensors (default: see above)")
    parser.add_argument("--max-growth-mb", type=float, default=50.0)
    parser.add_argument("--json", type=Path, default=None, help="also save the report as JSON here")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    from restore_cli import batch, weights
    from restore_cli.engine import Engine
    from restore_cli.errors import NoDefaultWeightsError
    from restore_cli.restorer import Restorer

    with tempfile.TemporaryDirectory(prefix="restore-soak-") as tmp:
        tmp_path = Path(tmp)
        src, out = tmp_path / "in", tmp_path / "out"
        src.mkdir()
        write_inputs(src, args.count, args.size)
        ref = args.weights
        if ref is None:
            try:
                weights.load_model(None, task="deblur")
            except NoDefaultWeightsError:
                ref = tiny_weights(tmp_path)
        engine = Engine(device="cpu")
        loaded = weights.load_model(None if ref is None else str(ref), task="deblur", device="cpu")
        model_name = getattr(loaded, "name", None) or Path(str(getattr(loaded, "path", ""))).name

        jobs = batch.plan_outputs(batch.expand_inputs([str(src)]), output=str(out), suffix="_deblurred")
        samples: list[tuple[int, float]] = []
        state: dict[str, Any] = {"baseline": None}
        started = time.perf_counter()

        session = batch.run(jobs, Restorer(only="deblur", deblur_model=loaded, engine=engine, cache={}).run)
        for done, _record in enumerate(session, start=1):
            if done == args.warmup:
                gc.collect()
                state["baseline"] = rss_mb()
            if done % 50 == 0 or done == len(jobs):
                samples.append((done, rss_mb()))
        result = session.result
        elapsed = time.perf_counter() - started
        gc.collect()
        end = rss_mb()
        written = sum(1 for p in out.rglob("*") if p.is_file())

    baseline = state["baseline"] if state["baseline"] is not None else end
    growth = end - baseline
    report = {
        "images": len(jobs),
        "written": written,
        "failed": result.failed,
        "model": model_name,
        "seconds": round(elapsed, 1),
        "rss_after_warmup_mb": round(baseline, 1),
        "rss_end_mb": round(end, 1),
        "growth_mb": round(growth, 1),
        "samples": [(n, round(mb, 1)) for n, mb in samples],
        "ok": growth < args.max_growth_mb and written == len(jobs),
    }
    print(
        f"soak: {report['images']} images ({args.size}px, model {model_name}) in {report['seconds']} s; "
        f"written {written}, failed {report['failed']}"
    )
    print(f"RSS after {args.warmup}-image warm-up: {report['rss_after_warmup_mb']} MB")
    print(f"RSS at the end:                  {report['rss_end_mb']} MB")
    verdict = "OK" if report["ok"] else "FAIL"
    print(f"growth: {report['growth_mb']} MB (limit {args.max_growth_mb} MB) -> {verdict}")
    print("RSS by images done: " + ", ".join(f"{n}:{mb}" for n, mb in report["samples"]))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
