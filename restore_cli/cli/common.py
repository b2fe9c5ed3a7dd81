"""What the image commands share: error reporting, and the runner that takes a command from its options to
the printed result.

A command checks its options (:mod:`restore_cli.cli.options`) and calls :func:`run_images`:
``batch.plan`` (usage errors, before any model loads) -> a :class:`restore_cli.restorer.Restorer` (engine and
models, made only when an image needs processing) -> ``batch.run`` (or ``stream.run`` for ``-``), iterated
here: :class:`Printer` shows each record once as it comes, then the summary and exit code from the
:class:`restore_cli.batch.BatchResult`. The library never calls back into this package. Nothing here imports
torch, and batch is imported when a command runs, so ``restore --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from restore_cli.errors import one_line
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


def report_error(err: BaseException | str, hint: str = "") -> None:
    """Print ``error: <message>`` on one line of stderr; with --debug, the traceback first."""
    from rich.markup import escape

    console = err_console()
    if STATE.debug or env_debug():
        console.print_exception()
    console.print(f"[red]error:[/red] {escape(one_line(str(err)))}{hint}")


def report_interrupt() -> None:
    """What Ctrl-C prints: one line; outputs already written stay, no partial file is left."""
    err_console().print("[yellow]interrupted[/yellow]")


def report_unexpected(err: BaseException) -> None:
    """A bug or an unforeseen failure: still one line, the traceback only with --debug."""
    debug = STATE.debug or env_debug()
    hint = "" if debug else " (run again with --debug for a traceback, and please report it)"
    report_error(f"{type(err).__name__}: {err}", hint)


# ------------------------------------------------------------------------------------------ batch runner

def run_images(
    *,
    label: str,
    options: BatchOptions,
    json_output: bool,
    quiet: bool,
    engine: tuple[str, Any, int | None],
    session: dict[str, Any],
    how_to_name: dict[str, str] | None = None,
) -> None:
    """Plan the jobs (usage errors first), make the Restorer, run the batch, print it; exits 0, 1, 2 or 130.

    ``engine`` is (device, precision, threads); ``session`` the Restorer's keyword arguments. Engine and
    Restorer are made only when at least one image needs processing, so usage errors and fully skipped
    re-runs never load a model; ``Restorer.prepare`` loads the models named on the command line (a bad file
    is one error before the first image) and checks the defaults exist. The start line (models, device,
    threads, precision) goes to stderr unless ``quiet``. ``-`` as the input or as ``-o`` goes through
    :mod:`restore_cli.stream`.
    """
    from restore_cli import batch, stream

    one_stream = stream.wants_stream(options.inputs, options.output)
    if one_stream:
        stream.check_stream(options.inputs, options.output, json_output=json_output,
                            overwrite=options.overwrite, skip_existing=options.skip_existing)  # fmt: skip
    jobs = [] if one_stream else batch.plan(options)
    progress = progress_bar(err_console()) if len(jobs) > 1 and not quiet else None
    tiles = TileProgress(enabled=not quiet, shared=progress)  # its own stderr console: no call back here
    process: Any = None  # not called: no job is pending
    if one_stream or any(job.pending for job in jobs):
        from restore_cli.restorer import Restorer

        with start_up_heap():
            made = make_engine(*engine)
            restorer = Restorer(**session, engine=made, on_tile=tiles, cache={}).prepare(how_to_name)
        announce(restorer.summary(), quiet)
        process = restorer.run
    # With -o - standard output carries the image, so the result line goes to stderr.
    printer = Printer(json_output=json_output, quiet=quiet, lines_to_stderr=options.output == stream.STDIO)
    io_options = {"read_kwargs": options.read_kwargs, "write_kwargs": options.write_kwargs}
    if one_stream:
        assert options.output is not None
        run = stream.run(options.inputs[0], options.output, process, fmt=options.fmt,
                         skip_existing=options.skip_existing, **io_options)  # fmt: skip
    else:
        run = batch.run(jobs, process, **io_options)
    task_id = progress.add_task(label, total=len(jobs)) if progress is not None else None
    started = time.perf_counter()
    tiles.reset()
    try:
        if progress is not None:
            progress.start()
        for record in run:
            tiles.reset()
            printer.record(record)
            if progress is not None:
                progress.advance(task_id)
    except KeyboardInterrupt:  # while a record was shown: the run stops there, with its result
        run.interrupt()
    finally:
        tiles.reset()
        if progress is not None:
            progress.stop()
    printer.finish(run.result, time.perf_counter() - started)


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
            message = one_line(record.message or "failed")
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
        return f"skipped {record.input}{arrow} ({one_line(record.message or 'output exists')})"
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


def make_engine(device: str, precision: Any, threads: int | None = None) -> Any:
    """Device, precision and threads resolved once, before any model loads (threads None: the engine's)."""
    from restore_cli.engine import Engine

    return Engine(device=device, precision=getattr(precision, "value", precision), threads=threads)
