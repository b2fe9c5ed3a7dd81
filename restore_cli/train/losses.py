"""Content losses for restoration training, and a parser for weighted combinations like ``l1:1,fft:0.1``."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error."""
    return (pred - target).abs().mean()


def charbonnier_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Mean of sqrt(d^2 + eps^2): a smooth L1 that keeps gradients well-behaved near zero."""
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


def psnr_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Negative PSNR (peak 1) per image, averaged over the batch; NAFNet's training loss.

    Written as 10 * log10(mse) so that minimising it maximises PSNR.
    """
    mse = ((pred - target) ** 2).flatten(1).mean(1)
    return (10.0 / math.log(10.0)) * torch.log(mse + eps).mean()


def logcosh_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean log(cosh(d)), computed stably as |d| + softplus(-2|d|) - log 2."""
    d = (pred - target).abs()
    return (d + F.softplus(-2.0 * d) - math.log(2.0)).mean()


def fft_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of the 2-D real FFTs (real and imaginary parts): sharp detail lives here."""
    fp = torch.fft.rfft2(pred.float(), norm="backward")
    ft = torch.fft.rfft2(target.float(), norm="backward")
    return (torch.view_as_real(fp) - torch.view_as_real(ft)).abs().mean()


LOSSES = {
    "l1": l1_loss,
    "charbonnier": charbonnier_loss,
    "psnr": psnr_loss,
    "logcosh": logcosh_loss,
    "fft": fft_loss,
}


def parse_loss_spec(spec: str) -> list[tuple[str, float]]:
    """``"l1"`` or ``"psnr:1,fft:0.05"`` -> [(name, weight), ...]; unknown names raise ValueError."""
    terms = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, weight = part.partition(":")
        name = name.strip().lower()
        if name not in LOSSES and name != "perceptual":
            raise ValueError(f"unknown loss {name!r}; choose from {', '.join(sorted(LOSSES))}")
        terms.append((name, float(weight) if weight else 1.0))
    if not terms:
        raise ValueError("empty loss specification")
    return terms


class ContentLoss(nn.Module):
    """A weighted sum of content losses; ``forward`` returns (total, {name: value})."""

    def __init__(self, spec: str, perceptual: nn.Module | None = None) -> None:
        super().__init__()
        self.terms = parse_loss_spec(spec)
        self.perceptual = perceptual
        if any(n == "perceptual" for n, _ in self.terms) and perceptual is None:
            raise ValueError("the perceptual loss needs --perceptual-weights (a VGG19 safetensors file)")

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        total = pred.new_zeros(())
        parts: dict[str, float] = {}
        for name, weight in self.terms:
            fn = self.perceptual if name == "perceptual" else LOSSES[name]
            value = fn(pred, target)
            parts[name] = float(value.detach())
            total = total + weight * value
        return total, parts
