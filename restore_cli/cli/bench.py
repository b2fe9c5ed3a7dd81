"""``restore bench``: measure models' quality, speed and memory on a dataset, the way papers report them.

No torch import here: the work happens in ``restore_cli.bench`` (imported inside the command).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from restore_cli.cli import common, options


class BenchTask(str, Enum):
    deblur = "deblur"
    colorize = "colorize"
    pipeline = "pipeline"


class SsimVariant(str, Enum):
    matlab3d = "matlab3d"
    skimage = "skimage"


def bench(
    dataset: Annotated[
        str,
        typer.Option(
            "--dataset",
            help="synthetic, gopro, hide, realblur-j, realblur-r, reds, kaggle-blur, or a folder of pairs "
            "(blur/+sharp/ or input/+target/) or, for colorize, of colour photos.",
        ),
    ] = "synthetic",
    task: Annotated[BenchTask, typer.Option("--task", help="What to benchmark.")] = BenchTask.deblur,
    root: Annotated[
        Path | None,
        typer.Option("--root", help="Where the named dataset lives (default: $RESTORE_DATA/<name>)."),
    ] = None,
    models: Annotated[
        str | None, typer.Option("--models", help="Comma-separated manifest names or weights files.")
    ] = None,
    weights: Annotated[
        list[Path] | None,
        typer.Option("--weights", help="A .safetensors weights file (repeatable).", dir_okay=False),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Use only the first N images.")] = None,
    device: options.Device = "auto",
    precision: options.PrecisionOpt = options.Precision.fp32,
    tile: options.Tile = "auto",
    passes: Annotated[
        str, typer.Option("--passes", help="Deblurring passes, e.g. 1,2,3 (one row each).")
    ] = "1",
    order: Annotated[
        str,
        typer.Option("--order", help="Pipeline orders, e.g. deblur-first,colorize-first (one row each)."),
    ] = "deblur-first",
    ssim: Annotated[
        SsimVariant,
        typer.Option("--ssim", help="matlab3d (MATLAB on RGB volumes, the GoPro convention) or skimage."),
    ] = SsimVariant.matlab3d,
    blur_gamma: Annotated[
        bool, typer.Option("--blur-gamma", help="GoPro: use blur_gamma/ instead of blur/.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="One JSON record per row on stdout instead of the table.")
    ] = False,
    json_file: Annotated[
        Path | None,
        typer.Option("--json-out", help="Also write the records as a JSON file.", metavar="FILE"),
    ] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Also write the records as CSV.", metavar="FILE")
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            help="CPU threads for the models (default: RESTORE_THREADS if set, else the engine's choice).",
            metavar="N",
            show_default=False,
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write report.md, contact sheets and a chart here.")
    ] = None,
    save_outputs: Annotated[
        Path | None, typer.Option("--save-outputs", help="Write every model output (PNG) under this folder.")
    ] = None,
    debug: options.Debug = False,
) -> None:
    """Benchmark models: [dim]restore bench --dataset gopro --root ~/data/GOPRO_Large[/dim]."""
    common.set_debug(debug)  # errors reach the root group's one handler (a traceback only with --debug)
    _bench(
        common.err_console(),
        dataset=dataset,
        task=task.value,
        root=root,
        refs=[m.strip() for m in (models or "").split(",") if m.strip()]
        + [str(w) for w in weights or []],
        limit=limit,
        device=device,
        precision=precision.value,
        tile=tile,
        passes=passes,
        order=order,
        ssim=ssim.value,
        blur_gamma=blur_gamma,
        json_output=json_output,
        threads=threads,
        json_file=json_file,
        csv_file=csv_file,
        report=report,
        save_outputs=save_outputs,
    )


def _bench(err, *, dataset, task, root, refs, limit, device, precision, tile, passes, order, ssim, blur_gamma,
           json_output, threads, json_file, csv_file, report, save_outputs) -> None:  # fmt: skip
    """Check options, open the dataset (both before any model loads), run, and print/write results."""
    from rich.console import Console

    from restore_cli.bench import report as reporting
    from restore_cli.bench.datasets import open_dataset
    from restore_cli.bench.runner import (
        build_rows,
        load_bench_models,
        parse_int_list,
        parse_orders,
        run_benchmark,
    )
    from restore_cli.progress import progress_bar

    options.check_threads(threads)
    tile = options.parse_tile(tile)  # the image commands' one --tile rule
    pass_list = parse_int_list(passes, "passes")
    orders = parse_orders(order)
    data = open_dataset(dataset, root=root, task=task, blur_gamma=blur_gamma).limited(limit)
    models, warnings, resolved = load_bench_models(
        refs, task=task, device=device, precision=precision, tile=tile, threads=threads
    )
    data.warnings = list(data.warnings) + warnings
    rows = build_rows(task, models, pass_list, orders)
    for warning in data.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}")

    progress = progress_bar(err)
    with progress:
        job = progress.add_task(f"bench {data.name}", total=len(data.samples))
        result = run_benchmark(
            data,
            rows,
            ssim_variant=ssim,
            device=resolved,
            precision=precision,
            save_outputs=save_outputs,
            progress=lambda done, total, name: progress.update(job, completed=done),
        )
    if json_output:
        import json
        import sys

        for record in result.records:
            clean = {k: reporting.json_value(record.get(k)) for k in reporting.RECORD_KEYS}
            sys.stdout.write(json.dumps(clean) + "\n")
    else:
        out = Console(soft_wrap=True)
        if out.is_terminal:  # fit the terminal: the most wanted columns, the rest named in a caption
            out.print(reporting.rich_table(result.records, width=out.width))
        else:  # piped or captured: every column
            Console(soft_wrap=True, width=400).print(reporting.rich_table(result.records))
    for warning in result.warnings[len(data.warnings) :]:
        err.print(f"[yellow]warning:[/yellow] {warning}")
    if json_file is not None:
        reporting.write_json(json_file, result.records, result.warnings)
    if csv_file is not None:
        reporting.write_csv(csv_file, result.records)
    if report is not None:
        written = reporting.write_report(report, result)
        err.print(f"report written to {written}")
    if result.interrupted:
        err.print("[yellow]interrupted[/yellow]: the table shows the images measured so far")
        raise typer.Exit(130)

