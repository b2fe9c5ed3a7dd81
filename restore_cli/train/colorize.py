"""Colorization training: L in, ab out; the 313-bin classification loss or L1 regression.

Models with ``head == "bins"`` (eccv16, unet with head=bins) learn with the loss of Zhang et al.: soft-encoded
targets (5 nearest bins, sigma 5) and class rebalancing (lambda 0.5) from the ab prior of the training photos,
so rare saturated colours are not drowned by the common desaturated ones (the cause of brown/sepia results).
Models with ``head == "ab"`` (unet) regress ab with L1, weighted by ``lambda_l1`` as pix2pix does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from restore_cli.errors import UsageError
from restore_cli.fsutil import atomic_write
from restore_cli.models.descriptor import ModelDescriptor
from restore_cli.train.config import TrainConfig
from restore_cli.train.metrics import pixels_to_u8, psnr_u8
from restore_cli.train.trainer import DeblurTrainer, Reporter, TrainResult, eval_mode, validation_engine

AB_SCALE = 110.0


def bins_loss(
    logits: torch.Tensor, ab: torch.Tensor, bins: torch.Tensor, class_weights: torch.Tensor | None
) -> torch.Tensor:
    """Rebalanced soft-encoded cross-entropy of Zhang et al. (ab resized to the logits' resolution).

    Per pixel: ``-w[nearest bin] * sum_q target_q * log softmax(logits)_q``; the mean over pixels.
    """
    from restore_cli.color import soft_encode

    if ab.shape[-2:] != logits.shape[-2:]:
        ab = F.interpolate(ab, size=logits.shape[-2:], mode="area")
    target = soft_encode(ab, bins, k=5, sigma=5.0)
    per_pixel = -(target * F.log_softmax(logits.float(), dim=1)).sum(1)
    if class_weights is not None:
        per_pixel = per_pixel * class_weights[target.argmax(1)]
    return per_pixel.mean()


def compute_prior(dataset, cache: Path | None = None) -> np.ndarray:
    """The empirical ab prior (313 bin frequencies) of the training photos, cached as .npy when possible."""
    from restore_cli.color import empirical_prior

    key = np.array([float(dataset.num_photos)], dtype=np.float64)
    if cache is not None and cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        if stored.shape == (314,) and stored[0] == key[0]:
            return stored[1:].astype(np.float32)
    samples = torch.from_numpy(dataset.ab_samples())
    counts = torch.zeros(313, dtype=torch.float64)
    for chunk in samples.split(65536):
        counts += empirical_prior(chunk).double() * chunk.shape[0]
    prior = (counts / counts.sum()).numpy().astype(np.float32)
    if cache is not None:
        stored = np.concatenate([key, prior.astype(np.float64)])
        atomic_write(cache, lambda handle: np.save(handle, stored))
    return prior


def evaluate_colorizer(model: ModelDescriptor, valset, engine: Any) -> dict[str, float]:
    """PSNR of the colorized RGB vs the truth (and of the gray image), colourfulness and mean a/b of both.

    Each photo runs through ``engine.run_colorize``, the path of ``restore colorize`` and ``restore bench``
    (working size, the engine's decoding of 313-bin logits, guided upsampling, full-resolution L kept), so
    the figures mean what users get.
    """
    from restore_cli.color import colorfulness, lab_to_rgb_np, rgb_to_lab_np

    rows: dict[str, list[float]] = {
        k: [] for k in ("psnr", "gray_psnr", "cf", "cf_true", "a", "b", "a_t", "b_t")
    }
    with eval_mode(model.module):
        for color_u8 in valset.sharp:
            rgb = color_u8.astype(np.float32) / 255.0
            out = pixels_to_u8(engine.run_colorize(model, rgb))
            lab_true = rgb_to_lab_np(rgb)
            lab_out = rgb_to_lab_np(out.astype(np.float32) / 255.0)
            gray = lab_true.copy()
            gray[..., 1:] = 0.0
            rows["psnr"].append(psnr_u8(out, color_u8))
            rows["gray_psnr"].append(psnr_u8(pixels_to_u8(lab_to_rgb_np(gray)), color_u8))
            rows["cf"].append(colorfulness(out))
            rows["cf_true"].append(colorfulness(color_u8))
            rows["a"].append(float(lab_out[..., 1].mean()))
            rows["b"].append(float(lab_out[..., 2].mean()))
            rows["a_t"].append(float(lab_true[..., 1].mean()))
            rows["b_t"].append(float(lab_true[..., 2].mean()))
    m = {k: float(np.mean(v)) for k, v in rows.items()}
    return {
        "psnr": m["psnr"],
        "gray_psnr": m["gray_psnr"],
        "colorfulness": m["cf"],
        "colorfulness_truth": m["cf_true"],
        "colorfulness_ratio": m["cf"] / m["cf_true"] if m["cf_true"] > 0 else 0.0,
        "mean_a": m["a"],
        "mean_b": m["b"],
        "mean_a_truth": m["a_t"],
        "mean_b_truth": m["b_t"],
    }


class ColorizeTrainer(DeblurTrainer):
    """The same loop, checkpoints and export as deblurring, with colorization data, loss and validation."""

    task = "colorize"

    def _resolve_hyper(self, init_hyper: dict[str, Any] | None) -> dict[str, Any]:
        from restore_cli.models import get_arch

        cfg = self.cfg
        spec = get_arch(cfg.arch)
        if spec.task != "colorize":
            raise UsageError(
                f"architecture {cfg.arch!r} is a {spec.task} model; choose a colorize architecture"
            )
        if cfg.gray or cfg.laplacian:
            raise UsageError("--gray and --laplacian are options of deblurring, not colorization")
        hyper = dict(init_hyper or {})
        hyper.update(cfg.hyper)
        return spec.hyper(**hyper)

    def _setup_loss(self) -> None:
        from restore_cli.color import ab_bins

        self.head = self.spec.head_for(self.hyper)
        if self.cfg.gan != "none" and self.head == "bins":
            raise UsageError("--gan trains regression colorizers (head ab); 313-bin heads use the class loss")
        self.bins = ab_bins().to(self.device)
        self.class_weights: torch.Tensor | None = None
        self.prior: np.ndarray | None = None

    def _build_dataset(self):
        from restore_cli.data.datasets import ColorPhotoDataset

        folders = self.cfg.data_folders()
        for folder in folders:
            if not folder.exists():
                raise UsageError("training data folder not found", folder)
        return ColorPhotoDataset(folders, patch=self.cfg.patch, seed=self.cfg.seed)

    def _on_data_ready(self) -> None:
        self._prepare_prior(self.dataset)

    def _prepare_prior(self, dataset) -> None:
        from restore_cli.color import rebalance_weights

        if self.head != "bins":
            return
        if self.prior is None:
            self.prior = compute_prior(dataset, self.cfg.prior_path())
        lam = self.cfg.rebalance
        if lam < 1.0:
            self.class_weights = rebalance_weights(torch.from_numpy(self.prior), lam=lam).to(self.device)

    def _build_valset(self):
        from restore_cli.data.validation import color_val_set

        return color_val_set(self.cfg.val, self.cfg.val_size, self.cfg.val_limit or None)

    def compute_loss(
        self, inputs: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        if self.head == "bins":
            loss = bins_loss(self.model.logits(inputs), targets, self.bins, self.class_weights)
            return loss, {"ce": float(loss.detach())}
        pred = self.model(inputs)
        if pred.shape[-2:] != targets.shape[-2:]:
            targets = F.interpolate(targets, size=pred.shape[-2:], mode="area")
        l1 = (pred - targets).abs().mean() / AB_SCALE
        total, parts = self.cfg.lambda_l1 * l1, {"l1": float(l1.detach())}
        if self.critic is not None:  # pix2pix: the critic judges (L, ab) pairs
            l_small = (
                F.interpolate(inputs, size=pred.shape[-2:], mode="area")
                if pred.shape[-2:] != inputs.shape[-2:]
                else inputs
            )
            real = torch.cat([l_small, targets / AB_SCALE], 1)
            fake = torch.cat([l_small, pred / AB_SCALE], 1)
            adv, adv_parts = self.adversarial_step(real, fake)
            total = total + self.cfg.adv_weight * adv
            parts.update(adv_parts)
        return total, parts

    def _critic_channels(self) -> int:
        return 3

    def _evaluate(self) -> dict[str, float]:
        return evaluate_colorizer(self.described(), self.valset, validation_engine(self.device))

    def _val_message(self, m: dict[str, float]) -> str:
        return (
            f"iter {self.iteration}: val PSNR {m['psnr']:.2f} dB (gray {m['gray_psnr']:.2f}), colourfulness "
            f"{m['colorfulness']:.1f} vs {m['colorfulness_truth']:.1f}, mean ab ({m['mean_a']:.1f}, "
            f"{m['mean_b']:.1f}) vs ({m['mean_a_truth']:.1f}, {m['mean_b_truth']:.1f})"
        )

    def _export_metrics(self, val: dict[str, float]) -> dict[str, Any]:
        metrics = {f"val_{k}": round(v, 3) for k, v in val.items() if k != "iteration"}
        return {**metrics, "val_iteration": int(val.get("iteration", self.iteration))}

    def _recipe_extra(self) -> dict[str, Any]:
        if self.head == "bins":
            return {
                "head": "bins",
                "loss": "313-bin cross-entropy (soft-encoded, class-rebalanced)",
                "soft_encoding": "5 nearest, sigma 5",
                "rebalance_lambda": self.cfg.rebalance,
            }
        return {"head": "ab", "loss": "l1 on ab / 110", "lambda_l1": self.cfg.lambda_l1}

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["ab_prior"] = torch.from_numpy(self.prior) if self.prior is not None else None
        return state

    def _restore_extra(self, ckpt: dict[str, Any]) -> None:
        if ckpt.get("ab_prior") is not None:
            self.prior = ckpt["ab_prior"].numpy()


def train_colorize(cfg: TrainConfig, reporter: Reporter | None = None) -> TrainResult:
    """Train a colorization model as ``cfg`` says (``cfg.task`` is "colorize")."""
    cfg.task = "colorize"
    return ColorizeTrainer(cfg, reporter).run()
