"""Perceptual loss: distances between VGG19 features, with weights the user supplies (nothing is downloaded).

Our own VGG19 feature extractor uses torchvision's layer numbering (``features.N.weight`` / ``.bias``), so a
torchvision checkpoint converts with one line (see ``CONVERT_HINT``). Only the layers up to the chosen one are
built and loaded, strictly.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from restore_cli.errors import BadWeightsError, UsageError

# VGG19's convolutional configuration: channels per conv, "M" for max pooling (torchvision's "E" config).
VGG19_CFG = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
    "M",
)

CONVERT_HINT = (
    "convert torchvision's vgg19 file once with: python -c \"import torch; from safetensors.torch import "
    "save_file; sd = torch.load('vgg19-dcbb9e9d.pth', weights_only=True); save_file({k: v.contiguous() "
    "for k, v in sd.items() if k.startswith('features.')}, 'vgg19.safetensors')\""
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg19_layer_index(name: str) -> int:
    """torchvision index of a named layer: ``conv3_3`` -> 14, ``relu3_3`` -> 15, ``pool2`` -> 9."""
    index, block, conv = 0, 1, 0
    for item in VGG19_CFG:
        if item == "M":
            if name == f"pool{block}":
                return index
            index += 1
            block, conv = block + 1, 0
            continue
        conv += 1
        if name == f"conv{block}_{conv}":
            return index
        if name == f"relu{block}_{conv}":
            return index + 1
        index += 2
    raise UsageError(f"unknown VGG19 layer {name!r}; use e.g. conv3_3, relu2_2, relu5_4")


def build_vgg19_features(last_index: int) -> nn.Sequential:
    """VGG19 ``features`` up to and including ``last_index`` (torchvision numbering, random weights)."""
    layers: list[nn.Module] = []
    in_ch = 3
    for item in VGG19_CFG:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(in_ch, int(item), 3, padding=1), nn.ReLU(inplace=False)]
            in_ch = int(item)
    return nn.Sequential(*layers[: last_index + 1])


class VGGPerceptualLoss(nn.Module):
    """Mean squared distance of VGG19 features (default conv3_3, as DeblurGAN) of prediction and target.

    Inputs are images in [0, 1] (gray is repeated to RGB), normalised with ImageNet statistics.
    The network is frozen; gradients flow only into the prediction.
    """

    def __init__(self, weights: str | Path | None = None, layer: str = "conv3_3") -> None:
        super().__init__()
        self.layer = layer
        self.features = build_vgg19_features(vgg19_layer_index(layer))
        if weights is not None:
            self.load(weights)
        self.features.eval()
        for p in self.features.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def load(self, path: str | Path) -> None:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_file():
            raise UsageError(f"VGG19 weights not found; {CONVERT_HINT}", path)
        try:
            tensors = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise BadWeightsError(f"not a readable safetensors file ({exc}); {CONVERT_HINT}", path) from None
        wanted = {f"features.{k}": v for k, v in self.features.state_dict().items()}
        missing = sorted(k for k in wanted if k not in tensors)
        if missing:
            raise BadWeightsError(f"missing VGG19 tensors {', '.join(missing[:4])}; {CONVERT_HINT}", path)
        state = {}
        for key, ref in wanted.items():
            if tuple(tensors[key].shape) != tuple(ref.shape):
                raise BadWeightsError(
                    f"{key} has shape {tuple(tensors[key].shape)}, expected {tuple(ref.shape)}", path
                )
            state[key[len("features.") :]] = tensors[key].float()
        self.features.load_state_dict(state, strict=True)

    def _feat(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.features((x - self.mean) / self.std)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target_feat = self._feat(target)
        return F.mse_loss(self._feat(pred), target_feat)

    def train(self, mode: bool = True) -> VGGPerceptualLoss:
        super().train(mode)
        self.features.eval()  # always frozen
        return self
