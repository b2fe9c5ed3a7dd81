"""The values the library accepts for its choices, each listed once.

Nothing is imported here, so the CLI builds its option types from these lists (``cli/options.py``) without
slowing ``restore --help``; the library checks values against the same lists.
"""

from __future__ import annotations

OUTPUT_FORMATS: tuple[str, ...] = ("png", "jpg", "webp", "tiff", "same")
"""``--format`` values: one extension per format written, or ``same`` (the input's). The extensions a file
may have, with their aliases, are ``io.SUPPORTED_OUTPUT_FORMATS`` (io needs Pillow; this module nothing)."""

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".mpo"}
)
"""Extensions picked up from folders and globs (the image commands, benchmark and training folders); files
named explicitly are decoded by content whatever their extension."""

FIXED_ORDERS: tuple[str, ...] = ("deblur-first", "colorize-first")
"""Pipeline orders that run both steps on every image (``restore bench --order`` takes these)."""

ORDERS: tuple[str, ...] = (*FIXED_ORDERS, "auto")
"""``restore pipeline --order``: a fixed order, or ``auto`` (decide per image)."""

WEIGHT_TASKS: tuple[str, ...] = ("deblur", "deblur-gray", "colorize")
"""What a weights file is for (``deblur-gray``: a one-channel deblurring model); defaults are per task."""

DEVICES = "auto, cpu, cuda, cuda:N or mps"
"""``--device`` values (availability is the engine's to check)."""


def parse_device(name: str | None) -> tuple[str, int | None]:
    """``(kind, index)`` of a device name: kind auto, cpu, mps or cuda, index N of cuda:N, else None.

    The one grammar of device names: the engine resolves what it names, the CLI checks it before torch is
    imported. Anything else is a ValueError whose message names the value and the choices.
    """
    text = (name or "auto").strip().lower()
    kind, colon, index = text.partition(":")
    if kind in ("auto", "cpu", "mps") and not colon:
        return kind, None
    if kind == "cuda" and (not colon or index.isdigit()):
        return kind, int(index) if colon else None
    raise ValueError(f"unknown device {name!r}; use {DEVICES}")


MIN_TILE_SIZE = 16
"""The smallest tile a user may ask for (smaller tiles are all overlap and padding)."""


def parse_tile(tile: str | int) -> str | int:
    """``"auto"``, 0 (the whole image) or a tile side of at least :data:`MIN_TILE_SIZE` pixels.

    The one rule for tile sizes (``--tile``, ``restore bench``, the engine's ``tile=``); anything else is a
    ValueError naming the value.
    """
    if isinstance(tile, str):
        text = tile.strip().lower()
        if text == "auto":
            return "auto"
        try:
            tile = int(text)
        except ValueError:
            raise ValueError(f"tile {tile!r} must be auto, 0 or a number of pixels such as 512") from None
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < 0 or 0 < tile < MIN_TILE_SIZE:
        raise ValueError(f"tile {tile!r} is not auto, 0 (whole image) or at least {MIN_TILE_SIZE} pixels")
    return tile


PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "bf16")
"""Arithmetic precisions the engine runs in."""

