"""The training loop of LIA: from typed options to a run folder holding checkpoints, a log,
samples and the exported generator. ``train.py`` is its command line.

The run folder gets config.yaml (the resolved config), checkpoints/, log.jsonl, samples/,
tensorboard/ (when tensorboard is installed) and generator.safetensors (for liaviz.load_model),
written at the end, every `log.export_every` steps, and when a file named EXPORT appears there.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import run_config
import run_state
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from options import (
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
from run_log import RunLog, flat_hparams, tensorboard_available
from step import (
    GeneratorLoss,
    LossFn,
    discriminator_step,
    freeze_unused,
    generator_step,
    lr_scale,
    mean_over_processes,
)
from torch.utils.data import DataLoader
from tqdm import tqdm

from liaviz import LIA, LIAConfig
from liaviz import training_checkpoint as checkpoints
from liaviz.data import FOMMDataset, RankSampler
from liaviz.errors import UserError
from liaviz.losses import PerceptualPyramidLoss, load_vgg19
from liaviz.nn.discriminator import Discriminator


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
        dict(
            model=model,
            motion=motion,
            discriminator=discriminator,
            data=data,
            train=train,
            loss=loss,
            ema=ema,
            checkpoint=checkpoint,
            log=log,
        )
    )
    with contextlib.ExitStack() as cleanup:  # closes the progress bar before an error is shown
        # ---- 1. processes and the run folder ----
        use_tensorboard = tensorboard_available()
        accelerator = Accelerator(
            mixed_precision=train.mixed_precision,
            log_with="tensorboard" if use_tensorboard else None,
            project_dir=str(run_dir),
        )
        is_main, world = accelerator.is_main_process, accelerator.num_processes
        device = accelerator.device
        micro = run_config.micro_batch(train.batch_size, train.grad_accum, world)
        ckpt_dir = run_dir / "checkpoints"
        if is_main:
            if overwrite:
                run_state.clear_run(run_dir)
            run_dir.mkdir(parents=True, exist_ok=True)
            checkpoints.remove_stale_temporaries(ckpt_dir)
        accelerator.wait_for_everyone()

        # ---- 2. inputs first: a missing dataset or weights file stops the run before any work
        with warnings.catch_warnings():
            if not is_main:
                warnings.simplefilter("ignore")
            dataset = FOMMDataset(
                data.root,
                split=data.split,
                size=model.size,
                flip=data.flip,
                jitter=float(data.jitter),
                seed=train.seed,
                near_pairs=float(data.near_pairs),
                near_gap=data.near_gap,
            )
        perceptual = None
        if loss.perceptual == "vgg19":
            perceptual = PerceptualPyramidLoss(
                load_vgg19(loss.vgg_weights), loss.perceptual_scales, [loss.perceptual_weight] * 5
            ).to(device)

        # ---- 3. where to start: a checkpoint or nothing ----
        passed_over: list[Path] = []
        with warnings.catch_warnings():
            if not is_main:
                warnings.simplefilter("ignore")  # every rank reads; one reports
            resumed = run_state.find_resume(ckpt_dir, resume, passed_over)
        if resumed is not None:
            mismatch = run_config.architecture_mismatch(config, resumed[1]["config"])
            if mismatch:
                raise UserError(f"{resumed[0]}: cannot resume: {mismatch}")
        elif resume == "auto":
            accelerator.print(f"no checkpoint in {ckpt_dir}: starting a fresh run")
        accelerator.wait_for_everyone()  # every rank has read before the corrupt ones move
        if is_main and passed_over:
            moved = run_state.set_aside(passed_over)
            print(f"set aside as *.corrupt: {', '.join(p.name for p in moved)}")

        # ---- 4. models and optimizers ----
        set_seed(train.seed)  # the same initial weights on every rank
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
        # from the config, not the optimizers: a resumed optimizer holds an already decayed lr
        g_ratio, d_ratio = train.ratio(train.g_reg_every), train.ratio(train.d_reg_every)
        g_lr, d_lr = train.lr * g_ratio, train.lr * d_ratio
        g_opt = torch.optim.Adam(
            [p for p in G_raw.parameters() if p.requires_grad], lr=g_lr, betas=(0.0, 0.99**g_ratio)
        )
        d_opt = torch.optim.Adam(D_raw.parameters(), lr=d_lr, betas=(0.0, 0.99**d_ratio))
        G, D, g_opt, d_opt = accelerator.prepare(G_raw, D_raw, g_opt, d_opt)
        G_raw, D_raw = accelerator.unwrap_model(G), accelerator.unwrap_model(D)
        average = copy.deepcopy(G_raw).eval().requires_grad_(False) if ema.enabled else None
        state = run_state.TrainingState(G_raw, D_raw, g_opt, d_opt, average)
        if resumed is not None:
            path, ckpt = resumed
            state.restore(
                path, ckpt, accelerator.scaler, accelerator.process_index, world, accelerator.print
            )
            accelerator.print(f"resumed from {path} at step {state.step}")
            del ckpt, resumed
        if is_main:  # once the checkpoint resumed from proved usable: a refusal changes nothing
            run_config.save_config(config, run_dir / "config.yaml")
        g_loss = GeneratorLoss(loss, motion.sparsity_l1, perceptual, D_raw)

        # ---- 5. data: sample k of the stream is fixed by (seed, k); step s reads s*B .. s*B+B-1
        loader = DataLoader(
            dataset,
            batch_size=micro,
            sampler=RankSampler(
                state.step * train.batch_size, accelerator.process_index, world, micro
            ),
            num_workers=data.workers,
            pin_memory=device.type == "cuda",
        )
        stream = iter(loader)

        # ---- 6. logging ----
        if use_tensorboard:  # before RunLog, which forwards to the trackers it finds
            accelerator.init_trackers("tensorboard", config=flat_hparams(config))
        run_log = RunLog(run_dir, accelerator if use_tensorboard else None) if is_main else None
        accelerator.print(
            f"LIA {model.size}px, {sum(p.numel() for p in G_raw.parameters()):,} G / "
            f"{sum(p.numel() for p in D_raw.parameters()):,} D parameters; {len(dataset)} clips; "
            f"{world} process(es) on {device}, mixed precision {accelerator.mixed_precision}; "
            f"batch {train.batch_size} = {world} x {train.grad_accum} x {micro}; "
            f"frozen (unused): {len(unused)} tensors"
        )
        if is_main and not use_tensorboard:
            print(
                f"tensorboard is not installed: logging to {run_dir / 'log.jsonl'} and "
                f"{run_dir / 'samples'}"
            )
        bar = tqdm(
            total=train.max_steps,
            initial=state.step,
            desc="train",
            unit="step",
            dynamic_ncols=True,
            disable=not is_main,
        )
        cleanup.callback(bar.close)

        # ---- 7. the loop: one optimizer step per turn ----
        in_a_row, last_ckpt = 0, None
        tick, ticks = time.perf_counter(), 0
        while state.step < train.max_steps:
            step = state.step
            # 7a. the learning rate of this step, and its micro-batches
            scale = lr_scale(step, train.lr_decay_from, train.max_steps)
            for opt, base in ((g_opt, g_lr), (d_opt, d_lr)):
                for group in opt.param_groups:
                    group["lr"] = base * scale
            batches = [
                {k: v.to(device, non_blocking=True) for k, v in next(stream).items()}
                for _ in range(train.grad_accum)
            ]

            # 7b. generator (and its moving average)
            g_opt.zero_grad(set_to_none=True)
            step_loss = g_loss if loss_hook is None else loss_hook(step, g_loss)
            g_terms, fakes = generator_step(G, D_raw, batches, step_loss, accelerator)
            g_values = mean_over_processes(accelerator, g_terms)
            ok = all(math.isfinite(v) for v in g_values.values())
            if ok:
                g_opt.step()
                state.update_ema(ema.decay)
            g_opt.zero_grad(set_to_none=True)

            # 7c. discriminator
            d_values: dict[str, float] = {}
            if loss.gan:
                d_opt.zero_grad(set_to_none=True)
                lazy_r1 = loss.r1 > 0 and step % train.d_reg_every == 0
                r1_weight = loss.r1 / 2 * train.d_reg_every if lazy_r1 else 0.0
                d_terms = discriminator_step(D, batches, fakes, r1_weight, accelerator)
                d_values = mean_over_processes(accelerator, d_terms)
                if all(math.isfinite(v) for v in d_values.values()):
                    d_opt.step()
                else:
                    ok = False
                d_opt.zero_grad(set_to_none=True)

            # 7d. the non-finite guard: every rank sees the same reduced values, skips alike
            values = {**g_values, **d_values}
            if ok:
                in_a_row = 0
            else:
                state.nonfinite_steps += 1
                in_a_row += 1
                bad = next(k for k, v in values.items() if not math.isfinite(v))
                msg = f"non-finite {bad} loss ({values[bad]}) at step {step}: update skipped"
                if is_main:
                    tqdm.write(msg)
                    run_log.event(step, msg)
                if in_a_row >= train.max_nonfinite:
                    where = f"; the last checkpoint is {last_ckpt}" if last_ckpt else ""
                    raise Diverged(
                        f"step {step}: the {bad} loss is {values[bad]}, {in_a_row} non-finite "
                        f"losses in a row{where}"
                    )
            state.step = step = step + 1
            ticks += 1
            bar.update(1)

            # 7e. scalars and sample images
            if is_main and log.every and step % log.every == 0:
                now = time.perf_counter()
                rate = ticks / max(now - tick, 1e-9)
                tick, ticks = now, 0
                bar.set_postfix(
                    {k: f"{values[k]:.3g}" for k in ("l1", "g_total", "d") if k in values}
                )
                run_log.scalars(
                    step,
                    {
                        **{f"loss/{k}": v for k, v in values.items()},
                        "lr/g": g_opt.param_groups[0]["lr"],
                        "lr/d": d_opt.param_groups[0]["lr"],
                        "speed/steps_per_s": rate,
                        "speed/samples_per_s": rate * train.batch_size,
                        "nonfinite_steps": state.nonfinite_steps,
                    },
                )
            if is_main and log.images_every and step % log.images_every == 0:
                run_log.images(step, samples(G_raw, batches[-1], fakes[-1], micro, accelerator))

            # 7f. checkpoint and generator
            if step % checkpoint.every == 0 or step == train.max_steps:
                last_ckpt = run_state.save(
                    accelerator, state, ckpt_dir, config, checkpoint.keep, run_log
                )
            request = run_dir / "EXPORT"
            export_now = log.export_every and step % log.export_every == 0
            if is_main and (export_now or request.exists() or step == train.max_steps):
                path = run_state.export(state, run_dir)
                if request.exists():
                    request.unlink(missing_ok=True)
                    tqdm.write(f"exported {path} (step {step}) as requested")
        bar.close()

        # ---- 8. done ----
        if state.step >= train.max_steps and is_main:
            target = run_dir / "generator.safetensors"
            if not target.exists():  # a resumed run that was already done
                run_state.export(state, run_dir)
            print(f"done at step {state.step}: {target}")
        accelerator.wait_for_everyone()
        accelerator.end_training()


def samples(G: LIA, batch, fakes: torch.Tensor, micro: int, accelerator) -> dict:
    """The columns of a sample grid: up to 4 sources, their driving frames, reconstructions and
    reference images (the source decoded at its canonical pose)."""
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
