"""`stax simulate --out DIR [--days N] [--seed S] ...`: write a simulated series of spectra.

Each 15-minute sample becomes a real PHD file (formats.md section 5 naming) with a
`.truth.json` beside it, plus one summary CSV for the series (docs/simulator.md).
"""

from __future__ import annotations

import argparse
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.formats.ims import BEGIN_LINES
from shared.simulation.series import series_specs, write_series
from stax.cli import UsageError

log = logging.getLogger("stax.simulate")


def _start(text: str) -> datetime:
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(
        f"expected a UTC date or date and time (2026-11-01 or 2026-11-01T06:15), got {text!r}"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    parser.add_argument("--days", type=float, default=1.0, help="days to simulate (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the series (default 1)")
    parser.add_argument("--station", default="AUS02", help="station code (default AUS02)")
    parser.add_argument(
        "--start",
        type=_start,
        default=None,
        help="first interval, UTC, on the 15-minute grid (default: yesterday 00:00 UTC)",
    )
    parser.add_argument(
        "--detector-seed",
        type=int,
        default=None,
        help="simulate another unit of the detector type (default: the nominal detector)",
    )
    parser.add_argument(
        "--detector", default=None, help="detector code in the PHD (default <STATION>_001)"
    )
    parser.add_argument(
        "--system-type",
        choices=("P", "G"),
        default="P",
        help="PHD system type: STAX stack monitors write P (default), gas HPGe systems G",
    )
    parser.add_argument(
        "--format", choices=BEGIN_LINES, default="STX1.0", help="message format (default STX1.0)"
    )


def run(args: argparse.Namespace) -> int:
    if args.days <= 0:
        raise UsageError("--days must be positive")
    start = args.start
    if start is None:
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start = today - timedelta(days=1)
    try:
        specs = series_specs(
            args.station, start, args.days, args.seed, args.detector_seed, args.detector
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    began = time.perf_counter()
    try:
        paths = write_series(specs, args.out, args.format, args.system_type)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write to {args.out}: {exc.strerror or exc}") from None
    took = time.perf_counter() - began
    print(
        f"wrote {len(paths)} spectra of {args.station} from {start:%Y-%m-%d %H:%M} UTC "
        f"to {args.out} ({took:.1f} s)"
    )
    return 0
