"""Train LIA (Wang et al., ICLR 2022) with Accelerate, from one CPU to many GPUs.

    accelerate launch -q train/train.py --config train/configs/vox256.yaml --data /data/vox \\
        --loss.vgg_weights /weights/vgg19-dcbb9e9d.pth --out runs/vox256
    # two real CPU processes (gloo DDP); `--cpu --num_processes 2` would silently run one:
    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 --num_machines 1 \\
        --mixed_precision no --dynamo_backend no train/train.py --config train/configs/tiny.yaml \\
        --data /data/clips --out runs/tiny
    # continue a run from its newest valid checkpoint (a fresh run refuses a used OUT; see
    # --overwrite). -q: on an error, train.py's one line without the launcher's traceback
    accelerate launch -q train/train.py --out runs/vox256 --resume auto

One optimizer step (the official recipe; see ../shared/reference/README.md):
  1. G step: reconstruct the driving frame from the source (absolute transfer, eq. 11) and
     minimize perceptual + L1 + softplus(-D(fake)) (+ the optional motion sparsity penalty).
  2. D step: minimize softplus(-D(driving)) + softplus(D(fake)) on the same reconstructions,
     plus R1 every `train.d_reg_every` steps when `loss.r1` > 0.
Gradient accumulation is explicit: `train.grad_accum` micro-batches per step, DDP gradient
sync only on the last one (Accelerate's `accumulate` handles a single model, not G and D).

The run folder gets config.yaml (the resolved config), checkpoints/, log.jsonl, samples/,
tensorboard/ (when tensorboard is installed) and generator.safetensors (for liaviz.load_model),
written at the end, every `log.export_every` steps, and when a file named EXPORT appears there.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import math
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import gather_object, set_seed
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the run_* helpers beside this file

import run_config  # noqa: E402
import run_state  # noqa: E402
from run_log import RunLog, flat_hparams, tensorboard_available  # noqa: E402

from liaviz import LIA, LIAConfig  # noqa: E402
from liaviz.atomic import is_no_space  # noqa: E402
from liaviz.data import FOMMDataset, RankSampler  # noqa: E402
from liaviz.errors import (  # noqa: E402
    UserError,
    interrupt_exit_code,
    interrupt_word,
    sigterm_as_interrupt,
)
from liaviz.losses import (  # noqa: E402
    MIN_VGG_SIZE,
    PerceptualPyramidLoss,
    d_logistic_loss,
    g_nonsaturating_loss,
    gaussian_downsample,
    l1_loss,
    laplacian_l1,
    load_vgg19,
    r1_penalty,
)
from liaviz.nn.discriminator import Discriminator  # noqa: E402


class Diverged(RuntimeError):
    """Too many non-finite losses in a row."""


class GeneratorForTraining(nn.Module):
    """What DDP wraps: LIA's training forward (absolute transfer, eq. 11), also returning the
    driving magnitudes A_d so the sparsity penalty can see them."""

    def __init__(self, lia: LIA) -> None:
        super().__init__()
        self.lia = lia

    def forward(self, source: torch.Tensor, driving: torch.Tensor):
        state = self.lia.encode_source(source)
        alpha = self.lia.encode_motion(driving)
        return self.lia.decode(state, self.lia.absolute_latent(state, alpha)), alpha


def freeze_unused(model: nn.Module, size: int) -> list[str]:
    """Stop training the parameters no loss can reach (the official layout keeps an unused
    `dec.to_rgb1` and noise weights): DDP would wait for their gradients forever."""
    x = torch.zeros(1, 3, size, size)
    recon, alpha = model(x, x)
    (recon.sum() + alpha.sum()).backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    for p in model.parameters():
        p.requires_grad_(p.grad is not None)
    model.zero_grad(set_to_none=True)
    return unused


def zero_init_heads(lia: LIA) -> None:
    """Zero the flow and RGB heads, so training starts from warping the source features by the
    identity (flow 0, mask 1/2) and adding nothing: every level then grows as a residual. With
    random heads a small model masks its finest level off early (a sharp copy of the source in
    the wrong place costs more L1 than a blur) and never recovers: its images stay blurry."""
    with torch.no_grad():
        for head in lia.dec.to_flows:
            head.conv.weight.zero_()
            head.bias.zero_()
        for head in lia.dec.to_rgbs:
            head.conv[0].weight.zero_()


# ---- one optimizer step, in two halves --------------------------------------------------------


def pyramid_l1(recon: torch.Tensor, target: torch.Tensor, scales) -> torch.Tensor:
    """Pixel L1 summed over the scales of a Gaussian pyramid (just L1 for ``[1.0]``)."""
    return sum(
        l1_loss(gaussian_downsample(recon, s), gaussian_downsample(target, s)) for s in scales
    )


def generator_step(G, D_raw, batches, cfg, perceptual, accelerator, poison=False):
    """Forward and backward of the generator over the micro-batches. Returns the unweighted
    loss terms and the weighted total (averaged over micro-batches), and the reconstructions."""
    loss = cfg["loss"]
    D_raw.requires_grad_(False)  # D only passes gradients through to G here
    terms: dict[str, torch.Tensor] = {}
    fakes = []
    for i, batch in enumerate(batches):
        last = i == len(batches) - 1
        with contextlib.nullcontext() if last else accelerator.no_sync(G):
            with accelerator.autocast():
                recon, alpha = G(batch["source"], batch["driving"])
                target = batch["driving"]
                parts = {"l1": pyramid_l1(recon.float(), target, loss["l1_scales"])}
                if loss["laplacian_l1"]:
                    parts["laplacian"] = laplacian_l1(
                        recon.float(), target, loss["laplacian_levels"]
                    )
                if perceptual is not None:
                    parts["perceptual"] = perceptual(recon, target).float()
                if loss["gan"]:
                    parts["gan_g"] = g_nonsaturating_loss(D_raw(recon).float())
                if cfg["motion"]["sparsity_l1"]:
                    parts["sparsity"] = alpha.float().abs().mean()
            weights = {
                "l1": loss["l1"],
                "laplacian": loss["laplacian_l1"],
                "perceptual": 1.0,  # the per-layer weights (10) are inside the term
                "gan_g": loss["gan"],
                "sparsity": cfg["motion"]["sparsity_l1"],
            }
            total = sum(weights[k] * v for k, v in parts.items())
            if poison:
                total = total * float("nan")
            accelerator.backward(total / len(batches))
        for k, v in {**parts, "g_total": total}.items():
            terms[k] = terms.get(k, 0.0) + v.detach() / len(batches)
        fakes.append(recon.detach())
    return terms, fakes


def discriminator_step(D, batches, fakes, cfg, accelerator, regularize):
    """Forward and backward of the critic: real driving frames against the reconstructions.
    With ``regularize`` the R1 penalty is added (lazy regularization: weight x d_reg_every)."""
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
            if regularize:
                real = batch["driving"].detach().requires_grad_(True)
                penalty = r1_penalty(D(real).float(), real)
                weight = cfg["loss"]["r1"] / 2 * cfg["train"]["d_reg_every"]
                total = total + weight * penalty
                terms["r1"] = terms.get("r1", 0.0) + penalty.detach() / n
            accelerator.backward(total / n)
        terms["d"] = terms.get("d", 0.0) + d_loss.detach() / n
    return terms


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


# ---- setup ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(
        prog="train.py",
        description="Train LIA. Any config key can be overridden: --section.key value "
        "(e.g. --train.batch_size 8 --loss.perceptual none).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n")[1],
    )
    p.add_argument(
        "--config",
        help="YAML config (train/configs/*.yaml); default when resuming: OUT/config.yaml",
    )
    p.add_argument("--data", help="FOMM-layout dataset root holding train/ (sets data.root)")
    p.add_argument("--out", help="run folder (default: runs/<config name>)")
    p.add_argument("--max-steps", type=int, help="total optimizer steps (sets train.max_steps)")
    p.add_argument(
        "--resume",
        help="'auto': continue from the newest valid checkpoint in OUT (start fresh if there is "
        "none; refused if every one is corrupt); or a checkpoint file",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start a fresh run in an OUT that already holds one, deleting that run's "
        "checkpoints, config.yaml, log, samples and generator (without it that is refused)",
    )
    return p.parse_known_args(argv)


def resolve_config(args: argparse.Namespace, overrides: list[str]) -> tuple[dict, LIAConfig, Path]:
    if args.out is None and args.config is None:
        raise UserError("pass --config FILE (and --out RUN_DIR)")
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    base = args.config
    if base is None:
        if not (args.resume and (out / "config.yaml").is_file()):
            raise UserError(f"pass --config FILE ({out}/config.yaml exists only in a started run)")
        base = out / "config.yaml"
    config = run_config.apply_overrides(run_config.load_config(base), overrides)
    if args.data is not None:
        config["data"]["root"] = args.data
    if args.max_steps is not None:
        config["train"]["max_steps"] = args.max_steps
    lia_config = run_config.validate(config)
    if not config["data"]["root"]:
        raise UserError("no dataset: pass --data ROOT (a FOMM layout: ROOT/train/<clip>/...)")
    loss = config["loss"]
    if loss["perceptual"] == "vgg19" and not loss["vgg_weights"]:
        raise UserError(
            "loss.perceptual is vgg19 (the paper's loss) but no weights file is named: pass "
            "--loss.vgg_weights /path/to/vgg19-dcbb9e9d.pth (torchvision's ImageNet VGG19 "
            "state_dict), or --loss.perceptual none to train without the perceptual loss"
        )
    if loss["perceptual"] == "vgg19":
        smallest = lia_config.size * min(loss["perceptual_scales"])
        if smallest < MIN_VGG_SIZE:
            raise UserError(
                f"loss.perceptual_scales go down to {smallest:g}px at size {lia_config.size}; "
                f"VGG19 needs at least {MIN_VGG_SIZE}px: drop the smallest scales"
            )
    return config, lia_config, out


# What a run writes into its folder: --overwrite deletes these (and nothing else).
RUN_FILES = ("config.yaml", "log.jsonl", "generator.safetensors", "EXPORT")
RUN_FOLDERS = ("checkpoints", "samples", "tensorboard")


def check_run_folder(out: Path, args: argparse.Namespace) -> None:
    """A fresh run never lands on top of another one: its checkpoints would mix with the old
    ones (and the retention would weigh them by step), its config and generator replace theirs."""
    if args.overwrite and args.resume:
        raise UserError("--overwrite starts a fresh run; it does not go with --resume")
    if args.resume or args.overwrite or not out.is_dir():
        return
    held = sorted(p.name for p in out.iterdir())
    if held:
        shown = ", ".join(held[:4]) + (", ..." if len(held) > 4 else "")
        raise UserError(
            f"{out} is not empty (it holds {shown}): continue the run there with --resume auto, "
            "or pass --overwrite to delete it and start a fresh one (or choose another --out)"
        )


def clear_run(out: Path) -> None:
    """--overwrite: delete what a previous run wrote into ``out``."""
    for name in RUN_FILES:
        (out / name).unlink(missing_ok=True)
    for name in RUN_FOLDERS:
        if (out / name).is_dir():
            shutil.rmtree(out / name)


def main(argv: list[str] | None = None) -> int:
    args, overrides = parse_args(argv)
    try:
        with sigterm_as_interrupt():
            train(args, overrides)
    except UserError as e:
        print(f"train.py: error: {e}", file=sys.stderr)
        return 2
    except Diverged as e:
        print(f"train.py: stopped: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM: checkpoints are atomic, nothing is lost
        print(f"train.py: {interrupt_word(e)}{_newest_checkpoint_note(args)}", file=sys.stderr)
        return interrupt_exit_code(e)
    except Exception as e:
        if not is_no_space(e):
            raise
        print(
            "train.py: error: no space left on the device (the checkpoints written so far are "
            f"intact){_newest_checkpoint_note(args)}",
            file=sys.stderr,
        )
        return 2
    return 0


def _newest_checkpoint_note(args: argparse.Namespace) -> str:
    if args.out is None and args.config is None:
        return ""
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    found = run_state.list_checkpoints(out / "checkpoints")
    if not found:
        return "; no checkpoint was written yet"
    return f"; the newest checkpoint is {found[0][1]}: continue with --resume auto"


def train(args: argparse.Namespace, overrides: list[str]) -> None:
    with contextlib.ExitStack() as cleanup:  # closes the progress bar before an error is shown
        _train(args, overrides, cleanup)


def _train(args: argparse.Namespace, overrides: list[str], cleanup: contextlib.ExitStack) -> None:
    config, lia_config, out = resolve_config(args, overrides)
    check_run_folder(out, args)
    t, loss = config["train"], config["loss"]

    use_tensorboard = tensorboard_available()
    accelerator = Accelerator(
        mixed_precision=t["mixed_precision"],
        log_with="tensorboard" if use_tensorboard else None,
        project_dir=str(out),
    )
    is_main, world, rank = (
        accelerator.is_main_process,
        accelerator.num_processes,
        accelerator.process_index,
    )
    device = accelerator.device
    micro = t["batch_size"] // (world * t["grad_accum"])
    if micro * world * t["grad_accum"] != t["batch_size"]:
        raise UserError(
            f"train.batch_size ({t['batch_size']}) must split evenly over {world} process(es) x "
            f"{t['grad_accum']} accumulation step(s)"
        )
    ckpt_dir = out / "checkpoints"
    if is_main:
        if args.overwrite:
            clear_run(out)
        out.mkdir(parents=True, exist_ok=True)
        run_state.remove_stale_temporaries(ckpt_dir)
    accelerator.wait_for_everyone()

    # ---- inputs first: a missing dataset or weights file stops the run before any work ----
    with warnings.catch_warnings():
        if not is_main:
            warnings.simplefilter("ignore")
        dataset = FOMMDataset(
            config["data"]["root"],
            split=config["data"]["split"],
            size=lia_config.size,
            flip=bool(config["data"]["flip"]),
            jitter=float(config["data"]["jitter"]),
            seed=t["seed"],
        )
    perceptual = None
    if loss["perceptual"] == "vgg19":
        perceptual = PerceptualPyramidLoss(
            load_vgg19(loss["vgg_weights"]),
            loss["perceptual_scales"],
            [loss["perceptual_weight"]] * 5,
        ).to(device)

    # ---- where to start: a checkpoint or nothing ----
    passed_over: list[Path] = []
    with warnings.catch_warnings():
        if not is_main:
            warnings.simplefilter("ignore")  # every rank reads; one reports
        resumed = run_state.find_resume(ckpt_dir, args.resume, passed_over)
    if resumed is not None:
        mismatch = run_config.architecture_mismatch(config, resumed[1]["config"])
        if mismatch:
            raise UserError(f"{resumed[0]}: cannot resume: {mismatch}")
    elif args.resume == "auto":
        accelerator.print(f"no checkpoint in {ckpt_dir}: starting a fresh run")
    accelerator.wait_for_everyone()  # every rank has read before the corrupt ones move
    if is_main and passed_over:
        moved = run_state.set_aside(passed_over)
        print(f"set aside as *.corrupt: {', '.join(p.name for p in moved)}")
    if is_main:
        run_config.save_config(config, out / "config.yaml")

    # ---- models and optimizers ----
    set_seed(t["seed"])  # the same initial weights on every rank
    G = GeneratorForTraining(LIA(lia_config))
    if t["zero_init_heads"]:
        zero_init_heads(G.lia)
    unused = freeze_unused(G, lia_config.size)
    d_mult = config["discriminator"]["channel_multiplier"]
    D = Discriminator(
        lia_config.size,
        lia_config.channel_multiplier if d_mult is None else d_mult,
        lia_config.channel_max,
        config["discriminator"]["stddev_group"],
    )
    g_ratio = t["g_reg_every"] / (t["g_reg_every"] + 1)
    d_ratio = t["d_reg_every"] / (t["d_reg_every"] + 1)
    g_opt = torch.optim.Adam(
        [p for p in G.parameters() if p.requires_grad],
        lr=t["lr"] * g_ratio,
        betas=(0.0, 0.99**g_ratio),
    )
    d_opt = torch.optim.Adam(D.parameters(), lr=t["lr"] * d_ratio, betas=(0.0, 0.99**d_ratio))
    G, D, g_opt, d_opt = accelerator.prepare(G, D, g_opt, d_opt)
    G_raw, D_raw = accelerator.unwrap_model(G), accelerator.unwrap_model(D)
    ema = None
    if config["ema"]["enabled"]:
        ema = copy.deepcopy(G_raw.lia).eval().requires_grad_(False)

    step, counters = 0, {"nonfinite_steps": 0}
    if resumed is not None:
        path, ckpt = resumed
        G_raw.lia.load_state_dict(ckpt["gen"])
        D_raw.load_state_dict(ckpt["dis"])
        g_opt.load_state_dict(ckpt["g_optim"])
        d_opt.load_state_dict(ckpt["d_optim"])
        if ema is not None:
            if "gen_ema" in ckpt:
                ema.load_state_dict(ckpt["gen_ema"])
            else:
                ema.load_state_dict(G_raw.lia.state_dict())
                accelerator.print("the checkpoint has no EMA generator: it starts from G")
        if accelerator.scaler is not None and ckpt.get("scaler"):
            accelerator.scaler.load_state_dict(ckpt["scaler"])
        step = int(ckpt["step"])
        counters.update(ckpt.get("counters", {}))
        ranks = ckpt["rng"]
        if len(ranks) == world:
            run_state.set_rng_state(ranks[rank])
        else:
            accelerator.print(f"saved with {len(ranks)} process(es), now {world}: RNG not restored")
        accelerator.print(f"resumed from {path} at step {step}")
        del ckpt

    # ---- data: sample k of the stream is fixed by (seed, k); step s reads s*B .. s*B+B-1 ----
    loader = DataLoader(
        dataset,
        batch_size=micro,
        sampler=RankSampler(step * t["batch_size"], rank, world, micro),
        num_workers=config["data"]["workers"],
        pin_memory=device.type == "cuda",
    )
    batches_iter = iter(loader)

    if use_tensorboard:  # before RunLog, which forwards to the trackers it finds
        accelerator.init_trackers("tensorboard", config=flat_hparams(config))
    log = RunLog(out, accelerator if use_tensorboard else None) if is_main else None
    accelerator.print(
        f"LIA {lia_config.size}px, {sum(p.numel() for p in G_raw.parameters()):,} G / "
        f"{sum(p.numel() for p in D_raw.parameters()):,} D parameters; {len(dataset)} clips; "
        f"{world} process(es) on {device}, mixed precision {accelerator.mixed_precision}; "
        f"batch {t['batch_size']} = {world} x {t['grad_accum']} x {micro}; "
        f"frozen (unused): {len(unused)} tensors"
    )
    if is_main and not use_tensorboard:
        print(f"tensorboard is not installed: logging to {out / 'log.jsonl'} and {out / 'samples'}")

    # ---- the loop ----
    max_steps, log_cfg = t["max_steps"], config["log"]
    poison_steps = set(config["debug"]["nonfinite_steps"] or [])
    bar = tqdm(
        total=max_steps,
        initial=step,
        desc="train",
        unit="step",
        dynamic_ncols=True,
        disable=not is_main,
    )
    cleanup.callback(bar.close)
    in_a_row, last_ckpt = 0, None
    tick, ticks = time.perf_counter(), 0
    # from the config, not the optimizers: a resumed optimizer holds an already decayed lr
    base_lrs = ((g_opt, t["lr"] * g_ratio), (d_opt, t["lr"] * d_ratio))
    while step < max_steps:
        scale = lr_scale(step, t["lr_decay_from"], max_steps)
        for opt, base in base_lrs:
            for group in opt.param_groups:
                group["lr"] = base * scale
        batches = []
        for _ in range(t["grad_accum"]):
            b = next(batches_iter)
            batches.append({k: v.to(device, non_blocking=True) for k, v in b.items()})

        # 1. generator
        g_opt.zero_grad(set_to_none=True)
        g_terms, fakes = generator_step(
            G, D_raw, batches, config, perceptual, accelerator, poison=step in poison_steps
        )
        g_values = mean_over_processes(accelerator, g_terms)
        g_ok = all(math.isfinite(v) for v in g_values.values())
        if g_ok:
            g_opt.step()
            if ema is not None:
                with torch.no_grad():
                    decay = config["ema"]["decay"]
                    for pe, p in zip(ema.parameters(), G_raw.lia.parameters(), strict=True):
                        pe.lerp_(p.detach(), 1.0 - decay)
        g_opt.zero_grad(set_to_none=True)

        # 2. discriminator
        d_values: dict[str, float] = {}
        if loss["gan"]:
            d_opt.zero_grad(set_to_none=True)
            regularize = loss["r1"] > 0 and step % t["d_reg_every"] == 0
            d_terms = discriminator_step(D, batches, fakes, config, accelerator, regularize)
            d_values = mean_over_processes(accelerator, d_terms)
            if all(math.isfinite(v) for v in d_values.values()):
                d_opt.step()
            else:
                g_ok = False
            d_opt.zero_grad(set_to_none=True)

        values = {**g_values, **d_values}
        if g_ok:
            in_a_row = 0
        else:  # every rank sees the same reduced values, so every rank skips alike
            counters["nonfinite_steps"] += 1
            in_a_row += 1
            bad = next(k for k, v in values.items() if not math.isfinite(v))
            msg = f"non-finite {bad} loss ({values[bad]}) at step {step}: update skipped"
            if is_main:
                tqdm.write(msg)
                log.event(step, msg)
            if in_a_row >= t["max_nonfinite"]:
                where = f"; the last checkpoint is {last_ckpt}" if last_ckpt else ""
                raise Diverged(
                    f"step {step}: the {bad} loss is {values[bad]}, {in_a_row} non-finite "
                    f"losses in a row{where}"
                )
        step += 1
        ticks += 1
        bar.update(1)

        if is_main and log_cfg["every"] and step % log_cfg["every"] == 0:
            now = time.perf_counter()
            rate = ticks / max(now - tick, 1e-9)
            tick, ticks = now, 0
            bar.set_postfix({k: f"{values[k]:.3g}" for k in ("l1", "g_total", "d") if k in values})
            log.scalars(
                step,
                {
                    **{f"loss/{k}": v for k, v in values.items()},
                    "lr/g": g_opt.param_groups[0]["lr"],
                    "lr/d": d_opt.param_groups[0]["lr"],
                    "speed/steps_per_s": rate,
                    "speed/samples_per_s": rate * t["batch_size"],
                    "nonfinite_steps": counters["nonfinite_steps"],
                },
            )
        if is_main and log_cfg["images_every"] and step % log_cfg["images_every"] == 0:
            n = min(4, micro)
            src = batches[-1]["source"][:n]
            with torch.no_grad(), accelerator.autocast():
                state = G_raw.lia.encode_source(src)
                reference = G_raw.lia.decode(state, G_raw.lia.reference_latent(state))
            log.images(
                step,
                {
                    "source": src,
                    "driving": batches[-1]["driving"][:n],
                    "reconstruction": fakes[-1][:n],
                    "reference": reference,
                },
            )

        if step % config["checkpoint"]["every"] == 0 or step == max_steps:
            last_ckpt = save(
                accelerator,
                ckpt_dir,
                step,
                G_raw,
                D_raw,
                ema,
                g_opt,
                d_opt,
                config,
                lia_config,
                counters,
                log,
            )
        export_now = log_cfg["export_every"] and step % log_cfg["export_every"] == 0
        request = out / "EXPORT"
        if is_main and (export_now or request.exists() or step == max_steps):
            path = export(G_raw.lia, ema, out, step)
            if request.exists():
                request.unlink(missing_ok=True)
                tqdm.write(f"exported {path} (step {step}) as requested")
    bar.close()

    if step >= max_steps and is_main:
        target = out / "generator.safetensors"
        if not target.exists():  # a resumed run that was already done
            export(G_raw.lia, ema, out, step)
        print(f"done at step {step}: {target}")
    accelerator.wait_for_everyone()
    accelerator.end_training()


def save(
    accelerator, folder, step, G_raw, D_raw, ema, g_opt, d_opt, config, lia_config, counters, log
):
    """Write a checkpoint on the main process; every rank contributes its RNG state."""
    # a collective: all ranks call it. Each rank also sends a digest of its weights, so a
    # checkpoint is only written when the processes really hold the same model.
    weights = {"gen": G_raw.lia.state_dict(), "dis": D_raw.state_dict()}
    ranks = gather_object(
        [{"rng": run_state.rng_state(), "step": step, "weights": run_state.digest(weights)}]
    )
    rng = [r["rng"] for r in ranks]
    path = None
    if accelerator.is_main_process:
        digests = {r["weights"] for r in ranks}
        if len(digests) != 1 or any(r["step"] != step for r in ranks):
            raise RuntimeError(f"step {step}: the {len(ranks)} processes hold different models")
        payload: dict[str, Any] = {
            "gen": G_raw.lia.state_dict(),
            "dis": D_raw.state_dict(),
            "g_optim": g_opt.state_dict(),
            "d_optim": d_opt.state_dict(),
            "scaler": accelerator.scaler.state_dict() if accelerator.scaler is not None else None,
            "config": config,
            "model_config": lia_config.to_dict(),
            "rng": rng,
            "counters": dict(counters),
        }
        if ema is not None:
            payload["gen_ema"] = ema.state_dict()
        path = run_state.save_checkpoint(folder, step, payload, config["checkpoint"]["keep"])
        if log is not None:
            log.event(
                step,
                f"checkpoint {path.name}: {len(ranks)} process(es) in sync, "
                f"weights sha256 {digests.pop()[:16]}",
            )
    accelerator.wait_for_everyone()
    return path


def export(lia: LIA, ema: LIA | None, out: Path, step: int) -> Path:
    """generator.safetensors for liaviz.load_model: the EMA generator when there is one."""
    model = ema if ema is not None else lia
    path = out / "generator.safetensors"
    model.save(
        path,
        metadata={
            "step": str(step),
            "weights": "ema" if ema is not None else "raw",
            "producer": "liaviz train/train.py",
        },
    )
    return path


if __name__ == "__main__":
    sys.exit(main())
