"""``restore deblur``: remove motion blur from photos."""

from __future__ import annotations

from restore_cli.cli import common, options


def deblur(
    inputs: options.Inputs,
    recursive: options.Recursive = False,
    output: options.Output = None,
    suffix: options.Suffix = "_deblurred",
    fmt: options.Format = options.OutputFormat.png,
    quality: options.Quality = 95,
    overwrite: options.Overwrite = False,
    skip_existing: options.SkipExisting = False,
    model: options.ModelName = None,
    weights: options.WeightsFile = None,
    device: options.Device = "auto",
    precision: options.PrecisionOpt = options.Precision.fp32,
    threads: options.Threads = None,
    tile: options.Tile = "auto",
    passes: options.Passes = 1,
    max_pixels: options.MaxPixels = None,
    max_side: options.MaxSide = None,
    frame: options.Frame = None,
    strip_metadata: options.StripMetadata = False,
    json_output: options.JsonOut = False,
    quiet: options.Quiet = False,
    debug: options.Debug = False,
) -> None:
    """Remove motion blur: [dim]restore deblur photo.jpg[/dim] writes photo_deblurred.png beside it."""
    common.set_debug(debug)
    batch = options.batch_options(locals())
    session = {
        "only": "deblur",
        "deblur_model": options.check_model_choice(model, weights),
        "passes": options.check_passes(passes),
        "tile": options.parse_tile(tile),
    }
    engine = (options.check_device(device), precision, options.check_threads(threads))
    common.run_images(
        label="deblur", options=batch, json_output=json_output, quiet=quiet, engine=engine, session=session
    )
