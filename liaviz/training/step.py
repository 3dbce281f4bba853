"""One optimizer step of LIA training, in two halves (the official recipe; see
../shared/reference/README.md):
  1. G step: reconstruct the driving frame from the source (absolute transfer, eq. 11: the
     model's training forward) and minimize the weighted loss terms of ``terms.py`` (the paper:
     perceptual + L1 + softplus(-D(fake))).
  2. D step: minimize softplus(-D(driving)) + softplus(D(fake)) on the same reconstructions,
     plus R1 when asked (lazy regularization).

Gradient accumulation is explicit: one call handles all micro-batches of a step, with DDP
gradient sync only on the last one (Accelerate's `accumulate` handles a single model, not G and D).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import torch
from torch import nn

from .losses import d_logistic_loss, r1_penalty
from .options import TrainOptions

Batch = dict[str, torch.Tensor]  # "source" and "driving" images (B, 3, S, S) in [-1, 1]
# (reconstructions, driving frames, source frames, driving magnitudes) -> unweighted terms and
# weighted total
LossFn = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
    tuple[dict[str, torch.Tensor], torch.Tensor],
]


def generator_step(G, critic: nn.Module, batches: list[Batch], loss_fn: LossFn, accelerator):
    """Forward and backward of the generator ``G`` (a LIA, maybe DDP-wrapped) over the
    micro-batches; ``critic`` is the unwrapped discriminator ``loss_fn`` scores with. Returns
    the loss terms and the total (averaged over micro-batches), and the reconstructions."""
    critic.requires_grad_(False)  # D only passes gradients through to G here
    terms: dict[str, torch.Tensor] = {}
    fakes = []
    for i, batch in enumerate(batches):
        last = i == len(batches) - 1
        with contextlib.nullcontext() if last else accelerator.no_sync(G):
            with accelerator.autocast():
                recon, alpha = G(batch["source"], batch["driving"], return_motion=True)
                parts, total = loss_fn(recon, batch["driving"], batch["source"], alpha)
            accelerator.backward(total / len(batches))
        for k, v in {**parts, "g_total": total}.items():
            terms[k] = terms.get(k, 0.0) + v.detach() / len(batches)
        fakes.append(recon.detach())
    return terms, fakes


def discriminator_step(D, batches: list[Batch], fakes, r1_weight: float, accelerator):
    """Forward and backward of the critic: real driving frames against the reconstructions.
    With ``r1_weight`` > 0 the R1 penalty is added with that weight (for lazy regularization,
    the loss's weight x the steps between R1 steps)."""
    D_raw = accelerator.unwrap_model(D)
    D_raw.requires_grad_(True)
    terms: dict[str, torch.Tensor] = {}
    n = len(batches)
    for i, (batch, fake) in enumerate(zip(batches, fakes, strict=True)):
        last = i == n - 1
        with contextlib.nullcontext() if last else accelerator.no_sync(D):
            with accelerator.autocast():
                d_loss = d_logistic_loss(D(batch["driving"]).float(), D(fake).float())
            total = d_loss
            if r1_weight:
                real = batch["driving"].detach().requires_grad_(True)
                penalty = r1_penalty(D(real).float(), real)
                total = total + r1_weight * penalty
                terms["r1"] = terms.get("r1", 0.0) + penalty.detach() / n
            accelerator.backward(total / n)
        terms["d"] = terms.get("d", 0.0) + d_loss.detach() / n
    return terms


def learning_rates(step: int, train: TrainOptions) -> tuple[float, float]:
    """The generator's and the discriminator's learning rates at ``step``: the configured lr
    times each one's lazy-regularization ratio, times the decay ``lr_scale`` gives."""
    scale = lr_scale(step, train.lr_decay_from, train.max_steps)
    g_lr = train.lr * train.ratio(train.g_reg_every)
    d_lr = train.lr * train.ratio(train.d_reg_every)
    return g_lr * scale, d_lr * scale


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def lr_scale(step: int, decay_from: int | None, max_steps: int) -> float:
    """The lr multiplier at ``step``: 1 until ``decay_from``, then a cosine down to 0 at
    ``max_steps`` (a function of the step alone, so a resumed run follows the same curve)."""
    if decay_from is None or step < decay_from:
        return 1.0
    progress = (step - decay_from) / (max_steps - decay_from)
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def mean_over_processes(accelerator, terms: dict[str, torch.Tensor]) -> dict[str, float]:
    """Loss terms averaged over all processes in one all-reduce: every rank gets the same
    numbers, so every rank takes the same decision about a non-finite step."""
    values = accelerator.reduce(torch.stack([v.float() for v in terms.values()]), "mean")
    return dict(zip(terms, values.tolist(), strict=True))


def freeze_unused(model: nn.Module, size: int) -> list[str]:
    """Stop training the parameters no loss can reach (the official layout keeps an unused
    `dec.to_rgb1` and noise weights): DDP would wait for their gradients forever."""
    x = torch.zeros(1, 3, size, size)
    recon, alpha = model(x, x, return_motion=True)
    (recon.sum() + alpha.sum()).backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    for p in model.parameters():
        p.requires_grad_(p.grad is not None)
    model.zero_grad(set_to_none=True)
    return unused
