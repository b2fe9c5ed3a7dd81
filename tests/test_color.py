"""Colour maths: Lab against scikit-image, the 313 ab bins, soft-encoding, rebalancing, decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from restore_cli import color

skcolor = pytest.importorskip("skimage.color")


def _random_rgb(h: int = 9, w: int = 11, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rgb = rng.random((h, w, 3))
    rgb[0, :3] = [[0, 0, 0], [1, 1, 1], [0.02, 0.03, 0.01]]  # black, white, the linear branch of sRGB
    return rgb


def test_rgb_to_lab_np_matches_skimage():
    rgb = _random_rgb()
    np.testing.assert_allclose(color.rgb_to_lab_np(rgb), skcolor.rgb2lab(rgb), atol=1e-6)


def test_rgb_to_lab_torch_matches_skimage():
    rgb = _random_rgb()
    t = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0)
    lab = color.rgb_to_lab(t)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(lab, skcolor.rgb2lab(rgb), atol=1e-6)
    lab32 = color.rgb_to_lab(t.float())[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(lab32, skcolor.rgb2lab(rgb), atol=2e-3)


def test_lab_to_rgb_matches_skimage_including_out_of_gamut():
    rng = np.random.default_rng(1)
    lab = np.stack(
        [rng.uniform(0, 100, (8, 8)), rng.uniform(-110, 110, (8, 8)), rng.uniform(-110, 110, (8, 8))], -1
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skimage warns about negative Z values it clips
        expected = skcolor.lab2rgb(lab)
    np.testing.assert_allclose(color.lab_to_rgb_np(lab), expected, atol=1e-6)
    t = torch.from_numpy(lab).permute(2, 0, 1).unsqueeze(0)
    np.testing.assert_allclose(color.lab_to_rgb(t)[0].permute(1, 2, 0).numpy(), expected, atol=1e-6)


def test_round_trip_torch_and_numpy():
    rgb = _random_rgb(seed=2)
    back = color.lab_to_rgb_np(color.rgb_to_lab_np(rgb))
    np.testing.assert_allclose(back, rgb, atol=1e-6)
    t = torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1).unsqueeze(0)
    assert color.rgb_to_lab(t).dtype == torch.float32
    torch.testing.assert_close(color.lab_to_rgb(color.rgb_to_lab(t)), t, atol=2e-4, rtol=0)


def test_numpy_keeps_float32():
    rgb = _random_rgb().astype(np.float32)
    assert color.rgb_to_lab_np(rgb).dtype == np.float32


def test_gray_has_zero_ab():
    gray = np.full((4, 4, 3), 0.37)
    lab = color.rgb_to_lab_np(gray)
    assert np.abs(lab[..., 1:]).max() < 0.01  # skimage's constants leave ~0.002 on neutral gray


def test_rgb_to_lab_gradient_is_finite_at_black():
    t = torch.zeros(1, 3, 2, 2, requires_grad=True)
    color.rgb_to_lab(t).sum().backward()
    assert torch.isfinite(t.grad).all()


def test_ab_bins_layout():
    bins = color.ab_bins()
    assert bins.shape == (313, 2) and bins.dtype == torch.float32
    assert bins[0].tolist() == [-90.0, 50.0]
    assert bins[5].tolist() == [-80.0, 20.0]
    assert bins[-1].tolist() == [100.0, 0.0]
    assert bins[307].tolist() == [100.0, -50.0]
    # ordered by a then b, all on the grid of 10, all distinct
    keys = (bins[:, 0] * 1000 + bins[:, 1]).tolist()
    assert keys == sorted(keys) and len(set(keys)) == 313
    assert torch.all(torch.remainder(bins, 10) == 0)
    # the neutral colour is a bin
    assert ((bins == 0).all(1)).sum() == 1


def test_ab_bins_cover_srgb_colours():
    # every sRGB colour's ab lies within one grid cell of some bin (bins cover the gamut)
    rng = np.random.default_rng(3)
    lab = color.rgb_to_lab_np(rng.random((64, 64, 3)))
    ab = torch.from_numpy(lab[..., 1:].reshape(-1, 2)).float()
    d = torch.cdist(ab, color.ab_bins()).min(1).values
    assert d.max() <= 5 * np.sqrt(2) + 1e-3


def test_soft_encode_sums_to_one_with_five_nonzeros():
    rng = np.random.default_rng(4)
    ab = torch.from_numpy(rng.uniform(-80, 80, (2, 2, 5, 6))).float()
    enc = color.soft_encode(ab, color.ab_bins())
    assert enc.shape == (2, 313, 5, 6)
    torch.testing.assert_close(enc.sum(1), torch.ones(2, 5, 6))
    assert torch.all((enc > 0).sum(1) == 5)
    # the largest weight sits on the nearest bin
    assert torch.equal(enc.argmax(1), color.nearest_bin(ab))


def test_soft_encode_on_a_bin_centre_weights_it_most():
    ab = torch.tensor([30.0, -20.0]).view(1, 2, 1, 1)
    enc = color.soft_encode(ab, k=5, sigma=5.0)
    bins = color.ab_bins()
    centre = int(((bins - torch.tensor([30.0, -20.0])).abs().sum(1) == 0).nonzero())
    # centre at distance 0 and four neighbours at distance 10: weights 1 : 4*exp(-2)
    expected = 1.0 / (1.0 + 4.0 * np.exp(-2.0))
    assert enc[0, centre, 0, 0].item() == pytest.approx(expected, rel=1e-5)


def test_empirical_prior_counts_nearest_bins():
    bins = color.ab_bins()
    samples = torch.stack([bins[10], bins[10], bins[20], bins[10] + 1.0])
    prior = color.empirical_prior(samples, bins)
    assert prior.shape == (313,)
    assert prior.sum().item() == pytest.approx(1.0)
    assert prior[10].item() == pytest.approx(0.75) and prior[20].item() == pytest.approx(0.25)
    image_layout = samples.t().reshape(1, 2, 2, 2)
    torch.testing.assert_close(color.empirical_prior(image_layout), prior)


def test_rebalance_weights_prior_weighted_mean_is_one():
    rng = np.random.default_rng(5)
    prior = torch.from_numpy(rng.dirichlet(np.full(313, 0.3)))
    weights = color.rebalance_weights(prior, lam=0.5, sigma=5.0)
    smoothed = color.smooth_prior(prior, sigma=5.0)
    assert smoothed.sum().item() == pytest.approx(1.0)
    assert (smoothed.float() * weights).sum().item() == pytest.approx(1.0, rel=1e-5)
    # rare bins weigh more than common ones
    assert weights[smoothed.argmin()] > weights[smoothed.argmax()]
    # lam = 1 means uniform weights
    torch.testing.assert_close(color.rebalance_weights(prior, lam=1.0), torch.ones(313))


def test_annealed_mean_limits():
    bins = color.ab_bins()
    logits = torch.randn(1, 313, 3, 4, generator=torch.Generator().manual_seed(6))
    mode = bins[logits.argmax(1)].permute(0, 3, 1, 2)
    torch.testing.assert_close(color.annealed_mean(logits, bins, T=1e-4), mode)
    # T = 1 is the plain expectation
    mean = torch.einsum("nqhw,qc->nchw", logits.softmax(1), bins)
    torch.testing.assert_close(color.annealed_mean(logits, bins, T=1.0), mean)
    assert color.annealed_mean(logits).shape == (1, 2, 3, 4)


def test_colorfulness():
    assert color.colorfulness(np.full((8, 8, 3), 0.5)) == 0.0
    assert color.colorfulness(np.zeros((8, 8))) == 0.0
    rng = np.random.default_rng(7)
    vivid = rng.random((16, 16, 3))
    dull = 0.5 + 0.1 * (vivid - 0.5)
    assert color.colorfulness(vivid) > color.colorfulness(dull) > 0
    # hand-computed: half pure red, half pure green
    img = np.zeros((2, 2, 3))
    img[0, :, 0] = 1.0
    img[1, :, 1] = 1.0
    # rg = +-255 (std 255, mean 0); yb = 127.5 (std 0, mean 127.5)
    assert color.colorfulness(img) == pytest.approx(255.0 + 0.3 * 127.5)
    assert color.colorfulness((img * 255).astype(np.uint8)) == pytest.approx(255.0 + 0.3 * 127.5)


def test_guided_filter_keeps_colour_on_its_side_of_an_edge():
    import cv2

    # Two regions split by a vertical edge in L (between columns 13 and 14); the chroma comes, as from the
    # model, at a quarter of the resolution and bilinearly enlarged: a ramp that bleeds across the edge.
    guide = np.where(np.arange(32) < 14, 0.2, 0.8).astype(np.float32)[None, :].repeat(16, 0)
    sharp_ab = np.where(guide[..., None] < 0.5, [40.0, 20.0], [-30.0, -40.0]).astype(np.float32)
    small = cv2.resize(sharp_ab, (8, 4), interpolation=cv2.INTER_AREA)
    blurry = cv2.resize(small, (32, 16), interpolation=cv2.INTER_LINEAR)
    filtered = color.apply_guided(color.guided_coefficients(guide, blurry, radius=4, eps=1e-3), guide)
    jump = np.abs(sharp_ab[:, 13] - sharp_ab[:, 14]).min()
    assert np.abs(blurry[:, 13] - blurry[:, 14]).max() < 0.2 * jump  # bilinear: a gentle ramp
    assert np.abs(filtered[:, 13] - filtered[:, 14]).min() > 0.35 * jump  # guided: a step at the L edge
    assert (filtered[:, 13] > 0).all() and (filtered[:, 14] < 0).all()  # each side keeps its own hue
    band = slice(10, 18)
    assert np.abs(filtered - sharp_ab)[:, band].mean() < 0.8 * np.abs(blurry - sharp_ab)[:, band].mean()
    # A flat guide cannot create edges: the result is the local mean, and constant colour stays constant.
    flat = np.full((16, 24), 0.5, np.float32)
    const = np.full((16, 24, 2), 12.5, np.float32)
    out = color.apply_guided(color.guided_coefficients(flat, const), flat)
    np.testing.assert_allclose(out, const, atol=1e-3)
    assert color.guided_coefficients(flat, const).shape == (16, 24, 4)


def _logits_at(bin_weights: dict[int, float], h: int = 2, w: int = 2) -> torch.Tensor:
    probs = torch.full((color.NUM_BINS,), 1e-6)
    for index, weight in bin_weights.items():
        probs[index] = weight
    return probs.log().view(1, -1, 1, 1).expand(1, -1, h, w).clone()


def test_confidence_pulls_uncertain_pixels_toward_neutral():
    bins = color.ab_bins()
    blue = int(((bins - torch.tensor([0.0, -60.0])) ** 2).sum(1).argmin())
    orange = int(((bins - torch.tensor([30.0, 70.0])) ** 2).sum(1).argmin())
    sure = _logits_at({orange: 1.0})
    split = _logits_at({blue: 0.45, orange: 0.55})  # two distant modes
    ab_sure, conf_sure = color.decode_bins(sure)
    ab_split, conf_split = color.decode_bins(split)
    assert float(conf_sure.min()) > 1.0  # a sure prediction is kept (slightly boosted)
    assert float(conf_split.max()) < 0.3
    annealed = color.annealed_mean(split, T=color.ANNEAL_T)
    assert float(ab_split.norm(dim=1).max()) < 0.3 * float(annealed.norm(dim=1).min())
    # The direction of the colour is kept: only its amount changes.
    torch.testing.assert_close(ab_split, annealed * conf_split)
    mixed = _logits_at({blue: 0.15, orange: 0.85})  # a minor second mode: still sure of orange
    assert float(color.decode_bins(mixed)[1].min()) > 1.0
    torch.testing.assert_close(ab_sure[0, :, 0, 0], bins[orange] * conf_sure[0, 0, 0, 0], atol=0.05, rtol=0)


def test_check_strength_range():
    assert color.check_strength(0) == 0.0 and color.check_strength(2) == 2.0
    for bad in (-0.1, 2.01, float("nan")):
        with pytest.raises(ValueError, match="strength"):
            color.check_strength(bad)
