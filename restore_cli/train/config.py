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
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, published as tomli (a dependency there only)
    import tomli as tomllib

from restore_cli.errors import UsageError


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved in checkpoints and summarised in exported weights)."""

    task: str = "deblur"
    data: str | list[str] = ""  # one folder; colorization also takes a list (photos of all folders pooled)
    val: str | None = None
    val_kernels: str | None = None  # default: the "kernels" folder beside --val
    val_size: int = 256
    val_limit: int = 0  # 0: every validation image
    val_every: int = 500
    val_seed: int = 0
    arch: str = "nafnet"
    hyper: dict[str, Any] = field(default_factory=dict)
    synth: str = "mixed"  # motion | gaussian | defocus | mixed (ignored when --data holds pairs)
    kernel_size: int = 31
    noise: bool = True
    jpeg: bool = True
    # Where the blur is made: "worker" (data workers, NumPy/OpenCV), "device" (the training device, as a
    # batch in torch), "auto" (device on a GPU, worker on CPU). See restore_cli/data/degrade.py.
    synth_device: str = "auto"
    # Closer to real cameras (off by default until a GPU run shows they help; docs/TRAINING.md).
    saturate: float = 0.0  # share of samples with saturated highlights (brightened above 1 before the blur)
    sensor_noise: bool = False  # Poisson-Gaussian noise in linear light instead of Poisson + sRGB Gaussian
    random_crf: bool = False  # a random camera response (gamma 1.8-2.6) per sample instead of gamma 2.2
    rotation_copies: int = 1  # > 1: spatially varying shake (rotated copies averaged along the path)
    compile: bool = False  # torch.compile the model's training forward (GPU sessions: measure it)
    patch: int = 128
    batch: int = 8
    iters: int = 0  # 0: no iteration limit (then give time_limit); also the horizon of the lr schedule
    time_limit: str | float = 0  # seconds, or "90m", "1h30m", "45s"
    # Size --iters to this wall time (seconds or "8m"): the rate is measured over the first iterations (during
    # the warm-up, whose learning rates do not depend on --iters) and --iters is set so the cosine schedule
    # ends inside it, then set again once the rate has settled (trainer.fit_points). For lent GPUs
    # (scripts/gpu_train.py); 0: off.
    fit_schedule: str | float = 0
    lr: float = 1e-3
    min_lr: float = 1e-6
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.9])
    warmup: int = 200
    schedule: str = "cosine"  # cosine | step | constant
    step_every: int = 0  # step schedule: halve the lr every N iterations (0: iters // 4)
    grad_clip: float = 1.0  # 0: off
    ema: float = 0.999  # 0: no EMA
    loss: str = "psnr"  # l1 | charbonnier | psnr | logcosh | fft, or weighted "psnr:1,fft:0.05"
    out: str | None = None
    export_best: bool = False
    checkpoint: str | None = None  # default: OUT with suffix .ckpt.pt
    checkpoint_every: int = 500
    resume: str | None = None
    init: str | None = None
    log: str | None = None  # JSONL; default: OUT with suffix .log.jsonl
    log_every: int = 10
    threads: int = 1  # torch.set_num_threads (0: torch's default); 1 is >10x faster on a busy 2-core CPU
    workers: int = 1
    seed: int = 0
    gray: bool = False
    laplacian: bool = False
    channels_last: bool = False
    device: str = "auto"
    perceptual_weights: str | None = None  # VGG19 safetensors for the "perceptual" loss (user-supplied)
    perceptual_layer: str = "conv3_3"
    amp: str = "none"  # none | bf16 | fp16 (GPU only; ignored on CPU)
    # adversarial training (WGAN-GP with a PatchGAN critic)
    gan: str = "none"  # none | wgan-gp
    n_critic: int = 5
    gp_weight: float = 10.0
    adv_weight: float = 1.0
    label_noise: float = 0.1  # fraction of critic real/fake labels flipped
    lambda_content: float = 0.0  # weight of the content loss; 0: 100 with a GAN, 1 without
    critic_lr: float = 1e-4
    critic_width: int = 64
    # colorization
    lambda_l1: float = 100.0  # weight of the L1 loss on ab / 110 (head "ab")
    rebalance: float = 0.5  # class-rebalancing lambda of the 313-bin loss (head "bins"); 1 = no rebalancing
    prior: str | None = None  # cache file of the empirical ab prior (default: OUT with suffix .abprior.npy)

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


_FIELD_TYPES = typing.get_type_hints(TrainConfig)
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
        typed = _coerce(value, _FIELD_TYPES[name])
        if typed is _NO_MATCH:
            raise UsageError(
                f"key {key!r} must be {_describe(_FIELD_TYPES[name])}, not {json.dumps(value, default=str)}",
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
