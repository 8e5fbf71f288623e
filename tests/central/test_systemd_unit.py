"""config/systemd/stax-central.service: valid for systemd, hardened, and running the
command the CLI has."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from stax.cli import _load, build_parser

UNIT = Path(__file__).resolve().parents[2] / "config" / "systemd" / "stax-central.service"
INSTALLED_STAX = "/opt/stax/venv/bin/stax"


def installed_here(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at an executable of this machine: verify checks
    that the program exists, and /opt/stax is where a real installation puts it."""
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(INSTALLED_STAX, sys.executable))
    return unit


def test_systemd_analyze_verify_accepts_the_unit(tmp_path):
    assert INSTALLED_STAX in UNIT.read_text()
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(installed_here(tmp_path))],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stderr


def test_the_unit_is_hardened(tmp_path):
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(installed_here(tmp_path))],
        capture_output=True,
        text=True,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match[1]) <= 2.0, result.stdout  # systemd rates 0-10; "OK" below 2
    text = UNIT.read_text()
    for setting in ("NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=\n"):
        assert setting in text


def test_it_runs_the_central_serve_command_of_the_cli():
    [exec_start] = re.findall(r"^ExecStart=(.*)$", UNIT.read_text(), re.MULTILINE)
    argv = exec_start.split()
    assert argv[0] == INSTALLED_STAX
    parser = build_parser()
    assert _load(parser, argv[1:]) is not None  # the command's own arguments
    args = parser.parse_args(argv[1:])
    assert (args.command, args.action, args.config) == (
        "central",
        "serve",
        "/etc/stax/central.toml",
    )
