"""`stax phd check FILE...`, `stax phd show FILE [--json]` and
`stax phd import FILE... --station CODE --out DIR` (vendor spectrum files to PHD)."""

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

    imp = sub.add_parser(
        "import",
        help="turn vendor spectrum files (N42, CNF, SPE, SPC, CHN) into SAMPLEPHD files, "
        "as the vendor-files driver does",
    )
    imp.add_argument("files", nargs="+", metavar="FILE")
    imp.add_argument("--station", required=True, metavar="CODE", help="station code, e.g. AUS02")
    imp.add_argument("--out", required=True, metavar="DIR", help="folder the PHD files go to")
    imp.add_argument(
        "--calibration",
        required=True,
        metavar="PHD",
        help="a PHD with #g_Energy, #g_Resolution, #g_Efficiency and #Calibration (the "
        "station's CALIBPHD), as [calibration] file in the agent",
    )
    imp.add_argument("--detector", help="detector code (default: CODE_001)")
    imp.add_argument("--facility", default="UNKNOWN", help="facility (default: UNKNOWN)")
    imp.add_argument("--number", type=int, default=0, help="0-99, SRID digits (default 0)")
    imp.add_argument(
        "--timezone", default="UTC", help="time zone of the vendor PC's clock (default UTC)"
    )
    imp.add_argument(
        "--first-msg-id", type=int, default=1, help="MSG_ID of the first file (default 1)"
    )


def run(args: argparse.Namespace) -> int:
    if args.action == "import":
        return _import(args)
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


def _import(args: argparse.Namespace) -> int:
    """Each file of a backlog becomes the SAMPLEPHD of the acquisition it records, named by
    its own start (it need not start on a quarter hour nor last 15 minutes); one line per
    file says what was written, or why nothing was (exit 1 when any file was refused). An
    existing output file is never overwritten."""
    from datetime import UTC, datetime
    from pathlib import Path

    from edge_agent.calibration import CalibrationError, read_calibration_file
    from edge_agent.config import StationConfig
    from edge_agent.drivers.vendor_files import VendorFileRejected, backlog_acquisition
    from edge_agent.messages import phd_file_name, sample_phd, to_bytes
    from shared.formats.vendor import read_vendor_file

    from ..cli import UsageError

    try:
        station = StationConfig(
            code=args.station,
            facility=args.facility,
            detector=args.detector or f"{args.station}_001",
            number=args.number,
        )
        calibration = read_calibration_file(args.calibration)
    except (ValueError, CalibrationError) as exc:
        raise UsageError(str(exc)) from None
    if calibration.time is None:
        raise UsageError(f"{args.calibration}: no #Calibration time in the calibration PHD")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    bad = written = 0
    msg_id = args.first_msg_id
    starts: dict[datetime, str] = {}
    for path in args.files:
        try:
            spectrum = read_vendor_file(path)
            backlog = backlog_acquisition(spectrum, args.timezone, now)
            acquired = backlog.acquired
            if acquired.interval_start in starts:
                raise VendorFileRejected(
                    f"{path}: same acquisition start {acquired.start:%Y-%m-%d %H:%M:%S} UTC as "
                    f"{starts[acquired.interval_start]} (a copy?)"
                )
            phd = sample_phd(station, acquired, calibration, None, now)
            target = out / phd_file_name(station.code, msg_id, acquired.interval_start)
            if target.exists():
                raise VendorFileRejected(f"{path}: {target} exists already (not overwritten)")
            data = to_bytes(phd, station, msg_id)
        except (FormatError, VendorFileRejected, ValueError) as exc:
            bad += 1
            print(f"{exc} (not imported)", file=sys.stderr)
            continue
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(target)
        starts[acquired.interval_start] = path
        written += 1
        notes = "".join(f"; {note}" for note in backlog.notes)
        print(
            f"{path} -> {target} (started {acquired.start:%Y-%m-%d %H:%M:%S} UTC, real "
            f"{acquired.real_time:.1f} s, live {acquired.live_time:.1f} s, "
            f"{len(acquired.counts)} channels{notes})"
        )
        msg_id += 1
    print(f"{written} imported, {bad} refused", file=sys.stderr if bad else sys.stdout)
    return 1 if bad else 0
