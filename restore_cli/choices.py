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

PRECISIONS: tuple[str, ...] = ("fp32", "fp16", "bf16")
"""Arithmetic precisions the engine runs in."""

