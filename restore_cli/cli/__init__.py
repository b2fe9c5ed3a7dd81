"""The ``restore`` command line: one Typer app built from one small module per subcommand.

Heavy imports (torch, the engine, image I/O) happen inside the commands, so ``restore --help`` and
``restore --version`` stay instant. :class:`RestoreGroup` maps the library's errors to exit codes and one-line
messages for every subcommand, mounted ones included, so CliRunner tests see the same behaviour as a shell.
"""

from __future__ import annotations

import gc
import importlib
import os
import signal
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from restore_cli import __version__
from restore_cli.cli import common
from restore_cli.errors import RestoreError

# ------------------------------------------------------------------------------------------------ signals
#
# SIGTERM (timeout, systemd, docker stop) and SIGHUP (a closed terminal) are handled like Ctrl-C: they raise
# Terminated, a KeyboardInterrupt, so every Ctrl-C path applies (the image in hand is abandoned, its
# temporary file removed, finished outputs kept, a summary printed). The exit code is the shell's 128 + the
# signal number: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP. A signal the parent set to be ignored
# (``nohup``) stays ignored.

INTERRUPT_EXIT = 130


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_received: int | None = None


def _on_termination(signum: int, frame: Any) -> None:
    global _received
    if _received is not None:  # already stopping: let the cleanup finish
        return
    _received = signum
    raise Terminated(signum)


def install_signal_handlers() -> None:
    """Route SIGTERM and SIGHUP to :class:`Terminated` (main thread only; ignored signals stay ignored)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _on_termination)


def interrupt_exit_code() -> int:
    """128 + the terminating signal's number, or 130 (Ctrl-C)."""
    return 128 + _received if _received is not None else INTERRUPT_EXIT


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


class RestoreGroup(TyperGroup):
    """Root group: maps RestoreError, Ctrl-C/SIGTERM and unexpected errors to an exit code and one line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tidy_help(self)  # every subcommand's help: FILE, N, TEXT... instead of Python types

    def format_help(self, ctx: Any, formatter: Any) -> None:
        tidy_help(self)  # again: typer adds the completion options after __init__
        super().format_help(ctx, formatter)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except RestoreError as err:
            common.report_error(err)
            raise typer.Exit(err.exit_code) from None
        except KeyboardInterrupt:
            common.report_interrupt()
            raise typer.Exit(interrupt_exit_code()) from None
        except typer.Exit as done:
            if done.exit_code == INTERRUPT_EXIT:  # a command that reported the interruption itself
                raise typer.Exit(interrupt_exit_code()) from None
            raise
        except typer.Abort:
            raise
        except BrokenPipeError:
            raise typer.Exit(stdout_closed()) from None
        except Exception as err:  # noqa: BLE001 - last line of defence: one line, no traceback unless --debug
            if type(err).__module__.startswith(("click", "typer")):
                raise
            common.report_unexpected(err)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=RestoreGroup,
    name="restore",
    help="Restore photos: motion [bold]deblurring[/bold] and [bold]colorization[/bold] with small models.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"restore {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks on errors (also: RESTORE_DEBUG=1).")
    ] = False,
) -> None:
    """Restore photos: motion deblurring and colorization with small, fast models.

    Every command takes files, folders and globs; results go to stdout, progress and errors to stderr.
    Exit codes: 0 all written, 1 some image (or weights file) failed, 2 usage error, 130 Ctrl-C,
    143 SIGTERM, 129 SIGHUP (each handled like Ctrl-C: finished outputs kept, no partial file).
    """
    common.STATE.debug = debug or common.env_debug()


def _mount() -> None:
    """Register every subcommand; a sub-module that fails to import is skipped so the rest still works."""
    from restore_cli.cli import colorize, deblur, inspect, pipeline

    app.command("deblur", no_args_is_help=True)(deblur.deblur)
    app.command("colorize", no_args_is_help=True)(colorize.colorize)
    app.command("pipeline", no_args_is_help=True)(pipeline.pipeline)
    app.command("inspect", no_args_is_help=True)(inspect.inspect)

    for name, attr, kind in (
        ("bench", "bench", "command"),
        ("train", "app", "typer"),
        ("data", "app", "typer"),
        ("weights", "app", "typer"),
    ):
        try:
            module = importlib.import_module(f"restore_cli.cli.{name}")
            target = getattr(module, attr)
        except (ImportError, AttributeError) as err:  # pragma: no cover - only while a module is missing
            if os.environ.get("RESTORE_DEBUG") == "1":
                print(f"restore: subcommand {name!r} unavailable: {err}", file=sys.stderr)
            continue
        if kind == "typer":
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)


_mount()


def stdout_closed() -> int:
    """The reader of standard output went away (``restore --help | head -1``): stop quietly, as ``ls`` does.

    Python ignores SIGPIPE, so the write raised BrokenPipeError; what is still buffered goes to /dev/null so
    the exit does not raise it again. The exit code is 141 (128 + SIGPIPE), what shells report for such a
    stop.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + int(getattr(signal, "SIGPIPE", 13))


def main() -> None:
    """Entry point of the ``restore`` script and ``python -m restore_cli``."""
    install_signal_handlers()
    common.STATE.owns_process = True
    try:
        app(prog_name="restore")
    except KeyboardInterrupt:  # raised outside a command (e.g. during argument parsing)
        common.report_interrupt()
        sys.exit(interrupt_exit_code())
    except BrokenPipeError:  # outside a command, e.g. the root help
        sys.exit(stdout_closed())
    finally:
        # The process exits next: its final collections would walk every object torch made (0.5 s of a
        # deblur's exit, benchmarks/results/startup.md); frozen, they are skipped and the OS frees them.
        # Outputs are closed and atexit handlers still run; see common.start_up_heap.
        gc.freeze()


__all__ = ["Terminated", "app", "install_signal_handlers", "interrupt_exit_code", "main"]
