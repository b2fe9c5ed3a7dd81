"""The options the image commands share, declared once: types, help, panels, and the checks made before any
model loads. Choices come from the library's lists (:mod:`restore_cli.choices`), never a second copy.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from restore_cli import choices
from restore_cli.errors import UsageError


def choice_enum(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A str Enum whose members are ``values`` (Typer shows and checks them as the option's choices)."""
    return Enum(name, {value: value for value in values}, type=str)  # type: ignore[return-value]


OutputFormat = choice_enum("OutputFormat", choices.OUTPUT_FORMATS)
Precision = choice_enum("Precision", choices.PRECISIONS)
Order = choice_enum("Order", choices.ORDERS)

IN = "Input and output"
MODEL = "Model and device"
LIMITS = "Limits"
REPORT = "Reporting"

Inputs = Annotated[
    list[str],
    typer.Argument(
        help="Image files, folders or globs (quote globs: 'scans/*.jpg'); - reads one image from stdin.",
        show_default=False,
        metavar="IMAGES...",
    ),
]
Recursive = Annotated[
    bool, typer.Option("--recursive", "-r", help="Also look into subfolders.", rich_help_panel=IN)
]
Output = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        help="Output file (one input) or folder (several; a tree is mirrored); - is stdout. "
        "Default: beside the input.",
        rich_help_panel=IN,
        show_default=False,
        metavar="PATH",
    ),
]
Suffix = Annotated[
    str,
    typer.Option("--suffix", help="Added to the output file name.", rich_help_panel=IN, metavar="TEXT"),
]
Format = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        "-f",
        help="Output format; png keeps alpha and 16 bits; 'same' keeps the input's.",
        rich_help_panel=IN,
    ),
]
Overwrite = Annotated[
    bool, typer.Option("--overwrite", help="Replace existing outputs (never an input).", rich_help_panel=IN)
]
SkipExisting = Annotated[
    bool,
    typer.Option(
        "--skip-existing",
        help="Skip images whose output already exists (resume a batch).",
        rich_help_panel=IN,
    ),
]
Quality = Annotated[
    int,
    typer.Option(
        "--quality", help="JPEG and WebP quality, 1-100 (other formats are lossless).", rich_help_panel=IN
    ),
]
StripMetadata = Annotated[
    bool,
    typer.Option("--strip-metadata", help="Do not copy EXIF metadata to the output.", rich_help_panel=IN),
]
ModelName = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Weights by name (see 'restore weights list').",
        rich_help_panel=MODEL,
        metavar="NAME",
    ),
]
WeightsFile = Annotated[
    Path | None,
    typer.Option(
        "--weights", "-w", help="A .safetensors weights file.", rich_help_panel=MODEL, metavar="FILE"
    ),
]
Device = Annotated[
    str,
    typer.Option("--device", help=f"{choices.DEVICES}.", rich_help_panel=MODEL, metavar="DEVICE"),
]
Threads = Annotated[
    int | None,
    typer.Option(
        "--threads",
        help="CPU threads for the model (default: RESTORE_THREADS if set, else the engine's choice).",
        rich_help_panel=MODEL,
        show_default=False,
        metavar="N",
    ),
]
PrecisionOpt = Annotated[
    Precision, typer.Option("--precision", help="Arithmetic precision on the device.", rich_help_panel=MODEL)
]
Tile = Annotated[
    str,
    typer.Option(
        "--tile",
        help="Tile size in pixels: auto (from free memory), 0 (whole image) or N.",
        rich_help_panel=MODEL,
        metavar="auto|0|N",
    ),
]
MAX_PASSES = 16
Passes = Annotated[
    int,
    typer.Option(
        "--passes", help="Apply the deblur model N times (1-16).", rich_help_panel=MODEL, metavar="N"
    ),
]
Recolor = Annotated[
    bool,
    typer.Option(
        "--recolor",
        help="Colorize colour photos too (by default only gray photos are colorized).",
        rich_help_panel=MODEL,
    ),
]
Strength = Annotated[
    float,
    typer.Option(
        "--strength",
        help="Colour strength: 0 gray, 1 the model's colour, up to 2 more saturated.",
        metavar="X",
        rich_help_panel=MODEL,
    ),
]
MaxPixels = Annotated[
    int | None,
    typer.Option(
        "--max-pixels",
        min=1,
        metavar="N",
        help="Refuse larger images (default: Pillow's bomb limit, 89,478,485 pixels).",
        rich_help_panel=LIMITS,
        show_default=False,
    ),
]
MaxSide = Annotated[
    int | None,
    typer.Option(
        "--max-side",
        min=1,
        metavar="N",
        help="Refuse images with a longer side (default: 32768).",
        rich_help_panel=LIMITS,
        show_default=False,
    ),
]
Frame = Annotated[
    int | None,
    typer.Option(
        "--frame",
        min=0,
        metavar="N",
        help="Frame to use from an animated or multi-frame image (refused otherwise).",
        rich_help_panel=LIMITS,
        show_default=False,
    ),
]
JsonOut = Annotated[
    bool, typer.Option("--json", help="One JSON record per image on stdout.", rich_help_panel=REPORT)
]
Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="No start line, results or progress; errors only.", rich_help_panel=REPORT
    ),
]
Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.", rich_help_panel=REPORT)]


def batch_options(values: dict[str, Any]) -> Any:
    """The command's input, output and limit options (its parameters, by name) as one ``BatchOptions``."""
    from dataclasses import fields

    from restore_cli.batch import BatchOptions

    given = {f.name: values[f.name] for f in fields(BatchOptions) if f.name in values}
    given["inputs"] = tuple(given["inputs"])
    given["fmt"] = given["fmt"].value
    return BatchOptions(**given)


# ------------------------------------------------------------------------------------------ validation

def check_device(device: str) -> str:
    """A device name by the library's grammar (the engine checks availability, still before loading)."""
    try:
        choices.parse_device(device)
    except ValueError as exc:
        raise UsageError(f"--device: {exc}") from None
    return device.strip().lower()


def parse_tile(tile: str) -> str | int:
    """'auto', 0 (whole image) or a tile size in pixels (the library's rule, :func:`choices.parse_tile`)."""
    try:
        return choices.parse_tile(tile)
    except ValueError as exc:
        raise UsageError(f"--{exc}") from None


def check_model_choice(model: str | None, weights: Path | None, option: str = "--weights") -> str | None:
    """The weights reference to load: a named model, a checked .safetensors path, or None (the default)."""
    if model and weights:
        raise UsageError(f"give either --model or {option}, not both")
    from restore_cli.restorer import check_model_name

    check_model_name(model)  # an unknown name is a usage error, found before anything loads
    if weights is not None:
        if not weights.exists():
            raise UsageError("weights file not found; check the path given to " + option, weights)
        if weights.is_dir():
            raise UsageError(f"is a folder; {option} needs a .safetensors file", weights)
        if weights.suffix.lower() != ".safetensors":
            raise UsageError(
                f"{option} needs a .safetensors file; convert checkpoints with 'restore weights import'",
                weights,
            )
        return str(weights)
    return model


def check_passes(passes: int) -> int:
    if not 1 <= passes <= MAX_PASSES:
        raise UsageError(f"--passes {passes} is out of range; use 1 to {MAX_PASSES}")
    return passes


def check_threads(threads: int | None) -> int | None:
    if threads is not None and threads < 1:
        raise UsageError(f"--threads {threads} must be at least 1")
    return threads
