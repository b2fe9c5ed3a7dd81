"""Typed training configuration: one dataclass, filled from a TOML file and/or command-line options.

The TOML keys are the field names (``--time-limit`` is ``time_limit``, dashes are accepted too); an unknown
key is an error naming the file and the key, so a typo never silently trains the wrong model.
"""

from __future__ import annotations

import json
import os
import re
import sys
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, published as tomli (a dependency there only)
    import tomli as tomllib

from restore_cli.choices import DEVICES
from restore_cli.errors import UsageError

DEBLUR = ("deblur",)
COLORIZE = ("colorize",)
BOTH = ("deblur", "colorize")


@dataclass(frozen=True)
class CliOption:
    """How `restore train` offers a `TrainConfig` field as an option (cli/train.py builds the options).

    ``help`` is the option's help, or one per command; ``tasks`` are the commands that take it; ``names`` are
    its option names when not ``--field-name`` (``--field-name/--no-field-name`` for a switch). The help
    shows the task's default unless it is None or empty; say in ``help`` what that means.
    """

    help: str | dict[str, str]
    tasks: tuple[str, ...] = BOTH
    names: tuple[str, ...] = ()

    def help_for(self, task: str) -> str:
        return self.help[task] if isinstance(self.help, dict) else self.help


def option(default: Any = MISSING, *, factory: Any = MISSING, **cli: Any) -> Any:
    """A `TrainConfig` field that is also a `restore train` option (``cli``: the CliOption's fields)."""
    return field(default=default, default_factory=factory, metadata={"cli": CliOption(**cli)})


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved in checkpoints and summarised in exported weights).

    A field made with ``option(...)`` is also an option of the `restore train` commands named in its
    ``tasks``; the others (``betas``, ``step_every``, ...) are set in the TOML file only.
    """

    task: str = "deblur"
    # One folder; colorization also takes a list (photos of all folders pooled).
    data: str | list[str] = option(
        "",
        help={
            "deblur": "Folder of sharp photos (blur made on the fly) or of blur/sharp pairs (GoPro layout).",
            "colorize": "Folder of colour photos (gray input made on the fly); repeat it to pool folders.",
        },
    )
    val: str | None = option(
        None,
        help={
            "deblur": "Validation folder: sharp photos (blurred by the recorded kernels) or pairs.",
            "colorize": "Folder of colour photos for validation.",
        },
    )
    val_kernels: str | None = option(
        None, help="Folder of recorded kernels (*.npy); default: 'kernels' beside --val.", tasks=DEBLUR
    )
    val_size: int = option(256, help="Centre-crop size of validation images.")
    val_limit: int = option(0, help="Use only the first N validation images (0: all).")
    val_every: int = option(500, help="Validate every N iterations.")
    val_seed: int = 0
    arch: str = option(
        "nafnet",
        help={"deblur": "Deblur architecture from the registry.", "colorize": "Colorize architecture."},
    )
    hyper: dict[str, Any] = option(
        factory=dict,
        help={
            "deblur": "Hyperparameters as JSON, e.g. '{\"width\": 16}'.",
            "colorize": 'Hyperparameters as JSON, e.g. \'{"head": "bins"}\'.',
        },
    )
    synth: str = option(  # ignored when --data holds pairs
        "mixed", help="On-the-fly blur: motion | gaussian | defocus | mixed (motion-heavy).", tasks=DEBLUR
    )
    kernel_size: int = option(31, help="Size of synthetic motion kernels.", tasks=DEBLUR)
    noise: bool = option(True, help="Add Gaussian/Poisson noise to inputs.", tasks=DEBLUR)
    jpeg: bool = option(True, help="JPEG re-compression of inputs.", tasks=DEBLUR)
    # "worker": data workers, NumPy/OpenCV; "device": the training device, as a batch in torch.
    # See restore_cli/data/degrade.py.
    synth_device: str = option(
        "auto", help="Where blur is made: auto (GPU if training on one) | worker | device.", tasks=DEBLUR
    )
    # Closer to real cameras (off by default until a GPU run shows they help; docs/TRAINING.md).
    saturate: float = option(  # brightened above 1 before the blur
        0.0, help="Share of samples with saturated highlights, clipped after blur.", tasks=DEBLUR
    )
    sensor_noise: bool = option(
        False,
        help="Poisson-Gaussian noise in linear light (else Poisson + Gaussian in sRGB).",
        tasks=DEBLUR,
        names=("--sensor-noise/--srgb-noise",),
    )
    random_crf: bool = option(
        False,
        help="Random camera response (gamma 1.8-2.6) per sample (else gamma 2.2).",
        tasks=DEBLUR,
        names=("--random-crf/--fixed-crf",),
    )
    rotation_copies: int = option(
        1, help="Spatially varying shake: rotated copies along the path (1: off).", tasks=DEBLUR
    )
    compile: bool = option(  # GPU sessions: measure it
        False, help="torch.compile the training forward (for GPU runs).", tasks=DEBLUR
    )
    patch: int = option(128, help="Training patch (crop) size.")
    batch: int = option(8, help="Batch size.")
    iters: int = option(  # also the horizon of the lr schedule
        0, help="Stop after N iterations, also the schedule's length (0: no limit; give --time-limit)."
    )
    time_limit: str | float = option(0, help="Stop cleanly after this wall time: 5400, 90m, 1h30m (0: none).")
    # The rate is measured over the first iterations (during the warm-up, whose learning rates do not
    # depend on --iters) and --iters is set so the cosine schedule ends inside it, then set again once the
    # rate has settled (trainer.fit_points). For lent GPUs (scripts/gpu_train.py).
    fit_schedule: str | float = option(
        0, help="Measure the rate, set --iters so the cosine schedule ends in this time (0: off)."
    )
    lr: float = option(1e-3, help="Peak learning rate (AdamW).")
    min_lr: float = option(1e-6, help="Final learning rate of the cosine schedule.")
    weight_decay: float = option(0.0, help="AdamW weight decay.")
    betas: list[float] = field(default_factory=lambda: [0.9, 0.9])
    warmup: int = option(200, help="Linear warm-up iterations.")
    schedule: str = option("cosine", help="cosine | step | constant.")
    step_every: int = 0  # step schedule: halve the lr every N iterations (0: iters // 4)
    grad_clip: float = option(1.0, help="Clip the gradient norm (0: off).")
    ema: float = option(0.999, help="EMA decay of the weights (0: off).")
    loss: str = option(
        "psnr",
        help="l1 | charbonnier | psnr | logcosh | fft | perceptual, or weighted: 'psnr:1,fft:0.05'.",
        tasks=DEBLUR,
        names=("--loss", "--content"),
    )
    out: str | None = option(None, help="Export the (EMA) model to this .safetensors file at the end.")
    export_best: bool = option(
        False,
        help="Export the best-validation EMA (by PSNR) instead of the last.",
        names=("--export-best/--export-last",),
    )
    checkpoint: str | None = option(None, help="Checkpoint file; default: OUT with .ckpt.pt.")
    checkpoint_every: int = option(500, help="Save a checkpoint every N iterations.")
    resume: str | None = option(None, help="Continue exactly from a checkpoint (.ckpt.pt).")
    init: str | None = option(None, help="Start from exported weights (.safetensors) with a fresh optimiser.")
    log: str | None = option(None, help="JSONL log file; default: OUT with .log.jsonl.")
    log_every: int = option(10, help="Log/display every N iterations.")
    # 1 is >10x faster than torch's default on a busy 2-core CPU.
    threads: int = option(1, help="torch.set_num_threads; 2 only on an idle machine (0: torch default).")
    workers: int = option(1, help="Data worker processes.")
    seed: int = option(0, help="Seed of data and initialisation.")
    gray: bool = option(False, help="Train a gray (1-channel) model.", tasks=DEBLUR, names=("--gray/--rgb",))
    laplacian: bool = option(
        False, help="Model takes a Laplacian 4th channel (if the arch supports it).", tasks=DEBLUR
    )
    channels_last: bool = option(False, help="Use channels_last memory format.", tasks=DEBLUR)
    device: str = option("auto", help=f"{DEVICES}.")
    perceptual_weights: str | None = option(  # user-supplied
        None,
        help="VGG19 safetensors for --loss perceptual (nothing is downloaded). Convert torchvision's "
        'vgg19-dcbb9e9d.pth once: python -c "import torch; from safetensors.torch import save_file; '
        "sd = torch.load('vgg19-dcbb9e9d.pth', weights_only=True); save_file({k: v.contiguous() for k, v in "
        "sd.items() if k.startswith('features.')}, 'vgg19.safetensors')\"",
        tasks=DEBLUR,
    )
    perceptual_layer: str = option(
        "conv3_3", help="VGG19 layer compared by the perceptual loss.", tasks=DEBLUR
    )
    amp: str = option("none", help="Mixed precision on GPU (ignored on CPU): none | bf16 | fp16.")
    # adversarial training (WGAN-GP with a PatchGAN critic)
    gan: str = option(
        "none",
        help={
            "deblur": "Adversarial training: none | wgan-gp.",
            "colorize": "Adversarial training: none | wgan-gp (head ab only, pix2pix-style).",
        },
    )
    n_critic: int = option(5, help="Critic updates per generator step.")
    gp_weight: float = option(10.0, help="Gradient-penalty weight.")
    adv_weight: float = option(1.0, help="Weight of the adversarial loss.")
    label_noise: float = option(0.1, help="Fraction of critic real/fake labels flipped.")
    lambda_content: float = option(0.0, help="Content-loss weight (0: 100 with --gan, else 1).", tasks=DEBLUR)
    critic_lr: float = option(1e-4, help="Critic learning rate (Adam).", tasks=DEBLUR)
    critic_width: int = 64
    # colorization
    lambda_l1: float = option(100.0, help="Weight of the L1 loss on ab/110 (head ab).", tasks=COLORIZE)
    rebalance: float = option(
        0.5, help="Class-rebalancing lambda for 313-bin heads (1: off).", tasks=COLORIZE
    )
    prior: str | None = option(  # the empirical ab prior
        None, help="Cache file of the ab prior; default: OUT with .abprior.npy.", tasks=COLORIZE
    )

    # -- derived values --------------------------------------------------------------------------------------

    def time_limit_s(self) -> float:
        """The wall-clock limit in seconds (0: none)."""
        return parse_duration(self.time_limit)

    def fit_schedule_s(self) -> float:
        """The wall time the schedule is sized to (0: --iters as given)."""
        return parse_duration(self.fit_schedule)

    def checkpoint_path(self) -> Path | None:
        if self.checkpoint:
            return Path(self.checkpoint)
        if self.out:
            return _with_suffix(Path(self.out), ".ckpt.pt")
        return None

    def log_path(self) -> Path | None:
        if self.log:
            return Path(self.log)
        if self.out:
            return _with_suffix(Path(self.out), ".log.jsonl")
        return None

    def content_weight(self) -> float:
        """The content loss weight: --lambda-content, else 100 with a GAN (DeblurGAN's) and 1 without."""
        if self.lambda_content > 0:
            return self.lambda_content
        return 100.0 if self.gan != "none" else 1.0

    def prior_path(self) -> Path | None:
        if self.prior:
            return Path(self.prior)
        if self.out:
            return _with_suffix(Path(self.out), ".abprior.npy")
        return None

    def data_folders(self) -> list[Path]:
        """The training folders: ``data`` is one folder, or (colorization) a list of folders."""
        items = [self.data] if isinstance(self.data, (str, Path)) else list(self.data)
        return [Path(item) for item in items if str(item)]

    def kernels_dir(self) -> Path | None:
        if self.val_kernels:
            return Path(self.val_kernels)
        if self.val:
            try:
                val = Path(self.val).resolve()
            except (OSError, RuntimeError):  # a symlink loop (Python < 3.13): reading --val will say so
                val = Path(os.path.abspath(self.val))
            return val.parent / "kernels"
        return None

    def check(self) -> None:
        """Reject combinations that cannot train (before any data or model is loaded)."""
        if not self.data:
            raise UsageError("no training data; give --data FOLDER (sharp photos, or blur/sharp pairs)")
        if self.task == "deblur" and len(self.data_folders()) != 1:
            raise UsageError("deblur training takes one --data folder (colorization takes several)")
        if self.fit_schedule_s() > 0 and self.schedule != "cosine":
            raise UsageError("--fit-schedule sizes a cosine schedule; drop it or use --schedule cosine")
        if self.fit_schedule_s() > 0 and self.resume:
            # The fitted --iters lives only in the checkpoint; a resumed run would start at peak LR and refit.
            raise UsageError("--fit-schedule sizes a new run; to continue a checkpoint, give --iters instead")
        if self.iters <= 0 and self.time_limit_s() <= 0 and self.fit_schedule_s() <= 0:
            raise UsageError("give --iters N and/or --time-limit (e.g. 90m) so the run knows when to stop")
        if self.schedule not in ("cosine", "step", "constant"):
            raise UsageError(f"unknown --schedule {self.schedule!r}; choose cosine, step or constant")
        if self.synth not in ("motion", "gaussian", "defocus", "mixed"):
            raise UsageError(f"unknown --synth {self.synth!r}; choose motion, gaussian, defocus or mixed")
        if self.synth_device not in ("auto", "worker", "device"):
            raise UsageError(f"unknown --synth-device {self.synth_device!r}; choose auto, worker or device")
        if not 0.0 <= self.saturate <= 1.0:
            raise UsageError("--saturate is a share of samples, in [0, 1]")
        if self.rotation_copies < 1:
            raise UsageError("--rotation-copies must be at least 1")
        if self.patch <= 0 or self.batch <= 0:
            raise UsageError("--patch and --batch must be positive")
        if not 0.0 <= self.ema < 1.0:
            raise UsageError("--ema must be in [0, 1) (0 disables it)")
        if self.amp not in ("none", "bf16", "fp16"):
            raise UsageError(f"unknown --amp {self.amp!r}; choose none, bf16 or fp16")
        if self.gan not in ("none", "wgan-gp"):
            raise UsageError(f"unknown --gan {self.gan!r}; choose none or wgan-gp")
        if not 0.0 <= self.label_noise < 0.5:
            raise UsageError("--label-noise must be in [0, 0.5)")
        if self.task not in ("deblur", "colorize"):
            raise UsageError(f"unknown task {self.task!r}; choose deblur or colorize")
        if self.resume and self.init:
            raise UsageError("give either --resume (continue a checkpoint) or --init (start from weights)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


FIELD_NAMES = {f.name for f in fields(TrainConfig)}

# Defaults that differ for colorization (applied when neither the TOML file nor an option sets them).
COLORIZE_DEFAULTS: dict[str, Any] = {"arch": "unet", "lr": 2e-4, "loss": "l1", "patch": 128, "warmup": 100}


def task_default(task: str, name: str) -> Any:
    """The value a field takes for ``task`` when neither the TOML file nor an option sets it."""
    if task == "colorize" and name in COLORIZE_DEFAULTS:
        return COLORIZE_DEFAULTS[name]
    spec = next(f for f in fields(TrainConfig) if f.name == name)
    return spec.default_factory() if spec.default is MISSING else spec.default


def _with_suffix(path: Path, suffix: str) -> Path:
    name = path.name
    for ext in (".safetensors", ".pt"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return path.with_name(name + suffix)


_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*$")


def parse_duration(value: str | float | int | None) -> float:
    """Seconds from 5400, "5400", "90m", "1h30m", "45s" (0 or empty: no limit)."""
    if value is None or value == "":
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().lower()
    try:
        return float(text)
    except ValueError:
        pass
    m = _DURATION.match(text)
    if not m or not any(m.groups()):
        raise UsageError(f"cannot read the duration {value!r}; write e.g. 5400, 90m, 1h30m or 45s")
    h, mnt, s = (float(g) if g else 0.0 for g in m.groups())
    return h * 3600 + mnt * 60 + s


FIELD_TYPES = typing.get_type_hints(TrainConfig)
_TYPE_WORDS = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}


def _describe(hint: Any) -> str:
    """A type as a config file's author would say it: "a number", "text or a number", ..."""
    if hint in _TYPE_WORDS:
        return _TYPE_WORDS[hint]
    origin = typing.get_origin(hint)
    if origin is dict:
        return "a table"
    if origin is list:
        return f"a list of {_describe(typing.get_args(hint)[0]).removeprefix('a ')}s"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(hint) if arg is not type(None))
    return str(hint)


_NO_MATCH = object()


def _coerce(value: Any, hint: Any) -> Any:
    """``value`` as a field of type ``hint`` (an int for a float field becomes a float), or _NO_MATCH."""
    if hint is bool:
        return value if isinstance(value, bool) else _NO_MATCH
    if isinstance(value, bool):  # True is an int to Python, never a number to a config author
        return _NO_MATCH
    if hint is int:
        return value if isinstance(value, int) else _NO_MATCH
    if hint is float:
        return float(value) if isinstance(value, (int, float)) else _NO_MATCH
    if hint is str:
        return value if isinstance(value, str) else _NO_MATCH
    origin = typing.get_origin(hint)
    if origin is dict:
        return value if isinstance(value, dict) else _NO_MATCH
    if origin is list:
        if not isinstance(value, list):
            return _NO_MATCH
        (item,) = typing.get_args(hint)
        items = [_coerce(v, item) for v in value]
        return _NO_MATCH if any(v is _NO_MATCH for v in items) else items
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if arg is not type(None) and (done := _coerce(value, arg)) is not _NO_MATCH:
                return done
        return _NO_MATCH
    return value


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config; an unknown key or a value of the wrong type is a UsageError naming file and key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError("config file not found", path) from None
    except IsADirectoryError:
        raise UsageError("is a folder; give --config a TOML file", path) from None
    except OSError as exc:
        raise UsageError(f"cannot read the config file ({exc.strerror or exc})", path) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"not valid TOML ({exc}); fix the file", path) from None
    values = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name not in FIELD_NAMES:
            raise UsageError(
                f"unknown key {key!r}; known keys: {', '.join(sorted(FIELD_NAMES))}",
                path,
            )
        typed = _coerce(value, FIELD_TYPES[name])
        if typed is _NO_MATCH:
            raise UsageError(
                f"key {key!r} must be {_describe(FIELD_TYPES[name])}, not {json.dumps(value, default=str)}",
                path,
            )
        values[name] = typed
    return values


def build_config(toml_path: str | Path | None = None, **options: Any) -> TrainConfig:
    """A config from an optional TOML file, overridden by the options that are not None.

    ``hyper`` from both sources is merged (options win key by key).
    """
    values: dict[str, Any] = load_toml(toml_path) if toml_path else {}
    for key, value in options.items():
        if key not in FIELD_NAMES:
            raise UsageError(f"unknown option {key!r}")
        if value is None:
            continue
        if key == "hyper":
            values["hyper"] = {**values.get("hyper", {}), **value}
        else:
            values[key] = value
    if values.get("task") == "colorize":
        for key, value in COLORIZE_DEFAULTS.items():
            values.setdefault(key, value)
    cfg = TrainConfig(**values)
    if not isinstance(cfg.hyper, dict):
        raise UsageError('hyper must be a table / JSON object, e.g. {"width": 16}')
    return cfg
