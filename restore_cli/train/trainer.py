"""The deblurring trainer: data, model, optimiser, EMA, validation, checkpoints and export in one loop.

``train_deblur(config)`` is the whole run. It stops at ``iters`` or the time limit or on Ctrl-C, and in each
case saves a checkpoint (atomically) and exports the weights, so an interrupted run loses nothing and
``--resume`` continues bit for bit (same parameters as one uninterrupted run on the same device).
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import platform
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from restore_cli.errors import UsageError
from restore_cli.fsutil import atomic_write
from restore_cli.models.descriptor import ModelDescriptor
from restore_cli.train.config import TrainConfig
from restore_cli.train.losses import ContentLoss
from restore_cli.train.metrics import pixels_to_u8, psnr_u8, ssim_u8

CKPT_FORMAT = "restore-train-ckpt/1"


class Reporter(Protocol):
    """What the trainer tells a display (the CLI's rich live view; tests pass nothing)."""

    def start(self, first_iter: int, total_iters: int, time_limit_s: float, info: str) -> None: ...
    def step(self, iteration: int, stats: dict[str, Any]) -> None: ...
    def message(self, text: str) -> None: ...
    def close(self) -> None: ...


class _NullReporter:
    def start(self, first_iter: int, total_iters: int, time_limit_s: float, info: str) -> None:
        pass

    def step(self, iteration: int, stats: dict[str, Any]) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


# --fit-schedule: iterations skipped (start-up, compilation; plus the batches the loader prefetched, which
# arrive at once), then timed before --iters is set; set again over the iterations up to FIT_AGAIN times that
# point, when the rate has settled (a small step in the learning rate, early in the cosine).
FIT_SKIP = 5
FIT_PROBE = 30
FIT_AGAIN = 4


def fit_points(workers: int) -> tuple[int, int, int]:
    """Iterations (of this run) where --fit-schedule starts its clock, fits, and fits again."""
    from restore_cli.data.datasets import PREFETCH_FACTOR

    skip = FIT_SKIP + max(0, workers) * PREFETCH_FACTOR
    return skip, skip + FIT_PROBE, FIT_AGAIN * (skip + FIT_PROBE)


def fitted_iters(
    iteration: int, rate_it_s: float, seconds_left: float, val_every: int, val_s: float, reserve_s: float
) -> int:
    """The --iters that end the schedule inside ``seconds_left`` at ``rate_it_s``, validations included.

    Each iteration costs 1 / rate plus its share of a validation (``val_s`` every ``val_every``);
    ``reserve_s`` is kept for the last validation, checkpoint and export; 3% is a margin for rate drift.
    """
    per_iter = 1.0 / max(rate_it_s, 1e-9) + (val_s / val_every if val_every > 0 else 0.0)
    more = max(0.0, seconds_left - reserve_s) / per_iter * 0.97
    return iteration + max(1, int(more))


@dataclass
class TrainResult:
    """What a run did: where it stopped and why, and the last validation numbers."""

    iteration: int
    total_iterations: int  # including the iterations of an --init file
    wall_time_s: float
    stopped_by: str  # "iters" | "time" | "interrupt"
    val: dict[str, float] = field(default_factory=dict)
    out: str | None = None
    checkpoint: str | None = None
    losses: list[float] = field(default_factory=list)


# -- helpers ---


def pick_device(name: str) -> torch.device:
    """``auto`` trains on CUDA when present, else the CPU; anything else is checked by the engine's one
    device parser (a typo or a missing GPU is a UsageError, exit 2)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    from restore_cli.engine import resolve_device

    return resolve_device(name)


def hardware_description(device: torch.device) -> str:
    """CPU model and thread count, plus the GPU name when training on one."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    text = f"CPU {cpu} ({os.cpu_count()} cores, torch threads {torch.get_num_threads()})"
    if device.type == "cuda":
        text += f"; GPU {torch.cuda.get_device_name(device)}"
    return text


def lr_factor(cfg: TrainConfig, iteration: int) -> float:
    """Multiplier of the base lr at ``iteration``: linear warm-up, then cosine/step/constant."""
    if cfg.warmup > 0 and iteration < cfg.warmup:
        return (iteration + 1) / cfg.warmup
    floor = cfg.min_lr / cfg.lr if cfg.lr > 0 else 0.0
    if cfg.schedule == "constant" or cfg.iters <= 0:
        return 1.0
    if cfg.schedule == "step":
        every = cfg.step_every or max(1, cfg.iters // 4)
        return max(floor, 0.5 ** (iteration // every))
    span = max(1, cfg.iters - cfg.warmup)
    progress = min(1.0, (iteration - cfg.warmup) / span)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def resolve_hyper(cfg: TrainConfig, init_hyper: dict[str, Any] | None = None) -> dict[str, Any]:
    """Hyperparameters: the --init file's (if any), then --hyper, then --gray/--laplacian."""
    from restore_cli.models import get_arch

    spec = get_arch(cfg.arch)
    if spec.task != "deblur":
        raise UsageError(f"architecture {cfg.arch!r} is a {spec.task} model; choose a deblur architecture")
    hyper = dict(init_hyper or {})
    hyper.update(cfg.hyper)
    if cfg.gray:
        if "in_channels" not in spec.defaults:
            raise UsageError(
                f"architecture {cfg.arch!r} has no in_channels hyperparameter; it cannot train --gray"
            )
        hyper["in_channels"] = 1
    if cfg.laplacian:
        if "laplacian" not in spec.defaults:
            raise UsageError(f"architecture {cfg.arch!r} has no Laplacian input; drop --laplacian")
        hyper["laplacian"] = True
    return spec.hyper(**hyper)


def degradation_of(cfg: TrainConfig):
    """The blur synthesis a config asks for (restore_cli.data.synth.Degradation)."""
    from restore_cli.data.synth import Degradation

    degradation = Degradation(
        kind=cfg.synth,
        kernel_size=cfg.kernel_size,
        p_saturate=cfg.saturate,
        noise_model="sensor" if cfg.sensor_noise else "srgb",
        crf="random" if cfg.random_crf else "gamma",
        rotation_copies=cfg.rotation_copies,
    )
    if not cfg.noise:
        degradation.p_noise = degradation.p_poisson = 0.0
    if not cfg.jpeg:
        degradation.p_jpeg = 0.0
    return degradation


def synth_on_device(cfg: TrainConfig, device: torch.device) -> bool:
    """Whether the training device makes the blurred inputs (--synth-device; auto: on a GPU)."""
    if cfg.synth_device == "auto":
        return device.type == "cuda"
    return cfg.synth_device == "device"


def build_train_dataset(cfg: TrainConfig, device: torch.device | None = None):
    """Pairs when --data holds a blur/sharp layout, else sharp photos with on-the-fly synthesis."""
    from restore_cli.data.datasets import PairedDataset, SharpPhotoDataset, has_pairs

    data = cfg.data_folders()[0]  # check() allows one folder for deblurring (a TOML list of one included)
    if not data.exists():
        raise UsageError("training data folder not found", data)
    if has_pairs(data):
        return PairedDataset(data, patch=cfg.patch, seed=cfg.seed, gray=cfg.gray)
    return SharpPhotoDataset(
        data,
        patch=cfg.patch,
        degradation=degradation_of(cfg),
        seed=cfg.seed,
        gray=cfg.gray,
        on_device=synth_on_device(cfg, device or pick_device(cfg.device)),
    )


def validation_engine(device: torch.device):
    """The engine validation runs models on: this device, fp32, and the thread count training set."""
    from restore_cli.engine import Engine

    return Engine(device=str(device), precision="fp32", threads=torch.get_num_threads())


@contextlib.contextmanager
def eval_mode(module: torch.nn.Module) -> Iterator[None]:
    """``module`` in eval mode inside the block, back in its own mode after it."""
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


def evaluate(model: ModelDescriptor, valset, engine: Any) -> dict[str, float]:
    """Mean PSNR/SSIM (8-bit) of the model's outputs on a ValSet, and of the blurred inputs as a baseline.

    Each image runs whole through ``engine.run_deblur``, the path of ``restore deblur`` and ``restore bench``
    (the descriptor pads, runs the inference form, crops and clamps), so the figures mean the same.
    """
    psnrs, ssims, base = [], [], []
    with eval_mode(model.module):
        for blur_u8, sharp_u8 in zip(valset.blurred, valset.sharp):
            pixels = blur_u8.astype(np.float32) / 255.0
            out = pixels_to_u8(engine.run_deblur(model, pixels, tile=0))
            psnrs.append(psnr_u8(out, sharp_u8))
            ssims.append(ssim_u8(out, sharp_u8))
            base.append(psnr_u8(blur_u8, sharp_u8))
    return {
        "psnr": float(np.mean(psnrs)),
        "ssim": float(np.mean(ssims)),
        "input_psnr": float(np.mean(base)),
        "gain_db": float(np.mean(psnrs) - np.mean(base)),
    }


class EMA:
    """Exponential moving average of a model's parameters (buffers copied), kept in a shadow module."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    def decay_at(self, step: int) -> float:
        """Decay warmed up as (1 + n) / (10 + n), so a short run's average is not dominated by the init."""
        return min(self.decay, (1.0 + step) / (10.0 + step))

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        ema_params = list(self.module.parameters())
        params = [p.detach() for p in model.parameters()]
        torch._foreach_lerp_(ema_params, params, 1.0 - self.decay_at(step))
        for b_ema, b in zip(self.module.buffers(), model.buffers()):
            b_ema.copy_(b)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a training checkpoint with ``weights_only=True`` (no pickled code can run)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError("checkpoint not found; give --resume a .ckpt.pt file written by restore train", path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign file
        raise UsageError(
            f"cannot read this checkpoint ({exc.__class__.__name__}); use another file", path
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CKPT_FORMAT:
        raise UsageError("not a restore training checkpoint; give --resume a .ckpt.pt file", path)
    return ckpt


class _StopFlag:
    """SIGINT, SIGTERM or SIGHUP sets the flag (the loop saves and exits); a second one interrupts at once.

    SIGTERM (``timeout``, systemd, ``docker stop``) and SIGHUP are treated like Ctrl-C so a stopped run keeps
    its progress; a signal the parent set to be ignored (``nohup``) stays ignored.
    """

    def __init__(self) -> None:
        self.stop = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            for name in ("SIGINT", "SIGTERM", "SIGHUP"):
                signum = getattr(signal, name, None)
                if signum is None or (signum != signal.SIGINT and signal.getsignal(signum) is signal.SIG_IGN):
                    continue
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.stop:
            raise KeyboardInterrupt
        self.stop = True

    def __exit__(self, *exc) -> None:
        for signum, previous in self._previous.items():
            if previous is not None:  # None: a handler installed outside Python, which cannot be restored
                signal.signal(signum, previous)


# -- the run ---


class DeblurTrainer:
    """One training run; ``run()`` returns a TrainResult. Split into methods so tests can drive the pieces."""

    def __init__(self, cfg: TrainConfig, reporter: Reporter | None = None, dataset=None, valset=None) -> None:
        from restore_cli.models import create_model, get_arch

        cfg.check()
        self.cfg = cfg
        self.reporter = reporter or _NullReporter()
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        self.rank, self.world = init_distributed(cfg.device)
        self.device = pick_device(cfg.device)
        if self.world > 1 and self.device.type == "cuda":
            self.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(self.device)
        self.is_main = self.rank == 0
        if not self.is_main:
            self.reporter = _NullReporter()
        torch.manual_seed(cfg.seed)

        self.prior_iterations = 0
        self.prior_wall_s = 0.0
        init_hyper = None
        init_state = None
        if cfg.init:
            init_hyper, init_state, self.prior_iterations, self.prior_wall_s = _read_init(cfg)
        ckpt = load_checkpoint(cfg.resume) if cfg.resume else None
        if ckpt is not None:
            if ckpt["arch"] != cfg.arch:
                raise UsageError(f"checkpoint is for {ckpt['arch']!r}, not --arch {cfg.arch!r}", cfg.resume)
            init_hyper = json.loads(ckpt["hyper"])
        self.hyper = self._resolve_hyper(init_hyper)
        self.spec = get_arch(cfg.arch)
        self.model = create_model(cfg.arch, **self.hyper).to(self.device)
        if init_state is not None:
            if cfg.gray and int((init_hyper or {}).get("in_channels", 1)) == 3:
                init_state = fold_rgb_to_gray(init_state, self.model.state_dict())
            self.model.load_state_dict(init_state, strict=True)
        if cfg.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.model.train()
        self.net = self.model  # what the forward pass calls
        if cfg.compile:
            self.net = torch.compile(self.model)  # same parameters; only the training forward is compiled
        self.amp_dtype = None
        if self.device.type == "cuda" and cfg.amp != "none":
            self.amp_dtype = torch.bfloat16 if cfg.amp == "bf16" else torch.float16
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.ema = EMA(self.model, cfg.ema) if cfg.ema > 0 else None
        decay, no_decay = [], []
        for p in self.model.parameters():
            (decay if p.ndim > 1 else no_decay).append(p)
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr,
            betas=tuple(cfg.betas),
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda it: lr_factor(cfg, it))
        if self.world > 1:
            broadcast_parameters(self.model)
        self._setup_loss()
        self.critic = None
        self.critic_opt = None
        if cfg.gan == "wgan-gp":
            from restore_cli.train.gan import PatchCritic

            self.critic = PatchCritic(self._critic_channels(), cfg.critic_width).to(self.device)
            self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr, betas=(0.5, 0.999))
            if self.world > 1:
                broadcast_parameters(self.critic)

        self.iteration = 0
        self.data_pos = 0
        self.wall_s = 0.0
        self.best_psnr = -math.inf
        self.best_state: dict[str, torch.Tensor] | None = None
        self.best_val: dict[str, float] = {}  # every metric of the evaluation that set best_psnr
        self.last_val: dict[str, float] = {}
        self.dataset = dataset if dataset is not None else self._build_dataset()
        if ckpt is not None:
            self._restore(ckpt)
        self._on_data_ready()
        self.valset = valset
        if self.valset is None and cfg.val:
            self.valset = self._build_valset()

    # -- task hooks (deblur here; ColorizeTrainer overrides them) -----

    task = "deblur"

    def _resolve_hyper(self, init_hyper: dict[str, Any] | None) -> dict[str, Any]:
        return resolve_hyper(self.cfg, init_hyper)

    def _setup_loss(self) -> None:
        from restore_cli.train.losses import parse_loss_spec

        perceptual = None
        try:
            names = [name for name, _ in parse_loss_spec(self.cfg.loss)]
        except ValueError as exc:
            raise UsageError(f"--loss: {exc}") from None
        if "perceptual" in names:
            from restore_cli.train.perceptual import CONVERT_HINT, VGGPerceptualLoss

            if not self.cfg.perceptual_weights:
                raise UsageError(
                    f"the perceptual loss needs --perceptual-weights VGG19.safetensors; {CONVERT_HINT}"
                )
            perceptual = VGGPerceptualLoss(self.cfg.perceptual_weights, self.cfg.perceptual_layer).to(
                self.device
            )
        self.loss_fn = ContentLoss(self.cfg.loss, perceptual=perceptual)

    def _build_dataset(self):
        return build_train_dataset(self.cfg, self.device)

    def prepare_batch(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, targets) of a loader batch: raw samples are degraded here, on the training device."""
        if isinstance(batch, dict):
            with torch.no_grad():
                return self.dataset.make_inputs(batch, self.device)
        return batch[0], batch[1]

    def _on_data_ready(self) -> None:
        """Called once the dataset (and any checkpoint) is loaded: statistics of the data go here."""

    def _build_valset(self):
        from restore_cli.data.validation import make_val_set

        cfg = self.cfg
        return make_val_set(
            cfg.val, cfg.kernels_dir(), cfg.val_size, cfg.val_seed, cfg.val_limit or None, cfg.gray
        )

    def compute_loss(
        self, inputs: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The training loss of one batch (and its named parts, for the log); trains the critic first."""
        if self.cfg.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        pyramid = getattr(self.model, "forward_pyramid", None)
        if pyramid is not None:  # multi-scale generator (msdeblur): content loss averaged over its scales
            from restore_cli.models.msdeblur import image_pyramid

            preds = self.model.forward_pyramid(inputs)
            content, parts = self._multiscale_loss(preds, image_pyramid(targets, len(preds)))
            pred = preds[-1]
        else:
            pred = self.net(inputs)
            content, parts = self.loss_fn(pred, targets)
        if self.critic is None:
            return content, parts
        adv, adv_parts = self.adversarial_step(targets, pred)
        return self.cfg.content_weight() * content + self.cfg.adv_weight * adv, {**parts, **adv_parts}

    def _multiscale_loss(
        self, preds: list[torch.Tensor], targets: list[torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        total = preds[-1].new_zeros(())
        parts: dict[str, float] = {}
        for k, (p, t) in enumerate(zip(preds, targets)):
            value, level_parts = self.loss_fn(p, t)
            total = total + value / len(preds)
            parts.update({f"{name}_s{k}": v for name, v in level_parts.items()})
        return total, parts

    def _critic_channels(self) -> int:
        return int(self.hyper.get("in_channels", 3))

    def adversarial_step(
        self, real: torch.Tensor, fake: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """``n_critic`` critic updates on this batch, then the generator's adversarial loss -E[D(fake)]."""
        from restore_cli.train.gan import critic_loss, generator_adv_loss

        cfg = self.cfg
        self.critic.requires_grad_(True)
        parts: dict[str, float] = {}
        for _ in range(cfg.n_critic):
            loss, parts = critic_loss(self.critic, real, fake.detach(), cfg.gp_weight, cfg.label_noise)
            self.critic_opt.zero_grad(set_to_none=True)
            loss.backward()
            if self.world > 1:
                average_gradients(self.critic, self.world)
            self.critic_opt.step()
        self.critic.requires_grad_(False)
        adv = generator_adv_loss(self.critic, fake)
        return adv, {**parts, "adv": float(adv.detach())}

    def described(self) -> ModelDescriptor:
        """The evaluated module (the EMA's when there is one) as a descriptor, as inference would load it."""
        return ModelDescriptor.describe(self.eval_module(), self.spec, self.hyper)

    def _evaluate(self) -> dict[str, float]:
        return evaluate(self.described(), self.valset, validation_engine(self.device))

    def _val_message(self, m: dict[str, float]) -> str:
        return (
            f"iter {self.iteration}: val PSNR {m['psnr']:.2f} dB (input {m['input_psnr']:.2f}, "
            f"gain {m['gain_db']:+.2f}), SSIM {m['ssim']:.4f}"
        )

    def _export_metrics(self, val: dict[str, float]) -> dict[str, Any]:
        return {
            "val_psnr": round(val["psnr"], 3),
            "val_ssim": round(val["ssim"], 4),
            "val_input_psnr": round(val["input_psnr"], 3),
            "val_gain_db": round(val["psnr"] - val["input_psnr"], 3),
            "val_iteration": int(val.get("iteration", self.iteration)),
        }

    # -- state ------

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly (weights_only-loadable: tensors, numbers, strings)."""
        return {
            "format": CKPT_FORMAT,
            "arch": self.cfg.arch,
            "hyper": json.dumps(self.hyper),
            "config": self.cfg.to_json(),
            "model": self.model.state_dict(),
            "ema": self.ema.module.state_dict() if self.ema else None,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "iteration": self.iteration,
            "data_pos": self.data_pos,
            "wall_s": self.wall_s,
            "prior_iterations": self.prior_iterations,
            "prior_wall_s": self.prior_wall_s,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "best_psnr": self.best_psnr if math.isfinite(self.best_psnr) else None,
            "best_state": self.best_state,
            "best_val": self.best_val,
            "critic": self.critic.state_dict() if self.critic is not None else None,
            "critic_opt": self.critic_opt.state_dict() if self.critic_opt is not None else None,
            "last_val": json.dumps(self.last_val),
        }

    def _restore(self, ckpt: dict[str, Any]) -> None:
        self.model.load_state_dict(ckpt["model"], strict=True)
        if self.ema is not None and ckpt.get("ema") is not None:
            self.ema.module.load_state_dict(ckpt["ema"], strict=True)
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.iteration = int(ckpt["iteration"])
        self.data_pos = int(ckpt["data_pos"])
        self.wall_s = float(ckpt["wall_s"])
        if self.critic is not None and ckpt.get("critic") is not None:
            self.critic.load_state_dict(ckpt["critic"])
            self.critic_opt.load_state_dict(ckpt["critic_opt"])
        self._restore_extra(ckpt)
        self.prior_iterations = int(ckpt.get("prior_iterations", 0))
        self.prior_wall_s = float(ckpt.get("prior_wall_s", 0.0))
        torch.set_rng_state(ckpt["torch_rng"])
        if torch.cuda.is_available() and ckpt.get("cuda_rng"):
            torch.cuda.set_rng_state_all(ckpt["cuda_rng"])
        self.best_psnr = ckpt["best_psnr"] if ckpt.get("best_psnr") is not None else -math.inf
        self.best_state = ckpt.get("best_state")
        self.best_val = ckpt.get("best_val") or {}
        self.last_val = json.loads(ckpt.get("last_val") or "{}")

    def _restore_extra(self, ckpt: dict[str, Any]) -> None:
        """Task-specific state from a checkpoint (none for deblurring)."""

    def save_checkpoint(self) -> Path | None:
        path = self.cfg.checkpoint_path()
        if path is None or not self.is_main:
            return None
        state = self.state_dict()
        atomic_write(path, lambda handle: torch.save(state, handle))
        return path

    def eval_module(self) -> torch.nn.Module:
        return self.ema.module if self.ema is not None else self.model

    # -- steps ------

    def train_step(self, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[float, dict[str, float]]:
        """One optimisation step on a batch (inputs, targets); returns the loss and its parts."""
        cfg = self.cfg
        inputs = inputs.to(self.device, non_blocking=True)
        targets = targets.to(self.device, non_blocking=True)
        with torch.autocast("cuda", dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            loss, parts = self.compute_loss(inputs, targets)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        if self.world > 1:
            average_gradients(self.model, self.world)
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model, self.iteration)
        self.iteration += 1
        self.data_pos += inputs.shape[0] * self.world
        return float(loss.detach()), parts

    def validate(self) -> dict[str, float]:
        if self.valset is None or len(self.valset) == 0 or not self.is_main:
            return {}
        metrics = self._evaluate()
        metrics["iteration"] = self.iteration
        self.last_val = metrics
        if metrics["psnr"] > self.best_psnr:
            self.best_psnr = metrics["psnr"]
            self.best_val = dict(metrics)
            if self.cfg.export_best:
                self.best_state = {k: v.detach().clone() for k, v in self.eval_module().state_dict().items()}
        return metrics

    # -- loop ------

    def run(self) -> TrainResult:
        from restore_cli.data.datasets import make_loader

        cfg = self.cfg
        limit_s = cfg.time_limit_s()
        log_path = cfg.log_path()
        log_file = None
        if log_path is not None and self.is_main:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_file = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - closed in finally

        def log(record: dict[str, Any]) -> None:
            if log_file is not None:
                log_file.write(json.dumps(record) + "\n")
                log_file.flush()

        describe = getattr(self.dataset, "describe", lambda: str(cfg.data))
        log({"event": "start", "iteration": self.iteration, "config": cfg.to_dict(), "data": describe()})
        self.reporter.start(self.iteration, cfg.iters, limit_s, f"{cfg.arch} {json.dumps(self.hyper)}")
        loader = make_loader(
            self.dataset,
            cfg.batch,
            start=self.data_pos,
            workers=cfg.workers,
            rank=self.rank,
            world=self.world,
        )
        losses: list[float] = []
        stopped_by = "iters"
        start = time.monotonic()
        wall_at_start = self.wall_s
        run_iters_start = self.iteration
        window_t, window_it = start, self.iteration
        it_s = 0.0
        fit_s = cfg.fit_schedule_s()
        marks = fit_points(cfg.workers) if fit_s > 0 else ()
        mark_t: dict[int, float] = {}
        val_s = 0.0
        try:
            with _StopFlag() as flag:
                if self.iteration == 0 and self.valset is not None and cfg.val_every > 0:
                    t0 = time.monotonic()
                    self._report_val(self.validate(), log)
                    val_s = time.monotonic() - t0
                batches = iter(loader)
                while True:
                    if cfg.iters > 0 and self.iteration >= cfg.iters:
                        stopped_by = "iters"
                        break
                    reason = ""
                    if limit_s > 0 and time.monotonic() - start >= limit_s:
                        reason = "time"
                    if flag.stop:
                        reason = "interrupt"
                    if self.world > 1:  # every process stops at the same iteration
                        reason = agree_on_stop(reason, self.device)
                    if reason:
                        stopped_by = reason
                        break
                    blurred, sharp = self.prepare_batch(next(batches))
                    loss, parts = self.train_step(blurred, sharp)
                    losses.append(loss)
                    self.wall_s = wall_at_start + time.monotonic() - start
                    done = self.iteration - run_iters_start
                    if done in marks:
                        mark_t[done] = now = time.monotonic()
                        k = marks.index(done)
                        if k > 0:
                            rate = (done - marks[k - 1]) / max(now - mark_t[marks[k - 1]], 1e-9)
                            cfg.iters = fitted_iters(
                                self.iteration,
                                rate,
                                fit_s - (now - start),
                                cfg.val_every,
                                val_s,
                                2 * val_s + min(10.0, 0.05 * fit_s),
                            )
                            log(
                                {
                                    "event": "schedule",
                                    "iteration": self.iteration,
                                    "rate_it_s": rate,
                                    "iters": cfg.iters,
                                    "fit_schedule_s": fit_s,
                                }
                            )
                            self.reporter.message(f"schedule: {cfg.iters} iterations at {rate:.2f} it/s")
                    if self.iteration % cfg.log_every == 0 or self.iteration == run_iters_start + 1:
                        now = time.monotonic()
                        if now > window_t and self.iteration > window_it:
                            it_s = (self.iteration - window_it) / (now - window_t)
                        window_t, window_it = now, self.iteration
                        stats = {
                            "loss": loss,
                            **{f"loss_{k}": v for k, v in parts.items()},
                            "lr": self.optimizer.param_groups[0]["lr"],
                            "it_s": it_s,
                            "elapsed_s": now - start,
                            "val_psnr": self.last_val.get("psnr"),
                        }
                        log({"event": "train", "iteration": self.iteration, **stats})
                        self.reporter.step(self.iteration, stats)
                    if cfg.val_every > 0 and self.iteration % cfg.val_every == 0:
                        self._report_val(self.validate(), log)
                    if cfg.checkpoint_every > 0 and self.iteration % cfg.checkpoint_every == 0:
                        self.save_checkpoint()
                del batches
                if self.valset is not None and self.last_val.get("iteration") != self.iteration:
                    self._report_val(self.validate(), log)
                ckpt_path = self.save_checkpoint()
                out = self.export() if (cfg.out and self.is_main) else None
        finally:
            log({"event": "stop", "iteration": self.iteration, "wall_s": self.wall_s})
            if log_file is not None:
                log_file.close()
            self.reporter.close()
        return TrainResult(
            iteration=self.iteration,
            total_iterations=self.prior_iterations + self.iteration,
            wall_time_s=self.prior_wall_s + self.wall_s,
            stopped_by=stopped_by,
            val=dict(self.last_val),
            out=str(out) if out else None,
            checkpoint=str(ckpt_path) if ckpt_path else None,
            losses=losses,
        )

    def _report_val(self, metrics: dict[str, float], log) -> None:
        if not metrics:
            return
        log({"event": "val", **metrics})
        self.reporter.message(self._val_message(metrics))

    # -- export ------

    def export_metadata(self) -> dict[str, Any]:
        cfg = self.cfg
        describe = getattr(self.dataset, "describe", lambda: str(cfg.data))
        recipe = {
            "loss": cfg.loss,
            "patch": cfg.patch,
            "batch": cfg.batch,
            "lr": cfg.lr,
            "schedule": cfg.schedule,
            "ema": cfg.ema,
            "iters_this_run": self.iteration,
            "init": Path(cfg.init).name if cfg.init else None,
            "exported": "best-val EMA"
            if (cfg.export_best and self.best_state)
            else ("EMA" if self.ema else "plain"),
            "gray": cfg.gray,
            "laplacian": cfg.laplacian,
            "gan": self._gan_description(),
            **self._recipe_extra(),
        }
        training = {
            "data": describe(),
            "iterations": self.prior_iterations + self.iteration,
            "wall_time_s": round(self.prior_wall_s + self.wall_s, 1),
            "hardware": hardware_description(self.device),
            "recipe": recipe,
        }
        metrics: dict[str, Any] = {}
        if self.last_val:
            # The metrics of the weights actually exported: with --export-best those of the best evaluation
            # (all of them, not its PSNR beside another evaluation's other numbers).
            val = self.last_val
            if cfg.export_best and self.best_state is not None and self.best_val:
                val = self.best_val
            metrics = {**self._export_metrics(val), "val_recipe": getattr(self.valset, "recipe", "")}
        return {"training": training, "metrics": metrics}

    def _gan_description(self) -> str:
        cfg = self.cfg
        if cfg.gan == "none":
            return "none"
        return (
            f"{cfg.gan}: PatchGAN critic (layer norm), n_critic {cfg.n_critic}, gp {cfg.gp_weight:g}, "
            f"label noise {cfg.label_noise:g}, adv weight {cfg.adv_weight:g}, "
            f"content {cfg.content_weight():g}"
        )

    def _recipe_extra(self) -> dict[str, Any]:
        return {}

    def export(self) -> Path:
        """Write ``--out`` via restore_cli.weights.save_weights (EMA, or best-val EMA with --export-best)."""
        from restore_cli.weights import save_weights

        module = self.eval_module()
        if self.cfg.export_best and self.best_state is not None:
            module = copy.deepcopy(module)
            module.load_state_dict(self.best_state)
        module = module.to(memory_format=torch.contiguous_format).eval()
        path = Path(self.cfg.out)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_weights(path, module, self.cfg.arch, self.hyper, meta=self.export_metadata())
        return path


def init_distributed(device: str) -> tuple[int, int]:
    """(rank, world size) under torchrun (``WORLD_SIZE`` > 1: joins the process group, gloo on CPU, nccl on
    GPU); (0, 1) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        use_cuda = device != "cpu" and torch.cuda.is_available()
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return dist.get_rank(), dist.get_world_size()


def broadcast_parameters(module: torch.nn.Module) -> None:
    """Make every process start from rank 0's parameters and buffers."""
    import torch.distributed as dist

    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=0)


def average_gradients(module: torch.nn.Module, world: int) -> None:
    """All-reduce and average gradients over processes (one flat buffer).

    Used instead of the DistributedDataParallel wrapper so that every forward path (multi-scale pyramids,
    class logits, the critic) is synchronised the same way; the result equals DDP's gradient averaging.
    """
    import torch.distributed as dist
    from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = _flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat /= world
    for g, synced in zip(grads, _unflatten_dense_tensors(flat, grads)):
        g.copy_(synced)


def agree_on_stop(reason: str, device: torch.device) -> str:
    """The stop reason any process has (interrupt beats time), agreed by all processes."""
    import torch.distributed as dist

    code = torch.tensor([{"": 0, "time": 1, "interrupt": 2}[reason]], device=device)
    dist.all_reduce(code, op=dist.ReduceOp.MAX)
    return ["", "time", "interrupt"][int(code)]


def _read_init(cfg: TrainConfig):
    """Hyperparameters, state dict, iterations and wall time recorded in an --init weights file."""
    from restore_cli.weights import load_model

    loaded = load_model(cfg.init, task=None)
    if loaded.spec.task != cfg.task:  # deblur and deblur-gray weights both train here
        raise UsageError(
            f"--init weights are a {loaded.spec.task} model; this run trains {cfg.task}", cfg.init
        )
    if loaded.arch != cfg.arch:
        raise UsageError(f"--init weights are {loaded.arch!r}, not --arch {cfg.arch!r}", cfg.init)
    training = (loaded.metadata or {}).get("training") or {}
    if isinstance(training, str):
        training = json.loads(training)
    state = {k: v.detach().cpu().clone() for k, v in loaded.module.state_dict().items()}
    return (
        dict(loaded.hyper),
        state,
        int(training.get("iterations", 0)),
        float(training.get("wall_time_s", 0.0)),
    )


def fold_rgb_to_gray(
    rgb_state: dict[str, torch.Tensor], gray_state: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """An RGB model's state folded into a gray model's shapes, so gray training starts from the RGB model.

    Where the gray model has 2 fewer input channels (3 -> 1, or 3 + Laplacian -> 1 + Laplacian) the RGB
    input weights are summed, because a gray image fed as three equal channels hits all three; where it has
    2 fewer output channels the RGB outputs are averaged. For an architecture whose only colour-aware layers
    are its first and last convolutions (NAFNet), the folded model on a gray image equals the mean of the
    RGB model's channels on that image replicated: fine-tuning then starts from exactly that baseline.
    """
    folded = {}
    for key, target in gray_state.items():
        value = rgb_state[key]
        if value.shape == target.shape:
            folded[key] = value
        elif value.dim() >= 2 and value.shape[1] == target.shape[1] + 2 and value.shape[0] == target.shape[0]:
            folded[key] = torch.cat([value[:, :3].sum(1, keepdim=True), value[:, 3:]], 1)
        elif value.shape[0] == target.shape[0] + 2 and value.shape[1:] == target.shape[1:]:
            folded[key] = torch.cat([value[:3].mean(0, keepdim=True), value[3:]], 0)
        else:
            shapes = f"{tuple(value.shape)} into a gray model's {tuple(target.shape)}"
            raise UsageError(f"cannot fold {key} {shapes}")
    return folded


def train_deblur(cfg: TrainConfig, reporter: Reporter | None = None) -> TrainResult:
    """Train a deblurring model as ``cfg`` says (see TrainConfig and docs/TRAINING.md)."""
    return DeblurTrainer(cfg, reporter).run()
