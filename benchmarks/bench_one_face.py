"""Can a model learn one face's expressions? The easiest case of the embedded model's task.

    python benchmarks/bench_one_face.py --config train/configs/synthetic64-v4.yaml \
        [--init embedded | --init fresh] [--code encoder | --code oracle] [--steps 3000] \
        [--report-every 500] [--out one_face.json] [--model.channel_multiplier 0.5 ...]

One unseen person (test identity 0 of seed 11, never a training identity) talks for 96 frames
with the head held still: only blink, gaze, mouth, smile and brows move, drawn as in
``liaviz synth``. A model is trained on pairs of those frames with the recipe's loss and learning
rate (self-supervised, as a full run), starting from a checkpoint or from fresh weights of the
recipe's architecture; the recipe's schedule is squeezed into ``--steps`` (its cosine decay over
the same last share of the steps). Every ``--report-every`` steps it prints that person's
per-factor transfer ratios (``liaviz.analysis.transfer``: 0 perfect, 1.0 = ignores the factor, above 1 =
wrong pixels). Any config key can be overridden as in train.py (``--section.key value``), e.g.
a wider model with ``--init fresh --model.channel_multiplier 0.5 --model.channel_max 128``.

A full run sees hundreds of people whose heads also move, so the ratios reached here, in the
same number of steps, bound what it can hope for: an expression this run cannot learn for one
still face, a full run of as many steps will not learn for all of them.

``--code oracle`` asks where the bottleneck is: the driving magnitudes come not from the encoder
but from a linear map (trained with the model) of the true expression values, scaled to [-1, 1].
That is a diagnostic, never a recipe (training must not see the factors). If the decoder learns
an expression with the oracle's code but not with the encoder's, the encoder is what fails to
see it; if it fails both ways, the decoder cannot draw it in that many steps. With the oracle the
head factors are not in the code, so their ratios are 1.0 by construction.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

import liaviz
from liaviz.analysis.transfer import (
    factor_frames,
    image_change_errors,
    ratios_by_factor,
    unseen_identities,
)
from liaviz.data.synthetic import (
    FACTORS,
    neutral_factors,
    render_face,
    sample_trajectory,
)
from liaviz.errors import UserError
from liaviz.io import to_tensor
from liaviz.io.atomic import write_json
from liaviz.nn import LIA
from liaviz.training.options import MotionOptions, sections
from liaviz.training.run_config import apply_overrides, load_config
from liaviz.training.step import lr_scale
from liaviz.training.terms import GeneratorLoss, LossSetup

HEAD = ("yaw", "pitch", "roll", "tx", "ty", "scale")  # held at neutral in the training frames
EXPRESSIONS = [f for f in FACTORS if f.name not in HEAD]
PERSON_SEED = 11  # the test split whose identity 0 talks; bench_quality reports on seed 1


def still_head_clip(who, n_frames: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``who`` talking with the head at neutral: frames (T, S, S, 3) uint8 and the expression
    values (T, E), each scaled from its factor's range to [-1, 1]."""
    trajectory = sample_trajectory(np.random.default_rng(seed), n_frames)
    values = [{f.name: float(trajectory[f.name][t]) for f in EXPRESSIONS} for t in range(n_frames)]
    frames = np.stack([render_face(who, v, size=size) for v in values])
    return frames, np.stack([scaled(v) for v in values])


def scaled(values: dict[str, float]) -> np.ndarray:
    """Expression values (others neutral) -> (E,) in [-1, 1] (low end -1, high end +1)."""
    full = {**neutral_factors(), **values}
    return np.array([2 * (full[f.name] - f.low) / (f.high - f.low) - 1 for f in EXPRESSIONS])


def probe_values() -> np.ndarray:
    """The scaled expression values of ``factor_frames``' frames: neutral, then each factor at
    its low and its high end (a head factor's frames have neutral expressions)."""
    ends = [scaled({f.name: end}) for f in FACTORS for end in (f.low, f.high)]
    return np.stack([scaled({}), *ends])


class Animator:
    """G(s, d) with the driving magnitudes from the encoder, or from the oracle map."""

    def __init__(self, model: LIA, oracle: nn.Linear | None) -> None:
        self.model, self.oracle = model, oracle

    def __call__(self, source, driving, values) -> torch.Tensor:
        if self.oracle is None:
            return self.model(source, driving)  # the training forward (absolute transfer)
        state = self.model.encode_source(source)
        return self.model.decode(state, self.model.absolute_latent(state, self.oracle(values)))

    def ratios(self, frames: torch.Tensor, values: torch.Tensor, names: list[str]) -> dict:
        """Per-factor transfer ratio on one person's factor frames (source first)."""
        self.model.eval()
        with torch.no_grad():
            out = self(frames[:1].expand_as(frames), frames, values)
        self.model.train()
        return ratios_by_factor(names, *image_change_errors(out, frames))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="train/configs/synthetic64-v4.yaml")
    parser.add_argument(
        "--init", default="embedded", help="a checkpoint to fine-tune, or 'fresh' weights"
    )
    parser.add_argument("--code", choices=("encoder", "oracle"), default="encoder")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--report-every", type=int, default=500)
    parser.add_argument("--frames", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0, help="weights (fresh), clip, pair draws")
    parser.add_argument("--out", type=Path, help="write the ratios over the steps as JSON")
    args, overrides = parser.parse_known_args()  # e.g. --model.channel_multiplier 0.5

    try:
        options = sections(apply_overrides(load_config(args.config), overrides))
    except (UserError, ValueError) as e:
        parser.error(str(e))
    train, loss = options["train"], options["loss"]
    if loss.gan or loss.perceptual != "none":
        parser.error("the recipe must use neither the GAN term nor VGG19 (pixel losses only)")
    torch.manual_seed(args.seed)
    if args.init == "fresh":
        model = LIA(options["model"])
        if train.zero_init_heads:
            model.zero_init_heads()
    else:
        try:
            model = liaviz.load_model(args.init)
        except UserError as e:
            parser.error(str(e))
    model.train()
    oracle = nn.Linear(len(EXPRESSIONS), model.config.motion_dim) if args.code == "oracle" else None
    animate = Animator(model, oracle)
    size = model.config.size
    who = unseen_identities(PERSON_SEED, 1)[0]
    frames, values = still_head_clip(who, args.frames, size, seed=args.seed)
    clip, clip_values = to_tensor(frames).float(), torch.from_numpy(values).float()
    probe, names = factor_frames(who, size)
    probe = to_tensor(probe).float()
    probe_codes = torch.from_numpy(probe_values()).float()

    loss_fn = GeneratorLoss(LossSetup(loss, MotionOptions(sparsity_l1=0.0)))  # no magnitudes here
    params = list(model.parameters()) + (list(oracle.parameters()) if oracle else [])
    ratio = train.ratio(train.g_reg_every)  # as the training loop sets G's Adam
    base_lr = train.lr * ratio
    optimizer = torch.optim.Adam(params, lr=base_lr, betas=(0.0, 0.99**ratio))
    # the recipe's schedule squeezed into --steps: its cosine decay over the same last share
    decay_from = None
    if train.lr_decay_from is not None:
        decay_from = round(args.steps * train.lr_decay_from / train.max_steps)
    history = [{"step": 0, "seconds": 0.0, "ratios": animate.ratios(probe, probe_codes, names)}]
    generator = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    for step in tqdm(range(1, args.steps + 1), desc="one face", unit="step"):
        # phase 1: the learning rate of this step, a batch of pairs of the clip (any two frames)
        for group in optimizer.param_groups:
            group["lr"] = base_lr * lr_scale(step - 1, decay_from, args.steps)
        pick = torch.randint(0, args.frames, (2, train.batch_size), generator=generator)
        source, driving = clip[pick[0]], clip[pick[1]]
        # phase 2: the recipe's G step (absolute transfer, its pixel losses)
        recon = animate(source, driving, clip_values[pick[1]])
        _, total = loss_fn(recon, driving, source, None)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        # phase 3: the person's transfer ratios, now and then
        if step % args.report_every == 0 or step == args.steps:
            seconds = time.perf_counter() - start
            row = {"step": step, "seconds": seconds}
            history.append({**row, "ratios": animate.ratios(probe, probe_codes, names)})

    recipe = " ".join([args.config, *overrides])
    print(f"{args.init}, {args.code} code, one still face ({recipe}), ratio per factor:")
    print("step  " + " ".join(f"{n[:8]:>8}" for n in history[0]["ratios"]))
    for row in history:
        print(f"{row['step']:>5} " + " ".join(f"{v:8.2f}" for v in row["ratios"].values()))
    if args.out:
        run = {"config": args.config, "overrides": overrides, "init": args.init}
        run |= {"code": args.code, "steps": args.steps}
        write_json(args.out, {**run, "history": history})
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
