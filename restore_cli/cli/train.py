"""`restore train deblur`: train a deblurring model (options or a TOML config with the same keys).

Mounted by the root CLI as ``restore train``; also runs on its own:
``python -m restore_cli.cli.train deblur --data DIR --out FILE.safetensors --iters N``.
No torch import at module level (``restore --help`` stays fast).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

app = typer.Typer(
    help="Train models (deblur, colorize) from photos; see docs/TRAINING.md.", no_args_is_help=True
)


def _int_list(text: str | None, option: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        raise typer.BadParameter(f"{option} takes comma-separated integers, e.g. 1,1,1,8") from None


@app.callback()
def _group() -> None:
    """Train restore's models; each task is a subcommand."""


@app.command("deblur")
def deblur(
    data: str | None = typer.Option(
        None,
        "--data",
        help="Folder of sharp photos (blur made on the fly) or of blur/sharp pairs (GoPro layout).",
    ),
    val: str | None = typer.Option(
        None, "--val", help="Validation folder: sharp photos (blurred by the recorded kernels) or pairs."
    ),
    val_kernels: str | None = typer.Option(
        None, "--val-kernels", help="Folder of recorded kernels (*.npy); default: 'kernels' beside --val."
    ),
    val_size: int | None = typer.Option(
        None, "--val-size", help="Centre-crop size of validation images [256]."
    ),
    val_limit: int | None = typer.Option(
        None, "--val-limit", help="Use only the first N validation images [all]."
    ),
    val_every: int | None = typer.Option(None, "--val-every", help="Validate every N iterations [500]."),
    arch: str | None = typer.Option(None, "--arch", help="Deblur architecture from the registry [nafnet]."),
    hyper: str | None = typer.Option(
        None, "--hyper", help="Hyperparameters as JSON, e.g. '{\"width\": 16}'."
    ),
    width: int | None = typer.Option(None, "--width", help="Shortcut for hyper width."),
    enc_blocks: str | None = typer.Option(
        None, "--enc-blocks", help="Shortcut for hyper enc_blocks, e.g. 1,1,1,8."
    ),
    middle_blocks: int | None = typer.Option(
        None, "--middle-blocks", help="Shortcut for hyper middle_blocks."
    ),
    dec_blocks: str | None = typer.Option(
        None, "--dec-blocks", help="Shortcut for hyper dec_blocks, e.g. 1,1,1,1."
    ),
    synth: str | None = typer.Option(
        None, "--synth", help="On-the-fly blur: motion | gaussian | defocus | mixed [mixed, motion-heavy]."
    ),
    kernel_size: int | None = typer.Option(
        None, "--kernel-size", help="Size of synthetic motion kernels [31]."
    ),
    noise: bool | None = typer.Option(
        None, "--noise/--no-noise", help="Add Gaussian/Poisson noise to inputs [on]."
    ),
    jpeg: bool | None = typer.Option(None, "--jpeg/--no-jpeg", help="JPEG re-compression of inputs [on]."),
    synth_device: str | None = typer.Option(
        None, "--synth-device", help="Where blur is made: auto (GPU if training on one) | worker | device."
    ),
    saturate: float | None = typer.Option(
        None, "--saturate", help="Share of samples with saturated highlights, clipped after blur [0]."
    ),
    sensor_noise: bool | None = typer.Option(
        None, "--sensor-noise/--srgb-noise", help="Poisson-Gaussian noise in linear light [sRGB noise]."
    ),
    random_crf: bool | None = typer.Option(
        None, "--random-crf/--fixed-crf", help="Random camera response (gamma 1.8-2.6) per sample [2.2]."
    ),
    rotation_copies: int | None = typer.Option(
        None, "--rotation-copies", help="Spatially varying shake: rotated copies along the path [1: off]."
    ),
    compile_model: bool | None = typer.Option(
        None, "--compile/--no-compile", help="torch.compile the training forward (for GPU runs) [off]."
    ),
    patch: int | None = typer.Option(None, "--patch", help="Training patch size [128]."),
    batch: int | None = typer.Option(None, "--batch", help="Batch size [8]."),
    iters: int | None = typer.Option(
        None, "--iters", help="Stop after N iterations (also the cosine schedule's length)."
    ),
    time_limit: str | None = typer.Option(
        None, "--time-limit", help="Stop cleanly after this wall time: 5400, 90m, 1h30m."
    ),
    fit_schedule: str | None = typer.Option(
        None, "--fit-schedule", help="Measure the rate, set --iters so the cosine schedule ends in this time."
    ),
    lr: float | None = typer.Option(None, "--lr", help="Peak learning rate (AdamW) [1e-3]."),
    min_lr: float | None = typer.Option(
        None, "--min-lr", help="Final learning rate of the cosine schedule [1e-6]."
    ),
    weight_decay: float | None = typer.Option(None, "--weight-decay", help="AdamW weight decay [0]."),
    warmup: int | None = typer.Option(None, "--warmup", help="Linear warm-up iterations [200]."),
    schedule: str | None = typer.Option(None, "--schedule", help="cosine | step | constant [cosine]."),
    grad_clip: float | None = typer.Option(
        None, "--grad-clip", help="Clip the gradient norm (0: off) [1.0]."
    ),
    ema: float | None = typer.Option(None, "--ema", help="EMA decay of the weights (0: off) [0.999]."),
    loss: str | None = typer.Option(
        None,
        "--loss",
        "--content",
        help="l1 | charbonnier | psnr | logcosh | fft or 'psnr:1,fft:0.05' [psnr].",
    ),
    out: str | None = typer.Option(
        None, "--out", help="Export the (EMA) model to this .safetensors file at the end."
    ),
    export_best: bool | None = typer.Option(
        None, "--export-best/--export-last", help="Export the best-validation EMA instead of the last."
    ),
    checkpoint: str | None = typer.Option(None, "--checkpoint", help="Checkpoint file [OUT with .ckpt.pt]."),
    checkpoint_every: int | None = typer.Option(
        None, "--checkpoint-every", help="Save a checkpoint every N iterations [500]."
    ),
    resume: str | None = typer.Option(
        None, "--resume", help="Continue exactly from a checkpoint (.ckpt.pt)."
    ),
    init: str | None = typer.Option(
        None, "--init", help="Start from exported weights (.safetensors) with a fresh optimiser."
    ),
    log: str | None = typer.Option(None, "--log", help="JSONL log file [OUT with .log.jsonl]."),
    log_every: int | None = typer.Option(None, "--log-every", help="Log/display every N iterations [10]."),
    threads: int | None = typer.Option(
        None, "--threads", help="torch.set_num_threads [1]; 2 only on an idle machine (0: torch default)."
    ),
    workers: int | None = typer.Option(None, "--workers", help="Data worker processes [1]."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of data and initialisation [0]."),
    gray: bool | None = typer.Option(None, "--gray/--rgb", help="Train a gray (1-channel) model."),
    laplacian: bool | None = typer.Option(
        None, "--laplacian", help="Model takes a Laplacian 4th channel (if the arch supports it)."
    ),
    channels_last: bool | None = typer.Option(
        None, "--channels-last/--no-channels-last", help="Use channels_last memory format."
    ),
    device: str | None = typer.Option(None, "--device", help="auto | cpu | cuda [auto]."),
    perceptual_weights: str | None = typer.Option(
        None,
        "--perceptual-weights",
        help="VGG19 safetensors for --loss perceptual (nothing is downloaded). Convert torchvision's "
        'vgg19-dcbb9e9d.pth once: python -c "import torch; from safetensors.torch import save_file; '
        "sd = torch.load('vgg19-dcbb9e9d.pth', weights_only=True); save_file({k: v.contiguous() for k, v in "
        "sd.items() if k.startswith('features.')}, 'vgg19.safetensors')\"",
    ),
    perceptual_layer: str | None = typer.Option(
        None, "--perceptual-layer", help="VGG19 layer compared by the perceptual loss [conv3_3]."
    ),
    amp: str | None = typer.Option(None, "--amp", help="Mixed precision on GPU: none | bf16 | fp16 [none]."),
    gan: str | None = typer.Option(None, "--gan", help="Adversarial training: none | wgan-gp [none]."),
    n_critic: int | None = typer.Option(None, "--n-critic", help="Critic updates per generator step [5]."),
    gp_weight: float | None = typer.Option(None, "--gp-weight", help="Gradient-penalty weight [10]."),
    adv_weight: float | None = typer.Option(None, "--adv-weight", help="Weight of the adversarial loss [1]."),
    label_noise: float | None = typer.Option(
        None, "--label-noise", help="Fraction of critic real/fake labels flipped [0.1]."
    ),
    lambda_content: float | None = typer.Option(
        None, "--lambda-content", help="Content-loss weight (0: 100 with --gan, else 1)."
    ),
    critic_lr: float | None = typer.Option(None, "--critic-lr", help="Critic learning rate (Adam) [1e-4]."),
    config: Path | None = typer.Option(
        None, "--config", help="TOML file with the same keys as these options (unknown keys are an error)."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No live display (the JSONL log is still written)."),
) -> None:
    """Train a deblurring model; prints a JSON summary on stdout when done."""
    from restore_cli.train.config import build_config

    hyper_values = _parse_hyper(hyper)
    shortcuts = {
        "width": width,
        "enc_blocks": _int_list(enc_blocks, "--enc-blocks"),
        "middle_blocks": middle_blocks,
        "dec_blocks": _int_list(dec_blocks, "--dec-blocks"),
    }
    shortcuts = {k: v for k, v in shortcuts.items() if v is not None}
    if shortcuts:
        hyper_values = {**(hyper_values or {}), **shortcuts}
    cfg = build_config(
        config,
        task="deblur",
        data=data,
        val=val,
        val_kernels=val_kernels,
        val_size=val_size,
        val_limit=val_limit,
        val_every=val_every,
        arch=arch,
        hyper=hyper_values,
        synth=synth,
        kernel_size=kernel_size,
        noise=noise,
        jpeg=jpeg,
        synth_device=synth_device,
        saturate=saturate,
        sensor_noise=sensor_noise,
        random_crf=random_crf,
        rotation_copies=rotation_copies,
        compile=compile_model,
        patch=patch,
        batch=batch,
        iters=iters,
        time_limit=time_limit,
        fit_schedule=fit_schedule,
        lr=lr,
        min_lr=min_lr,
        weight_decay=weight_decay,
        warmup=warmup,
        schedule=schedule,
        grad_clip=grad_clip,
        ema=ema,
        loss=loss,
        out=out,
        export_best=export_best,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        resume=resume,
        init=init,
        log=log,
        log_every=log_every,
        threads=threads,
        workers=workers,
        seed=seed,
        gray=gray,
        laplacian=laplacian,
        channels_last=channels_last,
        device=device,
        perceptual_weights=perceptual_weights,
        perceptual_layer=perceptual_layer,
        amp=amp,
        gan=gan,
        n_critic=n_critic,
        gp_weight=gp_weight,
        adv_weight=adv_weight,
        label_noise=label_noise,
        lambda_content=lambda_content,
        critic_lr=critic_lr,
    )
    cfg.check()
    _run(cfg, quiet)


def _run(cfg, quiet: bool) -> None:
    from restore_cli.train.colorize import train_colorize
    from restore_cli.train.trainer import train_deblur

    reporter = None
    if not quiet:
        from restore_cli.train.display import RichReporter

        reporter = RichReporter()
    train = train_colorize if cfg.task == "colorize" else train_deblur
    result = train(cfg, reporter)
    summary = {
        "task": cfg.task,
        "iteration": result.iteration,
        "total_iterations": result.total_iterations,
        "wall_time_s": round(result.wall_time_s, 1),
        "stopped_by": result.stopped_by,
        "val": result.val,
        "out": result.out,
        "checkpoint": result.checkpoint,
    }
    sys.stdout.write(json.dumps(summary) + "\n")


def _parse_hyper(hyper: str | None) -> dict | None:
    """The --hyper JSON object (None when not given); bad JSON is a usage error."""
    if hyper is None:
        return None
    try:
        values = json.loads(hyper)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--hyper is not valid JSON ({exc})") from None
    if not isinstance(values, dict):
        raise typer.BadParameter('--hyper must be a JSON object, e.g. {"width": 16}')
    return values


@app.command("colorize")
def colorize(
    data: list[str] | None = typer.Option(
        None,
        "--data",
        help="Folder of colour photos (gray input made on the fly); repeat to pool several folders.",
    ),
    val: str | None = typer.Option(None, "--val", help="Folder of colour photos for validation."),
    val_size: int | None = typer.Option(
        None, "--val-size", help="Centre-crop size of validation images [256]."
    ),
    val_limit: int | None = typer.Option(None, "--val-limit", help="Use only the first N validation images."),
    val_every: int | None = typer.Option(None, "--val-every", help="Validate every N iterations [500]."),
    arch: str | None = typer.Option(None, "--arch", help="Colorize architecture: unet | eccv16 [unet]."),
    hyper: str | None = typer.Option(
        None, "--hyper", help='Hyperparameters as JSON, e.g. \'{"head": "bins"}\'.'
    ),
    patch: int | None = typer.Option(None, "--patch", help="Training crop size [128]."),
    batch: int | None = typer.Option(None, "--batch", help="Batch size [8]."),
    iters: int | None = typer.Option(
        None, "--iters", help="Stop after N iterations (also the schedule length)."
    ),
    time_limit: str | None = typer.Option(None, "--time-limit", help="Stop cleanly after: 5400, 90m, 1h30m."),
    fit_schedule: str | None = typer.Option(
        None, "--fit-schedule", help="Measure the rate, set --iters so the cosine schedule ends in this time."
    ),
    lr: float | None = typer.Option(None, "--lr", help="Peak learning rate (AdamW) [2e-4]."),
    min_lr: float | None = typer.Option(None, "--min-lr", help="Final learning rate [1e-6]."),
    weight_decay: float | None = typer.Option(None, "--weight-decay", help="AdamW weight decay [0]."),
    warmup: int | None = typer.Option(None, "--warmup", help="Linear warm-up iterations [100]."),
    schedule: str | None = typer.Option(None, "--schedule", help="cosine | step | constant [cosine]."),
    grad_clip: float | None = typer.Option(
        None, "--grad-clip", help="Clip the gradient norm (0: off) [1.0]."
    ),
    ema: float | None = typer.Option(None, "--ema", help="EMA decay of the weights (0: off) [0.999]."),
    lambda_l1: float | None = typer.Option(
        None, "--lambda-l1", help="Weight of L1 on ab/110 (head ab) [100]."
    ),
    rebalance: float | None = typer.Option(
        None, "--rebalance", help="Class-rebalancing lambda for 313-bin heads (1: off) [0.5]."
    ),
    prior: str | None = typer.Option(None, "--prior", help="Cache file of the ab prior [OUT .abprior.npy]."),
    out: str | None = typer.Option(None, "--out", help="Export the (EMA) model to this .safetensors file."),
    export_best: bool | None = typer.Option(
        None,
        "--export-best/--export-last",
        help="Export the best-validation EMA (by PSNR) instead of the last.",
    ),
    checkpoint: str | None = typer.Option(None, "--checkpoint", help="Checkpoint file [OUT .ckpt.pt]."),
    checkpoint_every: int | None = typer.Option(None, "--checkpoint-every", help="Checkpoint every N iters."),
    resume: str | None = typer.Option(None, "--resume", help="Continue exactly from a checkpoint."),
    init: str | None = typer.Option(None, "--init", help="Start from exported weights, fresh optimiser."),
    log: str | None = typer.Option(None, "--log", help="JSONL log file [OUT .log.jsonl]."),
    log_every: int | None = typer.Option(None, "--log-every", help="Log every N iterations [10]."),
    threads: int | None = typer.Option(
        None, "--threads", help="torch.set_num_threads [1] (0: torch default)."
    ),
    workers: int | None = typer.Option(None, "--workers", help="Data worker processes [1]."),
    seed: int | None = typer.Option(None, "--seed", help="Seed [0]."),
    gan: str | None = typer.Option(
        None, "--gan", help="none | wgan-gp (head ab only, pix2pix-style) [none]."
    ),
    n_critic: int | None = typer.Option(None, "--n-critic", help="Critic updates per generator step [5]."),
    gp_weight: float | None = typer.Option(None, "--gp-weight", help="Gradient-penalty weight [10]."),
    adv_weight: float | None = typer.Option(None, "--adv-weight", help="Weight of the adversarial loss [1]."),
    label_noise: float | None = typer.Option(None, "--label-noise", help="Flipped critic labels [0.1]."),
    amp: str | None = typer.Option(None, "--amp", help="Mixed precision on GPU: none | bf16 | fp16."),
    device: str | None = typer.Option(None, "--device", help="auto | cpu | cuda [auto]."),
    config: Path | None = typer.Option(
        None, "--config", help="TOML file with the same keys as these options."
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No live display."),
) -> None:
    """Train a colorizer (L in, ab out); prints a JSON summary on stdout when done."""
    from restore_cli.train.config import build_config

    options = dict(locals())
    for key in ("config", "quiet", "build_config", "hyper"):
        options.pop(key, None)
    # One folder stays a plain string (as in older checkpoints); several are a list; none: TOML or error.
    options["data"] = (data[0] if len(data) == 1 else list(data)) if data else None
    cfg = build_config(config, task="colorize", hyper=_parse_hyper(hyper), **options)
    cfg.check()
    _run(cfg, quiet)

