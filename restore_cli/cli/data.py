"""`restore data synth | from-video`: write blur/sharp training pairs (GoPro layout) to a folder.

Mounted by the root CLI as ``restore data`` (errors go to its one handler). No torch import.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

app = typer.Typer(
    help="Make training pairs: synthetic blur, or frame averaging of videos.", no_args_is_help=True
)


@app.callback()
def _group() -> None:
    """Write blur/sharp pairs that `restore train deblur --data DIR` reads."""


@app.command("synth")
def synth(
    sharp: Path = typer.Option(..., "--sharp", exists=True, file_okay=False, help="Folder of sharp photos."),
    out: Path = typer.Option(..., "--out", help="Output folder (gets synth/blur and synth/sharp)."),
    kind: str = typer.Option("mixed", "--kind", help="motion | gaussian | defocus | mixed."),
    per_image: int = typer.Option(1, "--per-image", min=1, help="Blurred versions per photo."),
    seed: int = typer.Option(0, "--seed", help="Seed (pair j of photo i depends only on seed, i, j)."),
    kernel_size: int = typer.Option(31, "--kernel-size", min=3, help="Size of motion kernels."),
    noise: bool = typer.Option(True, "--noise/--no-noise", help="Add noise and JPEG re-compression."),
    kernels: Path | None = typer.Option(
        None,
        "--kernels",
        exists=True,
        file_okay=False,
        help="Blur each whole photo by one of these recorded kernels (*.npy) instead, chosen by --seed as "
        "training validation chooses them; no noise. E.g. ../shared/data/kernels.",
    ),
) -> None:
    """Blur sharp photos (in linear light) and write aligned pairs in the GoPro layout."""
    from restore_cli.data.tools import write_kernel_pairs, write_synth_pairs

    if kind not in ("motion", "gaussian", "defocus", "mixed"):
        raise typer.BadParameter(f"unknown --kind {kind!r}; choose motion, gaussian, defocus or mixed")
    if kernels is not None:
        n = write_kernel_pairs(sharp, out, kernels, seed)
    else:
        n = write_synth_pairs(sharp, out, kind, per_image, seed, kernel_size, noise)
    sys.stdout.write(json.dumps({"pairs": n, "out": str(out / "synth")}) + "\n")


@app.command("from-video")
def from_video(
    videos: list[Path] = typer.Argument(..., exists=True, dir_okay=False, help="Video files."),
    out: Path = typer.Option(..., "--out", help="Output folder (one sub-folder per video)."),
    frames: str = typer.Option("7-13", "--frames", help="Frames averaged per blurred image: N or N-M."),
    gamma: float = typer.Option(2.2, "--gamma", help="Gamma of the linear-light average."),
    scene_threshold: float = typer.Option(
        0.2, "--scene-threshold", help="Frame difference (0-1) that counts as a scene cut."
    ),
    every: int = typer.Option(10, "--every", min=1, help="At most one pair every K frames."),
    seed: int = typer.Option(0, "--seed", help="Seed of the window lengths."),
) -> None:
    """Average consecutive frames in linear light (blur) with the middle frame as the sharp target."""
    from restore_cli.data.tools import parse_frame_range, video_to_pairs
    from restore_cli.errors import RestoreError

    failed = 0
    frame_range = parse_frame_range(frames)
    for video in videos:
        try:
            stats = video_to_pairs(video, out, frame_range, gamma, scene_threshold, every, seed)
        except RestoreError as exc:
            typer.echo(f"error: {exc}", err=True)
            failed += 1
            continue
        record = {"video": str(video), "frames": stats.frames, "scene_cuts": stats.scene_cuts}
        sys.stdout.write(json.dumps({**record, "pairs": stats.pairs}) + "\n")
    if failed:
        raise typer.Exit(1)

