"""``restore weights``: list, inspect, verify, remove, choose defaults and import upstream checkpoints.

Each command is one call into :mod:`restore_cli.weights` (or :mod:`restore_cli.weights_import`); results go
to stdout, errors are raised as RestoreError for the root app to report. torch is never imported here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from restore_cli import choices
from restore_cli.cli.options import choice_enum
from restore_cli.errors import one_line

app = typer.Typer(
    help="Manage weights: list, info, verify, remove, set-default, and import upstream checkpoints (.pth).",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


Task = choice_enum("Task", choices.WEIGHT_TASKS)


def _console():
    from rich.console import Console

    return Console(soft_wrap=True, highlight=False)


def _size(num_bytes: int) -> str:
    """Decimal units (1 MB = 1,000,000 bytes), as the README and file managers count file sizes."""
    for unit in ("B", "kB", "MB", "GB"):
        if num_bytes < 1000 or unit == "GB":
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1000
    return str(num_bytes)


@app.command("list")
def list_cmd(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list of records instead of a table.")
    ] = False,
) -> None:
    """List shipped and user weights with their task, architecture, size and default marks."""
    from restore_cli import weights

    table_defaults = weights.defaults()
    records = []
    for entry in weights.list_weights():
        default_tasks = sorted(t for t, e in table_defaults.items() if e.name == entry.name)
        records.append(
            {
                "name": entry.name,
                "task": entry.task,
                "arch": entry.arch,
                "size_bytes": entry.size_bytes,
                "default": bool(default_tasks),
                "default_for": default_tasks,
                "origin": entry.origin,
                "license": entry.license,
                "description": entry.description,
                "sha256": entry.sha256,
                "path": str(entry.path),
            }
        )
    if as_json:
        typer.echo(json.dumps(records, indent=2))
        return
    console = _console()
    if not records:
        console.print("No weights installed. Import some with [bold]restore weights import FILE.pth[/bold].")
        return
    from rich.table import Table

    # One line per weights file whatever the width: the description is cut with an ellipsis (full text in
    # `restore weights info NAME` and --json); origin shows only when some weights are the user's own.
    show_origin = any(r["origin"] != "shipped" for r in records)
    titles = ["name", "task", "arch", "size", "default", *(["origin"] if show_origin else [])]
    rows = []
    for r in records:
        default = ", ".join(r["default_for"]) if r["default_for"] else ""
        cells = [r["name"], r["task"], r["arch"], _size(r["size_bytes"]), default]
        if show_origin:
            cells.append(r["origin"])
        rows.append([*cells, one_line(r["description"] or "")])
    widths = [max(len(t), *(len(row[i]) for row in rows)) for i, t in enumerate(titles)]
    room = max(12, console.width - sum(widths) - 2 * len(widths))
    table = Table(title="Weights", box=None, pad_edge=False, header_style="bold")
    for title, width in zip(titles, widths):
        table.add_column(title, no_wrap=True, min_width=width)
    table.add_column("description", no_wrap=True, overflow="ellipsis", max_width=room)
    for row in rows:
        table.add_row(*row)
    console.print(table)


def model_card(name: str) -> str | None:
    """The section of the shipped weights/README.md headed by ``name``, if there is one."""
    from restore_cli.weights import shipped_weights_dir

    readme = shipped_weights_dir() / "README.md"
    try:
        lines = readme.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    start = level = None
    for i, line in enumerate(lines):
        match = re.match(r"^(#+)\s+(.*?)\s*$", line)
        if not match:
            continue
        if start is None:
            if match.group(2).strip("`") == name:
                start, level = i + 1, len(match.group(1))
        elif len(match.group(1)) <= level:
            return "\n".join(lines[start:i]).strip() or None
    if start is None:
        return None
    return "\n".join(lines[start:]).strip() or None


@app.command("info")
def info_cmd(
    ref: Annotated[
        str, typer.Argument(help="A weights name (see `restore weights list`) or a .safetensors file.")
    ],
) -> None:
    """Show a weights file's metadata, hyperparameters, sha256 and model card."""
    from restore_cli import weights
    from restore_cli.errors import BadWeightsError, UnknownModelError

    entry = None
    path = Path(ref).expanduser()
    if not path.is_file():
        try:
            entry = weights.find_entry(ref)
        except UnknownModelError:
            if ref.endswith(".safetensors") or "/" in ref:
                raise BadWeightsError("weights file not found; check the path", path) from None
            raise
        path = entry.path
    meta = weights.read_metadata(path)
    sha = weights.sha256_file(path)
    console = _console()
    rows: list[tuple[str, Any]] = [
        ("name", entry.name if entry else meta.get("name", path.stem)),
        ("file", str(path)),
        ("sha256", sha),
        ("size", _size(path.stat().st_size)),
        ("arch", meta.get("arch", "?")),
        ("task", meta.get("task", entry.task if entry else "?")),
    ]
    if entry is not None:
        rows.append(("origin", entry.origin))
        rows.append(
            ("manifest sha256", "matches" if sha == entry.sha256 else f"MISMATCH (expected {entry.sha256})")
        )
        default_tasks = sorted(t for t, e in weights.defaults().items() if e.name == entry.name)
        rows.append(("default for", ", ".join(default_tasks) or "-"))
    for key in ("license", "description"):
        value = (entry and getattr(entry, key)) or meta.get(key)
        if value:
            rows.append((key, value))
    for label, value in rows:
        console.print(f"[bold]{label}:[/bold] {value}")
    hyper = meta.get("hyper")
    if isinstance(hyper, dict):
        console.print("[bold]hyperparameters:[/bold]")
        for key, value in sorted(hyper.items()):
            console.print(f"  {key} = {json.dumps(value)}")
    for key in ("training", "metrics", "source", "inference"):
        if key in meta:
            console.print(f"[bold]{key}:[/bold] {json.dumps(meta[key], sort_keys=True)}")
    other = sorted(
        set(meta)
        - {"format", "arch", "task", "hyper", "name", "license", "description"}
        - set(weights.JSON_FIELDS)
    )
    for key in other:
        console.print(f"[bold]{key}:[/bold] {meta[key]}")
    card = model_card(entry.name if entry else str(meta.get("name", path.stem)))
    if card:
        console.print("[bold]model card:[/bold]")
        console.print(card, markup=False)


@app.command("verify")
def verify_cmd() -> None:
    """Check every manifest entry's file against its sha256 (exit 1 if any fails)."""
    from restore_cli import weights

    console = _console()
    results = weights.verify()
    failed = 0
    for entry, ok, message in results:
        mark = "[green]ok[/green]" if ok else "[red]FAILED[/red]"
        console.print(f"{mark} {entry.name} ({entry.origin})" + ("" if ok else f": {message}"))
        failed += not ok
    console.print(f"{len(results) - failed} of {len(results)} weights files verified")
    if failed:
        raise typer.Exit(1)


@app.command("remove")
def remove_cmd(name: Annotated[str, typer.Argument(help="Name of user weights to delete.")]) -> None:
    """Delete user weights (file and manifest entry); shipped weights cannot be removed."""
    from restore_cli import weights

    entry = weights.remove(name)
    _console().print(f"removed {entry.name} ({entry.path})")


@app.command("set-default")
def set_default_cmd(
    name: Annotated[str, typer.Argument(help="Weights name from `restore weights list`.")],
    task: Annotated[Task, typer.Option("--task", help="Task whose default to set.")] = Task("deblur"),
) -> None:
    """Make NAME the default weights for a task (stored in the user manifest)."""
    from restore_cli import weights

    entry = weights.set_default(name, task.value)
    _console().print(f"{entry.name} is now the default for {task.value}")


@app.command("import")
def import_cmd(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="Upstream checkpoint (.pth/.pt)."),
    ],
    arch: Annotated[
        str,
        typer.Option(
            "--arch",
            metavar="auto|ARCH",
            help="Architecture; auto detects it from the keys (a wrong name lists the importable ones).",
        ),
    ] = "auto",
    name: Annotated[
        str | None, typer.Option("--name", help="Name to list it under (default: file stem).")
    ] = None,
    license: Annotated[
        str | None, typer.Option("--license", help="Licence of the weights, recorded.")
    ] = None,
) -> None:
    """Convert an upstream PyTorch checkpoint to safetensors and add it to the user weights.

    The checkpoint is read with torch.load(weights_only=True) only: anything that needs more than tensors
    is refused, so no code hidden in the file can run.
    """
    from restore_cli.weights_import import import_checkpoint

    entry = import_checkpoint(file, arch=arch.strip().lower(), name=name, license=license)
    command = "colorize" if entry.task == "colorize" else "deblur"
    _console().print(
        f"imported {file.name} as [bold]{entry.name}[/bold] ({entry.arch}, {entry.task}) -> {entry.path}\n"
        f"use it with: restore {command} --model {entry.name} IMAGE"
    )
