"""`liaviz` command line. Each subcommand lives in `liaviz/commands/<name>.py` and provides
`register(subparsers)`, which adds its parser and sets `func(args) -> int`."""

from __future__ import annotations

import argparse
import importlib
import os
import select
import sys
import traceback

from .errors import UserError, interrupt_exit_code, interrupt_word, sigterm_as_interrupt
from .io.atomic import NO_SPACE, guarding_inputs

# Subcommand modules, in the order `liaviz --help` lists them.
COMMANDS = (
    "info",
    "animate",
    "crop",
    "directions",
    "evaluate",
    "synth",
    "prepare",
    "export",
    "demo",
)
# what a shell reports for a writer killed by SIGPIPE (128 + 13), as `cat` gets in `cat f | head`
SIGPIPE_EXIT = 141
# the arguments that name a command's outputs, unless it lists its own (``set_defaults(outputs=)``)
OUTPUT_ARGS = ("out", "output")


class OptionRefused(UserError):
    """A value one of liaviz's own option checks refused (the command's name in ``prog``)."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(message)
        self.prog = prog


class Parser(argparse.ArgumentParser):
    """argparse, but a value refused by one of liaviz's own checks (a ``type=`` that raises
    ``ArgumentTypeError``, as ``numeric.flag`` does) is one line and exit code 2, like every
    other liaviz error; argparse's own complaints (an unknown or missing option) keep the
    usage above."""

    def error(self, message: str):  # type: ignore[override]
        # argparse raises its ArgumentError while handling the type's ArgumentTypeError
        refused = sys.exc_info()[1]
        if isinstance(getattr(refused, "__context__", None), argparse.ArgumentTypeError):
            raise OptionRefused(self.prog, message)
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="liaviz",
        description="Latent Image Animator: animate, train and explore motion directions.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"liaviz.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except OptionRefused as e:
        print(f"{e.prog}: error: {e}", file=sys.stderr)
        return 2
    try:
        check_outputs_named(parser, args)
        with sigterm_as_interrupt(), guarding_inputs(*input_paths(args)):
            code = int(args.func(args) or 0)
            if sys.stdout is not None:  # None when started with stdout closed (`>&-`)
                sys.stdout.flush()  # a reader gone early shows here, in the handlers below
            return code
    except UserError as e:
        if args.debug:
            traceback.print_exc()
        print(f"liaviz {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM: the writers have removed their temporaries
        print(f"liaviz {args.command}: {interrupt_word(e)}", file=sys.stderr)
        return interrupt_exit_code(e)
    except BrokenPipeError:
        if not stdout_reader_gone():
            raise  # some other pipe broke: a real error
        # the reader went away (`liaviz info x | head`): not an error. Point stdout at
        # /dev/null, so the interpreter's flush at exit cannot fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return SIGPIPE_EXIT
    except OSError as e:  # output files report theirs as UserErrors: this is stdout (/dev/full)
        if e.errno not in NO_SPACE:
            raise
        print(f"liaviz {args.command}: error: cannot write to standard output ({e.strerror})",
              file=sys.stderr)  # fmt: skip
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the exit flush too
        return 2


def check_outputs_named(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """An empty output argument (``--out ""``, an unset shell variable) is refused: as a path
    it means the working directory, which a command would fill or refuse as "not empty"."""
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for action in commands.choices[args.command]._actions:
        if action.dest in getattr(args, "outputs", OUTPUT_ARGS):
            if getattr(args, action.dest, None) == "":
                name = (action.option_strings or [action.metavar or action.dest])[0]
                raise UserError(f"{name}: an empty name is no file or folder to write")


def input_paths(args: argparse.Namespace) -> list[str]:
    """Every argument value that names an existing file or folder, but the command's outputs:
    what its writers must not write over (``liaviz.io.atomic.guarding_inputs``)."""
    outputs = getattr(args, "outputs", OUTPUT_ARGS)
    found = []
    for dest, value in vars(args).items():
        if dest in outputs:
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item and os.path.exists(item):
                found.append(item)
    return found


def stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reading end is closed (poll reports an error on it)."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, ValueError, OSError):  # no poll (Windows) or no real stdout
        return False


if __name__ == "__main__":
    sys.exit(main())
