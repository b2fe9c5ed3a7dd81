"""``restore deblur``: remove motion blur from photos."""

from __future__ import annotations

from typing import Annotated

import typer

from restore_cli.cli import common


def deblur(
    inputs: common.Inputs,
    recursive: common.Recursive = False,
    output: common.Output = None,
    suffix: Annotated[
        str,
        typer.Option(
            "--suffix", help="Added to the output file name.", rich_help_panel=common._IN, metavar="TEXT"
        ),
    ] = "_deblurred",
    fmt: common.Format = common.OutputFormat.png,
    quality: common.Quality = 95,
    overwrite: common.Overwrite = False,
    skip_existing: common.SkipExisting = False,
    model: common.ModelName = None,
    weights: common.WeightsFile = None,
    device: common.Device = "auto",
    precision: common.PrecisionOpt = common.Precision.fp32,
    threads: common.Threads = None,
    tile: common.Tile = "auto",
    passes: common.Passes = 1,
    max_pixels: common.MaxPixels = None,
    max_side: common.MaxSide = None,
    frame: common.Frame = None,
    strip_metadata: common.StripMetadata = False,
    json_output: common.JsonOut = False,
    quiet: common.Quiet = False,
    debug: common.Debug = False,
) -> None:
    """Remove motion blur: [dim]restore deblur photo.jpg[/dim] writes photo_deblurred.png beside it."""
    from restore_cli.batch import BatchOptions

    common.set_debug(debug)
    ref = common.check_model_choice(model, weights)
    device = common.check_device(device)
    tile_size = common.parse_tile(tile)
    common.check_passes(passes)
    common.check_threads(threads)

    def build_process(on_tile):
        from restore_cli.tasks import Pipeline, run_summary
        from restore_cli.weights import load_model

        engine = common.make_engine(device, precision, threads)
        on = str(engine.device)
        loaded = load_model(ref, task="deblur", device=on)
        gray_loaded = common.load_optional_default("deblur-gray", on) if ref is None else None
        pipeline = Pipeline(
            only="deblur",
            passes=passes,
            deblur_model=loaded,
            gray_deblur_model=gray_loaded,
            engine=engine,
            tile=tile_size,
            on_tile=on_tile,
        )
        return pipeline.run, run_summary(engine, {"deblur": loaded})

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
        label="deblur", options=options, json_output=json_output, quiet=quiet, build_process=build_process
    )
