"""ModelDescriptor and each architecture's spec: fields, size multiples, detectors, cross-checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save

from restore_cli import weights as W
from restore_cli.errors import BadWeightsError
from restore_cli.models import create_model, get_arch, importable_archs, list_archs
from restore_cli.models.descriptor import ModelDescriptor
from restore_cli.weights_import import detect_arch

# Hyperparameters small enough that each model runs in a fraction of a second on CPU.
TINY: dict[str, dict] = {
    "nafnet": {"width": 4, "enc_blocks": [1, 1], "middle_blocks": 1, "dec_blocks": [1, 1]},
    "unet": {"base": 4, "depth": 3, "head": "bins"},
    "deblurgan": {"ngf": 4, "n_blocks": 2, "laplacian": True},
    "rednet30": {"width": 4, "depth": 4},
    "msdeblur": {"width": 4, "n_blocks": 1},
    "eccv16": {"width": 0.0625},
    "siggraph17": {"width": 0.0625, "classes": 8},
}

# Variations whose size multiple differs, for the multiple-is-right checks.
VARIANTS: list[tuple[str, dict, int]] = [
    ("nafnet", {"width": 4, "enc_blocks": [1], "middle_blocks": 1, "dec_blocks": [1]}, 2),
    ("nafnet", {"width": 4, "enc_blocks": [1, 1, 1], "middle_blocks": 1, "dec_blocks": [1, 1, 1]}, 8),
    ("unet", {"base": 4, "depth": 3}, 8),
    ("unet", {"base": 4, "depth": 4, "head": "bins"}, 16),
    ("deblurgan", {"ngf": 4, "n_blocks": 1}, 4),
    ("rednet30", {"width": 4, "depth": 2}, 1),
    ("msdeblur", {"width": 4, "n_blocks": 1, "scales": 2}, 2),
    ("msdeblur", {"width": 4, "n_blocks": 1, "scales": 3}, 4),
    ("msdeblur", {"width": 4, "n_blocks": 1, "scales": 4}, 8),  # the spec once said 4 for every scale count
    ("eccv16", {"width": 0.0625}, 8),
    ("siggraph17", {"width": 0.0625, "classes": 8}, 8),
]


def describe(arch: str, seed: int = 0, **overrides) -> ModelDescriptor:
    torch.manual_seed(seed)
    spec = get_arch(arch)
    hyper = spec.hyper(**{**TINY.get(arch, {}), **overrides})
    return ModelDescriptor.describe(spec.build(**hyper).eval(), spec, hyper)


def test_every_registered_architecture_has_tiny_settings_here():
    assert sorted(TINY) == list_archs()


@pytest.mark.parametrize("arch", list_archs())
def test_descriptor_fields_follow_the_spec_and_hyperparameters(arch):
    model = describe(arch)
    spec = get_arch(arch)
    assert model.arch == arch and model.spec is spec and model.hyper == spec.hyper(**TINY[arch])
    assert model.size_multiple == spec.size_multiple_for(model.hyper) >= 1
    assert model.bytes_per_pixel > 0 and model.supports_half == spec.supports_half
    if spec.task == "deblur":
        assert model.task == "deblur" and model.head == "image"
        assert model.in_channels == model.out_channels == 3 and model.work_size is None
        assert model.laplacian == (arch == "deblurgan")
    else:
        assert model.task == "colorize" and model.in_channels == 1 and model.work_size == 256
        assert model.head == ("bins" if arch in ("unet", "eccv16") else "ab")
        assert model.out_channels == (313 if model.head == "bins" else 2)
        assert not model.laplacian


def test_gray_deblur_model_is_described_as_deblur_gray():
    model = describe("nafnet", in_channels=1)
    assert model.task == "deblur-gray" and model.in_channels == model.out_channels == 1


@pytest.mark.parametrize("arch", list_archs())
def test_call_pads_crops_and_clamps_any_size(arch):
    model = describe(arch)
    x = torch.rand(1, model.in_channels, 29, 37)
    if model.task == "colorize":
        x = x - 0.5  # (L - 50) / 100
    with torch.no_grad():
        for p in model.module.parameters():
            p.add_(0.3 * torch.randn_like(p))  # outputs outside [0, 1] for the clamp to act on
    out = model(x)
    assert torch.isfinite(out).all() and out.shape[:2] == (1, model.out_channels)
    if model.head == "image":
        assert out.shape[-2:] == (29, 37) and 0 <= out.min() and out.max() <= 1
    else:
        # heads at a quarter of the resolution are cropped in proportion: 29 x 37 padded to 32 x 40 -> 7 x 9
        assert out.shape[-2:] in ((29, 37), (7, 9))


@pytest.mark.parametrize(("arch", "hyper", "multiple"), VARIANTS)
def test_size_multiple_is_what_the_network_needs(arch, hyper, multiple):
    spec = get_arch(arch)
    full = spec.hyper(**hyper)
    assert spec.size_multiple_for(full) == multiple
    module = spec.build(**full).eval()
    channels = spec.in_channels_for(full)
    h, w = 2 * multiple, 3 * multiple
    with torch.inference_mode():
        out = module(torch.rand(1, channels, h, w))
    factor = h // out.shape[-2]
    assert factor in (1, 4) and out.shape[-2:] == (h // factor, w // factor)
    if multiple == 1:
        return
    off = (h + multiple // 2, w + multiple // 2)  # a multiple of half of it only
    if arch == "msdeblur":  # its pyramid still runs, but a level is no longer an exact halving
        from restore_cli.models.msdeblur import image_pyramid

        sizes = [tuple(t.shape[-2:]) for t in image_pyramid(torch.zeros(1, 1, *off), full["scales"])]
        assert any(2 * a != b for a, b in zip(sizes[0], sizes[1])) or any(
            2 * c != d for c, d in zip(sizes[-2], sizes[-1])
        )
        return
    try:
        with torch.inference_mode():
            out = module(torch.rand(1, channels, *off))
    except RuntimeError:
        return  # mismatched skip connections
    assert out.shape[-2:] != (off[0] // factor, off[1] // factor)


def old_engine_path(module: torch.nn.Module, x: torch.Tensor, multiple: int) -> torch.Tensor:
    """The engine's forward before descriptors: numpy padding, module, crop, clamp."""
    h, w = x.shape[-2:]
    array = x[0].permute(1, 2, 0).numpy()
    mode = "reflect" if h > 1 and w > 1 else "edge"
    padded = np.pad(array, ((0, -h % multiple), (0, -w % multiple), (0, 0)), mode=mode)
    batch = torch.from_numpy(np.ascontiguousarray(padded.transpose(2, 0, 1)))[None]
    with torch.inference_mode():
        return module(batch)[:, :, :h, :w].clamp(0.0, 1.0)


@pytest.mark.parametrize(("h", "w"), [(29, 37), (3, 5), (1, 7), (16, 16), (2, 2)])
def test_call_equals_the_old_engine_path(h, w):
    model = describe("nafnet", seed=h)
    with torch.no_grad():
        for name, p in model.module.named_parameters():
            if name.endswith(("beta", "gamma")):
                p.uniform_(-0.5, 0.5)  # NAF blocks start as identity: make them work
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(w))
    eager = ModelDescriptor(model.module, "deblur", 3, 3, model.size_multiple)  # no spec: trained form
    old = old_engine_path(model.module, x, model.size_multiple)
    assert (eager(x) - old).abs().max() <= 1e-6
    assert (model(x) - old).abs().max() <= 1e-4  # the inference form: the same outputs within 1e-4


# --- detectors: each importable architecture recognises its own state dict and reads its hyperparameters


def test_importable_architectures_come_from_the_registry():
    assert importable_archs()[:4] == ["nafnet", "deblurgan", "eccv16", "siggraph17"]  # detectors' order
    for arch in list_archs():
        spec = get_arch(arch)
        assert (arch in importable_archs()) == (spec.detect is not None and spec.hyper_from_state is not None)


@pytest.mark.parametrize(
    ("arch", "hyper"),
    [
        ("nafnet", {"width": 4, "enc_blocks": [1, 2], "middle_blocks": 2, "dec_blocks": [2, 1]}),
        ("nafnet", {"in_channels": 1, "width": 8, "enc_blocks": [1], "middle_blocks": 1, "dec_blocks": [1]}),
        ("deblurgan", {"ngf": 4, "n_blocks": 3, "laplacian": True, "dropout": 0.0}),
        ("deblurgan", {"ngf": 8, "n_blocks": 2, "in_channels": 1}),
        ("eccv16", {"width": 0.0625}),
        ("siggraph17", {"width": 0.125, "classes": 8}),
    ],
)
def test_detect_and_hyper_from_state_round_trip(arch, hyper):
    spec = get_arch(arch)
    full = spec.hyper(**hyper)
    state = create_model(arch, **hyper).state_dict()
    assert detect_arch(state) == arch
    assert [a for a in importable_archs() if get_arch(a).detect(state)] == [arch]
    found = spec.hyper_from_state(state)
    assert found and all(full[k] == v for k, v in found.items())
    assert spec.hyper(**found) == full or arch == "deblurgan"  # a dropout rate is not in the tensors
    # The same from a safetensors header alone (shapes, no tensor data): what load_model checks.
    header = W.parse_header(save({k: v.contiguous() for k, v in state.items()}))
    assert spec.hyper_from_state(header.tensors) == found


def test_non_importable_architectures_are_not_detected():
    for arch in ("unet", "rednet30", "msdeblur"):
        assert detect_arch(create_model(arch, **TINY[arch]).state_dict()) is None


# --- load: the file's metadata must agree with its tensors


def test_metadata_disagreeing_with_the_tensors_is_refused_before_building(tmp_path, monkeypatch):
    import dataclasses

    from restore_cli import models

    small = create_model("nafnet", **TINY["nafnet"])
    path = tmp_path / "liar.safetensors"
    W.save_weights(path, small, "nafnet", {**TINY["nafnet"], "width": 4096})  # metadata claims width 4096
    built = []
    watched = dataclasses.replace(get_arch("nafnet"), build=lambda **hyper: built.append(hyper))
    monkeypatch.setattr(models, "get_arch", lambda arch: watched)
    with pytest.raises(BadWeightsError) as err:
        W.load_model(path, task="deblur")
    message = str(err.value)
    assert str(path) in message and "width 4096" in message and "width 4" in message and "tensors" in message
    assert built == []


def test_metadata_with_wrong_block_counts_is_refused(tmp_path):
    path = tmp_path / "blocks.safetensors"
    module = create_model("nafnet", **TINY["nafnet"])
    W.save_weights(path, module, "nafnet", {**TINY["nafnet"], "enc_blocks": [1, 3]})
    with pytest.raises(BadWeightsError, match=r"enc_blocks \[1, 3\].*enc_blocks \[1, 1\]"):
        W.load_model(path, task="deblur")


def test_fractional_widths_pass_the_cross_check(tmp_path):
    path = tmp_path / "eccv.safetensors"
    W.save_weights(path, create_model("eccv16", width=0.3), "eccv16", {"width": 0.3})  # 19 of 64 channels
    model = W.load_model(path, task="colorize")
    assert model.hyper["width"] == 0.3 and model.head == "bins"


def test_metadata_of_the_shipped_weights_agrees_with_their_tensors():
    for entry in W.list_weights():
        if entry.origin != "shipped":
            continue
        model = W.load_model(entry.name, task=None)
        found = model.spec.hyper_from_state(model.module.state_dict()) if model.spec.hyper_from_state else {}
        assert all(model.hyper[k] == v for k, v in found.items())
        assert isinstance(model, ModelDescriptor)
        assert model.name == entry.name and model.sha256 == entry.sha256


def test_imported_checkpoint_is_described(tmp_path):
    from restore_cli.weights_import import convert_checkpoint

    path = tmp_path / "upstream.pth"
    torch.save({"params": create_model("nafnet", **TINY["nafnet"]).state_dict()}, path)
    converted, model = convert_checkpoint(path)
    assert isinstance(model, ModelDescriptor) and model.arch == converted.arch == "nafnet"
    assert model.size_multiple == 4 and model.path == path
    assert model.metadata == {"inference": {"tlc_base_size": 384}}
    assert json.dumps(model.hyper)  # plain JSON values
