"""The training stack: losses, config, schedule, exact resume, export, and the CLI (tiny models, CPU)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from restore_cli.data.datasets import SharpPhotoDataset
from restore_cli.data.synth import Degradation
from restore_cli.data.validation import ValSet
from restore_cli.errors import UsageError
from restore_cli.train.config import TrainConfig, build_config, parse_duration
from restore_cli.train.losses import (
    ContentLoss,
    charbonnier_loss,
    fft_loss,
    l1_loss,
    logcosh_loss,
    parse_loss_spec,
    psnr_loss,
)
from restore_cli.train.metrics import psnr_u8, ssim_u8
from restore_cli.train.trainer import DeblurTrainer, lr_factor

TINY_HYPER = {"width": 4, "enc_blocks": [1], "middle_blocks": 1, "dec_blocks": [1]}


def _images(n: int = 2) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        y, x = np.mgrid[0:48, 0:48]
        img = np.stack([(x * (i + 2)) % 255, (y * 3) % 255, ((x // 6 + y // 6) % 2) * 255], -1).astype(float)
        out.append(np.clip(img * 0.8 + rng.uniform(0, 50, img.shape), 0, 255).astype(np.uint8))
    return out


def _dataset() -> SharpPhotoDataset:
    degradation = Degradation(kind="gaussian", kernel_size=7, gaussian_sigma=(1.0, 2.0), p_jpeg=0.0)
    return SharpPhotoDataset("memory", patch=16, degradation=degradation, seed=1, images=_images())


def _valset() -> ValSet:
    sharp = _images(1)[0][:32, :32]
    blurred = np.clip(sharp.astype(int) + 10, 0, 255).astype(np.uint8)
    return ValSet([blurred], [sharp], "test recipe")


def _config(tmp_path: Path, **overrides) -> TrainConfig:
    values = dict(
        data="memory",
        arch="nafnet",
        hyper=dict(TINY_HYPER),
        patch=16,
        batch=2,
        iters=6,
        warmup=2,
        lr=2e-3,
        workers=0,
        val_every=0,
        checkpoint_every=0,
        checkpoint=str(tmp_path / "run.ckpt.pt"),
        log=str(tmp_path / "run.log.jsonl"),
        device="cpu",
    )
    values.update(overrides)
    return TrainConfig(**values)


# -- losses ---


def test_losses_match_hand_computed_values() -> None:
    pred = torch.tensor([[[[0.0, 0.5], [1.0, 0.25]]]])
    target = torch.tensor([[[[0.5, 0.5], [0.0, 0.25]]]])
    # differences: 0.5, 0, 1, 0
    assert math.isclose(float(l1_loss(pred, target)), 1.5 / 4, rel_tol=1e-6)
    expected_charb = (2 * math.sqrt(1e-6) + math.sqrt(0.25 + 1e-6) + math.sqrt(1 + 1e-6)) / 4
    assert math.isclose(float(charbonnier_loss(pred, target)), expected_charb, rel_tol=1e-5)
    mse = (0.25 + 1.0) / 4
    assert math.isclose(float(psnr_loss(pred, target)), 10 * math.log10(mse + 1e-8), rel_tol=1e-5)
    expected_lc = (math.log(math.cosh(0.5)) + math.log(math.cosh(1.0))) / 4
    assert math.isclose(float(logcosh_loss(pred, target)), expected_lc, rel_tol=1e-5)
    # FFT loss: identical images give 0; a constant offset c changes only the DC term (c * H * W).
    img = torch.rand(1, 1, 4, 4)
    assert float(fft_loss(img, img)) == 0
    dc = float(fft_loss(img + 0.1, img))
    n_coeffs = 4 * 3 * 2  # rfft2 of 4x4: 4 x 3 complex values, 2 reals each
    assert math.isclose(dc, 0.1 * 16 / n_coeffs, rel_tol=1e-4)


def test_loss_spec_and_weighted_sum() -> None:
    assert parse_loss_spec("psnr:1, fft:0.5") == [("psnr", 1.0), ("fft", 0.5)]
    with pytest.raises(ValueError):
        parse_loss_spec("l3")
    pred, target = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    total, parts = ContentLoss("l1:2,fft:0.5")(pred, target)
    assert math.isclose(float(total), 2 * parts["l1"] + 0.5 * parts["fft"], rel_tol=1e-6)


def test_metrics_on_known_images() -> None:
    a = np.full((16, 16, 3), 100, np.uint8)
    b = a.copy()
    b[0, 0, 0] = 110  # one pixel off by 10: MSE = 100 / 768
    assert math.isclose(psnr_u8(a, b), 10 * math.log10(255**2 / (100 / 768)), rel_tol=1e-9)
    assert psnr_u8(a, a) == 100.0
    assert math.isclose(ssim_u8(a, a), 1.0, rel_tol=1e-9)
    noisy = np.clip(a + np.random.default_rng(0).normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    assert ssim_u8(a, noisy) < 0.9


def _reference_ssim_u8(a: np.ndarray, b: np.ndarray) -> float:
    """The formula training validation used before it moved to bench.metrics (cv2.GaussianBlur, crop 5)."""
    import cv2

    x, y = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    scores = []
    for ch in range(x.shape[2]):
        xc, yc = x[..., ch], y[..., ch]

        def blur(t: np.ndarray) -> np.ndarray:
            return cv2.GaussianBlur(t, (11, 11), 1.5)[5:-5, 5:-5]

        mx, my = blur(xc), blur(yc)
        sxx, syy, sxy = blur(xc * xc) - mx * mx, blur(yc * yc) - my * my, blur(xc * yc) - mx * my
        num = (2 * mx * my + c1) * (2 * sxy + c2)
        scores.append(float(np.mean(num / ((mx**2 + my**2 + c1) * (sxx + syy + c2)))))
    return float(np.mean(scores))


def test_training_metrics_are_bench_metrics_with_unchanged_values() -> None:
    """Training validation calls bench.metrics; the values equal the formulas it used before."""
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (23, 31, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 31, a.shape), 0, 255).astype(np.uint8)
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    assert math.isclose(psnr_u8(a, b), 10 * math.log10(255**2 / mse), rel_tol=1e-12)
    assert math.isclose(ssim_u8(a, b), _reference_ssim_u8(a, b), rel_tol=0, abs_tol=1e-9)
    assert ssim_u8(a, b) < 0.99


# -- config ---


def test_durations() -> None:
    assert parse_duration("90m") == 5400
    assert parse_duration("1h30m") == 5400
    assert parse_duration("45s") == 45
    assert parse_duration(12) == 12
    assert parse_duration("") == 0
    with pytest.raises(UsageError):
        parse_duration("soon")


def test_toml_config_with_overrides_and_unknown_keys(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('data = "photos"\niters = 100\ntime-limit = "90m"\n[hyper]\nwidth = 8\n')
    cfg = build_config(good, iters=5, hyper={"middle_blocks": 2}, lr=None)
    assert cfg.data == "photos" and cfg.iters == 5 and cfg.time_limit_s() == 5400
    assert cfg.hyper == {"width": 8, "middle_blocks": 2}
    bad = tmp_path / "bad.toml"
    bad.write_text('data = "photos"\nlearning_rate = 1\n')
    with pytest.raises(UsageError, match="learning_rate") as info:
        build_config(bad)
    assert "bad.toml" in str(info.value)
    with pytest.raises(UsageError):
        TrainConfig(data="x").check()  # neither iters nor a time limit


def test_lr_schedule_warmup_then_cosine(tmp_path: Path) -> None:
    cfg = _config(tmp_path, iters=110, warmup=10, lr=1e-3, min_lr=1e-5)
    assert math.isclose(lr_factor(cfg, 0), 0.1)
    assert math.isclose(lr_factor(cfg, 10), 1.0)
    assert math.isclose(lr_factor(cfg, 60), (1 + 0.01) / 2, rel_tol=1e-6)
    assert math.isclose(lr_factor(cfg, 110), 0.01, rel_tol=1e-6)


# -- training ---


def test_tiny_run_lowers_loss_on_a_fixed_batch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    trainer = DeblurTrainer(_config(tmp_path, loss="l1", lr=3e-3, warmup=0), dataset=_dataset())
    blurred = torch.stack([trainer.dataset[i][0] for i in range(4)])
    sharp = torch.stack([trainer.dataset[i][1] for i in range(4)])
    first, _ = trainer.train_step(blurred, sharp)
    for _ in range(25):
        last, _ = trainer.train_step(blurred, sharp)
    assert last < first * 0.9


def test_resume_is_bit_identical(tmp_path: Path) -> None:
    straight = DeblurTrainer(_config(tmp_path / "a", iters=6), dataset=_dataset()).run()
    assert straight.iteration == 6 and straight.stopped_by == "iters"
    a_state = torch.load(tmp_path / "a" / "run.ckpt.pt", weights_only=True)

    first = DeblurTrainer(_config(tmp_path / "b", iters=6), dataset=_dataset())
    _run_partial(first, 3)  # as if Ctrl-C came after 3 of 6 iterations
    resumed = DeblurTrainer(
        _config(tmp_path / "b", iters=6, resume=str(tmp_path / "b" / "run.ckpt.pt")), dataset=_dataset()
    )
    assert resumed.iteration == 3 and resumed.data_pos == 6
    resumed.run()
    b_state = torch.load(tmp_path / "b" / "run.ckpt.pt", weights_only=True)
    for key in ("model", "ema"):
        for name, tensor in a_state[key].items():
            assert torch.equal(tensor, b_state[key][name]), f"{key}.{name} differs after resume"
    assert a_state["data_pos"] == b_state["data_pos"] == 12
    assert a_state["scheduler"]["last_epoch"] == b_state["scheduler"]["last_epoch"]


def _run_partial(trainer: DeblurTrainer, iters: int) -> None:
    """Run ``iters`` iterations through the real loop, as if Ctrl-C came then, and save the checkpoint."""
    from restore_cli.data.datasets import make_loader

    batches = iter(make_loader(trainer.dataset, trainer.cfg.batch, start=trainer.data_pos, workers=0))
    for _ in range(iters):
        trainer.train_step(*next(batches))
    trainer.save_checkpoint()


def test_time_limit_stops_cleanly(tmp_path: Path) -> None:
    result = DeblurTrainer(_config(tmp_path, iters=0, time_limit=0.01), dataset=_dataset()).run()
    assert result.stopped_by == "time"
    assert (tmp_path / "run.ckpt.pt").is_file()


def test_export_loads_back_with_metadata(tmp_path: Path) -> None:
    from restore_cli.weights import load_model

    out = tmp_path / "tiny.safetensors"
    cfg = _config(tmp_path, iters=4, out=str(out), val_every=2, export_best=True)
    trainer = DeblurTrainer(cfg, dataset=_dataset(), valset=_valset())
    result = trainer.run()
    assert result.out == str(out) and "psnr" in result.val
    loaded = load_model(out, task="deblur")
    assert loaded.arch == "nafnet" and loaded.hyper["width"] == 4
    training = loaded.metadata["training"]
    metrics = loaded.metadata["metrics"]
    assert training["iterations"] == 4 and "CPU" in training["hardware"] and training["wall_time_s"] >= 0
    assert "val_psnr" in metrics and metrics["val_recipe"] == "test recipe"
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert loaded.module(x).shape == x.shape

    # --init continues from the exported file: iterations add up in the next export.
    out2 = tmp_path / "tiny2.safetensors"
    cfg2 = _config(tmp_path / "second", iters=2, out=str(out2), init=str(out), hyper={})
    DeblurTrainer(cfg2, dataset=_dataset()).run()
    from restore_cli.weights import read_metadata

    assert read_metadata(out2)["training"]["iterations"] == 6


def test_export_best_records_the_metrics_of_the_exported_evaluation(tmp_path: Path) -> None:
    """--export-best writes every metric of the best evaluation, never its PSNR beside another's numbers."""
    cfg = _config(tmp_path, iters=4, out=str(tmp_path / "b.safetensors"), export_best=True)
    trainer = DeblurTrainer(cfg, dataset=_dataset(), valset=_valset())
    evaluations = iter(
        [
            {"psnr": 30.0, "ssim": 0.9, "input_psnr": 20.0},
            {"psnr": 25.0, "ssim": 0.5, "input_psnr": 20.0},
        ]
    )
    trainer._evaluate = lambda: dict(next(evaluations))
    trainer.iteration = 2
    trainer.validate()
    trainer.iteration = 4
    trainer.validate()
    metrics = trainer.export_metadata()["metrics"]
    assert metrics["val_psnr"] == 30.0 and metrics["val_ssim"] == 0.9 and metrics["val_iteration"] == 2
    assert metrics["val_gain_db"] == 10.0


def test_jsonl_log_records_training_and_validation(tmp_path: Path) -> None:
    cfg = _config(tmp_path, iters=4, log_every=2, val_every=2)
    DeblurTrainer(cfg, dataset=_dataset(), valset=_valset()).run()
    records = [json.loads(line) for line in (tmp_path / "run.log.jsonl").read_text().splitlines()]
    events = [r["event"] for r in records]
    assert events[0] == "start" and events[-1] == "stop"
    assert any(r["event"] == "train" and r["iteration"] == 4 for r in records)
    assert sum(e == "val" for e in events) >= 2


def test_cli_trains_and_rejects_unknown_config_keys(tmp_path: Path) -> None:
    import cv2
    from typer.testing import CliRunner

    from restore_cli.cli import app  # the root app: its one error handler maps errors to exit codes

    (tmp_path / "photos").mkdir()
    for i, img in enumerate(_images()):
        assert cv2.imwrite(str(tmp_path / "photos" / f"{i}.png"), img)
    runner = CliRunner()
    out = tmp_path / "w.safetensors"
    result = runner.invoke(
        app,
        [
            "train", "deblur", "--data", str(tmp_path / "photos"), "--iters", "2", "--patch", "16",
            "--batch", "2",
            "--hyper", json.dumps(TINY_HYPER), "--workers", "0", "--out", str(out), "--quiet",
            "--device", "cpu",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.is_file()
    assert json.loads(result.stdout.strip().splitlines()[-1])["iteration"] == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("itres = 3\n")
    result = runner.invoke(app, ["train", "deblur", "--config", str(bad)])
    assert result.exit_code == 2
    assert "itres" in result.output


# -- colorization ---


def _color_dataset():
    from restore_cli.data.datasets import ColorPhotoDataset

    return ColorPhotoDataset("memory", patch=16, seed=0, images=_images(3))


def test_bins_loss_matches_a_direct_computation() -> None:
    from restore_cli.color import ab_bins, rebalance_weights, soft_encode
    from restore_cli.train.colorize import bins_loss

    torch.manual_seed(0)
    bins = ab_bins()
    logits = torch.randn(1, 313, 2, 2)
    ab = torch.tensor([[[[10.0, -20.0], [0.0, 55.0]], [[30.0, 5.0], [0.0, -40.0]]]])
    target = soft_encode(ab, bins, k=5, sigma=5.0)
    assert torch.allclose(target.sum(1), torch.ones(1, 2, 2), atol=1e-6)
    assert int((target > 0).sum(1).max()) == 5
    prior = torch.rand(313)
    prior /= prior.sum()
    weights = rebalance_weights(prior, lam=0.5)
    from restore_cli.color import smooth_prior

    assert math.isclose(float((smooth_prior(prior) * weights).sum()), 1.0, rel_tol=1e-5)
    expected = 0.0
    logp = torch.log_softmax(logits, 1)
    for y in range(2):
        for x in range(2):
            t = target[0, :, y, x]
            expected += float(-(t * logp[0, :, y, x]).sum() * weights[int(t.argmax())])
    got = float(bins_loss(logits, ab, bins, weights))
    assert math.isclose(got, expected / 4, rel_tol=1e-5)


@pytest.mark.parametrize("head", ["ab", "bins"])
def test_colorize_tiny_run_exports_and_loads(tmp_path: Path, head: str) -> None:
    from restore_cli.data.validation import ValSet
    from restore_cli.train.colorize import ColorizeTrainer
    from restore_cli.weights import load_model

    out = tmp_path / "c.safetensors"
    cfg = _config(
        tmp_path,
        task="colorize",
        arch="unet",
        hyper={"base": 4, "depth": 3, "head": head},
        iters=3,
        out=str(out),
        val_every=3,
    )
    img = _images(1)[0][:32, :32]
    valset = ValSet([img[..., :1]], [img], "color test recipe")
    trainer = ColorizeTrainer(cfg, dataset=_color_dataset(), valset=valset)
    if head == "bins":
        assert trainer.prior is not None and math.isclose(float(trainer.prior.sum()), 1.0, rel_tol=1e-5)
    result = trainer.run()
    assert {"psnr", "gray_psnr", "colorfulness", "colorfulness_truth", "mean_a", "mean_b"} <= set(result.val)
    loaded = load_model(out, task="colorize")
    assert loaded.hyper["head"] == head
    assert loaded.metadata["metrics"]["val_recipe"] == "color test recipe"
    assert loaded.metadata["training"]["recipe"]["head"] == head


def test_colorize_ab_head_with_wgan_gp(tmp_path: Path) -> None:
    from restore_cli.train.colorize import ColorizeTrainer

    cfg = _config(
        tmp_path,
        task="colorize",
        arch="unet",
        hyper={"base": 4, "depth": 2, "head": "ab"},
        gan="wgan-gp",
        n_critic=1,
        critic_width=4,
        iters=2,
    )
    trainer = ColorizeTrainer(cfg, dataset=_color_dataset())
    result = trainer.run()
    assert result.iteration == 2 and trainer.critic is not None
    assert trainer.critic.net[0].in_channels == 3  # the critic sees (L, a, b)
    with pytest.raises(UsageError, match="head ab"):
        ColorizeTrainer(
            _config(
                tmp_path,
                task="colorize",
                arch="unet",
                hyper={"base": 4, "depth": 3, "head": "bins"},
                gan="wgan-gp",
            ),
            dataset=_color_dataset(),
        )


# -- adversarial ---


def test_gradient_penalty_matches_direct_autograd() -> None:
    from restore_cli.train.gan import PatchCritic, gradient_penalty

    torch.manual_seed(0)
    critic = PatchCritic(3, width=4, n_layers=2)
    real, fake = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    alpha = torch.tensor([0.25, 0.75]).view(2, 1, 1, 1)
    got = gradient_penalty(critic, real, fake, alpha=alpha)
    expected = 0.0
    for i in range(2):
        x = (alpha[i] * real[i : i + 1] + (1 - alpha[i]) * fake[i : i + 1]).requires_grad_(True)
        (g,) = torch.autograd.grad(critic(x).sum(), x)
        expected += (float(g.norm()) - 1.0) ** 2
    assert math.isclose(float(got.detach()), expected / 2, rel_tol=1e-4)
    got.backward()  # the penalty trains the critic (every weight; biases do not change input gradients)
    assert all(m.weight.grad is not None for m in critic.modules() if isinstance(m, torch.nn.Conv2d))


def test_critic_uses_layer_norm_and_label_noise_flips_roles() -> None:
    from restore_cli.train.gan import PatchCritic, critic_loss

    critic = PatchCritic(3, width=4, n_layers=2)
    assert any(isinstance(m, torch.nn.GroupNorm) and m.num_groups == 1 for m in critic.modules())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in critic.modules())
    real, fake = torch.rand(4, 3, 16, 16), torch.rand(4, 3, 16, 16)
    torch.manual_seed(1)
    _, clean = critic_loss(critic, real, fake, gp_weight=0.0, label_noise=0.0)
    torch.manual_seed(1)
    _, flipped = critic_loss(critic, real, fake, gp_weight=0.0, label_noise=0.4999)
    with torch.no_grad():
        d_real = critic(real).flatten(1).mean(1)
        d_fake = critic(fake).flatten(1).mean(1)
    assert math.isclose(clean["critic_w"], float((d_fake - d_real).mean()), rel_tol=1e-5)
    assert not math.isclose(clean["critic_w"], flipped["critic_w"], rel_tol=1e-6)


def test_wgan_gp_training_runs_and_resumes_exactly(tmp_path: Path) -> None:
    gan = dict(gan="wgan-gp", n_critic=2, critic_width=4, loss="l1", iters=4)
    straight = DeblurTrainer(_config(tmp_path / "a", **gan), dataset=_dataset())
    result = straight.run()
    assert result.iteration == 4
    first = DeblurTrainer(_config(tmp_path / "b", **gan), dataset=_dataset())
    _run_partial(first, 2)
    resumed = DeblurTrainer(
        _config(tmp_path / "b", resume=str(tmp_path / "b" / "run.ckpt.pt"), **gan), dataset=_dataset()
    )
    resumed.run()
    a = torch.load(tmp_path / "a" / "run.ckpt.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "run.ckpt.pt", weights_only=True)
    for key in ("model", "critic"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), f"{key}.{name}"


# -- perceptual and multi-scale ---


def test_vgg19_layer_names_follow_torchvision() -> None:
    from restore_cli.train.perceptual import build_vgg19_features, vgg19_layer_index

    assert vgg19_layer_index("conv1_1") == 0
    assert vgg19_layer_index("relu1_2") == 3
    assert vgg19_layer_index("pool1") == 4
    assert vgg19_layer_index("conv3_3") == 14
    assert vgg19_layer_index("relu5_4") == 35
    features = build_vgg19_features(36)
    assert len(features) == 37 and features[34].out_channels == 512
    with pytest.raises(UsageError):
        vgg19_layer_index("conv9_9")


def test_perceptual_loss_with_user_weights(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    from restore_cli.errors import BadWeightsError
    from restore_cli.train.perceptual import VGGPerceptualLoss, build_vgg19_features

    torch.manual_seed(0)
    full = build_vgg19_features(36)
    path = tmp_path / "vgg19.safetensors"
    save_file({f"features.{k}": v.contiguous() for k, v in full.state_dict().items()}, str(path))
    loss = VGGPerceptualLoss(path, layer="relu2_2")
    assert torch.equal(loss.features[5].weight, full[5].weight)
    x = torch.rand(1, 3, 16, 16, requires_grad=True)
    assert float(loss(x.detach(), x.detach())) == 0
    value = loss(x, torch.rand(1, 3, 16, 16))
    value.backward()
    assert float(value.detach()) > 0 and x.grad is not None
    assert all(p.grad is None for p in loss.parameters())
    assert float(loss(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16))) > 0  # gray is repeated to RGB
    save_file({"features.0.weight": torch.zeros(64, 3, 3, 3)}, str(tmp_path / "partial.safetensors"))
    with pytest.raises(BadWeightsError, match="missing"):
        VGGPerceptualLoss(tmp_path / "partial.safetensors")
    with pytest.raises(UsageError, match="perceptual-weights"):
        DeblurTrainer(_config(tmp_path, loss="l1,perceptual:0.1"), dataset=_dataset())


def test_msdeblur_trains_with_the_multiscale_loss(tmp_path: Path) -> None:
    cfg = _config(tmp_path, arch="msdeblur", hyper={"width": 4, "n_blocks": 1, "scales": 2}, loss="l1")
    trainer = DeblurTrainer(cfg, dataset=_dataset())
    blurred, sharp = (torch.stack(t) for t in zip(*(trainer.dataset[i] for i in range(2))))
    loss, parts = trainer.train_step(blurred, sharp)
    assert set(parts) == {"l1_s0", "l1_s1"}
    assert math.isclose(loss, (parts["l1_s0"] + parts["l1_s1"]) / 2, rel_tol=1e-5)


def test_rgb_weights_fold_into_a_gray_model_exactly(tmp_path: Path) -> None:
    """--gray --init RGB.safetensors starts from the RGB model: on gray input, the mean of its RGB outputs."""
    from restore_cli.models import create_model
    from restore_cli.train.trainer import fold_rgb_to_gray
    from restore_cli.weights import save_weights

    torch.manual_seed(0)
    rgb = create_model("nafnet", **TINY_HYPER).eval()
    with torch.no_grad():  # larger weights, so the residual branch (not just the skip) decides the check
        for p in rgb.parameters():
            p.add_(0.05 * torch.randn_like(p))
    gray = create_model("nafnet", in_channels=1, **TINY_HYPER).eval()
    gray.load_state_dict(fold_rgb_to_gray(rgb.state_dict(), gray.state_dict()), strict=True)
    x = torch.rand(2, 1, 16, 16)
    with torch.no_grad():
        expected = rgb(x.expand(-1, 3, -1, -1)).mean(1, keepdim=True)
        assert torch.allclose(gray(x), expected, atol=1e-5)

    rgb_file = tmp_path / "rgb.safetensors"
    save_weights(rgb_file, rgb, "nafnet", dict(TINY_HYPER))
    cfg = _config(tmp_path, iters=1, init=str(rgb_file), hyper={}, gray=True)
    trainer = DeblurTrainer(cfg, dataset=_dataset())
    assert trainer.hyper["in_channels"] == 1
    assert torch.allclose(trainer.model.intro.weight, rgb.intro.weight.sum(1, keepdim=True))


def test_synthesis_on_the_training_device_trains_and_resumes_exactly(tmp_path: Path) -> None:
    from restore_cli.train.trainer import build_train_dataset, synth_on_device

    def device_dataset() -> SharpPhotoDataset:
        data = _dataset()
        data.on_device = True
        return data

    cfg = _config(tmp_path / "a", iters=4, synth_device="device")
    assert synth_on_device(cfg, torch.device("cpu"))
    assert not synth_on_device(_config(tmp_path, synth_device="auto"), torch.device("cpu"))
    straight = DeblurTrainer(cfg, dataset=device_dataset()).run()
    assert straight.iteration == 4 and all(math.isfinite(v) for v in straight.losses)
    first = DeblurTrainer(_config(tmp_path / "b", iters=4, synth_device="device"), dataset=device_dataset())
    from restore_cli.data.datasets import make_loader

    batches = iter(make_loader(first.dataset, first.cfg.batch, start=first.data_pos, workers=0))
    for _ in range(2):
        first.train_step(*first.prepare_batch(next(batches)))
    first.save_checkpoint()
    resumed = DeblurTrainer(
        _config(tmp_path / "b", iters=4, synth_device="device", resume=str(tmp_path / "b" / "run.ckpt.pt")),
        dataset=device_dataset(),
    )
    resumed.run()
    a = torch.load(tmp_path / "a" / "run.ckpt.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "run.ckpt.pt", weights_only=True)
    for name, tensor in a["model"].items():
        assert torch.equal(tensor, b["model"][name]), name
    # The trainer builds an on-device dataset from the config (photos from a folder).
    folder = tmp_path / "photos"
    folder.mkdir()
    import cv2

    cv2.imwrite(str(folder / "a.png"), _images(1)[0])
    built = build_train_dataset(_config(tmp_path, data=str(folder), synth_device="device", saturate=0.5))
    assert built.on_device and built.degradation.p_saturate == 0.5
    with pytest.raises(UsageError):
        _config(tmp_path, synth_device="gpu").check()


def test_fitted_schedule_ends_inside_the_time_given(tmp_path: Path) -> None:
    from restore_cli.train.trainer import fit_points, fitted_iters

    # 10 it/s, 100 s left, a 2 s validation every 100 iterations, 5 s kept for the end:
    # each iteration costs 0.1 + 0.02 s, so 95 s hold 791 iterations; 3% margin -> 767 more.
    assert fitted_iters(35, 10.0, 100.0, 100, 2.0, 5.0) == 35 + int(95 / 0.12 * 0.97)
    assert fitted_iters(35, 10.0, 1.0, 0, 0.0, 5.0) == 36  # out of time: one more, never zero
    cfg = _config(tmp_path, iters=0, fit_schedule=2.0, time_limit=30, warmup=50, log_every=1)
    result = DeblurTrainer(cfg, dataset=_dataset()).run()
    records = [json.loads(line) for line in (tmp_path / "run.log.jsonl").read_text().splitlines()]
    fitted = [r for r in records if r["event"] == "schedule"]
    assert [r["iteration"] for r in fitted] == list(fit_points(0)[1 : 1 + len(fitted)])
    assert result.stopped_by == "iters" and result.iteration == fitted[-1]["iters"]
    assert fit_points(14)[0] == fit_points(0)[0] + 14 * 4  # prefetched batches are not timed
    with pytest.raises(UsageError):
        _config(tmp_path, fit_schedule=5, schedule="step").check()


def test_colorize_data_pools_several_folders(tmp_path: Path) -> None:
    from PIL import Image as PILImage
    from typer.testing import CliRunner

    from restore_cli.cli import app  # the root app: its one error handler maps errors to exit codes
    from restore_cli.data.datasets import ColorPhotoDataset
    from restore_cli.train.config import build_config

    images = _images(3)
    for i, folder in enumerate(("a", "b", "b")):
        (tmp_path / folder).mkdir(exist_ok=True)
        PILImage.fromarray(images[i]).save(tmp_path / folder / f"{i}.png")
    pooled = ColorPhotoDataset([tmp_path / "a", tmp_path / "b"], patch=16)
    assert pooled.num_photos == 3 and "a" in pooled.describe() and "b" in pooled.describe()
    assert ColorPhotoDataset(tmp_path / "b", patch=16).num_photos == 2
    cfg = build_config(task="colorize", data=[str(tmp_path / "a"), str(tmp_path / "b")], iters=1)
    assert cfg.data_folders() == [tmp_path / "a", tmp_path / "b"]
    with pytest.raises(UsageError, match="one --data folder"):
        build_config(task="deblur", data=[str(tmp_path / "a"), str(tmp_path / "b")], iters=1).check()
    out = tmp_path / "c.safetensors"
    result = CliRunner().invoke(
        app,
        [
            "train", "colorize", "--data", str(tmp_path / "a"), "--data", str(tmp_path / "b"), "--iters", "1",
            "--patch", "16", "--batch", "2", "--hyper", '{"base": 4, "depth": 3, "head": "bins"}',
            "--workers", "0", "--out", str(out), "--quiet", "--device", "cpu",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.is_file()
    missing = CliRunner().invoke(
        app,
        ["train", "colorize", "--data", str(tmp_path / "a"), "--data", str(tmp_path / "nope"),
         "--iters", "1"],
    )  # fmt: skip
    assert missing.exit_code != 0 and "nope" in missing.output


def test_a_toml_list_of_one_data_folder_builds_the_deblur_dataset(tmp_path: Path) -> None:
    import cv2

    from restore_cli.train.trainer import build_train_dataset

    (tmp_path / "photos").mkdir()
    cv2.imwrite(str(tmp_path / "photos" / "a.png"), _images(1)[0])
    config = tmp_path / "c.toml"
    config.write_text(f'data = ["{(tmp_path / "photos").as_posix()}"]\niters = 1\npatch = 16\n')
    cfg = build_config(config, task="deblur")
    cfg.check()
    assert build_train_dataset(cfg).num_photos == 1


def test_fit_schedule_refuses_resume(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="fit-schedule"):
        _config(tmp_path, iters=0, fit_schedule=60, resume=str(tmp_path / "run.ckpt.pt")).check()
