"""``restore colorize``: add plausible colour to black-and-white photos (luminance kept exactly)."""

from __future__ import annotations

from typing import Annotated

import typer

from restore_cli.cli import common

# Shared with `restore pipeline` (its colorize step); checked by tasks.check_strength before models load.
Strength = Annotated[
    float,
    typer.Option(
        "--strength",
        help="Colour strength: 0 gray, 1 the model's colour, up to 2 more saturated.",
        metavar="X",
        rich_help_panel=common._MODEL,
    ),
]


def colorize(
    inputs: common.Inputs,
    recursive: common.Recursive = False,
    output: common.Output = None,
    suffix: Annotated[
        str,
        typer.Option(
            "--suffix", help="Added to the output file name.", rich_help_panel=common._IN, metavar="TEXT"
        ),
    ] = "_colorized",
    fmt: common.Format = common.OutputFormat.png,
    quality: common.Quality = 95,
    overwrite: common.Overwrite = False,
    skip_existing: common.SkipExisting = False,
    model: common.ModelName = None,
    weights: common.WeightsFile = None,
    recolor: common.Recolor = False,
    strength: Strength = 1.0,
    device: common.Device = "auto",
    precision: common.PrecisionOpt = common.Precision.fp32,
    threads: common.Threads = None,
    max_pixels: common.MaxPixels = None,
    max_side: common.MaxSide = None,
    frame: common.Frame = None,
    strip_metadata: common.StripMetadata = False,
    json_output: common.JsonOut = False,
    quiet: common.Quiet = False,
    debug: common.Debug = False,
) -> None:
    """Colorize gray photos (colour ones are left alone): [dim]restore colorize old.jpg -o out/[/dim]."""
    from restore_cli.batch import BatchOptions
    from restore_cli.tasks import check_strength

    common.set_debug(debug)
    ref = common.check_model_choice(model, weights)
    device = common.check_device(device)
    common.check_threads(threads)
    check_strength(strength)

    def build_process(on_tile):
        from restore_cli.tasks import Pipeline, run_summary
        from restore_cli.weights import load_model

        engine = common.make_engine(device, precision, threads)
        loaded = load_model(ref, task="colorize", device=str(engine.device))
        pipeline = Pipeline(
            only="colorize", colorize_model=loaded, engine=engine, recolor=recolor, strength=strength
        )
        return pipeline.run, run_summary(engine, {"colorize": loaded})

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
        label="colorize", options=options, json_output=json_output, quiet=quiet, build_process=build_process
    )
