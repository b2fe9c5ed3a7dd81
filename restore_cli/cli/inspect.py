"""``restore inspect``: what an image is and what ``--order auto`` would do with it (no model is loaded)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from restore_cli.cli import common, options


def _row(info: dict[str, Any]) -> str:
    """One human-readable line per image."""
    size = info.get("size") or (info.get("width"), info.get("height"))
    if isinstance(size, (list, tuple)) and len(size) == 2:
        size = f"{size[0]}x{size[1]}"
    plan = info.get("auto") or []
    if isinstance(plan, (list, tuple)):
        plan = " + ".join(str(step) for step in plan) or "unchanged"
    blur = info.get("blur_score")
    blur_text = f"{blur:.2f}" if isinstance(blur, (int, float)) else str(blur)
    verdict = "blurry" if info.get("blurry") else "sharp"
    return (
        f"{info.get('path', '')}: {size}, mode {info.get('mode')}, {info.get('bit_depth')}-bit, "
        f"{'gray' if info.get('gray') else 'colour'}, blur score {blur_text} ({verdict}), auto: {plan}"
    )


def inspect(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Image files, folders or globs (quote globs: 'scans/*.jpg').",
            show_default=False,
            metavar="IMAGES...",
        ),
    ],
    recursive: options.Recursive = False,
    blur_threshold: Annotated[
        float | None,
        typer.Option(
            "--blur-threshold",
            help="Blur score at which --order auto deblurs, 0..1 (default 0.5).",
            show_default=False,
            metavar="0..1",
        ),
    ] = None,
    max_pixels: options.MaxPixels = None,
    max_side: options.MaxSide = None,
    frame: options.Frame = None,
    json_output: options.JsonOut = False,
    debug: options.Debug = False,
) -> None:
    """Print size, mode, bit depth, gray or not, blur score, and what [bold]--order auto[/bold] would do."""
    from restore_cli import batch, io
    from restore_cli.errors import RestoreError, UsageError
    from restore_cli.tasks import inspect_image

    common.set_debug(debug)
    if blur_threshold is not None:
        from restore_cli.tasks import check_blur_threshold

        check_blur_threshold(blur_threshold)
    items = batch.expand_inputs(list(inputs), recursive=recursive)
    if not items:
        raise UsageError(batch.no_images_hint(list(inputs), recursive))
    failed = 0
    for item in items:
        try:
            if item.error is not None:
                raise item.error
            image = io.read_image(item.path, **batch.read_kwargs(max_pixels, max_side, frame))
            kwargs = {} if blur_threshold is None else {"blur_threshold": blur_threshold}
            info = dict(inspect_image(image, **kwargs))
        except RestoreError as err:
            failed += 1
            common.report_error(err)
            continue
        info.setdefault("path", str(item.path))
        info = {k: (str(v) if isinstance(v, Path) else v) for k, v in info.items()}
        if json_output:
            sys.stdout.write(json.dumps(info, ensure_ascii=False, default=str) + "\n")
        else:
            sys.stdout.write(_row(info) + "\n")
    raise typer.Exit(1 if failed else 0)
