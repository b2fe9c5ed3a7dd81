"""``restore pipeline``: deblur and colorize in one go, or decide per image with ``--order auto``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from restore_cli.cli import common
from restore_cli.cli.colorize import Strength

_PIPE = "Pipeline"


def _load(ref: str | None, task: str, device: str) -> Any:
    """Load one of the pipeline's models; a missing default names the pipeline's own options."""
    from restore_cli.errors import NoDefaultWeightsError
    from restore_cli.weights import load_model

    try:
        return load_model(ref, task=task, device=device)
    except NoDefaultWeightsError:
        raise NoDefaultWeightsError(
            f"no default {task} weights are installed; pass --{task}-weights FILE.safetensors or "
            f"--{task}-model NAME (see `restore weights list`)"
        ) from None


def pipeline(
    inputs: common.Inputs,
    recursive: common.Recursive = False,
    output: common.Output = None,
    suffix: Annotated[
        str,
        typer.Option(
            "--suffix", help="Added to the output file name.", rich_help_panel=common._IN, metavar="TEXT"
        ),
    ] = "_restored",
    fmt: common.Format = common.OutputFormat.png,
    quality: common.Quality = 95,
    overwrite: common.Overwrite = False,
    skip_existing: common.SkipExisting = False,
    order: Annotated[
        common.Order,
        typer.Option(
            "--order",
            help="deblur-first (deblur, then colorize gray images), colorize-first, or auto: "
            "deblur only images the blur detector finds blurry.",
            rich_help_panel=_PIPE,
        ),
    ] = common.Order.deblur_first,
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
    recolor: common.Recolor = False,
    passes: common.Passes = 1,
    deblur_model: Annotated[
        str | None,
        typer.Option(
            "--deblur-model", help="Deblur weights by name.", rich_help_panel=common._MODEL, metavar="NAME"
        ),
    ] = None,
    deblur_weights: Annotated[
        Path | None,
        typer.Option(
            "--deblur-weights",
            help="Deblur .safetensors file.",
            rich_help_panel=common._MODEL,
            metavar="FILE",
        ),
    ] = None,
    colorize_model: Annotated[
        str | None,
        typer.Option(
            "--colorize-model",
            help="Colorize weights by name.",
            rich_help_panel=common._MODEL,
            metavar="NAME",
        ),
    ] = None,
    colorize_weights: Annotated[
        Path | None,
        typer.Option(
            "--colorize-weights",
            help="Colorize .safetensors file.",
            rich_help_panel=common._MODEL,
            metavar="FILE",
        ),
    ] = None,
    strength: Strength = 1.0,
    device: common.Device = "auto",
    precision: common.PrecisionOpt = common.Precision.fp32,
    threads: common.Threads = None,
    tile: common.Tile = "auto",
    max_pixels: common.MaxPixels = None,
    max_side: common.MaxSide = None,
    frame: common.Frame = None,
    strip_metadata: common.StripMetadata = False,
    json_output: common.JsonOut = False,
    quiet: common.Quiet = False,
    debug: common.Debug = False,
) -> None:
    """Deblur then colorize, or per image: [dim]restore pipeline scans/ -r -o out/ --order auto[/dim]."""
    from restore_cli.batch import BatchOptions
    from restore_cli.tasks import check_strength

    common.set_debug(debug)
    deblur_ref = common.check_model_choice(deblur_model, deblur_weights, "--deblur-weights")
    colorize_ref = common.check_model_choice(colorize_model, colorize_weights, "--colorize-weights")
    device = common.check_device(device)
    tile_size = common.parse_tile(tile)
    common.check_passes(passes)
    common.check_threads(threads)
    check_strength(strength)
    if blur_threshold is not None:
        from restore_cli.tasks import check_blur_threshold

        check_blur_threshold(blur_threshold)

    def build_process(on_tile):
        from restore_cli.tasks import Pipeline, run_summary

        engine = common.make_engine(device, precision, threads)
        on = str(engine.device)
        loaded_deblur = _load(deblur_ref, "deblur", on)
        loaded_colorize = _load(colorize_ref, "colorize", on)
        gray_deblur = common.load_optional_default("deblur-gray", on) if deblur_ref is None else None
        options: dict[str, Any] = {}
        if blur_threshold is not None:
            options["blur_threshold"] = blur_threshold
        pipeline = Pipeline(
            order=order.value,
            passes=passes,
            deblur_model=loaded_deblur,
            colorize_model=loaded_colorize,
            gray_deblur_model=gray_deblur,
            engine=engine,
            tile=tile_size,
            recolor=recolor,
            on_tile=on_tile,
            strength=strength,
            **options,
        )
        return pipeline.run, run_summary(engine, {"deblur": loaded_deblur, "colorize": loaded_colorize})

    options = BatchOptions(
        inputs=tuple(inputs),
        recursive=recursive,
        output=output,
        suffix=suffix,
        fmt=fmt.value,
        overwrite=overwrite,
        skip_existing=skip_existing,
        quality=quality,
        strip_metadata=strip_metadata,
        max_pixels=max_pixels,
        max_side=max_side,
        frame=frame,
    )
    common.run_images(
        label="pipeline", options=options, json_output=json_output, quiet=quiet, build_process=build_process
    )
