"""`stax impact`: what the releases add at IMS stations, from ATM data (docs/impact.md).

stax impact srs SRSFILE... --emitter LAT,LON (--constant-bq-per-s Q | --releases CSV... |
                --url URL --station CODE [--token-file F] [--analysis central|station])
                [--station CODE] [--nuclide XE-133 | --no-decay] [--json]
stax impact stations list|add|remove --config central.toml     the IMS station table
stax impact atm add FILE... | scan --config central.toml         ATM data into the central
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

from stax.cli import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    srs = sub.add_parser(
        "srs",
        help="concentration at the IMS sample of each SRS file",
        description="One result per SRS file: the receptor, the sample start and stop and "
        "the concentration (Bq/m3) that the emitter's releases give there.",
    )
    srs.add_argument("files", nargs="+", metavar="SRSFILE", help=".txt, .txt.gz or .srm")
    srs.add_argument(
        "--emitter",
        required=True,
        metavar="LAT,LON",
        help="the stack, degrees (a southern latitude: --emitter=-33.9,18.4)",
    )
    release = srs.add_mutually_exclusive_group(required=True)
    release.add_argument(
        "--constant-bq-per-s", type=float, metavar="Q", help="a constant release rate, Bq/s"
    )
    release.add_argument(
        "--releases",
        nargs="+",
        action="extend",
        metavar="CSV",
        help="emission CSV files (the central's daily product) with the emitter's releases "
        "(after the SRS files, or end the list with --)",
    )
    release.add_argument(
        "--url",
        metavar="URL",
        help="take the emitter's releases from a central server's download API (the web "
        "address; the daily emission CSVs of --station, latest version of each day)",
    )
    srs.add_argument(
        "--station",
        metavar="CODE",
        help="the facility whose rows --releases takes from the CSV (required with --url)",
    )
    srs.add_argument(
        "--token-file",
        type=Path,
        metavar="FILE",
        help="with --url: a file holding the API token (default: the STAX_API_TOKEN variable)",
    )
    srs.add_argument(
        "--analysis",
        choices=("central", "station"),
        default="central",
        help="with --url: the releases of the central's re-analysis (default) or the station's",
    )
    decay = srs.add_mutually_exclusive_group()
    decay.add_argument(
        "--nuclide",
        metavar="NUC",
        help="decay of this nuclide over the transport time (default XE-133; with "
        "--releases, default: each xenon nuclide in the files)",
    )
    decay.add_argument(
        "--no-decay", action="store_true", help="a passive tracer: no decay in transport"
    )
    srs.add_argument("--json", action="store_true", help="one JSON object per line and file")
    srs.add_argument(
        "--step-base",
        type=int,
        choices=(0, 1),
        help="the k of the first step in the files (default: detected)",
    )

    stations = sub.add_parser("stations", help="the IMS stations table (administrators)")
    st = stations.add_subparsers(dest="stations_action", metavar="ACTION", required=True)
    for name, text in (
        ("list", "show the stations"),
        ("add", "add or replace a station"),
        ("remove", "remove a station"),
    ):
        p = st.add_parser(name, help=text, description=text)
        p.add_argument("--config", required=True, metavar="FILE", help="central.toml")
        if name == "list":
            p.add_argument("--json", action="store_true", help="as JSON")
        if name == "remove":
            p.add_argument("code", metavar="CODE")
        if name == "add":
            p.add_argument("code", metavar="CODE", help="e.g. DEX33")
            p.add_argument("--name", required=True)
            p.add_argument("--latitude", type=float, required=True)
            p.add_argument("--longitude", type=float, required=True)
            p.add_argument("--sample-hours", type=float, required=True, help="length of a sample")
            p.add_argument("--stop-hour", type=float, required=True, help="UTC hour a sample stops")
            p.add_argument("--system", default="", help="SPALAX, SAUNA II, ...")
            p.add_argument("--source", required=True, help="where these figures come from")

    atm = sub.add_parser("atm", help="ATM data into the central (administrators)")
    at = atm.add_subparsers(dest="atm_action", metavar="ACTION", required=True)
    add = at.add_parser(
        "add", help="record ATM files (SRS files, zips, folders; cdump with its release)"
    )
    add.add_argument("files", nargs="+", metavar="FILE")
    add.add_argument("--config", required=True, metavar="FILE", help="central.toml")
    add.add_argument("--emitter", metavar="CODE", help="forward cdump: the facility it ran from")
    add.add_argument("--release-bq-per-h", type=float, metavar="R", help="forward: release rate")
    add.add_argument("--release-hours", type=float, metavar="H", help="forward: release duration")
    add.add_argument(
        "--decayed", action="store_true", help="forward: the run had the half-life already"
    )
    scan = at.add_parser("scan", help="pick up the [impact] atm_dir folder")
    scan.add_argument("--config", required=True, metavar="FILE", help="central.toml")
    ls = at.add_parser("list", help="show the recorded ATM files")
    ls.add_argument("--config", required=True, metavar="FILE", help="central.toml")


def run(args: argparse.Namespace) -> int:
    if args.action == "srs":
        return _srs(args)
    return _admin(args)


def _admin(args: argparse.Namespace) -> int:
    from central import impact
    from central.store import Store
    from stax.commands.central import _config

    config = _config(args.config)
    with Store(config.storage.database_path) as store:
        if args.action == "stations":
            return _stations(store, args)
        if args.atm_action == "list":
            for row in impact.atm_files(store):
                where = row["station"] or row["emitter"]
                print(
                    f"{row['id']:5d} {row['kind']:5s} {where:8s} {row['sample_start']} - {row['sample_stop']}  {row['file_name']}"
                )
            return 0
        if args.atm_action == "scan":
            if config.impact.atm_dir is None:
                raise UsageError(f"{args.config}: [impact] atm_dir is not set")
            try:
                outcomes = impact.scan_atm_dir(store, config.impact.atm_dir)
            except FileNotFoundError as exc:
                raise UsageError(str(exc)) from None
        else:
            outcomes = _add(store, args)
    for o in outcomes:
        print(f"{o.name}: {o.outcome}" + (f": {o.reason}" if o.reason else ""))
    return 1 if any(o.outcome == "refused" for o in outcomes) else 0


def _add(store, args: argparse.Namespace):
    from central import impact

    forward = None
    given = [args.emitter, args.release_bq_per_h, args.release_hours]
    if any(v is not None for v in given):
        if not all(v is not None for v in given):
            raise UsageError(
                "a forward file needs --emitter, --release-bq-per-h and --release-hours"
            )
        try:
            forward = impact.ForwardRelease(
                args.emitter, args.release_bq_per_h, args.release_hours, args.decayed
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    outcomes = []
    for name in args.files:
        path = Path(name)
        if path.is_dir():
            outcomes += impact.add_atm_folder(store, path, by=impact.OPERATOR, forward=forward)
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"{name}: cannot read: {exc.strerror}") from None
        outcomes += impact.add_atm_upload(
            store, path.name, data, by=impact.OPERATOR, origin=str(path.parent), forward=forward
        )
    return outcomes


def _stations(store, args: argparse.Namespace) -> int:
    from central import impact
    from shared.atm.ims_stations import ImsStation

    if args.stations_action == "list":
        stations = impact.ims_stations(store)
        if args.json:
            print(json.dumps([s.to_json() for s in stations], indent=1))
        for s in [] if args.json else stations:
            print(
                f"{s.code:6s} {s.latitude:8.3f} {s.longitude:9.3f} {s.system or '-':10s} {s.sample_hours:g} h to {s.stop_hour:g} UTC  {s.name} ({s.source})"
            )
        return 0
    if args.stations_action == "remove":
        if not impact.remove_ims_station(store, args.code, by=impact.OPERATOR):
            raise UsageError(f"no IMS station {args.code!r}")
        return 0
    try:
        station = ImsStation(
            args.code,
            args.name,
            args.latitude,
            args.longitude,
            args.system,
            args.sample_hours,
            args.stop_hour,
            args.source,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    impact.put_ims_station(store, station, by=impact.OPERATOR)
    return 0


def _emitter(text: str):
    from shared.atm.impact import Emitter

    try:
        lat, lon = (float(x) for x in text.split(","))
    except ValueError:
        raise UsageError(f"--emitter: expected LAT,LON in degrees, got {text!r}") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 360):
        raise UsageError(f"--emitter: {text!r} is not a place on Earth")
    return Emitter("emitter", lat, lon)


def _nuclides(args: argparse.Namespace, rows) -> list[str]:
    from shared.atm.impact import XENON
    from shared.nuclear.library import load_library

    if args.nuclide:
        name = args.nuclide.upper()
        if name not in load_library():
            raise UsageError(f"--nuclide: {args.nuclide!r} is not in the nuclide library")
        return [name]
    if rows is None:
        return ["XE-133"]
    seen = {n for r in rows for n, v in r.values.items() if v.val is not None or v.mdr is not None}
    return [n for n in XENON if n in seen]


def _release_rows(args: argparse.Namespace):
    from shared.formats import FormatError, read_emission_csv

    rows = []
    for path in args.releases:
        try:
            rows += read_emission_csv(Path(path).read_bytes(), source=path)
        except OSError as exc:
            raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
        except FormatError as exc:
            raise UsageError(str(exc)) from None
    stations = sorted({r.station for r in rows})
    if args.station:
        rows = [r for r in rows if r.station == args.station]
        if not rows:
            raise UsageError(
                f"--station {args.station}: no rows in the files (they hold {', '.join(stations) or 'none'})"
            )
    elif len(stations) > 1:
        raise UsageError(
            f"the files hold several facilities ({', '.join(stations)}): give --station"
        )
    return rows


def _central_release_rows(args: argparse.Namespace, read_srs_file):
    """The emission rows of `--station` over the SRS files' windows, from the central's
    API: its daily CSVs of the chosen analysis, the latest version of each day. The
    central's access and publish rule decides what the token's user may have."""
    from central.client import Client, ClientError
    from shared.formats import FormatError, read_emission_csv
    from stax.commands.fetch import _token

    if not args.station:
        raise UsageError("--url needs --station CODE (the emitter's facility)")
    starts, ends = [], []
    for path in args.files:
        try:
            start, end = read_srs_file(path, step_base=args.step_base).step_windows()
        except FormatError:
            continue  # reported with the file below
        starts.append(start.min())
        ends.append(end.max())
    if not starts:
        return []
    first = datetime.fromtimestamp(float(min(starts)), UTC)  # POSIX seconds
    last = datetime.fromtimestamp(float(max(ends)), UTC)
    since = datetime.combine(first.date(), datetime.min.time(), tzinfo=UTC)
    try:
        client = Client(args.url, _token(args.token_file))
        files = client.list(
            station=args.station,
            type="CSV",
            analysis=args.analysis.upper(),
            since=since.strftime("%Y-%m-%dT%H:%M:%SZ"),
            until=last.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        latest: dict[str, object] = {}
        for f in files:  # one CSV a day: the highest version wins
            day, version = f.start, _version(f.name)
            if day not in latest or version > _version(latest[day].name):
                latest[day] = f
        rows = []
        for f in sorted(latest.values(), key=lambda f: f.start or ""):
            rows += read_emission_csv(client.fetch(f), source=f.name)
    except (ClientError, ValueError) as exc:
        raise UsageError(f"--url {args.url}: {exc}") from None
    except FormatError as exc:
        raise UsageError(str(exc)) from None
    return [r for r in rows if r.station == args.station]


def _version(name: str) -> int:
    """The version of a central product from its MSG_ID (`..._CCSV20231117V2_CSV_...`)."""
    match = re.search(r"V(\d+)_CSV_", name)
    return int(match.group(1)) if match else 0


def _srs(args: argparse.Namespace) -> int:
    from shared.atm.impact import (
        Releases,
        releases_from_emission_rows,
        sample_impact,
    )
    from shared.atm.srs import read_srs_file
    from shared.formats import FormatError

    emitter = _emitter(args.emitter)
    q = args.constant_bq_per_s
    if q is not None and not (math.isfinite(q) and q >= 0):
        raise UsageError(f"--constant-bq-per-s: a release rate is a finite number >= 0, got {q}")
    if args.url is not None:
        rows = _central_release_rows(args, read_srs_file)
    else:
        rows = None if args.releases is None else _release_rows(args)
    nuclides = [None] if args.no_decay and rows is None else _nuclides(args, rows)
    if rows is not None:
        try:
            by_nuclide = {n: releases_from_emission_rows(rows, n) for n in nuclides}
        except ValueError as exc:
            raise UsageError(f"--releases: {exc}") from None
        release = (
            {"url": args.url, "station": args.station, "analysis": args.analysis.upper()}
            if args.url is not None
            else {"files": args.releases, "station": rows[0].station if rows else None}
        )
    else:
        release = {"constant_bq_per_s": args.constant_bq_per_s}
    bad = 0
    for path in args.files:
        try:
            srs = read_srs_file(path, step_base=args.step_base)
        except FormatError as exc:
            bad += 1
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            continue
        if rows is None:
            start, end = srs.step_windows()
            releases = dict.fromkeys(
                nuclides, Releases.constant(args.constant_bq_per_s, start.min(), end.max())
            )
        else:
            releases = by_nuclide
        impacts = [
            sample_impact(srs, emitter, releases[n], n, decay=not args.no_decay) for n in nuclides
        ]
        view = _view(srs, emitter, release, impacts)
        if args.json:
            print(json.dumps(view))
        else:
            for i in impacts:
                what = f"{i.nuclide or 'tracer'}{'' if i.decay else ' (no decay)'}"
                gap = (
                    f", {100 * i.gap_fraction:.1f} % of the window without data" if i.gap_s else ""
                )
                print(
                    f"{path}: {view['station']} {view['sample_start']} - {view['sample_stop']}: "
                    f"{what} {i.concentration_bq_m3:.4g} Bq/m3 (dilution {i.dilution_s_m3:.4g} s/m3{gap})"
                )
    return 1 if bad else 0


def _iso(t) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _view(srs, emitter, release, impacts) -> dict:
    h = srs.header
    return {
        "file": srs.source,
        "station": h.station,
        "receptor": {"latitude": h.latitude, "longitude": h.longitude},
        "sample_start": _iso(h.sample_start),
        "sample_stop": _iso(h.sample_stop),
        "centre": srs.centre,
        "release_mass": h.release_mass,
        "step_hours": h.step_hours,
        "steps": h.steps,
        "step_base": srs.step_base,
        "step_base_reason": srs.step_base_reason,
        "cells": srs.cells,
        "emitter": {"latitude": emitter.latitude, "longitude": emitter.longitude},
        "release": release,
        "impacts": [{k: v for k, v in i.to_json().items() if k != "emitter"} for i in impacts],
    }
