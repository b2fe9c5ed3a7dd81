"""Small pieces shared by several architectures."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# The 4-neighbour Laplacian used by the Laplacian-conditioned DeblurGAN variant.
LAPLACIAN_KERNEL = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))


def laplacian(x: torch.Tensor) -> torch.Tensor:
    """Laplacian of an N x C x H x W image (reflect-padded, same size; RGB is averaged to gray first)."""
    gray = x.mean(1, keepdim=True) if x.shape[1] > 1 else x
    kernel = torch.tensor(LAPLACIAN_KERNEL, dtype=x.dtype, device=x.device).view(1, 1, 3, 3)
    return F.conv2d(F.pad(gray, (1, 1, 1, 1), mode="reflect"), kernel)


def with_laplacian(x: torch.Tensor) -> torch.Tensor:
    """``concat(x, laplacian(x))``: the 4th input channel of the Laplacian-conditioned models."""
    return torch.cat([x, laplacian(x)], 1)


def conv_relu_stack(
    channels: list[int], *, dilation: int = 1, last_stride: int = 1, norm: bool = True
) -> nn.Sequential:
    """3x3 conv + ReLU for each step of ``channels``, then BatchNorm: the blocks of Zhang et al.'s colorizers.

    Indices match the official PyTorch ports: convs at 0, 2, 4, ..., the norm last (``model1.4`` etc.).
    """
    layers: list[nn.Module] = []
    steps = list(zip(channels[:-1], channels[1:]))
    for i, (c_in, c_out) in enumerate(steps):
        stride = last_stride if i == len(steps) - 1 else 1
        layers += [
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation),
            nn.ReLU(True),
        ]
    if norm:
        layers.append(nn.BatchNorm2d(channels[-1]))
    return nn.Sequential(*layers)
