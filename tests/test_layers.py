"""The fast formulations in liaviz.nn.layers against direct transcriptions of the definitions."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from liaviz.nn.layers import (
    EqualLinear,
    ModulatedConv2d,
    StyledConv,
    fir_filter,
    fir_upsample2x,
    make_fir_kernel,
)


def naive_upfirdn2d(x, kernel, up=1, pad=(0, 0)):
    """upfirdn2d by its definition: zero-insert, pad, true convolution, one channel at a time."""
    b, c, h, w = x.shape
    if up > 1:
        z = torch.zeros(b, c, h * up, w * up, dtype=x.dtype)
        z[:, :, ::up, ::up] = x
        x = z
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    k = torch.flip(kernel, [0, 1])[None, None]
    out = [F.conv2d(x[:, i : i + 1], k) for i in range(c)]
    return torch.cat(out, dim=1)


def test_fir_filter_matches_definition():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 9, 9)
    # an asymmetric kernel catches a missing flip
    kernel = torch.arange(16, dtype=torch.float32).reshape(4, 4) / 100
    for pad in [(1, 1), (2, 2), (2, 1)]:
        torch.testing.assert_close(fir_filter(x, kernel, pad), naive_upfirdn2d(x, kernel, pad=pad))


def test_fir_upsample_matches_definition():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 6, 6)
    kernel = torch.arange(16, dtype=torch.float32).reshape(4, 4) / 100
    expected = naive_upfirdn2d(x, kernel, up=2, pad=(2, 1))
    torch.testing.assert_close(fir_upsample2x(x, kernel), expected)
    assert fir_upsample2x(x, kernel).shape[-1] == 12


def test_fir_kernel_values():
    k = make_fir_kernel(gain=4.0)
    assert k.shape == (4, 4)
    assert math.isclose(k.sum().item(), 4.0, rel_tol=1e-6)
    torch.testing.assert_close(k[0, 0], torch.tensor(4.0 / 64))


def grouped_modulated_conv(conv: ModulatedConv2d, x, style):
    """The official per-sample-weight formulation: fold style and demodulation into the weight."""
    b, cin, h, w = x.shape
    s = conv.modulation(style).view(b, 1, cin, 1, 1)
    weight = conv.scale * conv.weight * s
    if conv.demodulate:
        weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(b, -1, 1, 1, 1)
    cout, k = weight.shape[1], weight.shape[-1]
    x = x.reshape(1, b * cin, h, w)
    if conv.upsample:
        weight = weight.transpose(1, 2).reshape(b * cin, cout, k, k)
        out = F.conv_transpose2d(x, weight, stride=2, groups=b)
        out = conv.blur(out.view(b, cout, *out.shape[-2:]))
    else:
        out = F.conv2d(x, weight.view(b * cout, cin, k, k), padding=k // 2, groups=b)
        out = out.view(b, cout, *out.shape[-2:])
    return out


@pytest.mark.parametrize("batch, side", [(3, 8), (1, 12)], ids=["batched", "single-folded"])
def test_input_modulation_equals_weight_modulation(batch, side):
    """The modulated conv (style on the input, demodulation on the output; batch 1 on a large map
    folds both into a cached, pre-laid-out weight) is the official per-sample-weight formulation,
    and an in-place weight update (training between two previews) is never served from a cache."""
    torch.manual_seed(0)
    x = torch.randn(batch, 8, side, side)
    style = torch.randn(batch, 16)
    for upsample, demodulate, k in [(False, True, 3), (True, True, 3), (False, False, 1)]:
        conv = ModulatedConv2d(8, 6, k, 16, demodulate=demodulate, upsample=upsample)
        with torch.no_grad():
            conv.modulation.bias.normal_()
            for _ in range(2):  # the second round runs on weights changed in place
                torch.testing.assert_close(
                    conv(x, style), grouped_modulated_conv(conv, x, style), rtol=1e-4, atol=1e-5
                )
                conv.weight.mul_(torch.rand_like(conv.weight) + 0.5)


def test_equal_linear_cache_follows_in_place_updates():
    torch.manual_seed(0)
    layer = EqualLinear(16, 5, bias_init=0.3)
    x = torch.randn(4, 16)
    with torch.no_grad():
        for _ in range(2):
            expected = x @ (layer.weight / 4.0).t() + layer.bias  # 1/sqrt(16) = 1/4
            torch.testing.assert_close(layer(x), expected)
            layer.weight.add_(1.0)


def test_styled_conv_noise_on_the_single_sample_path():
    """Noise injection with one sample on a large map (the folded inference path) gives what the
    batched path gives for the same sample."""
    torch.manual_seed(0)
    layer = StyledConv(8, 6, 3, 16)
    with torch.no_grad():
        layer.noise.weight.fill_(0.7)
        x, style, noise = torch.randn(1, 8, 12, 12), torch.randn(1, 16), torch.randn(1, 1, 12, 12)
        single = layer(x, style, noise=noise)
        batched = layer(x.repeat(2, 1, 1, 1), style.repeat(2, 1), noise=noise.repeat(2, 1, 1, 1))
    torch.testing.assert_close(single, batched[:1], rtol=1e-4, atol=1e-5)
