"""``restore colorize``: add plausible colour to black-and-white photos (luminance kept exactly)."""

from __future__ import annotations

from restore_cli.cli import common, options


def colorize(
    inputs: options.Inputs,
    recursive: options.Recursive = False,
    output: options.Output = None,
    suffix: options.Suffix = "_colorized",
    fmt: options.Format = options.OutputFormat.png,
    quality: options.Quality = 95,
    overwrite: options.Overwrite = False,
    skip_existing: options.SkipExisting = False,
    model: options.ModelName = None,
    weights: options.WeightsFile = None,
    recolor: options.Recolor = False,
    strength: options.Strength = 1.0,
    device: options.Device = "auto",
    precision: options.PrecisionOpt = options.Precision.fp32,
    threads: options.Threads = None,
    max_pixels: options.MaxPixels = None,
    max_side: options.MaxSide = None,
    frame: options.Frame = None,
    strip_metadata: options.StripMetadata = False,
    json_output: options.JsonOut = False,
    quiet: options.Quiet = False,
    debug: options.Debug = False,
) -> None:
    """Colorize gray photos (colour ones are left alone): [dim]restore colorize old.jpg -o out/[/dim]."""
    from restore_cli.restorer import check_strength

    common.set_debug(debug)
    batch = options.batch_options(locals())
    session = {
        "only": "colorize",
        "colorize_model": options.check_model_choice(model, weights),
        "recolor": recolor,
        "strength": check_strength(strength),
    }
    engine = (options.check_device(device), precision, options.check_threads(threads))
    common.run_images(
        label="colorize", options=batch, json_output=json_output, quiet=quiet, engine=engine, session=session
    )
