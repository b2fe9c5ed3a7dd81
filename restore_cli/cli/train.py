"""`restore train deblur | colorize`: train a model from options and/or a TOML config with the same keys.

The options are not written out here: each command takes the `TrainConfig` fields marked with its task
(restore_cli/train/config.py says each field's help and option names once), so a new field is a new option.
An option given wins over the TOML file, which wins over the defaults (`build_config`). Errors reach the root
group's handler. No torch import at module level (``restore --help`` stays fast).
"""

from __future__ import annotations

import inspect
import json
import sys
import types
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any

import typer

from restore_cli.train.config import FIELD_TYPES, TrainConfig, build_config, task_default

app = typer.Typer(
    help="Train models (deblur, colorize) from photos; see docs/TRAINING.md.", no_args_is_help=True
)

# Deblur options that set one key of --hyper (they win over it): the keys most often tuned.
_HYPER_SHORTCUTS: dict[str, tuple[type, str]] = {
    "width": (int, "Shortcut for hyper width."),
    "enc_blocks": (list, "Shortcut for hyper enc_blocks, e.g. 1,1,1,8."),
    "middle_blocks": (int, "Shortcut for hyper middle_blocks."),
    "dec_blocks": (list, "Shortcut for hyper dec_blocks, e.g. 1,1,1,1."),
}


@app.callback()
def _group() -> None:
    """Train restore's models; each task is a subcommand."""


def _option_type(hint: Any) -> Any:
    """The option's type for a field's type: a field that may hold a list is a repeatable option, a table
    is JSON text, text-or-a-number (a duration) is text."""
    if hint in (int, float, bool, str):
        return hint
    if typing.get_origin(hint) is dict:
        return str
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        kinds = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(kinds) == 1:
            return _option_type(kinds[0])
        if any(typing.get_origin(kind) is list for kind in kinds):
            return list[str]
        if str in kinds:
            return str
    raise TypeError(f"TrainConfig field type {hint} has no option type; give it one in cli/train.py")


def _option(
    name: str, kind: Any, names: tuple[str, ...], help: str, default: Any = None
) -> inspect.Parameter:
    """A keyword parameter whose default is a typer option. The default is for the help only: the command
    drops what the command line did not give, so the TOML file can still set it."""
    shown = default is not None and default != "" and default != {}
    option = typer.Option(default if shown else None, *names, help=help, show_default=shown)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind | None)


def _parameters(task: str) -> list[inspect.Parameter]:
    """The options of `restore train TASK`, in the order of the TrainConfig fields."""
    params = []
    for spec in fields(TrainConfig):
        cli = spec.metadata.get("cli")
        if cli is None or task not in cli.tasks:
            continue
        kind = _option_type(FIELD_TYPES[spec.name])
        dashed = spec.name.replace("_", "-")
        names = cli.names or ((f"--{dashed}/--no-{dashed}",) if kind is bool else (f"--{dashed}",))
        params.append(_option(spec.name, kind, names, cli.help_for(task), task_default(task, spec.name)))
        if spec.name == "hyper" and task == "deblur":
            for key, (shortcut, text) in _HYPER_SHORTCUTS.items():
                flag = "--" + key.replace("_", "-")
                params.append(_option(key, str if shortcut is list else shortcut, (flag,), text))
    toml_only = ", ".join(f.name for f in fields(TrainConfig) if "cli" not in f.metadata and f.name != "task")
    config_help = (
        f"TOML file keyed by these options' names (and {toml_only}); an unknown key is an error. "
        "Options given on the command line win over it."
    )
    params.append(_option("config", Path, ("--config",), config_help))
    quiet = typer.Option(False, "--quiet", help="No live display (the JSONL log is still written).")
    params.append(inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, default=quiet, annotation=bool))
    context = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
    return [context, *params]


def _command(task: str, summary: str):
    """The `restore train TASK` command: its options are built from the TrainConfig fields."""

    def command(ctx: typer.Context, **given: object) -> None:
        config, quiet = given.pop("config"), bool(given.pop("quiet"))
        # Only the options given on the command line override the TOML file; the others are the defaults
        # the help shows, which build_config applies itself.
        given = {
            key: value for key, value in given.items() if ctx.get_parameter_source(key).name != "DEFAULT"
        }
        cfg = build_config(config, task=task, **_field_values(given))
        cfg.check()
        _run(cfg, quiet)

    command.__name__ = command.__qualname__ = task
    command.__doc__ = summary
    command.__signature__ = inspect.Signature(_parameters(task))  # what typer reads the options from
    return command


def _field_values(given: dict[str, Any]) -> dict[str, Any]:
    """The options given on the command line, as TrainConfig values (hyper shortcuts merged into hyper)."""
    shortcuts = {}
    for key, (kind, _) in _HYPER_SHORTCUTS.items():
        value = given.pop(key, None)
        if value is not None:
            shortcuts[key] = _int_list(value, "--" + key.replace("_", "-")) if kind is list else value
    values = dict(given)
    values["hyper"] = _parse_hyper(given.get("hyper"))
    if shortcuts:
        values["hyper"] = {**(values["hyper"] or {}), **shortcuts}
    for name, value in given.items():
        if isinstance(value, (list, tuple)):  # a repeatable option: one folder stays a plain string
            values[name] = (value[0] if len(value) == 1 else list(value)) if value else None
    return values


def _int_list(text: str, option: str) -> list[int]:
    try:
        return [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise typer.BadParameter(f"{option} takes comma-separated integers, e.g. 1,1,1,8") from None


def _parse_hyper(hyper: str | None) -> dict | None:
    """The --hyper JSON object (None when not given); bad JSON is a usage error."""
    if hyper is None:
        return None
    try:
        values = json.loads(hyper)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--hyper is not valid JSON ({exc})") from None
    if not isinstance(values, dict):
        raise typer.BadParameter('--hyper must be a JSON object, e.g. {"width": 16}')
    return values


def _run(cfg, quiet: bool) -> None:
    from restore_cli.train.colorize import train_colorize
    from restore_cli.train.trainer import train_deblur

    reporter = None
    if not quiet:
        from restore_cli.train.display import RichReporter

        reporter = RichReporter()
    train = train_colorize if cfg.task == "colorize" else train_deblur
    result = train(cfg, reporter)
    summary = {
        "task": cfg.task,
        "iteration": result.iteration,
        "total_iterations": result.total_iterations,
        "wall_time_s": round(result.wall_time_s, 1),
        "stopped_by": result.stopped_by,
        "val": result.val,
        "out": result.out,
        "checkpoint": result.checkpoint,
    }
    sys.stdout.write(json.dumps(summary) + "\n")


app.command("deblur")(
    _command("deblur", "Train a deblurring model; prints a JSON summary on stdout when done.")
)
app.command("colorize")(
    _command("colorize", "Train a colorizer (L in, ab out); prints a JSON summary on stdout when done.")
)
