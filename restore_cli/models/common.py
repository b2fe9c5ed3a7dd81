"""Small pieces shared by several architectures."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

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


def key_indices(state: Mapping[str, Any], prefix: str) -> list[int]:
    """Sorted distinct integers N in keys ``prefix + "N." + ...`` (block counts of an upstream state dict)."""
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    return sorted({int(m.group(1)) for k in state if (m := pattern.match(k))})


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


# ---------------------------------------------------------------------------------------------------------
# Inference forms: the same function as a trained module, rearranged to run faster (never trained).
# ---------------------------------------------------------------------------------------------------------


class ChannelsLast(nn.Module):
    """Runs ``inner`` on a channels_last copy of its input (for inference forms).

    oneDNN's convolutions are fastest on NHWC memory, and a convolution given NHWC input gives NHWC output,
    so converting once at the input keeps every later layer in that layout. The weights are left as they
    are: inference forms share unchanged layers with the trained module.
    """

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x.contiguous(memory_format=torch.channels_last))


def channel_layer_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    """LayerNorm over the channels of an N x C x H x W tensor, without affine: one fused kernel on NHWC.

    On a channels_last tensor the permuted view is contiguous, so one normalisation kernel runs in one pass
    instead of the five elementwise passes (mean, centre, square, mean, divide) of the training form. That
    kernel is ``F.group_norm`` with one group over each pixel's channels (the pixels as its batch), which
    measured faster than ``F.layer_norm`` over the same view on one thread: 1.15x for 16 channels, 1.5-1.9x
    for 32-256 (the default model as a whole 8%).
    """
    n, c, h, w = x.shape
    y = F.group_norm(x.permute(0, 2, 3, 1).reshape(-1, 1, c), 1, eps=eps)
    return y.view(n, h, w, c).permute(0, 3, 1, 2)


class Pointwise(nn.Module):
    """A 1x1 convolution on channels_last tensors without layout copies or a separate bias pass.

    PyTorch sends single-threaded small-batch 1x1 convolutions to a path that copies channels_last input
    back to NCHW, and ``F.linear`` with a bias spends more time broadcasting the bias than multiplying.
    On CPU in fp32 this calls oneDNN's convolution directly (NHWC in and out, bias fused); elsewhere (other
    devices, autocast) a plain ``mm`` over the NHWC view, weight stored transposed, then the bias.
    ``scale`` (per input channel, batch 1) multiplies the weights instead of the activations; ``residual``
    (same shape as the output) is added in place.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        super().__init__()
        weight = weight.detach()
        self.register_buffer("weight_t", weight.t().contiguous())  # in x out
        bias = bias.detach().clone() if bias is not None else weight.new_zeros(len(weight))
        self.register_buffer("bias", bias)

    @classmethod
    @torch.no_grad()
    def fold(
        cls,
        conv: nn.Conv2d,
        in_scale: torch.Tensor | None = None,
        in_shift: torch.Tensor | None = None,
        out_scale: torch.Tensor | None = None,
    ) -> Pointwise:
        """``conv(x * in_scale + in_shift) * out_scale`` (all per channel) for an ungrouped 1x1 ``conv``."""
        if conv.kernel_size != (1, 1) or conv.groups != 1 or conv.stride != (1, 1) or conv.padding != (0, 0):
            raise ValueError("Pointwise replaces only ungrouped, unstrided, unpadded 1x1 convolutions")
        weight = conv.weight[:, :, 0, 0]
        bias = conv.bias if conv.bias is not None else weight.new_zeros(len(weight))
        if in_shift is not None:
            bias = bias + weight @ in_shift.reshape(-1)
        if in_scale is not None:
            weight = weight * in_scale.reshape(1, -1)
        if out_scale is not None:
            weight = weight * out_scale.reshape(-1, 1)
            bias = bias * out_scale.reshape(-1)
        return cls(weight, bias)

    def forward(
        self, x: torch.Tensor, scale: torch.Tensor | None = None, residual: torch.Tensor | None = None
    ) -> torch.Tensor:
        n, c, h, w = x.shape
        weight_t = self.weight_t if scale is None else self.weight_t * scale.reshape(-1, 1)
        if _ONEDNN and x.device.type == "cpu" and x.dtype == weight_t.dtype == torch.float32:
            weight = weight_t.t()[:, :, None, None]  # out x in x 1 x 1, channels_last strides
            out = torch.mkldnn_convolution(x, weight, self.bias, (0, 0), (1, 1), (1, 1), 1)
            return out if residual is None else out.add_(residual)
        rows = x.permute(0, 2, 3, 1).reshape(-1, c)  # a view when x is channels_last
        if residual is None:
            out = torch.mm(rows, weight_t)
        else:
            out = torch.addmm(residual.permute(0, 2, 3, 1).reshape(-1, weight_t.shape[1]), rows, weight_t)
        out.add_(self.bias)
        return out.view(n, h, w, -1).permute(0, 3, 1, 2)


_ONEDNN = hasattr(torch, "mkldnn_convolution") and torch.backends.mkldnn.is_available()


@torch.no_grad()
def fold_output_scale(
    conv: nn.Conv2d | nn.ConvTranspose2d, scale: torch.Tensor, shift: torch.Tensor | None = None
) -> nn.Module:
    """A copy of ``conv`` equal to ``conv(x) * scale + shift`` (per output channel)."""
    fused = copy.deepcopy(conv)
    scale = scale.reshape(-1)
    # Conv2d weights are out x in/groups x kh x kw; ConvTranspose2d weights are in x out/groups x kh x kw.
    if isinstance(conv, nn.ConvTranspose2d):
        if conv.groups != 1:
            raise ValueError("grouped transposed convolutions are not folded")
        fused.weight.mul_(scale.view(1, -1, 1, 1))
    else:
        fused.weight.mul_(scale.view(-1, 1, 1, 1))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
    new_bias = bias * scale + (shift.reshape(-1) if shift is not None else 0.0)
    fused.bias = nn.Parameter(new_bias.clone())
    return fused
