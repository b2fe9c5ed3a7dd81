"""Inference paths of the default deblur model at 1280x720 in one process: s/frame, GFLOP/s, busy/idle.

    .venv/bin/python benchmarks/speed_paths.py                     # writes benchmarks/results/speed_paths.*
    .venv/bin/python benchmarks/speed_paths.py --threads 1 --rounds 2 --no-busy

Whole commands (start-up included) are timed by ``benchmarks/startup.py``.

Paths: ``eager`` (the trained module, NCHW, as before issue 16), ``fast`` (its inference form, what the
engine runs), ``fast-bf16`` (the same under bf16 autocast, i.e. ``--precision bf16``), the DeblurGAN
reference (it has no inference form: channels_last measured slower for it), and, when importable,
OpenVINO (fp32 hint and its default hint, bf16 on CPUs that have it) and ONNX Runtime on the eager model.

The process reuses freed memory (glibc; ``restore_cli.engine.reuse_freed_memory``, which the first Engine of
a ``restore`` run applies); it is process-wide, so every path timed here, the eager module and the reference
included, runs with it (the notes record whether it is on).

On a shared machine absolute times are noisy, so every path is timed in the same process, interleaved
round by round, and medians are reported with the load average; ``busy`` rounds run one competing
CPU-bound process (``python -c 'while True: pass'``) for their duration. The peak is the best sgemm rate
measured on this machine with the same thread count (a practical FMA peak).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
WIDTH, HEIGHT = 1280, 720
REFERENCE = "deblurgan-laplacian-ngf32"
SPIN = "while True: pass"


def sgemm_gflops(threads: int, n: int = 1536, repeats: int = 5) -> float:
    """Best fp32 matrix-product rate with ``threads`` torch threads: a measured practical FMA peak."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.rand(n, n), torch.rand(n, n)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class Competitor:
    """One CPU-bound process for the duration of a ``with`` block (the 'busy' condition)."""

    def __enter__(self) -> Competitor:
        self.proc = subprocess.Popen([sys.executable, "-c", SPIN])
        time.sleep(0.3)  # let it get going
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.kill()
        self.proc.wait()


def build_paths(x, threads: int, with_backends: bool) -> tuple[dict[str, Callable[[], object]], dict]:
    """name -> one forward pass at ``threads``; plus notes (conversion times, max differences to eager)."""
    import numpy as np
    import torch

    from restore_cli.weights import load_model

    torch.set_num_threads(threads)
    loaded = load_model(None, task="deblur")
    reference = load_model(REFERENCE, task="deblur")
    eager, fast, ref = loaded.module, loaded.inference_module(), reference.inference_module()
    from restore_cli import engine as engine_module

    notes: dict = {
        "default": loaded.name,
        "reference": reference.name,
        "reuse_freed_memory": engine_module.reuse_freed_memory(),
    }
    with torch.inference_mode():
        expected = eager(x).numpy()
    paths: dict[str, Callable[[], object]] = {
        "eager": lambda: eager(x),
        "fast": lambda: fast(x),
        "fast-bf16": lambda: _bf16(fast, x),
        "reference": lambda: ref(x),
    }
    if not with_backends:
        return paths, notes
    xn = x.numpy()
    try:
        import openvino as ov

        start = time.perf_counter()
        with torch.no_grad():
            ov_model = ov.convert_model(eager, example_input=x)
        notes["openvino_convert_s"] = time.perf_counter() - start
        core = ov.Core()
        for label, hint in (("openvino-f32", {"INFERENCE_PRECISION_HINT": "f32"}), ("openvino-default", {})):
            start = time.perf_counter()
            config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", **hint}
            compiled = core.compile_model(ov_model, "CPU", config)
            notes[f"{label}_compile_s"] = time.perf_counter() - start
            notes[f"{label}_precision"] = str(compiled.get_property("INFERENCE_PRECISION_HINT"))
            request = compiled.create_infer_request()
            out = compiled.output(0)
            paths[label] = lambda request=request, out=out: request.infer({0: xn})[out]
            notes[f"{label}_maxdiff"] = float(np.abs(paths[label]() - expected).max())
    except ImportError:
        notes["openvino"] = "not installed"
    try:
        import onnxruntime as ort

        start = time.perf_counter()
        onnx_path = Path(tempfile.mkdtemp()) / "default.onnx"
        torch.onnx.export(eager, (x,), str(onnx_path), dynamo=False, opset_version=17)
        notes["onnx_export_s"] = time.perf_counter() - start
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        # ONNX Runtime's threads spin after each run by default, taking a core from the next path timed
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        paths["onnxruntime"] = lambda: session.run(None, {name: xn})[0]
        notes["onnxruntime_maxdiff"] = float(np.abs(paths["onnxruntime"]() - expected).max())
    except ImportError:
        notes["onnxruntime"] = "not installed"
    with torch.inference_mode():
        notes["fast_maxdiff"] = float(np.abs(fast(x).numpy() - expected).max())
        notes["fast-bf16_maxdiff"] = float(np.abs(_bf16(fast, x).float().numpy() - expected).max())
    return paths, notes


def _bf16(module, x):
    import torch

    with torch.autocast("cpu", dtype=torch.bfloat16):
        return module(x)


def measure_paths(thread_counts: list[int], rounds: int, busy: bool, with_backends: bool) -> dict:
    import torch

    from restore_cli.bench.runner import count_macs
    from restore_cli.weights import load_model

    x = torch.rand(1, 3, HEIGHT, WIDTH)
    gmacs = {
        label: count_macs(copy.deepcopy(load_model(ref, task="deblur").module).to("meta"), tuple(x.shape))
        / 1e9
        for label, ref in (("default", None), ("reference", REFERENCE))
    }
    conditions = ["idle", "busy"] if busy else ["idle"]
    rows, notes_by_threads, peaks = [], {}, {}
    for threads in thread_counts:
        peaks[threads] = sgemm_gflops(threads)
        paths, notes = build_paths(x, threads, with_backends)
        notes_by_threads[threads] = notes
        times: dict[tuple[str, str], list[float]] = {(p, c): [] for p in paths for c in conditions}
        loads = []
        with torch.inference_mode():
            for fn in paths.values():  # warm-up: allocator, kernels, first-call costs
                fn()
            for _ in range(rounds):
                for condition in conditions:
                    competitor = Competitor() if condition == "busy" else None
                    if competitor:
                        competitor.__enter__()
                    try:
                        for name, fn in paths.items():
                            times[(name, condition)].append(_timed(fn))
                    finally:
                        if competitor:
                            competitor.__exit__()
                    loads.append(os.getloadavg()[0])
                    print(f"threads {threads} {condition}: done a round", file=sys.stderr, flush=True)
        for name in paths:
            model = "reference" if name == "reference" else "default"
            row = {"path": name, "threads": threads, "gmacs": gmacs[model], "peak_gflops": peaks[threads]}
            for condition in conditions:
                seconds = statistics.median(times[(name, condition)])
                row[f"{condition}_s"] = seconds
                row[f"{condition}_gflops"] = 2 * gmacs[model] / seconds
                row[f"{condition}_all_s"] = times[(name, condition)]
            if busy:
                row["busy_over_idle"] = row["busy_s"] / row["idle_s"]
            row["loadavg_1min_median"] = statistics.median(loads)
            rows.append(row)
    return {"rows": rows, "notes": notes_by_threads, "sgemm_peak_gflops": peaks, "gmacs": gmacs}


def _machine() -> dict:
    import torch

    flags = set()
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split("flags")[1].split("\n")[0].split())
    except (OSError, IndexError):
        pass
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "isa": sorted(flags & {"avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "avx512_vnni"}),
        "loadavg_at_start": os.getloadavg(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }


def _markdown(data: dict) -> str:
    m = data["machine"]
    lines = [
        f"# Inference paths of the default deblur model, {WIDTH}x{HEIGHT}, one process",
        "",
        f"Machine: {m['cpu_count']} cores ({', '.join(m['isa'])}), torch {m['torch']}, {m['date_utc']} UTC, "
        f"load average at start {m['loadavg_at_start'][0]:.1f} (a shared machine: other people's jobs ran "
        "throughout, so absolute times are pessimistic; compare paths within a table, which were timed "
        "interleaved in the same rounds). Seconds are medians per frame; GFLOP/s counts 2 x the MACs of "
        "convolutions; the peak is the best sgemm rate measured here with the same threads. Every path runs "
        "in a process that reuses freed memory (`engine.reuse_freed_memory`, applied by "
        "the first Engine, as in `restore`): the eager module and the reference gain from it too.",
        "",
    ]
    paths = data.get("paths")
    if paths:
        busy = any("busy_s" in r for r in paths["rows"])
        lines += [
            "| path | threads | idle s | GFLOP/s | % of sgemm peak |"
            + (" busy s | busy/idle |" if busy else ""),
            "|---|---:|---:|---:|---:|" + ("---:|---:|" if busy else ""),
        ]
        for r in paths["rows"]:
            line = (
                f"| {r['path']} | {r['threads']} | {r['idle_s']:.2f} | {r['idle_gflops']:.1f} | "
                f"{100 * r['idle_gflops'] / r['peak_gflops']:.0f}% |"
            )
            if busy:
                line += f" {r['busy_s']:.2f} | {r['busy_over_idle']:.2f} |"
            lines.append(line)
        lines += [
            "",
            f"GMAC per frame: {paths['gmacs']}; sgemm peak GFLOP/s by threads: "
            f"{ {k: round(v, 1) for k, v in paths['sgemm_peak_gflops'].items()} }.",
            "",
        ]
        for threads, notes in paths["notes"].items():
            shown = {k: (round(v, 7) if isinstance(v, float) else v) for k, v in notes.items()}
            lines.append(f"- {threads} thread(s): {shown}")
        lines.append("")
        by = {(r["path"], r["threads"]): r for r in paths["rows"]}
        for threads in sorted({r["threads"] for r in paths["rows"]}):
            fast, ref = by.get(("fast", threads)), by.get(("reference", threads))
            eager = by.get(("eager", threads))
            if fast and ref:
                text = f"- {threads} thread(s): reference / fast = {ref['idle_s'] / fast['idle_s']:.2f}x idle"
                if busy:
                    text += f", {ref['busy_s'] / fast['busy_s']:.2f}x busy"
                if eager:
                    text += f"; eager / fast = {eager['idle_s'] / fast['idle_s']:.2f}x idle"
                lines.append(text)
        # The engine's thread policy (resolve_threads) on a 2-core machine: both threads idle, one when
        # another process keeps a core busy.
        top = max(r["threads"] for r in paths["rows"])
        (fast_idle, ref_idle), (fast_busy, ref_busy) = (
            (by.get(("fast", t)), by.get(("reference", t))) for t in (top, 1)
        )
        if busy and top > 1 and fast_idle and ref_idle and fast_busy and ref_busy:
            lines.append(
                f"- thread policy ({top} threads idle, 1 busy): reference / fast = "
                f"{ref_idle['idle_s'] / fast_idle['idle_s']:.2f}x idle, "
                f"{ref_busy['busy_s'] / fast_busy['busy_s']:.2f}x busy"
            )
        lines.append("")
    lines += ["Regenerate with `.venv/bin/python benchmarks/speed_paths.py`.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians are reported)")
    parser.add_argument("--no-busy", action="store_true", help="skip the rounds with a competing process")
    parser.add_argument("--no-backends", action="store_true", help="skip OpenVINO / ONNX Runtime")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for speed_paths.md / .json")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    data: dict = {"machine": _machine(), "size": [WIDTH, HEIGHT]}
    threads = [int(t) for t in args.threads.split(",") if t.strip()]
    data["paths"] = measure_paths(threads, args.rounds, not args.no_busy, not args.no_backends)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed_paths.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    markdown = _markdown(data)
    (args.out / "speed_paths.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
