"""Compare deblurring architectures' CPU speed at 1280x720 in one run: ms, MP/s, peak RSS, params, MACs.

    .venv/bin/python benchmarks/speed.py                 # all architectures, writes benchmarks/results/
    .venv/bin/python benchmarks/speed.py --only nafnet-w16 --repeats 3

Weights are random (freshly initialised) unless the shipped default deblur model exists: the numbers are
for SPEED ONLY, never quality. Each model is timed in its inference form (what the engine runs; see
``ArchSpec.inference_form``) where its architecture has one. For every inference path of the default model
(eager, inference form, bf16, OpenVINO, ONNX Runtime) with busy/idle ratios, see ``speed_paths.py``.
Each architecture runs in its own subprocess so its peak RSS is its own; each
does one small warm-up pass (320x192) and then ``--repeats`` timed passes on a 1 x 3 x 720 x 1280 input
under ``torch.inference_mode``; MACs are counted with forward hooks on a meta-device copy at full size. On a
shared machine wall time varies with load, so the process CPU time of the pass (``cpu_ms``: summed over
threads, much less sensitive to other processes) is reported too, with the machine's load average.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
WIDTH, HEIGHT = 1280, 720
WARMUP_SIZE = (320, 192)  # a small warm-up pass: a full-size one would double the run on 2 cores

# label -> (architecture id, hyperparameter overrides, note)
CANDIDATES: dict[str, tuple[str, dict, str]] = {
    "nafnet-w8": ("nafnet", {"width": 8}, "NAFNet width 8 (registry default blocks)"),
    "nafnet-w16": ("nafnet", {"width": 16}, "NAFNet width 16 (registry default blocks)"),
    "nafnet-w32": ("nafnet", {"width": 32}, "NAFNet width 32 (registry default blocks)"),
    "deblurgan-ngf64-9blk": ("deblurgan", {"ngf": 64, "n_blocks": 9}, "DeblurGAN reference generator"),
    "deblurgan-laplacian": (
        "deblurgan",
        {"ngf": 64, "n_blocks": 9, "laplacian": True},
        "DeblurGAN + Laplacian input channel",
    ),
    "deblurgan-laplacian-ngf32": (
        "deblurgan",
        {"ngf": 32, "n_blocks": 9, "laplacian": True},
        "DeblurGAN + Laplacian at half width (the reduced reference trained on CPU)",
    ),
    "rednet30": ("rednet30", {}, "REDNet30 (64 channels, 15+15 layers, full resolution)"),
}


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def worker(label: str, repeats: int, threads: int | None) -> dict:
    """Build one model and time it (runs inside the subprocess)."""
    sys.path.insert(0, str(ROOT))
    import torch

    from restore_cli.bench.runner import count_macs, count_parameters
    from restore_cli.models import get_arch

    if threads:
        torch.set_num_threads(threads)
    if label == "default":
        from restore_cli.weights import load_model

        loaded = load_model(None, task="deblur")
        module, arch, hyper, weights = loaded.module, loaded.arch, loaded.hyper, str(loaded.path)
    else:
        from restore_cli.models import create_model

        arch, hyper, _ = CANDIDATES[label]
        torch.manual_seed(0)
        module, weights = create_model(arch, **hyper), "random"
    module.eval()
    make_fast = get_arch(arch).inference_form
    runner = make_fast(module) if make_fast is not None else module
    x = torch.rand(1, 3, HEIGHT, WIDTH)
    # MACs from forward hooks on a weightless copy on the meta device: exact at full size, no compute.
    macs = count_macs(copy.deepcopy(module).to("meta"), tuple(x.shape))
    rss_before = _current_rss_mb()
    start = time.perf_counter()
    with torch.inference_mode():
        runner(torch.rand(1, 3, WARMUP_SIZE[1], WARMUP_SIZE[0]))  # warm-up: lazy init, allocator, kernels
    warmup_s = time.perf_counter() - start
    times, cpu_times = [], []
    with torch.inference_mode():
        for _ in range(repeats):
            start, cpu_start = time.perf_counter(), time.process_time()
            runner(x)
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
    ms = 1000 * min(times)
    megapixels = WIDTH * HEIGHT / 1e6
    return {
        "model": label,
        "arch": arch,
        "hyper": hyper,
        "weights": weights,
        "form": "inference" if make_fast is not None else "trained",
        "ms": ms,
        "ms_median": 1000 * sorted(times)[len(times) // 2],
        "cpu_ms": 1000 * min(cpu_times),
        "warmup_ms": 1000 * warmup_s,
        "mp_per_s": megapixels / (ms / 1000),
        "peak_rss_mb": _peak_rss_mb(),
        "rss_before_mb": rss_before,
        "params": count_parameters(module),
        "gmacs": macs / 1e9,
        "gmacs_per_mp": macs / 1e9 / megapixels,
        "threads": torch.get_num_threads(),
        "repeats": repeats,
    }


def _machine() -> dict:
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "loadavg_at_start": os.getloadavg(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }


def _markdown(rows: list[dict], machine: dict, skipped: list[str]) -> str:
    lines = [
        f"# CPU speed at {WIDTH}x{HEIGHT} (one image, batch 1, fp32)",
        "",
        "**SPEED ONLY, not quality:** the `default` row runs the shipped default deblurring weights, the"
        " others freshly initialised weights of their architecture (weights do not change the time).",
        "",
        f"Machine: {machine['cpu']}, {machine['cpu_count']} cores, torch {machine['torch']} with "
        f"{machine['torch_threads']} threads, load average at start {machine['loadavg_at_start'][0]:.2f} "
        f"(shared machine: expect noise), {machine['date_utc']} UTC. Time is the best of the timed passes "
        "after a small warm-up; CPU ms is the process CPU time of that pass (all threads); peak RSS is the "
        "whole worker process (Python + torch + model + activations).",
        "",
        "| model | arch | form | ms | CPU ms | MP/s | peak RSS MB | params | GMAC | GMAC/MP |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['arch']} | {r.get('form', 'trained')} | {r['ms']:.0f} | "
            f"{r['cpu_ms']:.0f} | {r['mp_per_s']:.3f} | "
            f"{r['peak_rss_mb']:.0f} | "
            f"{r['params']:,} | {r['gmacs']:.1f} | {r['gmacs_per_mp']:.1f} |"
        )
    if skipped:
        lines += ["", "Skipped: " + "; ".join(skipped)]
    lines += ["", "Regenerate with `.venv/bin/python benchmarks/speed.py`.", ""]
    return "\n".join(lines)


def _write(folder: Path, rows: list[dict], machine: dict, skipped: list[str]) -> str:
    """Write speed_cpu.json and speed_cpu.md; return the markdown."""
    folder.mkdir(parents=True, exist_ok=True)
    note = "speed only: default = shipped weights, others freshly initialised"
    payload = {"note": note, "size": [WIDTH, HEIGHT], "machine": machine}
    payload |= {"results": rows, "skipped": skipped}
    (folder / "speed_cpu.json").write_text(json.dumps(payload, indent=2) + "\n")
    markdown = _markdown(rows, machine, skipped)
    (folder / "speed_cpu.md").write_text(markdown)
    return markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=None, help="comma-separated labels (default: all)")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per model (best is reported)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="folder for speed_cpu.md and speed_cpu.json"
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.repeats, args.threads)))
        return 0

    sys.path.insert(0, str(ROOT))
    from restore_cli.errors import RestoreError
    from restore_cli.models import list_archs

    known = set(list_archs())
    labels = list(CANDIDATES)
    skipped: list[str] = []
    try:
        from restore_cli.weights import default_for

        if default_for("deblur") is not None:
            labels.insert(0, "default")
        else:
            skipped.append("default: no shipped default deblur weights")
    except (ImportError, RestoreError) as err:
        skipped.append(f"default: {err}")
    if args.only:
        wanted = [s.strip() for s in args.only.split(",") if s.strip()]
        labels = [label for label in labels if label in wanted]
    machine = _machine()
    rows = []
    for label in labels:
        if label != "default" and CANDIDATES[label][0] not in known:
            skipped.append(f"{label}: architecture {CANDIDATES[label][0]!r} not registered")
            continue
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            label,
            "--repeats",
            str(args.repeats),
        ]
        if args.threads:
            command += ["--threads", str(args.threads)]
        print(f"timing {label} ...", file=sys.stderr, flush=True)
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            skipped.append(
                f"{label}: failed ({done.stderr.strip().splitlines()[-1] if done.stderr else '?'})"
            )
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"  {row['ms']:.0f} ms, {row['peak_rss_mb']:.0f} MB peak RSS", file=sys.stderr, flush=True)
        _write(args.out, rows, machine, skipped)  # after each model, so a long run keeps what it measured
    print(_write(args.out, rows, machine, skipped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
