"""`stax phd check FILE...` and `stax phd show FILE [--json]`."""

from __future__ import annotations

import argparse
import json
import sys

from shared.formats import FormatError, Phd, read_file
from shared.formats.jsonview import message_view


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate files: exit 0 when all are valid, 1 otherwise")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument(
        "--lenient", action="store_true", help="report usable deviations as warnings, not errors"
    )
    show = sub.add_parser("show", help="print a file's parsed content")
    show.add_argument("file", metavar="FILE")
    show.add_argument("--json", action="store_true", help="the parsed content as JSON")
    show.add_argument(
        "--lenient", action="store_true", help="read usable files that deviate from the format"
    )


def run(args: argparse.Namespace) -> int:
    if args.action == "check":
        return _check(args.files, args.lenient)
    return _show(args.file, args.json, args.lenient)


def _check(files: list[str], lenient: bool) -> int:
    bad = 0
    for path in files:
        try:
            message = read_file(path, lenient=lenient)
        except FormatError as exc:
            bad += 1
            for problem in exc.problems:
                print(problem)
            continue
        for warning in message.warnings:
            print(f"{warning} (warning)")
    return 1 if bad else 0


def _show(path: str, as_json: bool, lenient: bool) -> int:
    try:
        message = read_file(path, lenient=lenient)
    except FormatError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    if as_json:
        json.dump(message_view(message), sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print(
        f"{path}: {message.format} {message.msg_type} MSG_ID {message.msg_id} {' '.join(message.data_types)}"
    )
    for section in message.sections:
        if isinstance(section, Phd):
            h = section.header
            print(
                f"  {section.data_type}: station {h.station}, detector {h.detector}, system {h.system_type}, "
                f"geometry {h.geometry}, {h.qualifier}, SRID {h.srid}"
            )
            if section.acquisition:
                a = section.acquisition
                print(
                    f"  acquisition {a.start:%Y-%m-%d %H:%M:%S} real {a.real_time} s live {a.live_time} s"
                )
            if section.g_spectrum is not None:
                s = section.g_spectrum
                print(
                    f"  gamma spectrum: {s.channels} channels, {s.energy_span} keV, {int(s.counts.sum())} counts"
                )
        else:
            print(f"  {section.data_type}")
    return 0
