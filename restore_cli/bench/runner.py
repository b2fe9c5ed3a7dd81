"""Run models over a benchmark dataset and measure quality, speed and memory, one record per row.

A row is one way of producing outputs: the "do nothing" baseline (the blurred or gray input itself), a
model run ``passes`` times, or a deblur + colorize pipeline in one order. Rows of loaded models run through
the product's own path, a :class:`restore_cli.restorer.Restorer` preset (deblur rows the deblur preset,
colorize rows the colorize one, pipeline rows the pipeline with the row's order), so gray handling and model
choice are measured as users get them. Every row sees the same inputs, so the baseline row is the reference
point for every other. Records are plain dicts with the keys in
``RECORD_KEYS`` (None where a measure does not apply), ready for a table, JSON or CSV.

Timing covers only the model calls (not decoding or metrics), after one warm-up call per row, with
``torch.cuda.synchronize`` around each call on GPU. Peak memory is CUDA max-allocated on GPU, and the
process's peak RSS (VmHWM, reset before each call where Linux allows) on CPU.
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from restore_cli.bench import metrics
from restore_cli.bench.datasets import Dataset
from restore_cli.choices import FIXED_ORDERS
from restore_cli.errors import NoDefaultWeightsError, UsageError

SCHEMA = "restore-bench/1"
RECORD_KEYS = (
    "schema",
    "dataset",
    "task",
    "row",
    "model",
    "weights",
    "order",
    "passes",
    "images",
    "ssim_variant",
    "psnr",
    "ssim",
    "mse",
    "mae",
    "colorfulness",
    "colorfulness_truth",
    "colorfulness_gap",
    "ab_error",
    "sharpness",
    "ms_per_image",
    "ms_per_mp",
    "images_per_s",
    "peak_memory_mb",
    "memory_kind",
    "params",
    "macs_per_mp",
    "device",
    "precision",
    "aligned",
    "partial",
)
CROP = 160


@dataclass
class BenchModel:
    """A model as the benchmark sees it: a name, a task, and how to run it.

    A loaded model (``loaded``, with the ``engine`` and ``tile`` it runs with) runs through a Restorer; a
    plain function ``run`` (float32 ``H x W x 3`` pixels in [0, 1] -> the same shape, or RGB for colorize)
    is applied as it is. ``module`` (a torch module, optional) is what parameters and MACs are counted on;
    ``probe_shape`` is the N x C x H x W input used to count MACs (None: the deblur default for
    ``in_channels``).
    """

    name: str
    task: str
    run: Callable[[np.ndarray], np.ndarray] | None = None
    module: Any = None
    weights: str | None = None
    in_channels: int = 3
    probe_shape: tuple[int, int, int, int] | None = None
    loaded: Any = None
    engine: Any = None
    tile: int | str = "auto"


@dataclass
class Row:
    """One line of the result table: a label and the steps (models, in order) that make its output."""

    label: str
    steps: list[BenchModel]
    order: str | None = None
    passes: int = 1
    session: Any = None
    """The Restorer that makes this row's output when its models are loaded ones (see :func:`build_rows`)."""

    @property
    def is_baseline(self) -> bool:
        return not self.steps


@dataclass
class _Tally:
    """Running sums for one row while images go by."""

    row: Row
    values: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0
    megapixels: float = 0.0
    images: int = 0
    peak_bytes: int = 0
    aligned_failures: int = 0
    best: tuple[float, str, list[np.ndarray]] | None = None
    worst: tuple[float, str, list[np.ndarray]] | None = None

    def add(self, key: str, value: float | None) -> None:
        if value is not None:
            self.values.setdefault(key, []).append(value)

    def mean(self, key: str) -> float | None:
        found = self.values.get(key)
        return float(np.mean(found)) if found else None


@dataclass
class BenchResult:
    """Records (one per row) plus what the report needs: the best and worst images of each row."""

    records: list[dict[str, Any]]
    samples: dict[str, dict[str, tuple[float, str, list[np.ndarray]] | None]]
    warnings: list[str]
    interrupted: bool = False


# ---------------------------------------------------------------------------------------------- rows


def parse_int_list(text: str | Sequence[int] | None, what: str = "passes") -> list[int]:
    """``"1,2,3"`` -> [1, 2, 3]; each at least 1."""
    if text is None:
        return [1]
    items = text if not isinstance(text, str) else [t for t in text.replace(" ", "").split(",") if t]
    try:
        values = [int(v) for v in items]
    except ValueError:
        raise UsageError(f"--{what} takes numbers separated by commas (e.g. 1,2,3), got {text!r}") from None
    if not values or min(values) < 1:
        raise UsageError(f"--{what} values must be 1 or more, got {text!r}")
    return values


def parse_orders(text: str | Sequence[str] | None) -> list[str]:
    """``"deblur-first,colorize-first"`` -> list; the fixed orders only (every row runs both steps)."""
    if text is None:
        return [FIXED_ORDERS[0]]
    items = text if not isinstance(text, str) else [t for t in text.replace(" ", "").split(",") if t]
    for item in items:
        if item not in FIXED_ORDERS:
            raise UsageError(f"--order takes {' and/or '.join(FIXED_ORDERS)}, got {item!r}")
    return list(items) or [FIXED_ORDERS[0]]


def build_rows(
    task: str, models: Sequence[BenchModel], passes: Sequence[int] = (1,), orders: Sequence[str] = ()
) -> list[Row]:
    """The baseline row, then one row per model and pass count (pipeline: per deblur x colorize x order).

    Rows of loaded models get their Restorer preset (``Row.session``), made here once per row.
    """
    rows = [Row("baseline (input)" if task != "colorize" else "baseline (gray)", [])]
    deblurrers = [m for m in models if m.task == "deblur"]
    colorizers = [m for m in models if m.task == "colorize"]
    if task == "deblur":
        for model in deblurrers:
            for p in passes:
                rows.append(Row(model.name if p == 1 else f"{model.name} x{p}", [model] * p, passes=p))
    elif task == "colorize":
        rows += [Row(model.name, [model]) for model in colorizers]
    elif task == "pipeline":
        for order in orders or [FIXED_ORDERS[0]]:
            for deblurrer in deblurrers:
                for colorizer in colorizers:
                    for p in passes:
                        steps = [deblurrer] * p
                        steps = steps + [colorizer] if order == "deblur-first" else [colorizer] + steps
                        label = f"{deblurrer.name} x{p} + {colorizer.name} ({order})"
                        rows.append(Row(label, steps, order=order, passes=p))
    else:
        raise UsageError(f"unknown task {task!r}; use deblur, colorize or pipeline")
    for row in rows:
        row.session = _session(row)
    return rows


def _session(row: Row) -> Any:
    """The Restorer preset that makes ``row``'s output, or None (the baseline, or plain function models)."""
    if not row.steps or any(step.loaded is None for step in row.steps):
        return None
    from restore_cli.restorer import Restorer

    deblurrer = next((step for step in row.steps if step.task == "deblur"), None)
    colorizer = next((step for step in row.steps if step.task == "colorize"), None)
    first = row.steps[0]
    common: dict[str, Any] = {"engine": first.engine, "tile": first.tile, "cache": {}}
    if colorizer is None:
        return Restorer(only="deblur", passes=row.passes, deblur_model=deblurrer.loaded, **common)
    if deblurrer is None:  # as tasks.colorize: the benchmark's gray inputs are always colorized
        return Restorer(only="colorize", recolor=True, colorize_model=colorizer.loaded, **common)
    return Restorer(
        order=row.order or FIXED_ORDERS[0],
        passes=row.passes,
        deblur_model=deblurrer.loaded,
        colorize_model=colorizer.loaded,
        **common,
    )


# -------------------------------------------------------------------------------------- measuring


def count_parameters(module: Any) -> int | None:
    """Number of parameters of a torch module (None when there is no module)."""
    if module is None:
        return None
    return int(sum(p.numel() for p in module.parameters()))


def count_macs(module: Any, shape: tuple[int, int, int, int]) -> int | None:
    """Multiply-accumulates of one forward pass on a zero input of ``shape``, from forward hooks.

    Counted layers: Conv2d (out elements x in/groups x kh x kw), ConvTranspose2d (in elements x out/groups x
    kh x kw) and Linear (out elements x in features). Everything else (norms, activations, attention
    products) is ignored, as the usual MAC counters do.
    """
    if module is None:
        return None
    import torch
    from torch import nn

    total = 0

    def conv_hook(layer: nn.Conv2d, inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = layer.kernel_size
        total += output.numel() * (layer.in_channels // layer.groups) * kh * kw

    def deconv_hook(layer: nn.ConvTranspose2d, inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        kh, kw = layer.kernel_size
        total += inputs[0].numel() * (layer.out_channels // layer.groups) * kh * kw

    def linear_hook(layer: nn.Linear, inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        total += output.numel() * layer.in_features

    handles = []
    for layer in module.modules():
        if isinstance(layer, nn.ConvTranspose2d):
            handles.append(layer.register_forward_hook(deconv_hook))
        elif isinstance(layer, nn.Conv2d):
            handles.append(layer.register_forward_hook(conv_hook))
        elif isinstance(layer, nn.Linear):
            handles.append(layer.register_forward_hook(linear_hook))
    try:
        first = next(module.parameters(), None)
        device = first.device if first is not None else "cpu"
        dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
        with torch.inference_mode():
            module(torch.zeros(shape, device=device, dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()
    return total


def macs_per_megapixel(model: BenchModel, side: int = 256) -> float | None:
    """MACs of one forward pass divided by the probe's megapixels (the probe is ``side`` x ``side``)."""
    shape = model.probe_shape or (1, model.in_channels, side, side)
    macs = count_macs(model.module, shape)
    return None if macs is None else macs / (shape[2] * shape[3] / 1e6)


def _reset_cpu_peak() -> bool:
    """Reset the process's peak RSS (Linux: write 5 to /proc/self/clear_refs); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def cpu_peak_rss_bytes() -> int:
    """Peak resident memory of this process (VmHWM from /proc, else getrusage's ru_maxrss)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class _Clock:
    """Times model calls: synchronised on CUDA, peak memory per call (CUDA allocator or CPU RSS)."""

    def __init__(self, device: str) -> None:
        self.cuda = str(device).startswith("cuda")
        self.memory_kind = "cuda-max-allocated" if self.cuda else "cpu-peak-rss"

    def _sync(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()

    def call(self, fn: Callable[[], np.ndarray]) -> tuple[np.ndarray, float, int]:
        if self.cuda:
            import torch

            torch.cuda.reset_peak_memory_stats()
        else:
            _reset_cpu_peak()
        self._sync()
        start = time.perf_counter()
        out = fn()
        self._sync()
        seconds = time.perf_counter() - start
        if self.cuda:
            import torch

            peak = int(torch.cuda.max_memory_allocated())
        else:
            peak = cpu_peak_rss_bytes()
        return out, seconds, peak


# --------------------------------------------------------------------------------------- alignment


def align_to_truth(output: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RealBlur protocol: match intensity, fit an ECC homography (output -> truth), warp, mask the border.

    Returns (aligned output, truth, mask), each ``H x W x 3`` float64 on 0..255 with pixels outside the
    warped output zeroed in both images; raises cv2.error when ECC does not converge.
    """
    z = output.astype(np.float32) / 255.0
    x = truth.astype(np.float32) / 255.0
    scale = float(np.sum(x * z) / max(float(np.sum(z * z)), 1e-12))
    zs = z * scale
    warp = np.eye(3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 0)
    _, warp = cv2.findTransformECC(
        cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), cv2.cvtColor(zs, cv2.COLOR_RGB2GRAY), warp,
        cv2.MOTION_HOMOGRAPHY, criteria, None, 5,
    )  # fmt: skip
    size = (x.shape[1], x.shape[0])
    flags = cv2.WARP_INVERSE_MAP
    aligned = cv2.warpPerspective(
        zs, warp, size, flags=cv2.INTER_CUBIC + flags, borderMode=cv2.BORDER_REFLECT
    )
    mask = cv2.warpPerspective(
        np.ones_like(zs), warp, size, flags=cv2.INTER_NEAREST + flags, borderMode=cv2.BORDER_CONSTANT
    )
    aligned = np.clip(aligned, 0, 1) * mask
    return aligned.astype(np.float64) * 255.0, x.astype(np.float64) * mask * 255.0, mask.astype(np.float64)


def _masked_scores(
    output: np.ndarray, truth: np.ndarray, mask: np.ndarray, ssim_variant: str
) -> dict[str, float]:
    """PSNR/MSE/MAE over the mask only (RealBlur: error sum / mask sum); SSIM on the masked images."""
    count = max(float(mask.sum()), 1.0)
    diff = output - truth
    mse = float(np.sum(diff**2) / count)
    return {
        "psnr": math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse),
        "ssim": metrics.ssim(output, truth, ssim_variant),
        "mse": mse,
        "mae": float(np.sum(np.abs(diff)) / count),
    }


# ------------------------------------------------------------------------------------------ running


def _crop_box(shape: tuple[int, ...]) -> tuple[slice, slice]:
    h, w = shape[:2]
    size = min(CROP, h, w)
    top, left = (h - size) // 2, (w - size) // 2
    return slice(top, top + size), slice(left, left + size)


def _apply(row: Row, pixels: np.ndarray) -> np.ndarray:
    """The row's output on float32 ``H x W x 3`` pixels: its Restorer, or its plain functions in turn."""
    if row.session is not None:
        return _rgb(row.session.run(pixels).image)
    image = pixels
    for step in row.steps:
        if step.run is None:
            raise UsageError(f"{step.name}: a benchmark model needs a loaded model or a run function")
        image = _rgb(step.run(image))
    return image


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[:, :, None]
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image


def _save(folder: Path, row: Row, name: str, image: np.ndarray) -> None:
    """Write one output as PNG through restore_cli.io (atomic)."""
    from restore_cli.io import write_rgb8

    write_rgb8(image, folder / slug(row.label) / f"{name}.png")


def slug(text: str) -> str:
    """A file-name-safe version of a row label."""
    keep = [c if c.isalnum() or c in "-_." else "-" for c in text.lower()]
    return "-".join(filter(None, "".join(keep).split("-")))


def run_benchmark(
    dataset: Dataset,
    rows: Sequence[Row],
    *,
    ssim_variant: str = "matlab3d",
    device: str = "cpu",
    precision: str = "fp32",
    save_outputs: Path | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    warmup: bool = True,
) -> BenchResult:
    """Run every row over every sample; return one record per row (partial ones after Ctrl-C)."""
    if ssim_variant not in metrics.SSIM_VARIANTS:
        raise UsageError(f"--ssim takes {' or '.join(metrics.SSIM_VARIANTS)}, got {ssim_variant!r}")
    clock = _Clock(device)
    tallies = [_Tally(row) for row in rows]
    warnings = list(dataset.warnings)
    total = len(dataset.samples)
    interrupted = False
    warmed: set[int] = set()
    done = 0
    try:
        for index, sample in enumerate(dataset.samples):
            source, truth = sample.load()
            pixels = source.astype(np.float32) / 255.0
            megapixels = source.shape[0] * source.shape[1] / 1e6
            # Every row runs on this image before any is scored, so an interrupted image counts for none.
            outputs = []
            for tally in tallies:
                row = tally.row
                if row.is_baseline:
                    outputs.append((source, 0.0, 0))
                    continue
                if warmup and id(row) not in warmed:
                    _apply(row, pixels)
                    warmed.add(id(row))
                result, seconds, peak = clock.call(lambda row=row, pixels=pixels: _apply(row, pixels))
                outputs.append((metrics.to_uint8(result), seconds, peak))
            for tally, (output, seconds, peak) in zip(tallies, outputs):
                if not tally.row.is_baseline:
                    tally.seconds += seconds
                    tally.megapixels += megapixels
                    tally.peak_bytes = max(tally.peak_bytes, peak)
                _score(tally, dataset, sample.name, source, output, truth, ssim_variant)
                tally.images += 1
                if save_outputs is not None and not tally.row.is_baseline:
                    _save(save_outputs, tally.row, sample.name, output)
            done = index + 1
            if progress is not None:
                progress(done, total, sample.name)
    except KeyboardInterrupt:
        interrupted = True
    failures = sum(t.aligned_failures for t in tallies)
    if failures:
        warnings.append(
            f"ECC alignment did not converge for {failures} output(s); those were scored unaligned"
        )
    records = [_record(t, dataset, ssim_variant, clock, device, precision, interrupted) for t in tallies]
    samples = {t.row.label: {"best": t.best, "worst": t.worst} for t in tallies}
    return BenchResult(records, samples, warnings, interrupted)


def _score(
    tally: _Tally,
    dataset: Dataset,
    name: str,
    source: np.ndarray,
    output: np.ndarray,
    truth: np.ndarray | None,
    ssim_variant: str,
) -> None:
    tally.add("sharpness", metrics.laplacian_variance(output))
    colour_task = dataset.task in ("colorize", "pipeline")
    if colour_task:
        tally.add("colorfulness", metrics.colorfulness(output))
    if truth is None or not dataset.full_reference:
        return
    if colour_task:
        truth_colour = metrics.colorfulness(truth)
        tally.add("colorfulness_truth", truth_colour)
        tally.add("colorfulness_gap", metrics.colorfulness(output) - truth_colour)
        tally.add("ab_error", metrics.mean_ab_error(output, truth))
    scores = None
    if dataset.align:
        try:
            aligned, truth_masked, mask = align_to_truth(output, truth)
            scores = _masked_scores(aligned, truth_masked, mask, ssim_variant)
        except cv2.error:
            tally.aligned_failures += 1
    if scores is None:
        scores = metrics.full_reference(output, truth, ssim_variant)
    for key, value in scores.items():
        tally.add(key, value)
    crops = [image[_crop_box(image.shape)] for image in (source, output, truth)]
    entry = (scores["psnr"], name, crops)
    if tally.best is None or scores["psnr"] > tally.best[0]:
        tally.best = entry
    if tally.worst is None or scores["psnr"] < tally.worst[0]:
        tally.worst = entry


def _record(
    tally: _Tally,
    dataset: Dataset,
    ssim_variant: str,
    clock: _Clock,
    device: str,
    precision: str,
    interrupted: bool,
) -> dict[str, Any]:
    row = tally.row
    models = list(dict.fromkeys(step.name for step in row.steps))
    weights = list(dict.fromkeys(step.weights for step in row.steps if step.weights))
    timed = not row.is_baseline and tally.images > 0
    params = sum(count_parameters(m.module) or 0 for m in {id(s): s for s in row.steps}.values())
    macs = None
    if not row.is_baseline and all(step.module is not None for step in row.steps):
        macs = float(sum(macs_per_megapixel(step) or 0.0 for step in row.steps))
    has_ref = dataset.full_reference and "psnr" in tally.values
    record: dict[str, Any] = {
        "schema": SCHEMA,
        "dataset": dataset.name,
        "task": dataset.task,
        "row": row.label,
        "model": " + ".join(models) if models else None,
        "weights": " + ".join(weights) if weights else None,
        "order": row.order,
        "passes": row.passes if not row.is_baseline else 0,
        "images": tally.images,
        "ssim_variant": ssim_variant if has_ref else None,
        "psnr": tally.mean("psnr"),
        "ssim": tally.mean("ssim"),
        "mse": tally.mean("mse"),
        "mae": tally.mean("mae"),
        "colorfulness": tally.mean("colorfulness"),
        "colorfulness_truth": tally.mean("colorfulness_truth"),
        "colorfulness_gap": tally.mean("colorfulness_gap"),
        "ab_error": tally.mean("ab_error"),
        "sharpness": tally.mean("sharpness"),
        "ms_per_image": 1000 * tally.seconds / tally.images if timed else None,
        "ms_per_mp": 1000 * tally.seconds / tally.megapixels if timed and tally.megapixels else None,
        "images_per_s": tally.images / tally.seconds if timed and tally.seconds > 0 else None,
        "peak_memory_mb": tally.peak_bytes / 2**20 if timed else None,
        "memory_kind": clock.memory_kind if timed else None,
        "params": params if row.steps else None,
        "macs_per_mp": macs,
        "device": str(device),
        "precision": precision,
        "aligned": bool(dataset.align),
        "partial": interrupted,
    }
    return {key: record[key] for key in RECORD_KEYS}


# ------------------------------------------------------------------------------------- loading models


def load_bench_models(
    refs: Sequence[str],
    *,
    task: str,
    device: str = "cpu",
    precision: str = "fp32",
    tile: str | int = "auto",
    threads: int | None = None,
) -> tuple[list[BenchModel], list[str], str]:
    """Load models by manifest name or weights path, wrapped for the benchmark.

    With no refs, the default weights for the task are used (both deblur and colorize for the pipeline);
    missing defaults are reported as warnings and only the baseline row runs. Returns (models, warnings,
    resolved device).
    """
    from restore_cli.engine import Engine
    from restore_cli.weights import load_model

    engine = Engine(device=device, precision=precision, threads=threads)
    resolved = str(engine.device)
    warnings: list[str] = []
    models: list[BenchModel] = []
    wanted: list[tuple[str | None, str | None]] = [(ref, None) for ref in refs]
    if not wanted:
        tasks = ["deblur", "colorize"] if task == "pipeline" else [task]
        wanted = [(None, t) for t in tasks]
    for ref, default_task in wanted:
        try:
            loaded = load_model(ref, task=default_task)
        except NoDefaultWeightsError as err:
            warnings.append(f"{err.message}; only the baseline row is measured")
            continue
        models.append(_wrap(loaded, engine, tile))
    if task == "pipeline" and refs:
        have = {m.task for m in models}
        for missing in ("deblur", "colorize"):
            if missing not in have:
                try:
                    models.append(_wrap(load_model(None, task=missing), engine, tile))
                except NoDefaultWeightsError as err:
                    warnings.append(f"pipeline rows need a {missing} model: {err.message}")
    for model in models:
        if task in ("deblur", "colorize") and model.task != task:
            raise UsageError(
                f"{model.name} is a {model.task} model; it cannot be benchmarked with --task {task}"
            )
    if engine.notes:
        warnings.extend(engine.notes)
    return models, warnings, resolved


def _wrap(loaded: Any, engine: Any, tile: str | int) -> BenchModel:
    name = loaded.name or Path(str(loaded.path)).stem
    task = "colorize" if loaded.task == "colorize" else "deblur"
    if task == "colorize":
        work = int(loaded.work_size or 256)
        probe = (1, 1, work, work)
    else:
        multiple = int(loaded.size_multiple or 1)
        side = max(multiple, (256 // multiple) * multiple)
        probe = (1, int(loaded.in_channels), side, side)
    return BenchModel(
        name=name,
        task=task,
        module=loaded.module,
        weights=str(loaded.path),
        in_channels=int(loaded.in_channels),
        probe_shape=probe,
        loaded=loaded,
        engine=engine,
        tile=tile,
    )


__all__ = [
    "RECORD_KEYS",
    "SCHEMA",
    "BenchModel",
    "BenchResult",
    "Row",
    "align_to_truth",
    "build_rows",
    "count_macs",
    "count_parameters",
    "load_bench_models",
    "macs_per_megapixel",
    "parse_int_list",
    "parse_orders",
    "run_benchmark",
]
