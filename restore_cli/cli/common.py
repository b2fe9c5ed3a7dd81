"""What the image commands share: option types, checks done before any model loads, and the batch runner.

Nothing here imports torch at module level: the heavy modules (engine, tasks, batch, io) are imported inside
functions so ``restore --help`` stays fast. The work itself is done by ``restore_cli.batch`` and
``restore_cli.tasks``; this module only validates options, shows progress and reports results.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from restore_cli.errors import RestoreError, UsageError


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
    check_model_name(model)
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


def check_strength(strength: float) -> float:
    """--strength, checked by the library's one rule before any model loads."""
    from restore_cli.tasks import check_strength as library_check

    return library_check(strength)


def check_quality(quality: int) -> int:
    if not 1 <= quality <= 100:
        raise UsageError(f"--quality {quality} is out of range; use 1 (smallest file) to 100 (best)")
    return quality


def check_model_name(model: str | None) -> None:
    """An unknown --model name is a usage error (exit 2), found before anything loads."""
    from restore_cli.tasks import check_model_name as check

    check(model)


def check_write_mode(overwrite: bool, skip_existing: bool) -> None:
    if overwrite and skip_existing:
        raise UsageError("--overwrite and --skip-existing contradict each other; choose one")


def read_kwargs(max_pixels: int | None, max_side: int | None, frame: int | None) -> dict[str, Any]:
    """Keyword arguments for io.read_image; unset limits keep io's defaults."""
    kwargs: dict[str, Any] = {"frame": frame}
    if max_pixels is not None:
        kwargs["max_pixels"] = max_pixels
    if max_side is not None:
        kwargs["max_side"] = max_side
    return kwargs


# ------------------------------------------------------------------------------------------ batch runner


def record_dict(record: Any) -> dict[str, Any]:
    """A batch record as a JSON-ready dict (paths as strings)."""
    if hasattr(record, "to_dict"):
        data = dict(record.to_dict())
    elif is_dataclass(record):
        data = asdict(record)
    elif isinstance(record, dict):
        data = dict(record)
    else:
        data = dict(vars(record))
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}


def _field(record: Any, name: str, default: Any = None) -> Any:
    if isinstance(record, dict):
        return record.get(name, default)
    return getattr(record, name, default)


def _status(record: Any) -> str:
    status = _field(record, "status", "")
    return str(getattr(status, "value", status))


def _failure_line(record: Any) -> str:
    """The one-line failure message; it always names the input file."""
    message = _one_line(str(_field(record, "message", "") or "failed"))
    source = str(_field(record, "input", "") or "")
    if source and source not in message:
        message = f"{source}: {message}"
    return message


class Reporter:
    """Prints one result line (or JSON record) per image on stdout and failures on stderr, as they happen."""

    def __init__(self, *, json_output: bool, quiet: bool, lines_to_stderr: bool = False) -> None:
        self.json_output = json_output
        self.quiet = quiet
        self.lines_to_stderr = lines_to_stderr  # stdout carries the image (-o -)
        self.seen: set[int] = set()

    def __call__(self, record: Any) -> None:
        if id(record) in self.seen:
            return
        self.seen.add(id(record))
        status = _status(record)
        if status == "failed":
            from rich.markup import escape

            console = err_console()
            if STATE.debug or env_debug():
                _print_record_traceback(console, record)
            console.print(f"[red]error:[/red] {escape(_failure_line(record))}")
        if self.json_output:
            sys.stdout.write(json.dumps(record_dict(record), ensure_ascii=False, default=str) + "\n")
            sys.stdout.flush()
        elif not self.quiet and status != "failed":
            line = result_line(record)
            stream = sys.stderr if self.lines_to_stderr else sys.stdout
            stream.write(line + "\n")
            stream.flush()


def result_line(record: Any) -> str:
    """``in -> out [steps] (1.23 s)``, or ``skipped in (why)`` / ``skipped in -> out (why)``."""
    src, dst = _field(record, "input", ""), _field(record, "output", None)
    arrow = f" -> {dst}" if dst else ""
    if _status(record) == "skipped":
        why = _one_line(str(_field(record, "message", "") or "output exists"))
        return f"skipped {src}{arrow} ({why})"
    steps = _field(record, "steps", None)
    done = f" [{' + '.join(steps)}]" if steps else ""
    seconds = _field(record, "seconds")
    took = f" ({seconds:.2f} s)" if isinstance(seconds, (int, float)) else ""
    return f"{src}{arrow}{done}{took}"


def _print_record_traceback(console: Any, record: Any) -> None:
    """With --debug, the traceback of an image that failed (the batch keeps it beside the record)."""
    import traceback

    text = getattr(record, "traceback", None)
    exc = getattr(record, "exception", None)
    if not text and isinstance(exc, BaseException):
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if text:
        console.print(text, markup=False, highlight=False, end="")


def _progress(total: int, enabled: bool):
    """A rich progress bar with ETA on stderr, or None when disabled."""
    if not enabled:
        return None
    from restore_cli.progress import progress_bar

    return progress_bar(err_console())


def run_images(
    *,
    label: str,
    inputs: Sequence[str],
    recursive: bool,
    output: str | None,
    suffix: str,
    fmt: OutputFormat,
    overwrite: bool,
    skip_existing: bool,
    max_pixels: int | None,
    max_side: int | None,
    frame: int | None,
    strip_metadata: bool,
    json_output: bool,
    quiet: bool,
    build_process: Callable[[Callable[[int, int], None]], tuple[Callable[[Any], Any], str]],
    quality: int = 95,
) -> None:
    """Expand inputs, plan outputs (usage errors first), then load models and run the batch; exits 0, 1 or 2.

    ``build_process(on_tile)`` is called only when at least one image needs processing: it creates the engine,
    loads the models and returns the per-image function and the start line (model names, device, threads,
    precision) printed on stderr unless ``quiet``. So usage errors and fully skipped re-runs never load a
    model. ``-`` as the input or as ``-o`` goes through :mod:`restore_cli.stream` (one image).
    """
    check_write_mode(overwrite, skip_existing)
    check_quality(quality)
    if not inputs:
        raise UsageError("no inputs given; pass image files, folders or globs")
    from restore_cli import batch, stream

    write_kwargs = {"overwrite": overwrite, "keep_metadata": not strip_metadata, "quality": quality}
    if stream.wants_stream(inputs, output):
        stream.check_stream(inputs, output, json_output=json_output)
        assert output is not None
        _run_stream(
            inputs[0], output, fmt, skip_existing, read_kwargs(max_pixels, max_side, frame), write_kwargs,
            json_output, quiet, build_process,
        )  # fmt: skip
    items = batch.expand_inputs(list(inputs), recursive=recursive)
    if not items:
        raise UsageError(batch.no_images_hint(list(inputs), recursive))
    batch.hint_cp_style(list(inputs), items)
    jobs = batch.plan_outputs(
        items,
        output=output,
        suffix=suffix,
        fmt=fmt.value,
        overwrite=overwrite,
        skip_existing=skip_existing,
    )

    pending = [job for job in jobs if _job_needs_work(job)]
    progress = _progress(len(jobs), enabled=len(jobs) > 1 and not quiet)
    tiles = TileProgress(enabled=not quiet, shared=progress)
    process: Callable[[Any], Any]
    if pending:
        with start_up_heap():
            process, line = build_process(tiles)
        announce(line, quiet)
    else:

        def process(image: Any) -> Any:  # never called: every job is skipped or already failed
            raise RestoreError("nothing to do")

    reporter = Reporter(json_output=json_output, quiet=quiet)
    started = time.perf_counter()
    interrupted = False
    result = None
    task_id = None
    tiles.reset()

    def on_progress(*args: Any, **kwargs: Any) -> None:
        tiles.reset()
        record = _record_from_progress(args, kwargs)
        if record is not None:
            reporter(record)
        if progress is not None and task_id is not None:
            progress.advance(task_id)

    try:
        if progress is not None:
            progress.start()
            task_id = progress.add_task(label, total=len(jobs))
        result = batch.run_batch(
            jobs,
            process,
            on_progress=on_progress,
            read_kwargs=read_kwargs(max_pixels, max_side, frame),
            write_kwargs=write_kwargs,
        )
    except KeyboardInterrupt:
        interrupted = True
    finally:
        tiles.reset()
        if progress is not None:
            progress.stop()
    _finish(result, reporter, interrupted, quiet, started)


def _run_stream(
    source: str,
    output: str,
    fmt: OutputFormat,
    skip_existing: bool,
    reading: dict[str, Any],
    writing: dict[str, Any],
    json_output: bool,
    quiet: bool,
    build_process: Callable[[Callable[[int, int], None]], tuple[Callable[[Any], Any], str]],
) -> None:
    """One image from stdin and/or to stdout (see restore_cli.stream); exits like run_images."""
    from restore_cli import stream

    tiles = TileProgress(enabled=not quiet)
    with start_up_heap():
        process, line = build_process(tiles)
    announce(line, quiet)
    reporter = Reporter(json_output=json_output, quiet=quiet, lines_to_stderr=output == stream.STDIO)
    started = time.perf_counter()
    tiles.reset()
    try:
        result = stream.run_stream(
            source, output, process, fmt=fmt.value, read_kwargs=reading, write_kwargs=writing,
            skip_existing=skip_existing,
        )  # fmt: skip
    finally:
        tiles.reset()
    _finish(result, reporter, False, quiet, started)


def _finish(result: Any, reporter: Reporter, interrupted: bool, quiet: bool, started: float) -> None:
    """Report every record not yet reported, print the summary line and exit 0, 1 or 130."""
    records = list(_field(result, "records", None) or []) if result is not None else []
    for record in records:  # anything the progress callback did not already report
        reporter(record)
    interrupted = interrupted or bool(_field(result, "interrupted", False))
    counts = {"ok": 0, "skipped": 0, "failed": 0}
    for record in records:
        status = _status(record)
        counts["failed" if status == "failed" else "skipped" if status == "skipped" else "ok"] += 1
    elapsed = time.perf_counter() - started
    if not quiet or counts["failed"] or interrupted:
        summary = f"{counts['ok']} written, {counts['skipped']} skipped, {counts['failed']} failed"
        summary += f" in {elapsed:.1f} s"
        style = "red" if counts["failed"] else "green"
        err_console().print(f"[{style}]{summary}[/{style}]")
    if interrupted:
        report_interrupt()
        raise typer.Exit(130)
    raise typer.Exit(1 if counts["failed"] else 0)


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


class TileProgress:
    """Tiles done / total for one large image, on stderr, shown only once an image has taken over a second.

    Called by the engine as ``on_tile(done, total)``; ``reset()`` marks the start of the next image. With a
    batch progress bar (``shared``) the tile bar is added to it, else a bar of its own is started.
    """

    DELAY_S = 1.0

    def __init__(self, *, enabled: bool, shared: Any = None) -> None:
        self.enabled = enabled
        self.shared = shared
        self.own: Any = None
        self.task: Any = None
        self.started = time.perf_counter()

    def reset(self) -> None:
        self._hide()
        self.started = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.task is None:
            if done >= total or time.perf_counter() - self.started < self.DELAY_S:
                return
            bar = self.shared
            if bar is None:
                from restore_cli.progress import progress_bar

                self.own = bar = progress_bar(err_console())
                bar.start()
            self.task = bar.add_task("tiles", total=total)
        bar = self.shared if self.shared is not None else self.own
        bar.update(self.task, completed=done, total=total)
        if done >= total:
            self._hide()

    def _hide(self) -> None:
        bar = self.shared if self.shared is not None else self.own
        if self.task is not None and bar is not None:
            bar.remove_task(self.task)
        self.task = None
        if self.own is not None:
            self.own.stop()
            self.own = None


_PLAIN_TYPES = {
    "bool": "", "str": "TEXT", "int": "N", "int range": "N", "float": "X", "float range": "X", "path": "PATH",
}  # fmt: skip


def _plain_type(text: str | None) -> str | None:
    """``<int>`` -> ``N``, ``<list[Path]>`` -> ``PATH...``, ``<a|b>`` -> ``a|b``: shell-style, not Python."""
    if not text or not (text.startswith("<") and text.endswith(">")):
        return text
    inner = text[1:-1]
    many = inner.startswith("list[") and inner.endswith("]")
    if many:
        inner = inner[5:-1]
    shown = _PLAIN_TYPES.get(inner.lower(), inner.upper() if inner.isidentifier() else inner)
    return shown + ("..." if many else "")


def tidy_help(command: Any) -> None:
    """Help metavars as a shell user expects (``FILE``, ``N``, ``TEXT``; nothing for flags), on ``command``
    and every subcommand below it. Typer would print Python types (``<list[str]>``, ``<bool>``)."""
    for param in getattr(command, "params", []):
        if getattr(param, "param_type_name", "") == "argument":
            name = (param.metavar or param.name.upper()).removesuffix("...")
            param.metavar = name + ("..." if param.nargs != 1 else "")
            usage = param.metavar if param.required else f"[{param.metavar}]"
            param._usage_display_name = lambda usage=usage: usage  # IMAGES..., not {inputs}...
            param.display_type_rich = lambda ctx: None  # the name column already says IMAGES...
        elif getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
        elif param.metavar is None and hasattr(param, "display_type_rich"):
            original = param.display_type_rich
            param.display_type_rich = lambda ctx, original=original: _plain_type(original(ctx))
    if hasattr(command, "get_help_option"):
        original_help = command.get_help_option

        def help_option(ctx: Any, original: Any = original_help) -> Any:
            option = original(ctx)
            if option is not None:
                option.metavar = ""  # a flag: no <bool>
            return option

        command.get_help_option = help_option
    for sub in (getattr(command, "commands", None) or {}).values():
        tidy_help(sub)


def _job_needs_work(job: Any) -> bool:
    """False for jobs the planner already marked skipped or failed (e.g. a missing input)."""
    status = _field(job, "status", None) or _field(job, "action", None)
    status = str(getattr(status, "value", status) or "")
    if status in {"skipped", "skip", "failed", "error"}:
        return False
    return not _field(job, "error", None)


def _record_from_progress(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Find the per-image record among whatever the batch module passes to its progress callback."""
    for value in (*args, *kwargs.values()):
        if _field(value, "status", None) is not None and _field(value, "input", None) is not None:
            return value
    return None


def set_debug(debug: bool) -> None:
    """A command's own --debug (the global one is handled by the root callback)."""
    if debug:
        STATE.debug = True


def load_weights(ref: str | None, task: str, device: str = "cpu") -> Any:
    """Load weights for a task (the default when ref is None); errors name the file and say what to do."""
    from restore_cli import weights

    return weights.load_model(ref, task=task, device=device)


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
        loaded = load_weights(None, task, device)
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


def engine_device(engine: Any) -> str:
    """The torch device string an engine runs on (models are loaded straight onto it)."""
    device = getattr(engine, "device", "cpu")
    return str(device)
