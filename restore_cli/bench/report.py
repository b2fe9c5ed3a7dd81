"""Present benchmark records: a rich table, JSON, CSV, and a report folder (markdown, contact sheets, chart).

Images are drawn with Pillow (no matplotlib): a contact sheet per model row (input | output | ground truth
crops of its worst and best image by PSNR) and a bar chart of PSNR next to ms per megapixel.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from restore_cli.bench.runner import RECORD_KEYS, BenchResult, slug
from restore_cli.fsutil import atomic_write

# (record key, column title, format) in table order; columns with no value in any row are left out.
COLUMNS = (
    ("row", "row", "{}"),
    ("images", "images", "{}"),
    ("psnr", "PSNR dB", "{:.2f}"),
    ("ssim", "SSIM", "{:.4f}"),
    ("mse", "MSE", "{:.2f}"),
    ("mae", "MAE", "{:.2f}"),
    ("colorfulness", "colourful", "{:.1f}"),
    ("colorfulness_gap", "colour gap", "{:+.1f}"),
    ("ab_error", "ab err", "{:.2f}"),
    ("sharpness", "sharpness", "{:.0f}"),
    ("ms_per_image", "ms/img", "{:.1f}"),
    ("ms_per_mp", "ms/MP", "{:.1f}"),
    ("images_per_s", "img/s", "{:.2f}"),
    ("peak_memory_mb", "peak MiB", "{:.0f}"),  # the key says mb; the value is MiB (2**20 bytes)
    ("params", "params", "{:,}"),
    ("macs_per_mp", "GMAC/MP", "{}"),
)


def _cell(key: str, fmt: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "macs_per_mp":
        return f"{value / 1e9:.2f}"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return fmt.format(value)


def _columns(records: Sequence[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [c for c in COLUMNS if any(r.get(c[0]) is not None for r in records)]


def _title(records: Sequence[dict[str, Any]]) -> str:
    if not records:
        return "restore bench"
    first = records[0]
    ssim = next((r["ssim_variant"] for r in records if r.get("ssim_variant")), None)
    parts = [f"dataset {first['dataset']}", f"task {first['task']}", f"device {first['device']}"]
    parts.append(f"precision {first['precision']}")
    if ssim:
        parts.append(f"SSIM {ssim}")
    if first.get("aligned"):
        parts.append("ECC-aligned")
    if any(r.get("partial") for r in records):
        parts.append("PARTIAL (interrupted)")
    return "restore bench: " + ", ".join(parts)


# Which columns stay when the table must fit a narrow terminal, most wanted first.
PRIORITY = (
    "row", "psnr", "ssim", "ab_error", "colorfulness_gap", "ms_per_mp", "peak_memory_mb", "ms_per_image",
    "images", "images_per_s", "params", "macs_per_mp", "mse", "mae", "colorfulness", "sharpness",
)  # fmt: skip


def _fitting(records: Sequence[dict[str, Any]], width: int) -> list[tuple[str, str, str]]:
    """The columns, in table order, that fit in ``width`` characters, taken in PRIORITY order."""
    columns = _columns(records)
    needed = {
        key: 3 + max([len(title)] + [len(_cell(key, fmt, r.get(key))) for r in records])
        for key, title, fmt in columns
    }
    chosen: set[str] = set()
    used = 1  # the table's right border
    for key in PRIORITY:
        if key in needed and (used + needed[key] <= width or not chosen):
            chosen.add(key)
            used += needed[key]
    return [c for c in columns if c[0] in chosen]


def rich_table(records: Sequence[dict[str, Any]], width: int | None = None):
    """A rich Table of the records (one row each); with ``width``, only the columns that fit (by PRIORITY)
    and a caption saying where the others are."""
    from rich.table import Table

    columns = _columns(records)
    shown = columns if width is None else _fitting(records, width)
    left_out = len(columns) - len(shown)
    caption = f"{left_out} more columns: widen the terminal, or use --json / --csv" if left_out else None
    table = Table(title=_title(records), caption=caption)
    columns = shown
    for key, title, _ in columns:
        table.add_column(title, justify="left" if key == "row" else "right")
    for record in records:
        table.add_row(*[_cell(key, fmt, record.get(key)) for key, _, fmt in columns])
    return table


def markdown_table(records: Sequence[dict[str, Any]]) -> str:
    """The records as a GitHub markdown table."""
    columns = _columns(records)
    lines = ["| " + " | ".join(title for _, title, _ in columns) + " |"]
    lines.append("|" + "|".join("---" if key == "row" else "---:" for key, _, _ in columns) + "|")
    for record in records:
        lines.append("| " + " | ".join(_cell(key, fmt, record.get(key)) for key, _, fmt in columns) + " |")
    return "\n".join(lines)


def json_value(value: Any) -> Any:
    """A record value as JSON holds it: NaN as null, infinities as "inf" / "-inf" (--json, --json-out)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def write_json(path: Path, records: Sequence[dict[str, Any]], warnings: Sequence[str] = ()) -> None:
    """``{"schema", "records": [...], "warnings": [...]}``; infinite PSNR is written as the string "inf"."""
    payload = {
        "schema": "restore-bench/1",
        "records": [{k: json_value(r.get(k)) for k in RECORD_KEYS} for r in records],
        "warnings": list(warnings),
    }
    atomic_write(Path(path), json.dumps(payload, indent=2) + "\n")


def write_csv(path: Path, records: Sequence[dict[str, Any]]) -> None:
    """One line per record, columns in RECORD_KEYS order, empty cells for None."""
    import io

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(RECORD_KEYS))
    writer.writeheader()
    for record in records:
        writer.writerow({k: "" if record.get(k) is None else record.get(k) for k in RECORD_KEYS})
    atomic_write(Path(path), buffer.getvalue())


# ------------------------------------------------------------------------------------------- images


def _font():
    from PIL import ImageFont

    return ImageFont.load_default()


def contact_sheet(entries: Sequence[tuple[str, float, str, Sequence[np.ndarray]]], title: str):
    """A PIL image: one line per entry (label, psnr, name, [input, output, truth] crops)."""
    from PIL import Image, ImageDraw

    crop = max((c.shape[0] for _, _, _, crops in entries for c in crops), default=64)
    pad, header = 6, 18
    width = 3 * crop + 4 * pad
    height = header + len(entries) * (crop + header + pad) + pad
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    draw.text((pad, 3), title[:80], fill=(0, 0, 0), font=_font())
    y = header
    for label, psnr, name, crops in entries:
        draw.text(
            (pad, y + 3), f"{label}: {name} ({psnr:.2f} dB)  input | output | truth"[:90], fill=(0, 0, 0)
        )
        y += header
        for i, image in enumerate(crops):
            sheet.paste(Image.fromarray(np.ascontiguousarray(image)), (pad + i * (crop + pad), y))
        y += crop + pad
    return sheet


def bar_chart(records: Sequence[dict[str, Any]]):
    """A PIL image: per row, a bar of PSNR (left panel) and a bar of ms per megapixel (right panel)."""
    from PIL import Image, ImageDraw

    rows = [r for r in records if r.get("psnr") is not None or r.get("ms_per_mp") is not None]
    label_w, panel_w, bar_h, pad = 220, 260, 18, 8
    width = label_w + 2 * panel_w + 4 * pad
    height = 40 + len(rows) * (bar_h + pad) + pad
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    x_psnr = label_w + pad
    x_ms = x_psnr + panel_w + 2 * pad
    draw.text((x_psnr, 8), "PSNR (dB), higher is better", fill=(0, 0, 0))
    draw.text((x_ms, 8), "ms per megapixel, lower is faster", fill=(0, 0, 0))
    finite = [r["psnr"] for r in rows if r.get("psnr") is not None and math.isfinite(r["psnr"])]
    psnr_max = max(finite, default=1.0) or 1.0
    ms_max = max((r["ms_per_mp"] for r in rows if r.get("ms_per_mp") is not None), default=1.0) or 1.0
    y = 32
    for record in rows:
        draw.text((pad, y + 3), str(record["row"])[:34], fill=(0, 0, 0))
        psnr = record.get("psnr")
        if psnr is not None:
            value = psnr if math.isfinite(psnr) else psnr_max
            length = int((panel_w - 50) * value / psnr_max)
            draw.rectangle([x_psnr, y, x_psnr + length, y + bar_h], fill=(70, 130, 180))
            draw.text((x_psnr + length + 4, y + 3), f"{psnr:.2f}", fill=(0, 0, 0))
        ms = record.get("ms_per_mp")
        if ms is not None:
            length = int((panel_w - 60) * ms / ms_max)
            draw.rectangle([x_ms, y, x_ms + length, y + bar_h], fill=(205, 120, 60))
            draw.text((x_ms + length + 4, y + 3), f"{ms:.0f}", fill=(0, 0, 0))
        y += bar_h + pad
    return image


def _save_png(image: Any, path: Path) -> None:
    """Write a drawn Pillow image through restore_cli.io (atomic, like every file the tool writes)."""
    from restore_cli.io import write_rgb8

    write_rgb8(np.asarray(image.convert("RGB")), path)


def write_report(folder: Path, result: BenchResult) -> Path:
    """Write report.md, contact_<row>.png per model row and chart.png into ``folder``; returns report.md."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    records = result.records
    lines = [f"# {_title(records)}", "", markdown_table(records), ""]
    if result.warnings:
        lines += ["## Warnings", ""] + [f"- {w}" for w in result.warnings] + [""]
    lines += [
        "PSNR: full RGB, 8-bit, no crop (10 log10(255^2 / MSE) over all pixels and channels). "
        "SSIM variant as named above. Times cover model calls only, after a warm-up.",
        "",
    ]
    if any(r.get("psnr") is not None or r.get("ms_per_mp") is not None for r in records):
        _save_png(bar_chart(records), folder / "chart.png")
        lines += ["![PSNR and ms/MP](chart.png)", ""]
    for record in records:
        if record.get("model") is None:
            continue
        picks = result.samples.get(record["row"], {})
        entries = [
            (label, picks[label][0], picks[label][1], picks[label][2])
            for label in ("worst", "best")
            if picks.get(label) is not None
        ]
        if not entries:
            continue
        name = f"contact_{slug(record['row'])}.png"
        _save_png(contact_sheet(entries, record["row"]), folder / name)
        lines += [f"## {record['row']}", "", f"![{record['row']}]({name})", ""]
    report = folder / "report.md"
    atomic_write(report, "\n".join(lines))
    return report


__all__ = [
    "bar_chart",
    "json_value",
    "contact_sheet",
    "markdown_table",
    "rich_table",
    "write_csv",
    "write_json",
    "write_report",
]
