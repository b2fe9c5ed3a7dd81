"""``restore colorize``: add plausible colour to black-and-white photos (luminance kept exactly)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from restore_cli.cli import common

# Shared with `restore pipeline` (its colorize step); the range is restore_cli.color.MAX_STRENGTH.
Strength = Annotated[
    float,
    typer.Option(
        "--strength",
        min=0.0,
        max=2.0,
        help="Colour strength: 0 gray, 1 the model's colour, up to 2 more saturated.",
        rich_help_panel=common._MODEL,
    ),
]


def colorize(
    inputs: common.Inputs,
    recursive: common.Recursive = False,
    output: common.Output = None,
    suffix: Annotated[
        str, typer.Option("--suffix", help="Added to the output file name.", rich_help_panel=common._IN)
    ] = "_colorized",
    fmt: common.Format = common.OutputFormat.png,
    overwrite: common.Overwrite = False,
    skip_existing: common.SkipExisting = False,
    model: common.ModelName = None,
    weights: common.WeightsFile = None,
    strength: Strength = 1.0,
    device: common.Device = "auto",
    precision: common.PrecisionOpt = common.Precision.fp32,
    max_pixels: common.MaxPixels = None,
    max_side: common.MaxSide = None,
    frame: common.Frame = None,
    strip_metadata: common.StripMetadata = False,
    json_output: common.JsonOut = False,
    quiet: common.Quiet = False,
    debug: common.Debug = False,
) -> None:
    """Colorize gray photos: [dim]restore colorize old.jpg -o out/[/dim] -> out/old_colorized.png."""
    common.set_debug(debug)
    ref = common.check_model_choice(model, weights)
    device = common.check_device(device)

    def build_process():
        from restore_cli.tasks import colorize as colorize_image

        engine = common.make_engine(device, precision)
        loaded = common.load_weights(ref, "colorize", common.engine_device(engine))

        def process(image: Any) -> Any:
            return colorize_image(image, model=loaded, engine=engine, strength=strength)

        return process

    common.run_images(
        label="colorize",
        inputs=inputs,
        recursive=recursive,
        output=output,
        suffix=suffix,
        fmt=fmt,
        overwrite=overwrite,
        skip_existing=skip_existing,
        max_pixels=max_pixels,
        max_side=max_side,
        frame=frame,
        strip_metadata=strip_metadata,
        json_output=json_output,
        quiet=quiet,
        build_process=build_process,
    )
