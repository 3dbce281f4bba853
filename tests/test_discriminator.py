"""StyleGAN2 discriminator: shapes, widths, minibatch standard deviation."""

from __future__ import annotations

import pytest
import torch

from liaviz import LIAConfig
from liaviz.nn.discriminator import Discriminator, MinibatchStddev
from liaviz.nn.encoder import ResBlock

# one thread per test: tiny models on 2 threads spin-wait on each other on a busy 2-core machine
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("size", [16, 32, 64])
def test_logits_per_image_and_gradients(size: int) -> None:
    torch.manual_seed(0)
    d = Discriminator(size, channel_multiplier=0.0625, channel_max=32)
    x = torch.randn(4, 3, size, size, requires_grad=True)
    out = d(x)
    assert out.shape == (4, 1)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None for p in d.parameters())
    blocks = [m for m in d.convs if isinstance(m, ResBlock)]
    assert len(blocks) == LIAConfig(size=size).log_size - 2  # size -> 4


def test_widths_follow_the_generator_rule() -> None:
    d = Discriminator.for_generator(LIAConfig(size=64, channel_multiplier=0.25, channel_max=64))
    cfg = LIAConfig(size=64, channel_multiplier=0.25, channel_max=64)
    assert d.convs[0][0].weight.shape[0] == cfg.channels(64)
    assert d.final_conv[0].weight.shape[1] == cfg.channels(4) + 1  # + the stddev channel
    with pytest.raises(ValueError, match="expected images"):
        d(torch.randn(2, 3, 32, 32))


def test_minibatch_stddev_matches_its_definition() -> None:
    torch.manual_seed(1)
    x = torch.randn(8, 5, 3, 3)
    out = MinibatchStddev(group=4)(x)
    assert out.shape == (8, 6, 3, 3)
    assert torch.equal(out[:, :5], x)
    # groups are samples {j, j+2, j+4, j+6}: std over the group, averaged over c, h, w
    for j in range(2):
        members = x[j::2]
        expected = torch.sqrt(members.var(0, unbiased=False) + 1e-8).mean()
        for i in range(j, 8, 2):
            assert torch.allclose(out[i, 5], expected.expand(3, 3))
    # identical samples have no spread
    same = MinibatchStddev()(x[:1].expand(4, -1, -1, -1))
    assert same[:, 5].max() < 1e-3


def test_any_batch_size_works() -> None:
    d = Discriminator(16, channel_multiplier=0.0625, channel_max=16)
    for batch in (1, 2, 3, 6):
        assert d(torch.randn(batch, 3, 16, 16)).shape == (batch, 1)
