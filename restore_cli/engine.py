"""Run a model over an image of any size: device and precision chosen once, overlapping tiles, bounded memory.

The image lives once in host memory as float32 (the caller's array) plus one float32 output buffer. Tiles are
cut one at a time and run through the model's descriptor (``ModelDescriptor.__call__`` pads them to the size
multiple, runs under ``torch.inference_mode``, crops and clamps), then blended into the output with
feathered weights. Tiles lie on a regular grid, so the sum of the separable weights is a
product of two 1-D sums: every tile is normalised before it is added and no weight buffer the size of the
image is needed.

Choices (documented here because callers depend on them):
- ``fp16`` on CPU is a :class:`UsageError` (CPU half convolutions are slow and poorly supported);
  ``bf16`` works on CPU. A model whose descriptor says ``supports_half=False`` runs in fp32 and the reason
  is added to ``Engine.notes``. Reduced precision uses ``torch.autocast`` so weights stay fp32 and are never
  modified.
- A gray image given to an RGB model is run with replicated channels; the result is averaged back to gray.
  An RGB image given to a gray model is run channel by channel (colour kept, three times the work).
- ``tile="auto"`` picks the largest tile that fits a memory budget (CPU: a quarter of MemAvailable, at most
  1.5 GiB; CUDA: 60 % of free memory); an image that fits in one tile is run whole. On out-of-memory the
  tile is halved and the image restarted, down to :data:`MIN_TILE`, then :class:`OutOfMemoryError`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from restore_cli.choices import parse_device, parse_tile
from restore_cli.errors import OutOfMemoryError, UsageError

if TYPE_CHECKING:
    from restore_cli.models.descriptor import ModelDescriptor

MIN_TILE = 64
MAX_AUTO_TILE = 2048
CPU_BUDGET_BYTES = 1536 * 2**20
COLOR_CHUNK_ROWS = 256
MAX_COLOR_ASPECT = 8

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> cuda, then mps, then cpu; an explicit device that is not available is a UsageError."""
    try:
        name, index = parse_device(device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "mps":
        if not _mps_available():
            raise UsageError("device 'mps' is not available on this machine; use --device cpu or auto")
        return torch.device("mps")
    if not torch.cuda.is_available():
        raise UsageError(f"device {device!r} is not available (no CUDA GPU found); use --device cpu or auto")
    index = index or 0
    if index >= torch.cuda.device_count():
        raise UsageError(
            f"device {device!r} does not exist ({torch.cuda.device_count()} CUDA device(s)); "
            "use cuda:0 or --device auto"
        )
    return torch.device("cuda", index)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_precision(precision: str, device: torch.device | str) -> torch.dtype:
    """The compute dtype for ``precision`` on ``device``; fp16 on CPU is refused (use bf16 or fp32)."""
    name = (precision or "fp32").strip().lower()
    if name not in _DTYPES:
        raise UsageError(f"unknown precision {precision!r}; use fp32, fp16 or bf16")
    dev = torch.device(device)
    if name == "fp16" and dev.type == "cpu":
        raise UsageError("precision fp16 is not supported on CPU; use --precision bf16 or fp32")
    if name == "bf16" and dev.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise UsageError(f"this GPU ({dev}) does not support bf16; use --precision fp16 or fp32")
    return _DTYPES[name]


def available_memory(device: torch.device) -> int:
    """Bytes the engine may plan with on ``device`` (before applying its budget fraction)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 2**30


def _round_down(value: int, multiple: int) -> int:
    return max(multiple, value // multiple * multiple)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def tile_starts(length: int, tile: int, stride: int) -> list[int]:
    """Start offsets of tiles along one axis: multiples of ``stride`` until a tile reaches the end."""
    starts = [0]
    while starts[-1] + tile < length:
        starts.append(starts[-1] + stride)
    return starts


def axis_weights(length: int, starts: list[int], tile: int) -> list[np.ndarray]:
    """Feathered 1-D weights for each tile on one axis, normalised so they sum to 1 at every position.

    Each tile's weight rises over the pixels it shares with its left neighbour and falls over those it
    shares with the right one (no ramp at the image border). The outer quarter of each overlap gets
    almost no weight, because convolutions see zero padding there; the middle half is a cosine ramp.
    """
    raw: list[np.ndarray] = []
    for i, start in enumerate(starts):
        end = min(start + tile, length)
        n = end - start
        w = np.ones(n, dtype=np.float64)
        if i > 0:
            shared = min(starts[i - 1] + tile, length) - start
            w[:shared] *= _ramp(shared)
        if i + 1 < len(starts):
            shared = end - starts[i + 1]
            w[n - shared :] *= _ramp(shared)[::-1]
        raw.append(w)
    total = np.zeros(length, dtype=np.float64)
    for start, w in zip(starts, raw):
        total[start : start + len(w)] += w
    return [(w / total[start : start + len(w)]).astype(np.float32) for start, w in zip(starts, raw)]


def _ramp(n: int) -> np.ndarray:
    """Rising weights over ``n`` pixels: ~0 for the first quarter, cosine up to 1 by the last quarter."""
    if n <= 0:
        return np.ones(0)
    margin = n // 4
    span = max(1, n - 2 * margin)
    t = np.clip((np.arange(n) + 0.5 - margin) / span, 0.0, 1.0)
    return np.maximum(0.5 - 0.5 * np.cos(np.pi * t), 1e-4)


def _is_oom(exc: BaseException) -> bool:
    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text or "not enough memory" in text
    )


THREADS_ENV = "RESTORE_THREADS"


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. under taskset or a container's cpuset)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_threads(requested: int | None = None) -> int:
    """Intra-op CPU threads for model runs: ``requested``, else ``$RESTORE_THREADS``, else a default policy.

    The policy: an explicit ``OMP_NUM_THREADS`` is respected (torch already follows it); otherwise one thread
    per core that other programs do not keep busy, judged by the whole part of the 1-minute load average over
    the usable cores, never fewer than 1. Why: intra-op threads wait for each other at every layer, so one
    thread that loses its core to another process stalls them all. Measured on a 2-core machine at 720p
    (benchmarks/results/speed_paths.md): idle, 0.79 s per frame with 2 threads and 1.25 s with 1; with one
    competing CPU-bound process, 1.98 s with 2 threads (2.5x) and 1.29 s with 1 (1.0x). The load average
    trails by about a minute, so a competitor that started seconds ago is not seen; pass ``--threads`` /
    ``RESTORE_THREADS`` to decide.
    """
    if requested is not None:
        if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
            raise UsageError(f"threads must be a whole number of at least 1, got {requested!r}")
        return int(requested)
    text = os.environ.get(THREADS_ENV, "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise UsageError(f"{THREADS_ENV}={text!r} is not a whole number of at least 1; fix or unset it")
        return int(text)
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) >= 1:
        return int(omp)
    cores = usable_cores()
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this platform: use every core
        return cores
    # Only whole busy cores count: a fractional load is mostly idle time, or this tool's own runs that just
    # ended (a shell loop over photos would otherwise drop itself to one thread).
    return max(1, min(cores, cores - int(load)))


def torch_default_threads() -> int:
    """The intra-op thread count torch starts with: ``OMP_NUM_THREADS`` when set, else one per physical core
    this process may run on (hyperthread siblings count once, as torch counts them)."""
    omp = os.environ.get("OMP_NUM_THREADS", "").strip()
    if omp.isdigit() and int(omp) >= 1:
        return int(omp)
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return usable_cores()
    cores = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            package = (topology / "physical_package_id").read_text().strip()
            cores.add((package, (topology / "core_id").read_text().strip()))
        except OSError:  # no topology: count the CPU as a core
            cores.add(("cpu", str(cpu)))
    return max(1, len(cores))


_applied_threads: int | None = None  # the count the last Engine gave torch


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MALLOC_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_MAX_")
_memory_reused: bool | None = None


def reuse_freed_memory() -> bool:
    """Have glibc's malloc keep large freed blocks for reuse instead of handing them back to the kernel.

    By default glibc serves every block over its mmap threshold (32 MiB at most) with its own ``mmap`` and
    unmaps it when freed. A feature map of the default model on a 1280x720 photo is 59 MB, so each of its
    hundreds of intermediate tensors was fresh memory that the kernel zeroed page by page: about 470,000
    page faults and 1 s of system time per frame (benchmarks/results/startup.md); one 16->32 channel 1x1
    convolution of a 720p frame took 78 ms with fresh pages and 17 ms with reused ones. Served from the heap
    (blocks under 1 GiB) and never trimmed, later tensors reuse the same pages: a 720p frame of the
    default ran 1.5x faster and of the DeblurGAN reference 1.3x (one thread, separate processes,
    benchmarks/results/speed_paths.md). The cost: the process keeps its peak memory until it exits (12
    photos of mixed sizes up to 720p through one `restore deblur`: peak RSS 1.46 GB against 1.12 GB, 19%
    less wall time). Process-wide, applied once (by the first :class:`Engine`); nothing where the C library
    is not glibc or where the user set ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_`` or
    ``MALLOC_MMAP_MAX_``. True when the settings are in effect.
    """
    global _memory_reused
    if _memory_reused is not None:
        return _memory_reused
    _memory_reused = False
    if any(name in os.environ for name in _MALLOC_ENV):
        return False
    try:
        if not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"):
            return False
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter runs on
    except (OSError, AttributeError, ValueError):  # no confstr name, no C library, no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    mapped = mallopt(_M_MMAP_THRESHOLD, 1 << 30)
    kept = mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1)
    _memory_reused = bool(mapped and kept)
    return _memory_reused


class Engine:
    """Device, precision, threads and tiling, chosen once and shared by every model run.

    Threads: torch's intra-op thread count is process-wide, and ``Engine.threads`` is the count used. It is
    set (``torch.set_num_threads``) when ``threads`` is given, when ``$RESTORE_THREADS`` is set, or, with
    neither, to the default policy of :func:`resolve_threads` (idle cores, or ``OMP_NUM_THREADS``) only if
    torch's count is still its start-up count (:func:`torch_default_threads`) or the count an earlier
    Engine set. Otherwise someone in this process chose the count (a library caller's
    ``torch.set_num_threads``, ``train --threads``), and it is kept. The CLI's engines follow the policy
    (nothing else sets torch's count before them). ``notes`` collects human-readable reasons for fallbacks
    (e.g. a model that cannot run in half precision).
    """

    def __init__(self, device: str = "auto", precision: str = "fp32", threads: int | None = None) -> None:
        self.device = resolve_device(device)
        self.precision = (precision or "fp32").strip().lower()
        self.dtype = resolve_precision(self.precision, self.device)
        self.notes: list[str] = []
        self.threads = _apply_threads(threads)
        reuse_freed_memory()  # process-wide, once: see its docstring

    def __repr__(self) -> str:
        return f"Engine(device={str(self.device)!r}, precision={self.precision!r}, threads={self.threads})"

    # -- model handling -------------------------------------------------------------------------------------

    def _compute_dtype(self, loaded: ModelDescriptor) -> torch.dtype:
        if self.dtype != torch.float32 and not loaded.supports_half:
            note = f"{loaded.label}: does not support {self.precision}; ran in fp32"
            if note not in self.notes:
                self.notes.append(note)
            return torch.float32
        return self.dtype

    def _prepare(self, loaded: ModelDescriptor) -> None:
        """Move the model to this engine's device and make its inference form there.

        Done outside ``inference_mode``: parameters moved or folded inside it would become inference
        tensors, which a caller could no longer train.
        """
        loaded.to(self.device)
        loaded.inference_module()

    def _forward(self, loaded: ModelDescriptor, batch: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """``loaded(batch)`` (padded, cropped, clamped by the descriptor) in ``dtype``, as float32."""
        if dtype == torch.float32:
            return loaded(batch).float()
        with torch.autocast(device_type=self.device.type, dtype=dtype):
            return loaded(batch).float()

    # -- deblurring -----------------------------------------------------------------------------------------

    def auto_tile(self, loaded: ModelDescriptor, image_size: tuple[int, int] | None = None) -> int:
        """A tile side that fits this device's memory budget for ``loaded`` (a multiple of its size multiple).

        With ``image_size`` (h, w), 0 (the whole image in one pass) when the whole padded image fits the
        same budget: a 1280x720 photo has fewer pixels than a 1024 px square tile, and cutting it into a
        1024 and a 288 px wide tile gave two model calls, 2.5% more pixels and a blend, and channel
        attention that saw half the photo instead of all of it. Activation memory is the descriptor's
        ``bytes_per_pixel``, each architecture's rough rule (see its spec), not a measurement.
        """
        multiple = loaded.size_multiple
        avail = available_memory(self.device)
        budget = avail * 0.6 if self.device.type == "cuda" else min(avail * 0.25, CPU_BUDGET_BYTES)
        bytes_per_pixel = max(1, loaded.bytes_per_pixel)
        if image_size is not None:
            h, w = (_round_up(int(n), multiple) for n in image_size)
            if h * w * bytes_per_pixel <= budget:
                return 0
        side = int(math.sqrt(max(budget, 1) / bytes_per_pixel))
        return _round_down(min(max(side, MIN_TILE), MAX_AUTO_TILE), multiple)

    def run_deblur(
        self,
        loaded: ModelDescriptor,
        pixels: np.ndarray,
        *,
        tile: int | str = "auto",
        overlap: int = 32,
        passes: int = 1,
        on_tile: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Deblur ``H x W x C`` float32 pixels in [0, 1] (C = 1 or 3); same shape out, clamped to [0, 1].

        ``on_tile(done, total)`` is called after each tile, counting over all passes (and all three channels
        when a gray model runs on colour); an out-of-memory restart counts the new, smaller tiles.
        """
        if pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
            raise UsageError(f"deblur expects H x W x 1 or H x W x 3 pixels, got {tuple(pixels.shape)}")
        if passes < 1:
            raise UsageError(f"passes must be at least 1, got {passes}")
        if overlap < 0:
            raise UsageError(f"overlap must be 0 or more, got {overlap}")
        tile_size = self._tile_size(loaded, tile, pixels.shape[:2])
        image = np.ascontiguousarray(pixels, dtype=np.float32)
        model_channels = loaded.in_channels
        channels = image.shape[2]
        runs = passes * (3 if channels == 3 and model_channels == 1 else 1)
        count = _TileCounter(on_tile, runs)
        for _ in range(passes):
            if channels == model_channels:
                image = self._run_tiled(loaded, image, tile_size, overlap, count=count)
            elif channels == 1 and model_channels == 3:
                image = self._run_tiled(loaded, image, tile_size, overlap, replicate=True, count=count)
            elif channels == 3 and model_channels == 1:
                out = np.empty_like(image)
                for c in range(3):
                    out[..., c : c + 1] = self._run_tiled(
                        loaded, image[..., c : c + 1], tile_size, overlap, count=count
                    )
                image = out
            else:
                raise UsageError(
                    f"{loaded.label}: expects {model_channels}-channel images, got {channels} channels"
                )
        return image

    def _tile_size(self, loaded: ModelDescriptor, tile: int | str, image_size: tuple[int, int]) -> int:
        """0 means whole image; ``auto`` asks the memory budget; an int is rounded to the size multiple."""
        try:
            tile = parse_tile(tile)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if tile == "auto":
            return self.auto_tile(loaded, image_size)
        if tile == 0:
            return 0
        return _round_down(max(tile, loaded.size_multiple), loaded.size_multiple)

    def _run_tiled(
        self,
        loaded: ModelDescriptor,
        image: np.ndarray,
        tile: int,
        overlap: int,
        replicate: bool = False,
        count: _TileCounter | None = None,
    ) -> np.ndarray:
        """One pass over the image, halving the tile on out-of-memory until MIN_TILE.

        ``replicate``: a gray image for an RGB model; each tile is repeated to 3 channels and the result
        averaged back, so no 3-channel copy of the whole image is made.
        """
        self._prepare(loaded)
        dtype = self._compute_dtype(loaded)
        multiple = loaded.size_multiple
        h, w = image.shape[:2]
        if tile == 0:
            tile = _round_up(max(h, w), multiple)
        while True:
            try:
                result = self._tiled_pass(loaded, dtype, image, tile, overlap, replicate, count)
                if count is not None:
                    count.run_done()
                return result
            except Exception as exc:  # only out-of-memory is retried
                if not _is_oom(exc):
                    raise
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                smaller = _round_down(tile // 2, multiple)
                if tile <= max(MIN_TILE, multiple) or smaller >= tile:
                    raise OutOfMemoryError(
                        f"{loaded.label}: out of memory on {self.device} even with {tile}px tiles; "
                        "use --device cpu, a smaller --tile, or close other programs"
                    ) from exc
                tile = max(smaller, _round_down(MIN_TILE, multiple))

    def _tiled_pass(
        self,
        loaded: ModelDescriptor,
        dtype: torch.dtype,
        image: np.ndarray,
        tile: int,
        overlap: int,
        replicate: bool = False,
        count: _TileCounter | None = None,
    ) -> np.ndarray:
        h, w, c = image.shape
        grid = list(self._grid(h, w, tile, overlap, loaded.size_multiple))
        if count is not None:
            count.start_run(len(grid))
        # One tile (the whole image): its weights are all 1 and the model's output is already clamped, so
        # it is the result itself; no blend buffer (saves a weighted pass over the image).
        out = None if len(grid) == 1 else np.zeros((h, w, c), dtype=np.float32)
        for (y0, y1, wy), (x0, x1, wx) in grid:
            patch = image[y0:y1, x0:x1]
            batch = torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1)))[None].to(self.device)
            with torch.inference_mode():
                if replicate:
                    batch = batch.repeat(1, 3, 1, 1)
                result = self._forward(loaded, batch, dtype)[0]  # padded, cropped and clamped
                if replicate:
                    result = result.mean(0, keepdim=True)
            restored = result.permute(1, 2, 0).cpu().numpy()
            if out is None:
                out = np.ascontiguousarray(restored, dtype=np.float32)
            else:
                out[y0:y1, x0:x1] += restored * (wy[:, None, None] * wx[None, :, None])
            if count is not None:
                count.tile_done()
        np.clip(out, 0.0, 1.0, out=out)
        return out

    @staticmethod
    def _grid(
        h: int, w: int, tile: int, overlap: int, multiple: int
    ) -> Iterator[tuple[tuple[int, int, np.ndarray], tuple[int, int, np.ndarray]]]:
        """Tiles as ((y0, y1, row weights), (x0, x1, column weights)), row by row."""
        overlap = min(_round_up(overlap, multiple) if overlap else 0, _round_down(tile // 2, multiple))
        stride = max(multiple, tile - overlap) if tile > overlap else tile
        axes = []
        for length in (h, w):
            size = min(tile, length)
            starts = tile_starts(length, size, stride)
            weights = axis_weights(length, starts, size)
            axes.append([(s, min(s + size, length), wt) for s, wt in zip(starts, weights)])
        for row in axes[0]:
            for col in axes[1]:
                yield row, col

    # -- colorization ---------------------------------------------------------------------------------------

    def run_colorize(self, loaded: ModelDescriptor, pixels: np.ndarray, strength: float = 1.0) -> np.ndarray:
        """Colorize ``H x W x C`` (C = 1 or 3) pixels; returns ``H x W x 3`` sRGB whose L equals the input's.

        The model sees L resized so its shorter side is ``work_size``. A 313-bin model's logits are decoded by
        :func:`restore_cli.color.decode_bins` (annealed mean, uncertain pixels pulled toward neutral). The
        ab is brought to the working size, guided-filtered there by the working L, and the filter's
        coefficients are resized to full size and applied to the full-resolution L, so colour follows the
        full-resolution edges. ``strength`` scales ab (0 gray, 1 the model, up to 2); L is never changed.
        """
        import cv2

        from restore_cli import color

        if pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
            raise UsageError(f"colorize expects H x W x 1 or H x W x 3 pixels, got {tuple(pixels.shape)}")
        try:
            strength = color.check_strength(strength)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        h, w = pixels.shape[:2]
        lightness = np.empty((h, w), dtype=np.float32)
        for r0 in range(0, h, COLOR_CHUNK_ROWS):
            chunk = np.asarray(pixels[r0 : r0 + COLOR_CHUNK_ROWS], dtype=np.float32)
            if chunk.shape[2] == 1:
                chunk = np.repeat(chunk, 3, axis=2)
            lightness[r0 : r0 + COLOR_CHUNK_ROWS] = color.rgb_to_lab_np(chunk)[..., 0]

        work = int(loaded.work_size or 256)
        scale = work / min(h, w)
        scale = min(scale, MAX_COLOR_ASPECT * work / max(h, w))  # a panorama strip stays a sane size
        wh, ww = max(1, round(h * scale)), max(1, round(w * scale))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        small = lightness if (wh, ww) == (h, w) else cv2.resize(lightness, (ww, wh), interpolation=interp)
        self._prepare(loaded)
        dtype = self._compute_dtype(loaded)
        batch = torch.from_numpy(((small - 50.0) / 100.0).astype(np.float32))[None, None].to(self.device)
        with torch.inference_mode():
            try:
                out = self._forward(loaded, batch, dtype)  # ab or logits, cropped to the (smaller) image
            except Exception as exc:  # only out-of-memory is translated
                if _is_oom(exc):
                    raise OutOfMemoryError(
                        f"{loaded.label}: out of memory on {self.device} at {ww}x{wh}; use --device cpu"
                    ) from exc
                raise
            # 313-bin models are decoded here (one rule for every such model); regression models give ab.
            ab = color.decode_bins(out)[0] if loaded.head == "bins" else out
            ab_small = ab[0].permute(1, 2, 0).cpu().numpy().astype(np.float32)

        if ab_small.shape[:2] != (wh, ww):
            ab_small = cv2.resize(ab_small, (ww, wh), interpolation=cv2.INTER_LINEAR).reshape(wh, ww, 2)
        coeffs = color.guided_coefficients(small / 100.0, ab_small * strength)
        out_rgb = np.empty((h, w, 3), dtype=np.float32)
        for r0 in range(0, h, COLOR_CHUNK_ROWS):
            r1 = min(r0 + COLOR_CHUNK_ROWS, h)
            rows_l = lightness[r0:r1]
            ab_rows = color.apply_guided(_resize_rows(coeffs, h, w, r0, r1), rows_l / 100.0)
            lab = np.concatenate([rows_l[..., None], ab_rows], axis=2)
            out_rgb[r0:r1] = np.clip(color.lab_to_rgb_np(lab), 0.0, 1.0)
        return out_rgb


class _TileCounter:
    """Turns tiles finished in each of ``runs`` tiled passes into one ``on_tile(done, total)`` count."""

    def __init__(self, on_tile: Callable[[int, int], None] | None, runs: int) -> None:
        self.on_tile = on_tile
        self.runs_left = runs
        self.finished = 0  # tiles of completed runs
        self.done = 0  # tiles of the current run
        self.per_run = 0

    def start_run(self, tiles: int) -> None:
        self.done, self.per_run = 0, tiles  # an out-of-memory restart begins the run again

    def tile_done(self) -> None:
        self.done += 1
        if self.on_tile is not None:
            self.on_tile(self.finished + self.done, self.finished + self.per_run * self.runs_left)

    def run_done(self) -> None:
        self.finished += self.per_run
        self.runs_left -= 1
        self.done = 0


def _resize_rows(small: np.ndarray, h: int, w: int, r0: int, r1: int) -> np.ndarray:
    """Rows ``r0:r1`` of ``small`` (``h' x w' x C``) resized bilinearly to ``h x w`` (half-pixel centres).

    Equivalent to ``cv2.resize(small, (w, h), INTER_LINEAR)`` restricted to those rows, so the full-size ab
    never has to exist at once.
    """
    import cv2

    sh, sw = small.shape[:2]
    ys = (np.arange(r0, r1) + 0.5) * (sh / h) - 0.5
    ys = np.clip(ys, 0, sh - 1)
    y_lo = np.floor(ys).astype(np.int64)
    y_hi = np.minimum(y_lo + 1, sh - 1)
    fy = (ys - y_lo).astype(np.float32)[:, None, None]
    rows = small[y_lo] * (1 - fy) + small[y_hi] * fy
    return cv2.resize(rows.astype(np.float32), (w, r1 - r0), interpolation=cv2.INTER_LINEAR).reshape(
        r1 - r0, w, small.shape[2]
    )


def _apply_threads(requested: int | None) -> int:
    """The rule of :class:`Engine`'s docstring: set torch's thread count, or keep one this process chose."""
    global _applied_threads
    current = torch.get_num_threads()
    chosen_here = requested is not None or bool(os.environ.get(THREADS_ENV, "").strip())
    if not chosen_here and current not in (torch_default_threads(), _applied_threads):
        return current
    threads = resolve_threads(requested)
    if threads != current:
        torch.set_num_threads(threads)
    _applied_threads = threads
    return threads
