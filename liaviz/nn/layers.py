"""Building blocks of LIA's StyleGAN2-style networks: equalized layers, FIR filters, modulation.

Parameter and buffer names follow the official LIA layout so its checkpoints load unchanged.
Equalized learning rate: weights are stored N(0, 1) and scaled by 1/sqrt(fan_in) at every call.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


def make_fir_kernel(taps: tuple[float, ...] = (1, 3, 3, 1), gain: float = 1.0) -> torch.Tensor:
    """2-D separable FIR kernel (outer product of `taps`), normalized to sum to `gain`."""
    k1 = torch.tensor(taps, dtype=torch.float32)
    k = torch.outer(k1, k1)
    return k / k.sum() * gain


def _depthwise(kernel: torch.Tensor, channels: int, like: torch.Tensor) -> torch.Tensor:
    # A (C, 1, kh, kw) weight makes the FIR a depthwise conv: one pass over all channels,
    # far faster than a 1-channel conv over stacked channels, and the same sums.
    return kernel.to(like.dtype).flip(0, 1).expand(channels, 1, *kernel.shape)


def fir_filter(
    x: torch.Tensor, kernel: torch.Tensor, pad: tuple[int, int], stride: int = 1
) -> torch.Tensor:
    """Pad by `pad` (before, after) on both spatial axes, then convolve each channel with `kernel`.

    With ``stride`` s only every s-th output is computed: the same as ``[..., ::s, ::s]`` of the
    full result, at 1/s^2 of the cost."""
    channels = x.shape[1]
    if pad[0] == pad[1]:
        weight = _depthwise(kernel, channels, x)
        return F.conv2d(x, weight, stride=stride, padding=pad[0], groups=channels)
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    return F.conv2d(x, _depthwise(kernel, channels, x), stride=stride, groups=channels)


def channels_last(weight: torch.Tensor) -> torch.Tensor:
    """A conv weight in channels-last layout. oneDNN then runs the conv channels-last (NHWC)
    whatever the input's layout, its fastest path on CPUs; and the layout stays the same from
    layer to layer, so no tensor is converted between them."""
    return weight.contiguous(memory_format=torch.channels_last)


def cached(module: nn.Module, name: str, weight: torch.Tensor, derive) -> torch.Tensor:
    """``derive(weight)``, kept on ``module`` while gradients are off (inference) and the weight
    is unchanged: the version counter moves with every in-place update, the pointer with every
    move. With gradients on it is recomputed, so training sees through it. This is what
    pre-packing the weights buys: no per-call rescaling or copies in inference."""
    if torch.is_grad_enabled():
        return derive(weight)
    version = -1 if weight.is_inference() else weight._version  # inference tensors have none
    key = (version, weight.data_ptr(), weight.device, weight.dtype)
    entry = module.__dict__.get(name)
    if entry is None or entry[0] != key:
        entry = (key, derive(weight.detach()))
        module.__dict__[name] = entry
    return entry[1]


def fir_upsample2x(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Zero-insertion 2x upsampling, padding (2, 1), then FIR (StyleGAN2's `upfirdn2d(up=2)`).

    Written as a depthwise transposed conv with stride 2, which skips the multiplications by the
    inserted zeros; for a 4-tap kernel it is index-for-index the same sum.
    """
    if kernel.shape[0] != 4 or kernel.shape[1] != 4:
        raise ValueError("fir_upsample2x expects a 4x4 kernel")
    channels = x.shape[1]
    # conv_transpose2d does not flip its weight, upfirdn2d does: flip twice = as stored.
    weight = kernel.to(x.dtype).expand(channels, 1, *kernel.shape)
    return F.conv_transpose2d(x, weight, stride=2, padding=1, groups=channels)


class Blur(nn.Module):
    """FIR low-pass filter with fixed padding (anti-aliasing around resampling convs)."""

    def __init__(self, pad: tuple[int, int], gain: float = 1.0) -> None:
        super().__init__()
        self.register_buffer("kernel", make_fir_kernel(gain=gain))
        self.pad = pad

    def forward(self, x: torch.Tensor, stride: int = 1) -> torch.Tensor:
        return fir_filter(x, self.kernel, self.pad, stride)


class Upsample(nn.Module):
    """Anti-aliased 2x upsampling, used for the skip connections of RGB and flow outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("kernel", make_fir_kernel(gain=4.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fir_upsample2x(x, self.kernel)


class EqualConv2d(nn.Module):
    """Conv2d with equalized learning rate (weight scaled by 1/sqrt(fan_in) at run time)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.stride = stride
        self.padding = padding

    def forward(
        self, x: torch.Tensor, stride: int | None = None, gain: float = 1.0
    ) -> torch.Tensor:
        """The conv; ``stride`` overrides the layer's, ``gain`` scales the output (both for
        callers that fold a subsampling or a constant factor into this conv)."""
        bias = self.bias if self.bias is None or gain == 1.0 else self.bias * gain
        stride = self.stride if stride is None else stride
        return F.conv2d(x, self.scaled_weight(gain), bias, stride, self.padding)

    def forward_leaky(self, x: torch.Tensor, bias: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        """``gain * FusedLeakyReLU(bias)(self(x))`` in one pass over the output: the bias rides in
        the conv and the gains move inside the (positively homogeneous) leaky ReLU."""
        g = SQRT2 * gain
        out = F.conv2d(x, self.scaled_weight(g), bias.reshape(-1) * g, self.stride, self.padding)
        return F.leaky_relu_(out, 0.2)

    def scaled_weight(self, gain: float = 1.0) -> torch.Tensor:
        """The weight times the equalized-lr scale and ``gain`` (cached in inference)."""
        derive = lambda w: channels_last(w * (self.scale * gain))  # noqa: E731
        return cached(self, f"_scaled_{gain!r}", self.weight, derive)

    def extra_repr(self) -> str:
        out_c, in_c, k, _ = self.weight.shape
        return f"{in_c}, {out_c}, kernel_size={k}, stride={self.stride}, padding={self.padding}"


class ConvAct(nn.Sequential):
    """[Blur ->] EqualConv2d -> FusedLeakyReLU, the conv without bias (the activation has it).

    With ``downsample`` the conv has stride 2 after an anti-aliasing blur. Keys follow the
    official layout (``0.weight``, ``1.bias``, or ``0.kernel``, ``1.weight``, ``2.bias``).
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, downsample: bool = False
    ) -> None:
        layers: list[nn.Module] = []
        if downsample:
            # (taps - 2) + (kernel - 1) of padding keeps the strided output at exactly H/2
            pad = 2 + kernel_size - 1
            layers.append(Blur(pad=((pad + 1) // 2, pad // 2)))
            conv = EqualConv2d(in_channels, out_channels, kernel_size, stride=2, bias=False)
        else:
            conv = EqualConv2d(
                in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False
            )
        super().__init__(*layers, conv, FusedLeakyReLU(out_channels))

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        """The layer's output times ``gain`` (> 0), in the same pass."""
        *pre, conv, act = self
        for layer in pre:
            x = layer(x)
        return conv.forward_leaky(x, act.bias, gain)


class EqualLinear(nn.Module):
    """Linear layer with equalized learning rate; `bias_init` sets the initial bias value."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, bias_init: float = 0.0
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init))) if bias else None
        self.scale = 1.0 / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = cached(self, "_scaled", self.weight, lambda w: w * self.scale)
        return F.linear(x, weight, self.bias)

    def extra_repr(self) -> str:
        out_f, in_f = self.weight.shape
        return f"{in_f}, {out_f}, bias={self.bias is not None}"


class FusedLeakyReLU(nn.Module):
    """leaky_relu(x + b, 0.2) * sqrt(2): bias and gain-preserving activation in one step."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias, 0.2) * SQRT2


class NoiseInjection(nn.Module):
    """Per-pixel noise scaled by a learned weight; a no-op unless noise is passed (inference)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        return x if noise is None else x + self.weight * noise


class ConstantInput(nn.Module):
    """The learned 4x4 constant that starts the synthesis network."""

    def __init__(self, channels: int, size: int = 4) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.expand(batch, -1, -1, -1)


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated convolution, optionally demodulated and 2x upsampling.

    The official code folds the style into a per-sample weight and runs a grouped conv, which gets
    slower per sample as the batch grows. Here the style scales the *input* channels and the
    demodulation scales the *output* channels around one shared-weight conv: the same linear map,
    batched as a plain convolution.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        style_dim: int,
        demodulate: bool = True,
        upsample: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(
            torch.randn(1, out_channels, in_channels, kernel_size, kernel_size)
        )
        if upsample:
            # transposed conv (k=3, stride 2) gives 2H+1; blurring with pad (1, 1) brings it to 2H
            self.blur = Blur(pad=(1, 1), gain=4.0)
        self.modulation = EqualLinear(style_dim, in_channels, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.demodulate = demodulate
        self.upsample = upsample
        self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        out, gain = self.modulated(x, style)
        return out if gain is None else out * gain[:, :, None, None]

    def modulated(
        self, x: torch.Tensor, style: torch.Tensor, out_gain: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The convolution of the style-scaled input, and the per-(sample, output channel)
        demodulation gain still to be applied (None without demodulation), so that the caller
        can fuse the gain with what follows.

        A single sample on a large map is cheaper the official way: the style, the demodulation
        and ``out_gain`` scale the (small) weight instead of the (large) activations. The gain
        returned is then None and ``out_gain`` is already applied; otherwise it is not."""
        s = self.modulation(style) * self.scale  # (B, in), with the equalized-lr scale
        gain = None
        if self.demodulate:
            with torch.autocast(x.device.type, enabled=False):  # keep this reduction in fp32
                # ||w * s||^2 per (sample, out channel) = (s^2) @ (sum over taps of w^2)^T
                energy = s.float().square() @ self._weight_energy().t()
            gain = torch.rsqrt(energy + 1e-8)
        _, out_c, _, k, _ = self.weight.shape
        if x.shape[0] == 1 and x.shape[2] * x.shape[3] >= out_c * k * k:
            return self._conv_folded(x, s[0], gain, out_gain), None
        x = x * s.to(x.dtype)[:, :, None, None]
        if self.upsample:
            # oneDNN's transposed conv is ~3x faster on channels-last input
            x = x.contiguous(memory_format=torch.channels_last)
            weight = self._cached("_transposed", lambda w: channels_last(w[0].transpose(0, 1)))
            x = self.blur(F.conv_transpose2d(x, weight.to(x.dtype), stride=2))
        else:
            weight = self._cached("_conv", lambda w: channels_last(w[0]))
            x = F.conv2d(x, weight.to(x.dtype), padding=self.padding)
        return x, None if gain is None else gain.to(x.dtype)

    def _conv_folded(
        self, x: torch.Tensor, s: torch.Tensor, gain: torch.Tensor | None, out_gain: float
    ) -> torch.Tensor:
        """One sample's conv with the input scale ``s`` (in,) and output scale ``gain * out_gain``
        (out,) folded into the weight."""
        out_scale = out_gain if gain is None else gain[0] * out_gain
        if not isinstance(out_scale, torch.Tensor):
            out_scale = s.new_full((self.weight.shape[1],), out_scale)
        if self.upsample:
            # the stored (in, out, k, k) layout of the transposed conv, scaled in place of copied
            w = self._cached("_transposed", lambda w: channels_last(w[0].transpose(0, 1)))
            w = w * (s[:, None] * out_scale[None, :]).to(w.dtype)[:, :, None, None]
            x = x.contiguous(memory_format=torch.channels_last)
            return self.blur(F.conv_transpose2d(x, w.to(x.dtype), stride=2))
        # the scaled weight keeps the cached weight's channels-last layout: no reordering copy
        w = self._cached("_conv", lambda w: channels_last(w[0]))
        w = w * (out_scale[:, None] * s[None, :]).to(w.dtype)[:, :, None, None]
        return F.conv2d(x, w.to(x.dtype), padding=self.padding)

    def _weight_energy(self) -> torch.Tensor:
        """(out, in) sums of squared weights over the kernel taps."""
        return self._cached("_energy", lambda w: w[0].float().square().sum((2, 3)))

    def _cached(self, name: str, derive) -> torch.Tensor:
        return cached(self, name, self.weight, derive)

    def extra_repr(self) -> str:
        _, out_c, in_c, k, _ = self.weight.shape
        return (
            f"{in_c}, {out_c}, kernel_size={k}, demodulate={self.demodulate}, "
            f"upsample={self.upsample}"
        )


class StyledConv(nn.Module):
    """Modulated conv -> optional noise -> fused leaky ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        style_dim: int,
        upsample: bool = False,
    ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(
            in_channels, out_channels, kernel_size, style_dim, upsample=upsample
        )
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channels)

    def forward(
        self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        if noise is not None:
            return self.activate(self.noise(self.conv(x, style), noise))
        out, gain = self.conv.modulated(x, style, out_gain=SQRT2)
        bias = (self.activate.bias * SQRT2).to(out.dtype)
        if gain is None:  # demodulation and sqrt(2) already in the weight
            return F.leaky_relu_(out.add_(bias), 0.2)
        # demodulation, bias and activation gain in one pass: leaky(x*g*r2 + b*r2) = r2*leaky(x*g + b)
        return F.leaky_relu_(torch.addcmul(bias, out, (gain * SQRT2)[:, :, None, None]), 0.2)
