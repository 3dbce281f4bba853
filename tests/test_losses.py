"""Training losses: pixel and GAN terms, the anti-aliased pyramid, VGG19 loading and the
perceptual loss built on it."""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from liaviz.errors import UserError
from liaviz.nn.vgg import FEATURE_LAYERS, VGG19Features
from liaviz.training.losses import (
    PerceptualPyramidLoss,
    PerceptualWeightsError,
    change_weighted_l1,
    d_logistic_loss,
    g_nonsaturating_loss,
    gaussian_downsample,
    l1_loss,
    laplacian_l1,
    laplacian_pyramid,
    load_vgg19,
    r1_penalty,
)

# one thread per test: tiny models on 2 threads spin-wait on each other on a busy 2-core machine
pytestmark = pytest.mark.usefixtures("one_thread")


def torchvision_style_vgg19(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state_dict with torchvision's VGG19 feature keys and shapes (random values; the
    classifier is left out to keep the file small: the loader ignores it anyway)."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, t in VGG19Features().features.state_dict().items():
        state[f"features.{key}"] = torch.randn(t.shape, generator=g) * 0.05
    # the layers past relu5_1 exist in the real file too
    state["features.30.weight"] = torch.randn(512, 512, 3, 3, generator=g)
    state["features.30.bias"] = torch.zeros(512)
    return state


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("vgg") / "vgg19-test.pth"
    torch.save(torchvision_style_vgg19(), path)
    return path


def test_pixel_and_gan_losses_match_their_formulas() -> None:
    a, b = torch.randn(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    assert torch.isclose(l1_loss(a, b), (a - b).abs().mean())
    real, fake = torch.randn(5, 1), torch.randn(5, 1)
    assert torch.isclose(g_nonsaturating_loss(fake), torch.log1p(torch.exp(-fake)).mean())
    expected = torch.log1p(torch.exp(-real)).mean() + torch.log1p(torch.exp(fake)).mean()
    assert torch.isclose(d_logistic_loss(real, fake), expected)


def test_r1_is_the_squared_input_gradient() -> None:
    w = torch.randn(3, 4, 4, requires_grad=True)  # a linear critic's weights
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    logits = (x * w).flatten(1).sum(1, keepdim=True)  # input gradient w for every sample
    penalty = r1_penalty(logits, x)
    assert torch.isclose(penalty, w.square().sum())
    penalty.backward()  # create_graph: the penalty itself trains the critic
    assert torch.allclose(w.grad, 2 * w)


def test_gaussian_downsample_is_anti_aliased() -> None:
    ones = torch.ones(1, 3, 32, 32)
    out = gaussian_downsample(ones, 0.25)
    assert out.shape == (1, 3, 8, 8)
    assert torch.allclose(out[..., 2:-2, 2:-2], torch.ones(1, 3, 4, 4), atol=1e-6)
    # a pixel checkerboard sits at the Nyquist frequency: striding alone aliases it to a flat
    # 0 or 1, the Gaussian (sigma = (1/scale - 1) / 2) pulls it towards 1/2
    checker = ((torch.arange(32)[:, None] + torch.arange(32)[None]) % 2).float()[None, None]
    assert (checker[..., ::4, ::4] - 0.5).abs().min() == 0.5
    quarter = gaussian_downsample(checker, 0.25)[..., 2:-2, 2:-2]
    assert (quarter - 0.5).abs().max() < 0.01
    half = gaussian_downsample(checker, 0.5)[..., 2:-2, 2:-2]  # sigma 0.5: a mild filter
    assert half.shape[-1] == 12 and (half - 0.5).abs().max() < 0.2
    assert gaussian_downsample(ones, 1.0) is ones
    with pytest.raises(ValueError):
        gaussian_downsample(ones, 0.3)


def test_laplacian_pyramid_bands_rebuild_the_image_and_isolate_detail() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=g)
    bands = laplacian_pyramid(x, 3)
    assert [b.shape[-1] for b in bands] == [32, 16, 8]
    # collapsing the pyramid (upsample the coarse part, add each band back) gives the image
    rebuilt = bands[-1]
    for band in reversed(bands[:-1]):
        up = F.interpolate(rebuilt, size=band.shape[-2:], mode="bilinear", align_corners=False)
        rebuilt = up + band
    assert torch.allclose(rebuilt, x, atol=1e-5)
    # a flat image has no detail: its fine bands are zero away from the zero-padded border
    flat = torch.full((1, 3, 32, 32), 0.7)
    assert laplacian_pyramid(flat, 3)[0][..., 4:-4, 4:-4].abs().max() < 1e-6
    with pytest.raises(ValueError):
        laplacian_pyramid(x, 0)


def test_laplacian_l1_weighs_a_small_part_more_than_plain_l1() -> None:
    target = torch.zeros(1, 3, 32, 32)
    dot = target.clone()
    dot[..., 15:17, 15:17] = 1.0  # a 2x2 detail (an eye's highlight) the prediction lacks
    shift = target + 1.0 / 256  # a uniform tint of the same plain L1
    assert torch.isclose(l1_loss(dot, target), l1_loss(shift, target))
    assert laplacian_l1(dot, target, 4) > 2 * laplacian_l1(shift, target, 4)
    assert laplacian_l1(target, target, 4) == 0
    assert torch.isclose(laplacian_l1(dot, target, 1), l1_loss(dot, target))


def test_change_weighted_l1_weighs_where_the_target_moved() -> None:
    source = torch.zeros(1, 3, 32, 32)
    target = source.clone()
    target[..., 4:8, 4:8] = 1.0  # a small part moved (16 of 1,024 pixels)
    miss_moved = source.clone()  # the prediction copies the source: misses the moved part
    miss_still = target.clone()
    miss_still[..., 20:24, 20:24] = 1.0  # the same error, where nothing moved
    assert torch.isclose(l1_loss(miss_moved, target), l1_loss(miss_still, target))
    # no spread: the weight is 1,024 / 16 = 64 on the moved part and 0 elsewhere
    assert torch.isclose(
        change_weighted_l1(miss_moved, target, source, spread=0), torch.tensor(1.0)
    )
    assert change_weighted_l1(miss_still, target, source, spread=0) == 0
    # a spread of 1 widens the 4x4 part to 6x6 and scales the weights to mean 1 again
    assert torch.isclose(
        change_weighted_l1(miss_moved, target, source, spread=1), torch.tensor(16 / 36)
    )
    # a uniform change weighs every pixel 1: plain L1
    shifted = source + 0.5
    noisy = shifted + 0.1 * torch.randn(1, 3, 32, 32)
    assert torch.isclose(change_weighted_l1(noisy, shifted, source), l1_loss(noisy, shifted))
    # a target equal to its source weighs nothing; the weights carry no gradient
    assert change_weighted_l1(noisy, source, source) == 0
    pred = miss_moved.clone().requires_grad_(True)
    change_weighted_l1(pred, target, source).backward()
    assert pred.grad[..., 20:24, 20:24].abs().max() == 0 and pred.grad.abs().max() > 0


def test_vgg19_loads_torchvision_weights(vgg_file: Path) -> None:
    vgg = load_vgg19(vgg_file)
    state = torch.load(vgg_file, weights_only=True)
    assert vgg.weights_loaded
    assert torch.equal(vgg.features[28].weight, state["features.28.weight"])
    feats = vgg(torch.rand(1, 3, 32, 32) * 2 - 1)
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512, 512]
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 4, 2]
    assert len(FEATURE_LAYERS) == 5
    # the same features by hand: ImageNet normalization of [0, 1], conv/relu/pool stack
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    h = ((x + 1) / 2 - mean) / std
    h = F.relu(F.conv2d(h, state["features.0.weight"], state["features.0.bias"], padding=1))
    assert torch.allclose(vgg(x)[0], h, atol=1e-5)


def test_perceptual_loss_compares_prediction_to_target(vgg_file: Path) -> None:
    vgg = load_vgg19(vgg_file)
    loss = PerceptualPyramidLoss(vgg, scales=(1.0,))
    target = torch.rand(1, 3, 16, 16) * 2 - 1
    assert loss(target.clone(), target).item() == 0.0
    pred = (target + 0.3 * torch.randn_like(target)).requires_grad_(True)
    value = loss(pred, target)
    assert value.item() > 0
    value.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.parameters())  # VGG itself never trains
    # the paper's weights are 10 per layer: halving them halves the loss
    half = PerceptualPyramidLoss(vgg, scales=(1.0,), layer_weights=[5.0] * 5)
    assert torch.isclose(half(pred, target), value / 2, rtol=1e-5)


def test_perceptual_pyramid_sums_its_scales(vgg_file: Path) -> None:
    vgg = load_vgg19(vgg_file)
    target = torch.rand(1, 3, 32, 32) * 2 - 1
    pred = target + 0.3 * torch.randn_like(target)
    both = PerceptualPyramidLoss(vgg, scales=(1.0, 0.5))(pred, target)
    full = PerceptualPyramidLoss(vgg, scales=(1.0,))
    small = full(gaussian_downsample(pred, 0.5), gaussian_downsample(target, 0.5))
    assert torch.isclose(both, full(pred, target) + small, rtol=1e-5)
    # a pyramid level under 16 px cannot reach relu5_1: a clear error, not a pooling crash
    with pytest.raises(ValueError, match="too small"):
        PerceptualPyramidLoss(vgg)(pred, target)  # 1/8 of 32 px = 4 px


def test_random_vgg_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="ImageNet weights"):
        PerceptualPyramidLoss(VGG19Features())


def test_bad_vgg_files_give_one_line_errors(tmp_path: Path, vgg_file: Path) -> None:
    with pytest.raises(PerceptualWeightsError, match="not found"):
        load_vgg19(tmp_path / "missing.pth")
    state = torch.load(vgg_file, weights_only=True)
    del state["features.21.weight"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(PerceptualWeightsError, match=r"features\.21\.weight is missing"):
        load_vgg19(tmp_path / "partial.pth")
    state = torch.load(vgg_file, weights_only=True)
    state["features.28.weight"] = torch.zeros(256, 512, 3, 3)
    torch.save(state, tmp_path / "vgg16ish.pth")
    with pytest.raises(PerceptualWeightsError, match="features.28.weight has shape"):
        load_vgg19(tmp_path / "vgg16ish.pth")
    (tmp_path / "truncated.pth").write_bytes(vgg_file.read_bytes()[:5000])
    with pytest.raises(PerceptualWeightsError, match="truncated or corrupt"):
        load_vgg19(tmp_path / "truncated.pth")
    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"features.0.weight": Path("/")}, f, protocol=2)  # an object, not a tensor
    with pytest.raises(UserError, match="refused"):
        load_vgg19(tmp_path / "evil.pth")
    # official LIA checkpoints may hold an argparse.Namespace; a weights file may not
    torch.save({"args": argparse.Namespace(lr=1.0)}, tmp_path / "namespace.pth")
    with pytest.raises(PerceptualWeightsError, match="refused to unpickle"):
        load_vgg19(tmp_path / "namespace.pth")
