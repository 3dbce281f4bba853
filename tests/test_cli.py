"""What every `liaviz` command shares: its numeric options, how a refused value is reported."""

from __future__ import annotations

import argparse

import pytest

from liaviz.cli import build_parser, main

# --start also takes 'first'/'best'; its range is the driving video's (animate.check_inputs)
CHECKED_LATER = {("animate", "--start")}


def _parses_to_number(parse) -> int | float | None:
    """What ``parse`` makes of the first plain number it takes (None: it takes none)."""
    for text in ("1", "16", "0.5"):
        try:
            value = parse(text)
        except (argparse.ArgumentTypeError, TypeError, ValueError):
            continue
        return value if isinstance(value, (int, float)) else None
    return None


def _numeric_options() -> list[tuple[str, str, argparse.Action]]:
    """Every (command, option, action) whose ``type=`` takes a number."""
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    found = []
    for name, parser in commands.choices.items():
        for action in parser._actions:
            if not action.option_strings or action.type is None:
                continue
            option = action.option_strings[0]
            if (name, option) not in CHECKED_LATER and _parses_to_number(action.type) is not None:
                found.append((name, option, action))
    return found


NUMERIC = _numeric_options()


def test_every_numeric_option_is_range_checked():
    assert len(NUMERIC) >= 25  # animate, crop, demo, directions, evaluate, synth, prepare
    unchecked = [(c, o) for c, o, a in NUMERIC if a.type in (int, float)]
    assert not unchecked, f"plain int/float (no range check): {unchecked}"


@pytest.mark.parametrize(
    "command, option, action", NUMERIC, ids=[f"{c} {o}" for c, o, _ in NUMERIC]
)
def test_numeric_options_refuse_what_no_number_holds(command, option, action):
    bad = ["nan", "inf", "-inf", "1e39", "-1e39", "abc", ""]
    if isinstance(_parses_to_number(action.type), int):
        bad += ["99999999999999999999", "-99999999999999999999", "2.5"]
    for value in bad:
        with pytest.raises(argparse.ArgumentTypeError):
            action.type(value)


@pytest.mark.parametrize("command, option", [(c, o) for c, o, _ in NUMERIC])
def test_a_refused_option_value_is_one_line_exit_2(tmp_path, monkeypatch, capsys, command, option):
    """Our own checks' refusals are one line like every liaviz error (no usage above), before
    anything is read or written."""
    monkeypatch.chdir(tmp_path)
    assert main([command, f"{option}=nan"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"liaviz {command}: error: argument {option}")
    assert not list(tmp_path.iterdir())


def test_argparse_own_errors_keep_the_usage(capsys):
    with pytest.raises(SystemExit) as e:
        main(["animate", "--no-such-option"])
    assert e.value.code == 2
    assert capsys.readouterr().err.startswith("usage: liaviz animate")


# the least each command needs to parse, with OUT where its output goes
_ARGV = {
    "info": ["embedded"],
    "animate": ["--checkpoint", "embedded", "--source", "s.png", "--driving", "s.png"],
    "crop": ["s.png"],
    "directions": ["embedded"],
    "evaluate": ["--checkpoint", "embedded", "--data", "."],
    "synth": [],
    "prepare": ["s.png"],
    "export": ["embedded"],
    "demo": [],
}


def _output_options() -> list[tuple[str, str]]:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = []
    for name, sub in commands.choices.items():
        outputs = sub.get_default("outputs") or ("out", "output")
        for action in sub._actions:
            if action.dest in outputs:
                found.append((name, (action.option_strings or [""])[0]))
    return found


OUTPUTS = _output_options()


def test_every_command_is_known_here():
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(commands.choices) == set(_ARGV)
    assert len(OUTPUTS) >= 10  # --out of seven commands, evaluate's --csv/--dump-videos, export's


@pytest.mark.parametrize("command, option", OUTPUTS)
def test_an_empty_output_name_is_refused(tmp_path, monkeypatch, capsys, command, option):
    """`--out ""` (an unset shell variable) names the working directory as a path: it was
    filled with the demo's files, or refused as "folder exists and is not empty"."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.png").write_bytes(b"")
    argv = [command, *_ARGV[command]]
    argv += [option, ""] if option else [""]
    if command == "evaluate" and option != "--out":
        argv += ["--out", "r.json"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "an empty name is no file or folder" in err[0], err
    assert [p.name for p in tmp_path.iterdir()] == ["s.png"]
