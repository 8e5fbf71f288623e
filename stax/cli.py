"""`stax` entry point: subcommands, logging to stderr, exit codes.

Each subcommand lives in its own module under `stax/commands/` and is imported only
when used, so a station PC without the central server's libraries runs `stax agent`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from shared import __version__, logsafe

# name -> (module under stax.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "phd": ("phd", "check and show IMS2.0 messages (PHD, SOH, alerts)"),
    "simulate": ("simulate", "write a realistic simulated series of spectra for one station"),
    "analyze": ("analyze", "analyse spectra: release, uncertainty and MDR per nuclide"),
    "pki": ("pki", "create and manage the network's certificate authority and certificates"),
    "agent": ("agent", "run the station's edge agent"),
    "central": ("central", "run the central receiver and web UI"),
    "demo": ("demo", "run simulated stations and a central server on this machine"),
    "impact": ("impact", "what the releases add at IMS stations, from ATM data (SRS, HYSPLIT)"),
    "fetch": ("fetch", "download files from a central server's API (as get_STAX_data.sh)"),
    "emulate": ("emulate", "run one device emulator (MCA or sensor) for trying a driver"),
}


class UsageError(Exception):
    """Bad arguments or configuration: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stax",
        description="Stack monitoring of radioxenon releases (STAX-style network).",
    )
    parser.add_argument("--version", action="version", version=f"stax {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)"
    )
    parser.add_argument("-q", "--quiet", action="count", default=0, help="less log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text)
    return parser


def _load(parser: argparse.ArgumentParser, argv: list[str]):
    """Import the chosen command's module and let it add its own arguments."""
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in COMMANDS:
        return None
    module = importlib.import_module(f"stax.commands.{COMMANDS[command][0]}")
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    module.add_arguments(sub.choices[command])
    return module


def setup_logging(verbose: int, quiet: int) -> None:
    level = logging.WARNING - 10 * verbose + 10 * quiet
    level = max(logging.DEBUG, min(logging.CRITICAL, level))
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logsafe.install()  # outside input is logged escaped, one line per record


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # `stax CMD --help` must show CMD's own options, so load the module before parsing fully.
    module = _load(parser, argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if module is None:
        parser.print_help()
        return 2
    setup_logging(args.verbose, args.quiet)
    try:
        return int(module.run(args) or 0)
    except UsageError as exc:
        print(f"stax {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # output piped into `head` and the like: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
