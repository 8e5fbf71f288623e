"""`stax fetch`: download files from the central's API, as the seeds' get_STAX_data.sh.

stax fetch --url URL --token-file F [-s USS06,AUS02] [-t ATS,CSV] [-a STATION,CENTRAL]
           [-d 2023_11_15 | -d 2023_11] [--out DIR] [--retries N]

A progress bar on stderr, a summary line on stdout; exit status 0 only when every file
arrived (a second run downloads nothing new: files there with the same SHA-256 are kept).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from stax.cli import UsageError

TOKEN_ENV = "STAX_API_TOKEN"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True, help="the web address of the central server")
    parser.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help=f"a file holding the API token (default: the {TOKEN_ENV} environment variable)",
    )
    parser.add_argument("-s", "--station", help="station codes, e.g. USS06,AUS02 (default: all)")
    parser.add_argument("-t", "--type", help="file types, e.g. ATS,CSV (PHD, SOH, ALERT, ATS, CSV)")
    parser.add_argument("-a", "--analysis", help="STATION, CENTRAL or both")
    parser.add_argument(
        "-d", "--date", help="a day (2023_11_15) or a month (2023_11), UTC; default: everything"
    )
    parser.add_argument(
        "--retries",
        type=int,
        default=5,
        help="tries again this often after 429, 5xx or a broken connection, waiting 1, 2, "
        "4 ... s (default 5)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("."), metavar="DIR", help="where to (default: here)"
    )


def _period(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    day = re.fullmatch(r"(\d{4})[-_](\d{2})[-_](\d{2})", text)
    if day:
        return {"day": "-".join(day.groups())}
    month = re.fullmatch(r"(\d{4})[-_](\d{2})", text)
    if month:
        return {"month": "-".join(month.groups())}
    raise UsageError(f"-d {text}: expected a day (2023_11_15) or a month (2023_11)")


def _token(path: Path | None) -> str:
    if path is None:
        token = os.environ.get(TOKEN_ENV, "")
        if not token.strip():
            raise UsageError(f"give --token-file FILE (or set {TOKEN_ENV})")
        return token.strip()
    try:
        lines = path.read_text().split()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the token: {exc.strerror}") from None
    if not lines:
        raise UsageError(f"{path}: empty; put the API token from the Settings page in it")
    return lines[0]


class Bar:
    """`[########------------]  12/40 files  AUS02_..._PHD_....TXT` on one stderr line."""

    WIDTH = 30

    def __init__(self, stream=sys.stderr):
        self.stream = stream

    def __call__(self, done: int, count: int, remote, outcome: str) -> None:
        filled = self.WIDTH * done // max(count, 1)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        mark = {"failed": " FAILED", "skipped": " (there)"}.get(outcome, "")
        self.stream.write(
            f"\r[{bar}] {done:>{len(str(count))}}/{count} files  {remote.name}{mark}\x1b[K"
        )
        if done == count:
            self.stream.write("\n")
        self.stream.flush()


def run(args: argparse.Namespace) -> int:
    from central.client import AccessError, AuthError, BadRequest, Client, ClientError

    query = {
        "station": args.station,
        "type": args.type.upper() if args.type else None,
        "analysis": args.analysis.upper() if args.analysis else None,
        **_period(args.date),
    }
    try:
        if args.retries < 0:
            raise ValueError("--retries must be 0 or more")
        client = Client(args.url, _token(args.token_file), retries=args.retries)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        files = client.list(**{k: v for k, v in query.items() if v})
        report = client.download(files, args.out, progress=Bar())
    except (AuthError, AccessError, BadRequest) as exc:
        raise UsageError(str(exc)) from None
    except ClientError as exc:
        print(f"stax fetch: {exc}", file=sys.stderr)
        return 1
    for remote, error in report.failed:
        print(f"stax fetch: {remote.name}: {error}", file=sys.stderr)
    print(report.summary())
    return 0 if report.ok else 1
