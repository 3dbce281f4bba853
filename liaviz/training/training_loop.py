"""The training loop of LIA: from typed options to a run folder holding checkpoints, a log,
samples and the exported generator. ``train/train.py`` is its command line.

The run folder gets config.yaml (the resolved config), checkpoints/, log.jsonl, samples/,
tensorboard/ (when tensorboard is installed) and generator.safetensors (for liaviz.load_model),
written at the end, every `log.export_every` steps, and when a file named EXPORT appears there.

``training_loop`` reads top to bottom in phases: processes and run folder, inputs, where to
start, models, data, logging, then one optimizer step per turn (learning rate, generator,
discriminator, the non-finite guard, log, checkpoint). Each phase's details are a function
below it, in that order.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..checkpoints.training import remove_stale_temporaries
from ..data import FOMMDataset, RankSampler
from ..errors import UserError
from ..nn.config import LIAConfig
from ..nn.discriminator import Discriminator
from ..nn.lia import LIA
from . import run_config, run_state
from .losses import PerceptualPyramidLoss, load_vgg19
from .options import (
    CheckpointOptions,
    DataOptions,
    DiscriminatorOptions,
    EMAOptions,
    LogOptions,
    LossOptions,
    MotionOptions,
    TrainOptions,
    to_config,
)
from .run_log import RunLog, flat_hparams, tensorboard_available
from .step import (
    LossFn,
    discriminator_step,
    freeze_unused,
    generator_step,
    learning_rates,
    mean_over_processes,
    set_lr,
)
from .terms import GeneratorLoss, LossSetup


class Diverged(RuntimeError):
    """Too many non-finite losses in a row."""


def training_loop(
    run_dir: Path,  # the run folder (created; a fresh run must find it empty or absent)
    *,
    model: LIAConfig,  # the generator's architecture (config section `model` + motion.dictionary)
    motion: MotionOptions,  # the motion dictionary and its sparsity penalty
    discriminator: DiscriminatorOptions,  # the critic's width and stddev group
    data: DataOptions,  # the dataset: FOMM layout root, split, augmentation, loader workers
    train: TrainOptions,  # batch, steps, optimizer, seed, precision, the non-finite guard
    loss: LossOptions,  # the weights and settings of each loss term
    ema: EMAOptions,  # the moving average of the generator, exported when kept
    checkpoint: CheckpointOptions,  # how often checkpoints are written and how many stay
    log: LogOptions,  # how often scalars, sample grids and the generator are written
    resume: str | None = None,  # None: fresh; "auto": newest valid checkpoint in run_dir; a file
    overwrite: bool = False,  # a fresh run first deletes the run in run_dir (train.py asks)
    loss_hook: Callable[[int, LossFn], LossFn] | None = None,  # tests: (step, G loss) -> G loss
) -> None:
    """Train LIA as the options say (their fields and defaults are in ``options.py``). Raises
    ``UserError`` for bad input, ``Diverged`` after ``train.max_nonfinite`` non-finite losses in
    a row, ``KeyboardInterrupt`` when stopped; the checkpoints written stay intact."""
    config = to_config(
        dict(model=model, motion=motion, discriminator=discriminator, data=data, train=train,
             loss=loss, ema=ema, checkpoint=checkpoint, log=log)
    )  # fmt: skip
    with contextlib.ExitStack() as cleanup:  # closes the progress bar before an error is shown
        # ---- 1. processes and the run folder ----
        use_tensorboard = tensorboard_available()
        accelerator = start_processes(run_dir, train.mixed_precision, use_tensorboard, overwrite)
        is_main, world = accelerator.is_main_process, accelerator.num_processes
        device, ckpt_dir = accelerator.device, run_dir / "checkpoints"
        micro = run_config.micro_batch(train.batch_size, train.grad_accum, world)

        # ---- 2. inputs first: a missing dataset or weights file stops the run before any work
        dataset = open_dataset(data, model.size, train.seed, quiet=not is_main)
        perceptual = perceptual_network(loss, device)

        # ---- 3. where to start: a checkpoint or nothing ----
        resumed = find_start(accelerator, ckpt_dir, resume, config)

        # ---- 4. models and optimizers ----
        state, G, D, unused = build_models(accelerator, model, discriminator, train, ema.enabled)
        if resumed is not None:
            restore(accelerator, state, *resumed)
            del resumed  # the checkpoint's tensors: its weights are in the models now
        if is_main:  # once the checkpoint resumed from proved usable: a refusal changes nothing
            run_config.save_config(config, run_dir / "config.yaml")
        g_loss = GeneratorLoss(LossSetup(loss, motion, perceptual, state.D))

        # ---- 5. data: sample k of the stream is fixed by (seed, k); step s reads s*B .. s*B+B-1
        stream = iter(data_loader(accelerator, dataset, state.step * train.batch_size, micro, data))

        # ---- 6. logging ----
        if use_tensorboard:  # before RunLog, which forwards to the trackers it finds
            accelerator.init_trackers("tensorboard", config=flat_hparams(config))
        run_log = RunLog(run_dir, accelerator if use_tensorboard else None) if is_main else None
        announce(accelerator, state, len(dataset), train, micro, len(unused), use_tensorboard)
        bar = tqdm(total=train.max_steps, initial=state.step, desc="train", unit="step",
                   dynamic_ncols=True, disable=not is_main)  # fmt: skip
        cleanup.callback(bar.close)
        speed = Speed(state.step)

        # ---- 7. the loop: one optimizer step per turn ----
        in_a_row, last_ckpt = 0, None
        while state.step < train.max_steps:
            step = state.step
            # 7a. the learning rate of this step, and its micro-batches
            g_lr, d_lr = learning_rates(step, train)
            set_lr(state.g_opt, g_lr)
            set_lr(state.d_opt, d_lr)
            batches = [
                {k: v.to(device, non_blocking=True) for k, v in next(stream).items()}
                for _ in range(train.grad_accum)
            ]

            # 7b. generator (and its moving average)
            step_loss = g_loss if loss_hook is None else loss_hook(step, g_loss)
            g_values, fakes = train_generator(accelerator, state, G, batches, step_loss, ema.decay)

            # 7c. discriminator
            d_values: dict[str, float] = {}
            if loss.gan:
                lazy_r1 = loss.r1 > 0 and step % train.d_reg_every == 0
                r1_weight = loss.r1 / 2 * train.d_reg_every if lazy_r1 else 0.0
                d_values = train_discriminator(accelerator, state, D, batches, fakes, r1_weight)

            # 7d. the non-finite guard: every rank sees the same reduced values, skips alike
            values = {**g_values, **d_values}
            bad = next((k for k, v in values.items() if not math.isfinite(v)), None)
            in_a_row = 0 if bad is None else in_a_row + 1
            if bad is not None:
                state.nonfinite_steps += 1
                skipped(step, bad, values[bad], in_a_row, train.max_nonfinite, last_ckpt, run_log)
            state.step = step = step + 1
            bar.update(1)

            # 7e. scalars and sample images
            if is_main and log.every and step % log.every == 0:
                bar.set_postfix(
                    {k: f"{values[k]:.3g}" for k in ("l1", "g_total", "d") if k in values}
                )
                rate = speed.steps_per_s(step)
                run_log.scalars(step, scalars(values, state, rate, train.batch_size))
            if is_main and log.images_every and step % log.images_every == 0:
                run_log.images(step, samples(state.G, batches[-1], fakes[-1], micro, accelerator))

            # 7f. checkpoint and generator
            if step % checkpoint.every == 0 or step == train.max_steps:
                last_ckpt = run_state.save(
                    accelerator, state, ckpt_dir, config, checkpoint.keep, run_log
                )
            if is_main:
                export_when_due(state, run_dir, log.export_every, train.max_steps)
        bar.close()

        # ---- 8. done ----
        if state.step >= train.max_steps and is_main:
            print(f"done at step {state.step}: {finished_generator(state, run_dir)}")
        accelerator.wait_for_everyone()
        accelerator.end_training()


# ---- the phases' details, in their order -------------------------------------------------------


def start_processes(
    run_dir: Path, mixed_precision: str | None, use_tensorboard: bool, overwrite: bool
) -> Accelerator:
    """Phase 1: Accelerate's view of the processes; then the main process empties the run
    folder (``overwrite``: a fresh run over an old one), creates it, and removes the
    temporaries a killed save left, while the others wait."""
    accelerator = Accelerator(
        mixed_precision=mixed_precision,
        log_with="tensorboard" if use_tensorboard else None,
        project_dir=str(run_dir),
    )
    if accelerator.is_main_process:
        if overwrite:
            run_state.clear_run(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(run_dir / "checkpoints")
    accelerator.wait_for_everyone()
    return accelerator


def open_dataset(data: DataOptions, size: int, seed: int, quiet: bool) -> FOMMDataset:
    """Phase 2: the clips (``quiet``: every rank reads them; one reports what it skipped)."""
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
        return FOMMDataset(
            data.root,
            split=data.split,
            size=size,
            flip=data.flip,
            jitter=float(data.jitter),
            seed=seed,
            near_pairs=float(data.near_pairs),
            near_gap=data.near_gap,
        )


def perceptual_network(loss: LossOptions, device: torch.device) -> PerceptualPyramidLoss | None:
    """Phase 2: the VGG19 pyramid of the perceptual term (None when it is off)."""
    if loss.perceptual != "vgg19":
        return None
    layer_weights = [loss.perceptual_weight] * 5
    return PerceptualPyramidLoss(
        load_vgg19(loss.vgg_weights), loss.perceptual_scales, layer_weights
    ).to(device)


def find_start(accelerator: Accelerator, ckpt_dir: Path, resume: str | None, config: dict):
    """Phase 3: ``(path, checkpoint)`` to resume from, or None for a fresh run. A checkpoint of
    another architecture is refused; corrupt ones passed over are set aside once all have read."""
    passed_over: list[Path] = []
    with warnings.catch_warnings():
        if not accelerator.is_main_process:
            warnings.simplefilter("ignore")  # every rank reads; one reports
        resumed = run_state.find_resume(ckpt_dir, resume, passed_over)
    if resumed is not None:
        mismatch = run_config.architecture_mismatch(config, resumed[1]["config"])
        if mismatch:
            raise UserError(f"{resumed[0]}: cannot resume: {mismatch}")
    elif resume == "auto":
        accelerator.print(f"no checkpoint in {ckpt_dir}: starting a fresh run")
    accelerator.wait_for_everyone()  # every rank has read before the corrupt ones move
    if accelerator.is_main_process and passed_over:
        moved = run_state.set_aside(passed_over)
        print(f"set aside as *.corrupt: {', '.join(p.name for p in moved)}")
    return resumed


def build_models(
    accelerator: Accelerator,
    model: LIAConfig,
    discriminator: DiscriminatorOptions,
    train: TrainOptions,
    keep_average: bool,
):
    """Phase 4: the generator and the critic from ``train.seed`` (the same on every rank),
    their Adam optimizers (StyleGAN2's lazy-regularization ratios), all prepared for the
    processes. Returns the state (unwrapped models), G and D as wrapped, and the names of the
    generator's parameters no loss reaches (frozen)."""
    set_seed(train.seed)
    G_raw = LIA(model)
    if train.zero_init_heads:
        G_raw.zero_init_heads()
    unused = freeze_unused(G_raw, model.size)
    d_mult = discriminator.channel_multiplier
    D_raw = Discriminator(
        model.size,
        model.channel_multiplier if d_mult is None else d_mult,
        model.channel_max,
        discriminator.stddev_group,
    )
    g_ratio, d_ratio = train.ratio(train.g_reg_every), train.ratio(train.d_reg_every)
    g_lr, d_lr = learning_rates(0, train)
    g_opt = torch.optim.Adam(
        [p for p in G_raw.parameters() if p.requires_grad], lr=g_lr, betas=(0.0, 0.99**g_ratio)
    )
    d_opt = torch.optim.Adam(D_raw.parameters(), lr=d_lr, betas=(0.0, 0.99**d_ratio))
    G, D, g_opt, d_opt = accelerator.prepare(G_raw, D_raw, g_opt, d_opt)
    G_raw, D_raw = accelerator.unwrap_model(G), accelerator.unwrap_model(D)
    average = copy.deepcopy(G_raw).eval().requires_grad_(False) if keep_average else None
    return run_state.TrainingState(G_raw, D_raw, g_opt, d_opt, average), G, D, unused


def restore(accelerator: Accelerator, state, path: Path, ckpt: dict) -> None:
    """Phase 4: the models, optimizers, step and random states of a checkpoint."""
    rank, world = accelerator.process_index, accelerator.num_processes
    state.restore(path, ckpt, accelerator.scaler, rank, world, accelerator.print)
    accelerator.print(f"resumed from {path} at step {state.step}")


def data_loader(accelerator, dataset, first: int, micro: int, data: DataOptions) -> DataLoader:
    """Phase 5: this rank's share of the sample stream from sample ``first`` on."""
    return DataLoader(
        dataset,
        batch_size=micro,
        sampler=RankSampler(first, accelerator.process_index, accelerator.num_processes, micro),
        num_workers=data.workers,
        pin_memory=accelerator.device.type == "cuda",
    )


def announce(accelerator, state, clips: int, train: TrainOptions, micro: int, frozen: int,
             use_tensorboard: bool) -> None:  # fmt: skip
    """Phase 6: one line on what runs where, and where the logs go without TensorBoard."""
    world = accelerator.num_processes
    accelerator.print(
        f"LIA {state.G.config.size}px, {sum(p.numel() for p in state.G.parameters()):,} G / "
        f"{sum(p.numel() for p in state.D.parameters()):,} D parameters; {clips} clips; "
        f"{world} process(es) on {accelerator.device}, mixed precision "
        f"{accelerator.mixed_precision}; batch {train.batch_size} = {world} x "
        f"{train.grad_accum} x {micro}; frozen (unused): {frozen} tensors"
    )
    if accelerator.is_main_process and not use_tensorboard:
        run_dir = Path(accelerator.project_dir)
        print(
            f"tensorboard is not installed: logging to {run_dir / 'log.jsonl'} and "
            f"{run_dir / 'samples'}"
        )


def train_generator(accelerator, state, G, batches, loss_fn: LossFn, ema_decay: float):
    """Step 7b: the generator's forward and backward; Adam and the moving average only when
    every term is finite. Returns the terms (averaged over processes) and the reconstructions."""
    state.g_opt.zero_grad(set_to_none=True)
    terms, fakes = generator_step(G, state.D, batches, loss_fn, accelerator)
    values = mean_over_processes(accelerator, terms)
    if all(math.isfinite(v) for v in values.values()):
        state.g_opt.step()
        state.update_ema(ema_decay)
    state.g_opt.zero_grad(set_to_none=True)
    return values, fakes


def train_discriminator(accelerator, state, D, batches, fakes, r1_weight: float):
    """Step 7c: the critic's forward and backward; Adam only when every term is finite."""
    state.d_opt.zero_grad(set_to_none=True)
    values = mean_over_processes(
        accelerator, discriminator_step(D, batches, fakes, r1_weight, accelerator)
    )
    if all(math.isfinite(v) for v in values.values()):
        state.d_opt.step()
    state.d_opt.zero_grad(set_to_none=True)
    return values


def skipped(step, bad: str, value: float, in_a_row: int, limit: int, last_ckpt, run_log) -> None:
    """Step 7d: say that a step's update was skipped (main process: ``run_log`` given), and
    stop with ``Diverged`` after ``limit`` such steps in a row."""
    msg = f"non-finite {bad} loss ({value}) at step {step}: update skipped"
    if run_log is not None:
        tqdm.write(msg)
        run_log.event(step, msg)
    if in_a_row >= limit:
        where = f"; the last checkpoint is {last_ckpt}" if last_ckpt else ""
        raise Diverged(
            f"step {step}: the {bad} loss is {value}, {in_a_row} non-finite losses in a row{where}"
        )


class Speed:
    """Steps per second since the previous question (or since the loop started)."""

    def __init__(self, step: int) -> None:
        self.step, self.time = step, time.perf_counter()

    def steps_per_s(self, step: int) -> float:
        now = time.perf_counter()
        rate = (step - self.step) / max(now - self.time, 1e-9)
        self.step, self.time = step, now
        return rate


def scalars(values: dict[str, float], state, rate: float, batch_size: int) -> dict[str, float]:
    """Step 7e: a row of the log: the loss terms, the learning rates, the speed."""
    return {
        **{f"loss/{k}": v for k, v in values.items()},
        "lr/g": state.g_opt.param_groups[0]["lr"],
        "lr/d": state.d_opt.param_groups[0]["lr"],
        "speed/steps_per_s": rate,
        "speed/samples_per_s": rate * batch_size,
        "nonfinite_steps": state.nonfinite_steps,
    }


def samples(G: LIA, batch, fakes: torch.Tensor, micro: int, accelerator) -> dict:
    """Step 7e: the columns of a sample grid: up to 4 sources, their driving frames,
    reconstructions and reference images (the source decoded at its canonical pose)."""
    n = min(4, micro)
    src = batch["source"][:n]
    with torch.no_grad(), accelerator.autocast():
        state = G.encode_source(src)
        reference = G.decode(state, G.reference_latent(state))
    return {
        "source": src,
        "driving": batch["driving"][:n],
        "reconstruction": fakes[:n],
        "reference": reference,
    }


def export_when_due(state, run_dir: Path, every: int, max_steps: int) -> None:
    """Step 7f (main process): write generator.safetensors every ``every`` steps (0: never),
    at the last step, and when a file named EXPORT appears in the run folder (then removed)."""
    request = run_dir / "EXPORT"
    if (every and state.step % every == 0) or request.exists() or state.step == max_steps:
        path = run_state.export(state, run_dir)
        if request.exists():
            request.unlink(missing_ok=True)
            tqdm.write(f"exported {path} (step {state.step}) as requested")


def finished_generator(state, run_dir: Path) -> Path:
    """Phase 8: generator.safetensors of a run that is done (written now when a resumed run
    found nothing left to do)."""
    target = run_dir / "generator.safetensors"
    if not target.exists():
        run_state.export(state, run_dir)
    return target
