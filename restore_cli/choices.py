"""The values the library accepts for its choices, each listed once.

Nothing is imported here, so the CLI builds its option types from these lists (``cli/options.py``) without
slowing ``restore --help``; the library checks values against the same lists.
"""

from __future__ import annotations

OUTPUT_EXTENSIONS: dict[str, str] = {
    "png": "PNG",
    "jpg": "JPEG",
    "jpeg": "JPEG",
    "webp": "WEBP",
    "tif": "TIFF",
    "tiff": "TIFF",
}
"""Output file extension (lower case, no dot) -> the format written (``io.SUPPORTED_OUTPUT_FORMATS``)."""

OUTPUT_FORMATS: tuple[str, ...] = ("png", "jpg", "webp", "tiff", "same")
"""``--format`` values: one extension per format written, or ``same`` (the input's)."""

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".mpo"}
)
"""Extensions picked up from folders and globs (the image commands, benchmark and training folders); files
named explicitly are decoded by content whatever their extension."""

FIXED_ORDERS: tuple[str, ...] = ("deblur-first", "colorize-first")
"""Pipeline orders that run both steps on every image (``restore bench --order`` takes these)."""

ORDERS: tuple[str, ...] = (*FIXED_ORDERS, "auto")
"""``restore pipeline --order``: a fixed order, or ``auto`` (decide per image)."""

PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "bf16")
"""Arithmetic precisions the engine runs in."""


def output_extension(fmt: str) -> str:
    """The one spelling of an output format: lower case, no dot, ``jpeg`` -> ``jpg``, ``tif`` -> ``tiff``."""
    fmt = (fmt or "png").lower().lstrip(".")
    return {"jpeg": "jpg", "tif": "tiff"}.get(fmt, fmt)


def extension_of_format(file_format: str | None) -> str | None:
    """The output extension for a decoded image's format (``JPEG`` -> ``jpg``), or None if not writable."""
    for ext, name in OUTPUT_EXTENSIONS.items():
        if name == str(file_format or "").upper() and ext in OUTPUT_FORMATS:
            return ext
    return None
