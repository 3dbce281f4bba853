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

This file turns the command line into a config (``liaviz.training.run_config``: defaults, the
YAML file, ``--section.key value`` overrides, checked once) and calls ``training_loop`` with it
as typed options (``liaviz.training.options``). The rest is the package ``liaviz.training``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:  # the [train] extra
    import accelerate  # noqa: F401
    import yaml  # noqa: F401
except ModuleNotFoundError as e:
    print(
        f"train.py: error: {e.name} is not installed; training needs: pip install 'liaviz[train]'",
        file=sys.stderr,
    )
    raise SystemExit(2) from None

from liaviz.checkpoints.training import list_checkpoints
from liaviz.errors import UserError, interrupt_exit_code, interrupt_word, sigterm_as_interrupt
from liaviz.io.atomic import is_no_space
from liaviz.training import run_config, step
from liaviz.training.run_state import MANIFEST, is_run_folder
from liaviz.training.training_loop import Diverged, training_loop

# ---- setup ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(
        prog="train.py",
        description="Train LIA. Any config key can be overridden: --section.key value "
        "(e.g. --train.batch_size 8 --loss.perceptual none).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=step.__doc__.split("\n\n")[0],
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


def run_folder(args: argparse.Namespace) -> Path | None:
    """--out, or runs/<config name> by default; None when neither --out nor --config is given."""
    if args.out is not None:
        return Path(args.out)
    return None if args.config is None else Path("runs") / Path(args.config).stem


def resolve_config(args: argparse.Namespace, overrides: list[str]) -> tuple[dict, Path]:
    """The run folder, and the config as typed sections (checked once, by ``run_config``)."""
    out = run_folder(args)
    if out is None:
        raise UserError("pass --config FILE (and --out RUN_DIR)")
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
    return run_config.resolve(config), out


def check_run_folder(out: Path, args: argparse.Namespace) -> None:
    """A fresh run never lands on top of another one: its checkpoints would mix with the old
    ones (and the retention would weigh them by step), its config and generator replace theirs."""
    if args.overwrite and args.resume:
        raise UserError("--overwrite starts a fresh run; it does not go with --resume")
    if args.overwrite and out.is_dir() and any(out.iterdir()) and not is_run_folder(out):
        raise UserError(
            f"{out}: not a training run (no {MANIFEST}); --overwrite deletes only a run's own "
            "files, so it is refused here: choose an empty or new --out"
        )
    if args.resume or args.overwrite or not out.is_dir():
        return
    held = sorted(p.name for p in out.iterdir())
    if held:
        shown = ", ".join(held[:4]) + (", ..." if len(held) > 4 else "")
        raise UserError(
            f"{out} is not empty (it holds {shown}): continue the run there with --resume auto, "
            "or pass --overwrite to delete it and start a fresh one (or choose another --out)"
        )


def main(argv: list[str] | None = None, **hooks) -> int:
    """The command line; ``hooks`` go to ``training_loop`` as they are (tests: ``loss_hook``)."""
    args, overrides = parse_args(argv)
    try:
        with sigterm_as_interrupt():
            options, out = resolve_config(args, overrides)
            check_run_folder(out, args)
            training_loop(out, **options, resume=args.resume, overwrite=args.overwrite, **hooks)
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
    out = run_folder(args)
    if out is None:
        return ""
    found = list_checkpoints(out / "checkpoints")
    if not found:
        return "; no checkpoint was written yet"
    return f"; the newest checkpoint is {found[0][1]}: continue with --resume auto"


if __name__ == "__main__":
    sys.exit(main())
