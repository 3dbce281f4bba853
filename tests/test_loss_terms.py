"""The generator's loss as named terms (``liaviz.training.terms``): each term is chosen by its
weight in the config, scores what it says, and the README's example is the library's code."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from liaviz.training import options, terms
from liaviz.training.options import LossOptions, MotionOptions
from liaviz.training.terms import GeneratorLoss, LossSetup

from ._train_helpers import loss_rows, make_dataset, tiny, train_in_process
from .conftest import REPO

pytestmark = pytest.mark.usefixtures("one_thread")


def batch(seed: int = 0, size: int = 16):
    g = torch.Generator().manual_seed(seed)
    recon, target, source = (torch.rand(2, 3, size, size, generator=g) * 2 - 1 for _ in range(3))
    return recon, target, source, torch.randn(2, 5, generator=g)


class Critic(torch.nn.Module):
    def forward(self, x):
        return x.mean((1, 2, 3))  # a logit per image


def test_the_readme_term_and_its_option_are_the_library_code():
    """The README's "new loss term" example, as written, is liaviz's pixel L2 and its option."""
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    (term,) = [b for b in blocks if "class PixelL2" in b]
    (option,) = [b for b in blocks if b.lstrip().startswith("l2: float")]
    assert term.strip() in inspect.getsource(terms)
    assert option.rstrip("\n") in inspect.getsource(options).splitlines()
    assert terms.TERMS["l2"] is terms.PixelL2


def test_terms_are_chosen_by_their_weights():
    def names(critic=None, perceptual=None, sparsity=0.0, **loss):
        setup = LossSetup(LossOptions(**loss), MotionOptions(sparsity_l1=sparsity), perceptual,
                          critic)  # fmt: skip
        return [t.name for t in GeneratorLoss(setup).terms]

    assert names(gan=0.0) == ["l1"]
    assert names(critic=Critic()) == ["l1", "gan_g"]  # the paper's, without VGG19 weights
    assert names(l1=0.0, gan=0.0) == ["l1"]  # always logged, weighing nothing
    every = names(Critic(), Critic(), 0.1, laplacian_l1=1.0, change_l1=1.0, l2=1.0)
    assert every == ["l1", "laplacian", "change", "l2", "perceptual", "gan_g", "sparsity"]
    assert every == list(terms.TERMS)  # every term of the library is reachable from the config
    with pytest.raises(ValueError, match="two loss terms named 'l2'"):
        terms.loss_term(type("Again", (terms.LossTerm,), {"name": "l2"}))


def test_each_term_scores_what_it_says_and_the_total_weighs_them():
    recon, target, source, alpha = batch()
    setup = LossSetup(
        LossOptions(l1=0.5, l1_scales=[1.0], laplacian_l1=0.0, change_l1=2.0, change_spread=0,
                    l2=3.0, gan=0.25),
        MotionOptions(sparsity_l1=0.1),
        critic=Critic(),
    )  # fmt: skip
    parts, total = GeneratorLoss(setup)(recon, target, source, alpha)
    change = (target - source).abs().mean(1, keepdim=True)
    change = change / change.mean((2, 3), keepdim=True)
    expected = {
        "l1": (recon - target).abs().mean(),
        "change": (change * (recon - target).abs()).mean(),
        "l2": F.mse_loss(recon, target),
        "gan_g": F.softplus(-recon.mean((1, 2, 3))).mean(),
        "sparsity": alpha.abs().mean(),
    }
    assert list(parts) == list(expected)
    for name, value in expected.items():
        torch.testing.assert_close(parts[name], value, msg=name)
    weights = {"l1": 0.5, "change": 2.0, "l2": 3.0, "gan_g": 0.25, "sparsity": 0.1}
    torch.testing.assert_close(total, sum(w * expected[k] for k, w in weights.items()))


def test_a_run_with_the_l2_term_logs_it_and_minimizes_it(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "clips", clips=2, frames=6)
    run = tmp_path / "run"
    args = tiny(data, run, "--max-steps", "2", "--log.every", "1", "--loss.l2", "0.5")
    assert train_in_process(args) == 0
    for row in loss_rows(run).values():
        weighted = row["loss/l1"] + 0.5 * row["loss/l2"] + row["loss/gan_g"]
        assert row["loss/l2"] > 0 and row["loss/g_total"] == pytest.approx(weighted, rel=1e-5)
