"""What the image commands share: option types, checks done before any model loads, error reporting, and
the batch runner.

A command turns its options into one :class:`restore_cli.batch.BatchOptions` and calls :func:`run_images`:
``batch.plan`` (usage errors, before any model loads) -> ``build_process`` (engine and models) ->
``batch.run_batch`` -> :class:`restore_cli.batch.BatchResult` -> :class:`Printer` (each record once, the
summary from the result's counts, the exit code from ``result.exit_code``). Nothing here imports torch, and
batch is imported when a command runs, so ``restore --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from restore_cli.errors import RestoreError, UsageError
from restore_cli.progress import TileProgress, progress_bar

if TYPE_CHECKING:  # batch is imported when a command runs, not for --help
    from restore_cli.batch import BatchOptions, BatchRecord, BatchResult


@dataclass
class State:
    """Process-wide CLI settings that error reporting needs (set by the root callback and each command)."""

    debug: bool = False
    owns_process: bool = False
    """Set by ``main()``: the process ends with the command (not so under CliRunner or in a host program)."""


STATE = State()


def env_debug() -> bool:
    """True when RESTORE_DEBUG asks for tracebacks."""
    return os.environ.get("RESTORE_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}


def err_console():
    """A rich console on stderr (created on demand so it follows test runners that swap sys.stderr)."""
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True, highlight=False)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def report_error(err: BaseException) -> None:
    """Print ``error: <message>`` on one line of stderr; with --debug, the traceback first."""
    from rich.markup import escape

    console = err_console()
    if STATE.debug or env_debug():
        console.print_exception()
    console.print(f"[red]error:[/red] {escape(_one_line(str(err)))}")


def report_interrupt() -> None:
    """What Ctrl-C prints: one line; outputs already written stay, no partial file is left."""
    err_console().print("[yellow]interrupted[/yellow]")


def report_unexpected(err: BaseException) -> None:
    """A bug or an unforeseen failure: still one line, the traceback only with --debug."""
    from rich.markup import escape

    console = err_console()
    if STATE.debug or env_debug():
        console.print_exception()
        hint = ""
    else:
        hint = " (run again with --debug for a traceback, and please report it)"
    console.print(f"[red]error:[/red] {escape(_one_line(f'{type(err).__name__}: {err}'))}{hint}")


# ----------------------------------------------------------------------------------------------- options


class OutputFormat(str, Enum):
    png = "png"
    jpg = "jpg"
    webp = "webp"
    tiff = "tiff"
    same = "same"


class Precision(str, Enum):
    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"


class Order(str, Enum):
    deblur_first = "deblur-first"
    colorize_first = "colorize-first"
    auto = "auto"


_IN = "Input and output"
_MODEL = "Model and device"
_LIMITS = "Limits"
_REPORT = "Reporting"

Inputs = Annotated[
    list[str],
    typer.Argument(
        help="Image files, folders or globs (quote globs: 'scans/*.jpg'); - reads one image from stdin.",
        show_default=False,
        metavar="IMAGES...",
    ),
]
Recursive = Annotated[
    bool, typer.Option("--recursive", "-r", help="Also look into subfolders.", rich_help_panel=_IN)
]
Output = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        help="Output file (one input) or folder (several; a tree is mirrored); - is stdout. "
        "Default: beside the input.",
        rich_help_panel=_IN,
        show_default=False,
        metavar="PATH",
    ),
]
Format = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        "-f",
        help="Output format; png keeps alpha and 16 bits; 'same' keeps the input's.",
        rich_help_panel=_IN,
    ),
]
Overwrite = Annotated[
    bool, typer.Option("--overwrite", help="Replace existing outputs (never an input).", rich_help_panel=_IN)
]
SkipExisting = Annotated[
    bool,
    typer.Option(
        "--skip-existing",
        help="Skip images whose output already exists (resume a batch).",
        rich_help_panel=_IN,
    ),
]
Quality = Annotated[
    int,
    typer.Option(
        "--quality", help="JPEG and WebP quality, 1-100 (other formats are lossless).", rich_help_panel=_IN
    ),
]
StripMetadata = Annotated[
    bool,
    typer.Option("--strip-metadata", help="Do not copy EXIF metadata to the output.", rich_help_panel=_IN),
]
ModelName = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Weights by name (see 'restore weights list').",
        rich_help_panel=_MODEL,
        metavar="NAME",
    ),
]
WeightsFile = Annotated[
    Path | None,
    typer.Option(
        "--weights", "-w", help="A .safetensors weights file.", rich_help_panel=_MODEL, metavar="FILE"
    ),
]
Device = Annotated[
    str,
    typer.Option(
        "--device", help="auto, cpu, cuda, cuda:N or mps.", rich_help_panel=_MODEL, metavar="DEVICE"
    ),
]
Threads = Annotated[
    int | None,
    typer.Option(
        "--threads",
        help="CPU threads for the model (default: RESTORE_THREADS if set, else the engine's choice).",
        rich_help_panel=_MODEL,
        show_default=False,
        metavar="N",
    ),
]
PrecisionOpt = Annotated[
    Precision, typer.Option("--precision", help="Arithmetic precision on the device.", rich_help_panel=_MODEL)
]
Tile = Annotated[
    str,
    typer.Option(
        "--tile",
        help="Tile size in pixels: auto (from free memory), 0 (whole image) or N.",
        rich_help_panel=_MODEL,
        metavar="auto|0|N",
    ),
]
MAX_PASSES = 16
Passes = Annotated[
    int,
    typer.Option(
        "--passes", help="Apply the deblur model N times (1-16).", rich_help_panel=_MODEL, metavar="N"
    ),
]
Recolor = Annotated[
    bool,
    typer.Option(
        "--recolor",
        help="Colorize colour photos too (by default only gray photos are colorized).",
        rich_help_panel=_MODEL,
    ),
]
MaxPixels = Annotated[
    int | None,
    typer.Option(
        "--max-pixels",
        min=1,
        metavar="N",
        help="Refuse larger images (default: Pillow's bomb limit, 89,478,485 pixels).",
        rich_help_panel=_LIMITS,
        show_default=False,
    ),
]
MaxSide = Annotated[
    int | None,
    typer.Option(
        "--max-side",
        min=1,
        metavar="N",
        help="Refuse images with a longer side (default: 32768).",
        rich_help_panel=_LIMITS,
        show_default=False,
    ),
]
Frame = Annotated[
    int | None,
    typer.Option(
        "--frame",
        min=0,
        metavar="N",
        help="Frame to use from an animated or multi-frame image (refused otherwise).",
        rich_help_panel=_LIMITS,
        show_default=False,
    ),
]
JsonOut = Annotated[
    bool, typer.Option("--json", help="One JSON record per image on stdout.", rich_help_panel=_REPORT)
]
Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="No start line, results or progress; errors only.", rich_help_panel=_REPORT
    ),
]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.", rich_help_panel=_REPORT)]


# ------------------------------------------------------------------------------------------ validation

_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def check_device(device: str) -> str:
    """Accept auto|cpu|cuda|cuda:N|mps (availability is checked by the engine, still before loading)."""
    device = device.strip().lower()
    if not _DEVICE_RE.match(device):
        raise UsageError(f"--device {device!r} is not one of auto, cpu, cuda, cuda:N, mps")
    return device


def parse_tile(tile: str) -> str | int:
    """'auto', 0 (whole image) or a positive tile size in pixels."""
    tile = tile.strip().lower()
    if tile == "auto":
        return "auto"
    try:
        value = int(tile)
    except ValueError:
        raise UsageError(f"--tile {tile!r} must be auto, 0 or a number of pixels such as 512") from None
    if value < 0 or 0 < value < 16:
        raise UsageError(f"--tile {value} is too small: use auto, 0 (whole image) or at least 16")
    return value


def check_model_choice(model: str | None, weights: Path | None, option: str = "--weights") -> str | None:
    """The weights reference to load: a named model, a checked .safetensors path, or None (the default)."""
    if model and weights:
        raise UsageError(f"give either --model or {option}, not both")
    from restore_cli.tasks import check_model_name

    check_model_name(model)  # an unknown name is a usage error, found before anything loads
    if weights is not None:
        if not weights.exists():
            raise UsageError("weights file not found; check the path given to " + option, weights)
        if weights.is_dir():
            raise UsageError(f"is a folder; {option} needs a .safetensors file", weights)
        if weights.suffix.lower() != ".safetensors":
            raise UsageError(
                f"{option} needs a .safetensors file; convert checkpoints with 'restore weights import'",
                weights,
            )
        return str(weights)
    return model


def check_passes(passes: int) -> int:
    if not 1 <= passes <= MAX_PASSES:
        raise UsageError(f"--passes {passes} is out of range; use 1 to {MAX_PASSES}")
    return passes


def check_threads(threads: int | None) -> int | None:
    if threads is not None and threads < 1:
        raise UsageError(f"--threads {threads} must be at least 1")
    return threads


# ------------------------------------------------------------------------------------------ batch runner

ProcessBuilder = Callable[[Callable[[int, int], None]], tuple[Callable[[Any], Any], str]]
"""``build_process(on_tile) -> (process, start line)``: creates the engine and loads the models."""


def run_images(
    *, label: str, options: BatchOptions, json_output: bool, quiet: bool, build_process: ProcessBuilder
) -> None:
    """Plan the jobs (usage errors first), then load models, run the batch, print it; exits 0, 1, 2 or 130.

    ``build_process(on_tile)`` is called only when at least one image needs processing, so usage errors and
    fully skipped re-runs never load a model; its start line (models, device, threads, precision) goes to
    stderr unless ``quiet``. ``-`` as the input or as ``-o`` goes through :mod:`restore_cli.stream`.
    """
    from restore_cli import batch, stream

    one_stream = stream.wants_stream(options.inputs, options.output)
    if one_stream:
        stream.check_stream(
            options.inputs,
            options.output,
            json_output=json_output,
            overwrite=options.overwrite,
            skip_existing=options.skip_existing,
        )
    jobs = [] if one_stream else batch.plan(options)
    progress = progress_bar(err_console()) if len(jobs) > 1 and not quiet else None
    tiles = TileProgress(console=err_console, enabled=not quiet, shared=progress)
    process: Callable[[Any], Any] = _nothing_to_do
    if one_stream or any(job.pending for job in jobs):
        with start_up_heap():
            process, line = build_process(tiles)
        announce(line, quiet)
    # With -o - standard output carries the image, so the result line goes to stderr.
    printer = Printer(json_output=json_output, quiet=quiet, lines_to_stderr=options.output == stream.STDIO)
    task_id = progress.add_task(label, total=len(jobs)) if progress is not None else None

    def on_progress(record: BatchRecord) -> None:
        tiles.reset()
        printer.record(record)
        if progress is not None:
            progress.advance(task_id)

    started = time.perf_counter()
    tiles.reset()
    try:
        if progress is not None:
            progress.start()
        if one_stream:
            assert options.output is not None
            result = stream.run_stream(
                options.inputs[0],
                options.output,
                process,
                fmt=options.fmt,
                skip_existing=options.skip_existing,
                read_kwargs=options.read_kwargs,
                write_kwargs=options.write_kwargs,
                on_progress=on_progress,
            )
        else:
            result = batch.run_batch(
                jobs,
                process,
                on_progress=on_progress,
                read_kwargs=options.read_kwargs,
                write_kwargs=options.write_kwargs,
            )
    finally:
        tiles.reset()
        if progress is not None:
            progress.stop()
    printer.finish(result, time.perf_counter() - started)


def _nothing_to_do(image: Any) -> Any:  # never called: every job is skipped or already failed
    raise RestoreError("nothing to do")


class Printer:
    """Each record once, as it comes (a result line or JSON record on stdout, failures on stderr), then the
    summary from the result's counts and its exit code."""

    def __init__(self, *, json_output: bool, quiet: bool, lines_to_stderr: bool = False) -> None:
        self.json_output = json_output
        self.quiet = quiet
        self.lines_to_stderr = lines_to_stderr

    def record(self, record: BatchRecord) -> None:
        from restore_cli.batch import FAILED

        failed = record.status == FAILED
        if failed:
            from rich.markup import escape

            console = err_console()
            if STATE.debug or env_debug():
                _print_traceback(console, record)
            message = _one_line(record.message or "failed")
            if record.input not in message:
                message = f"{record.input}: {message}"
            console.print(f"[red]error:[/red] {escape(message)}")
        if self.json_output:
            sys.stdout.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
            sys.stdout.flush()
        elif not self.quiet and not failed:
            stream = sys.stderr if self.lines_to_stderr else sys.stdout
            stream.write(result_line(record) + "\n")
            stream.flush()

    def finish(self, result: BatchResult, seconds: float) -> None:
        """The summary line (unless quiet and all went well), then exit with the result's exit code."""
        if not self.quiet or result.failed or result.interrupted:
            summary = f"{result.ok} written, {result.skipped} skipped, {result.failed} failed"
            summary += f" in {seconds:.1f} s"
            style = "red" if result.failed else "green"
            err_console().print(f"[{style}]{summary}[/{style}]")
        if result.interrupted:
            report_interrupt()
        raise typer.Exit(result.exit_code)  # 130 if interrupted: the root group makes it 143/129 for signals


def result_line(record: BatchRecord) -> str:
    """``in -> out [steps] (1.23 s)``, or ``skipped in (why)`` / ``skipped in -> out (why)``."""
    from restore_cli.batch import SKIPPED

    arrow = f" -> {record.output}" if record.output else ""
    if record.status == SKIPPED:
        return f"skipped {record.input}{arrow} ({_one_line(record.message or 'output exists')})"
    done = f" [{' + '.join(record.steps)}]" if record.steps else ""
    return f"{record.input}{arrow}{done} ({record.seconds:.2f} s)"


def _print_traceback(console: Any, record: BatchRecord) -> None:
    """With --debug, the traceback of an image that failed (kept in its record)."""
    import traceback

    text, exc = record.traceback, record.exception
    if not text and exc is not None:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if text:
        console.print(text, markup=False, highlight=False, end="")


@contextlib.contextmanager
def start_up_heap() -> Iterator[None]:
    """Start-up (importing torch, loading models) without cyclic garbage collection; what it made is frozen.

    Importing torch makes about 165,000 long-lived objects and little garbage, yet the collector ran about
    360 times during the import (0.13 s), and every later full collection, the ones at exit included, walks
    all of them again: Python's finalization after a deblur took 0.53-0.57 s, and 0.12-0.18 s with them
    frozen (benchmarks/results/startup.md). ``gc.freeze()`` moves what is alive to a generation that
    collections skip; the per-image garbage is still collected as before. Only when ``main()`` owns the
    process: under CliRunner or in a host program the collector is left alone.
    """
    if not STATE.owns_process:
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def announce(line: str, quiet: bool) -> None:
    """The start line on stderr: which models, on which device, how many threads, what precision."""
    if not quiet and line:
        from rich.markup import escape

        err_console().print(f"[dim]restore: {escape(line)}[/dim]")


def set_debug(debug: bool) -> None:
    """A command's own --debug (the global one is handled by the root callback)."""
    if debug:
        STATE.debug = True


def load_optional_default(task: str, device: str = "cpu") -> Any:
    """The default weights for ``task`` when there are any (e.g. a gray deblur model), else None.

    ``deblur-gray`` falls back to the RGB default in ``weights``; that is not a gray model, so it gives None
    here (the RGB model already loaded handles gray images on replicated channels).
    """
    from restore_cli import weights
    from restore_cli.errors import NoDefaultWeightsError

    if task not in weights.defaults():  # do not read and hash the RGB fallback for nothing
        return None
    try:
        loaded = weights.load_model(None, task=task, device=device)
    except NoDefaultWeightsError:
        return None
    if task == "deblur-gray" and getattr(loaded, "in_channels", 1) != 1:
        return None
    return loaded


def make_engine(device: str, precision: Precision, threads: int | None = None) -> Any:
    """Resolve device, precision and threads once, before any model loads (UsageError if unavailable).

    ``threads`` None leaves the choice (RESTORE_THREADS, or the default) to the engine.
    """
    from restore_cli.engine import Engine

    return Engine(device=device, precision=precision.value, threads=threads)
