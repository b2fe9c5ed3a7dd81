"""Small pieces shared by several architectures."""

from __future__ import annotations

import torch
import torch.nn.functional as F

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
