"""``restore pipeline``: deblur and colorize in one go, or decide per image with ``--order auto``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from restore_cli.cli import common, options

_PIPE = "Pipeline"


def pipeline(
    inputs: options.Inputs,
    recursive: options.Recursive = False,
    output: options.Output = None,
    suffix: options.Suffix = "_restored",
    fmt: options.Format = options.OutputFormat.png,
    quality: options.Quality = 95,
    overwrite: options.Overwrite = False,
    skip_existing: options.SkipExisting = False,
    order: Annotated[
        options.Order,
        typer.Option(
            "--order",
            help="deblur-first (deblur, then colorize gray images), colorize-first, or auto: "
            "deblur only images the blur detector finds blurry.",
            rich_help_panel=_PIPE,
        ),
    ] = options.Order("deblur-first"),
    blur_threshold: Annotated[
        float | None,
        typer.Option(
            "--blur-threshold",
            help="--order auto deblurs images whose blur score (0 sharp .. 1 blurry, see "
            "'restore inspect') is at least this (default 0.5).",
            rich_help_panel=_PIPE,
            show_default=False,
            metavar="0..1",
        ),
    ] = None,
    recolor: options.Recolor = False,
    passes: options.Passes = 1,
    deblur_model: Annotated[
        str | None,
        typer.Option(
            "--deblur-model", help="Deblur weights by name.", rich_help_panel=options.MODEL, metavar="NAME"
        ),
    ] = None,
    deblur_weights: Annotated[
        Path | None,
        typer.Option(
            "--deblur-weights",
            help="Deblur .safetensors file.",
            rich_help_panel=options.MODEL,
            metavar="FILE",
        ),
    ] = None,
    colorize_model: Annotated[
        str | None,
        typer.Option(
            "--colorize-model",
            help="Colorize weights by name.",
            rich_help_panel=options.MODEL,
            metavar="NAME",
        ),
    ] = None,
    colorize_weights: Annotated[
        Path | None,
        typer.Option(
            "--colorize-weights",
            help="Colorize .safetensors file.",
            rich_help_panel=options.MODEL,
            metavar="FILE",
        ),
    ] = None,
    strength: options.Strength = 1.0,
    device: options.Device = "auto",
    precision: options.PrecisionOpt = options.Precision.fp32,
    threads: options.Threads = None,
    tile: options.Tile = "auto",
    max_pixels: options.MaxPixels = None,
    max_side: options.MaxSide = None,
    frame: options.Frame = None,
    strip_metadata: options.StripMetadata = False,
    json_output: options.JsonOut = False,
    quiet: options.Quiet = False,
    debug: options.Debug = False,
) -> None:
    """Deblur then colorize, or per image: [dim]restore pipeline scans/ -r -o out/ --order auto[/dim]."""
    from restore_cli.restorer import check_blur_threshold, check_strength

    common.set_debug(debug)
    batch = options.batch_options(locals())
    session = {
        "order": order.value,
        "deblur_model": options.check_model_choice(deblur_model, deblur_weights, "--deblur-weights"),
        "colorize_model": options.check_model_choice(colorize_model, colorize_weights, "--colorize-weights"),
        "passes": options.check_passes(passes),
        "tile": options.parse_tile(tile),
        "recolor": recolor,
        "strength": check_strength(strength),
    }
    if blur_threshold is not None:
        session["blur_threshold"] = check_blur_threshold(blur_threshold)
    engine = (options.check_device(device), precision, options.check_threads(threads))
    how_to_name = {
        step: f"--{step}-weights FILE.safetensors or --{step}-model NAME" for step in ("deblur", "colorize")
    }
    common.run_images(label="pipeline", options=batch, json_output=json_output, quiet=quiet, engine=engine,
                      session=session, how_to_name=how_to_name)  # fmt: skip
