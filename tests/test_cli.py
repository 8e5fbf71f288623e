"""The `stax` command line: every subcommand is listed, has its own --help, and logging
goes to stderr at the level -v/-q ask for."""

import logging
import subprocess
import sys

import pytest

from stax.cli import COMMANDS, main, setup_logging


def test_help_lists_every_subcommand(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"    {name} " in out


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_subcommand_has_its_own_help(name, capsys):
    assert main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: stax {name}")
    assert COMMANDS[name][1] in " ".join(out.split())


def test_no_subcommand_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_unknown_option_is_a_usage_error_on_stderr():
    run = subprocess.run(
        [sys.executable, "-m", "stax", "phd", "check", "--bogus", "x"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert "unrecognized arguments: --bogus" in run.stderr and run.stdout == ""


@pytest.mark.parametrize(
    ("verbose", "quiet", "level"),
    [(0, 0, logging.WARNING), (1, 0, logging.INFO), (2, 0, logging.DEBUG), (0, 1, logging.ERROR)],
)
def test_verbosity_sets_the_log_level(verbose, quiet, level):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers.clear()
    try:
        setup_logging(verbose, quiet)
        assert root.level == level
        assert root.handlers[0].stream is sys.stderr
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
