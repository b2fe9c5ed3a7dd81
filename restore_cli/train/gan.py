"""WGAN-GP adversarial training: a PatchGAN critic with layer norm, the gradient penalty, noisy labels.

As in DeblurGAN: the critic scores overlapping patches (no sigmoid: a Wasserstein critic), uses layer norm
instead of batch norm (batch statistics break the per-sample gradient penalty), is updated ``n_critic`` times
per generator step, and, following the Laplacian-conditioned DeblurGAN paper, 10% of its real/fake labels are
flipped to keep it from becoming over-confident.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class PatchCritic(nn.Module):
    """PatchGAN critic: strided 4x4 convolutions, layer norm (GroupNorm with one group), LeakyReLU 0.2.

    ``forward(x)`` returns an ``N x 1 x h x w`` map of patch scores (unbounded).
    """

    def __init__(self, in_channels: int = 3, width: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, width, 4, stride=2, padding=2),
            nn.LeakyReLU(0.2, True),
        ]
        ch = width
        for i in range(1, n_layers + 1):
            out = width * min(2**i, 8)
            stride = 2 if i < n_layers else 1
            layers += [
                nn.Conv2d(ch, out, 4, stride=stride, padding=2),
                nn.GroupNorm(1, out),
                nn.LeakyReLU(0.2, True),
            ]
            ch = out
        layers.append(nn.Conv2d(ch, 1, 4, stride=1, padding=2))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def gradient_penalty(
    critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, alpha: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean of (||grad_x critic(x)||_2 - 1)^2 at random points between real and fake (Gulrajani et al.).

    ``alpha`` (N x 1 x 1 x 1) picks the points; drawn uniformly when None. The graph is kept so the penalty
    can be back-propagated into the critic.
    """
    if alpha is None:
        alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    x = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    scores = critic(x)
    (grads,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return ((grads.flatten(1).norm(2, dim=1) - 1.0) ** 2).mean()


def critic_loss(
    critic: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    gp_weight: float = 10.0,
    label_noise: float = 0.0,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """WGAN-GP critic loss, E[D(fake)] - E[D(real)] + gp_weight * GP, with per-sample label flips.

    A flipped sample (probability ``label_noise``) has its real and fake roles swapped in the Wasserstein
    term.
    """
    d_real = critic(real).flatten(1).mean(1)
    d_fake = critic(fake.detach()).flatten(1).mean(1)
    sign = torch.ones_like(d_real)
    if label_noise > 0:
        flips = torch.rand(d_real.shape, generator=generator, device="cpu").to(d_real.device) < label_noise
        sign = torch.where(flips, -sign, sign)
    wasserstein = (sign * (d_fake - d_real)).mean()
    gp = gradient_penalty(critic, real, fake)
    total = wasserstein + gp_weight * gp
    return total, {"critic_w": float(wasserstein.detach()), "gp": float(gp.detach())}


def generator_adv_loss(critic: nn.Module, fake: torch.Tensor) -> torch.Tensor:
    """The generator's adversarial loss: -E[D(fake)]."""
    return -critic(fake).mean()
