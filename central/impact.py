"""The central's side of the impact at IMS stations: stations table, ATM data in, releases out.

- IMS stations: a table seeded from shared/atm/ims_stations.json, edited by administrators.
- ATM data: SRS files (one, many, a zip, a folder, the `[impact] atm_dir` folder) and
  forward cdump files with their emitter and unit release; each stored with what it
  covers; a file that does not read goes to `quarantine` with the reason.
- Releases: from the stored results of either analysis, per facility and nuclide.
  Which rows a user may see is decided by central/access.py, not here: the caller passes
  the facilities and rows already filtered (see `releases_from_result_rows`).
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.atm._bytes import fail
from shared.atm.hysplit import read_cdump
from shared.atm.impact import (
    XENON,
    Emitter,
    ForwardRun,
    Releases,
    SampleImpact,
    TotalImpact,
    impact_series,
    total_impact,
)
from shared.atm.ims_stations import ImsStation, default_stations
from shared.atm.srs import SrsField, read_srs
from shared.formats.errors import FormatError

from .accounts import User
from .store import Store, now_iso

SRS_SUFFIXES = (".txt", ".txt.gz", ".srm", ".srm.gz", ".gz")
# A zip member larger than this is refused unread (a zip bomb is not ATM data).
MAX_MEMBER_BYTES = 1 << 30
METHODS = ("central", "station")

# The command line runs on the server with its database: its operator is an administrator.
OPERATOR = User(0, "operator (command line)", "admin", True, frozenset(), frozenset())


class NotAdministrator(PermissionError):
    """Only administrators change the IMS stations and the ATM data."""


def _require_admin(user: User, what: str) -> None:
    if not user.is_admin:
        raise NotAdministrator(f"user {user.username!r} may not {what}: administrators only")


# ------------------------------------------------------------------ IMS stations
def ims_stations(store: Store) -> list[ImsStation]:
    """The IMS stations, by code; the table is filled from the default list on first use."""
    seeded = store.db.execute("select 1 from meta where key = 'ims_stations_seeded'").fetchone()
    if not seeded:  # once: stations an administrator removed stay removed
        now = now_iso()
        with store.conn:
            store.db["ims_stations"].insert_all(
                [
                    {**s.to_json(), "updated_at": now, "updated_by": "default list"}
                    for s in default_stations()
                ],
                pk="code",
                ignore=True,
            )
            store.db["meta"].insert({"key": "ims_stations_seeded", "value": now}, pk="key")
    return [
        ImsStation(**{k: row[k] for k in ImsStation.__dataclass_fields__})
        for row in store.db.query("select * from ims_stations order by code")
    ]


def ims_station(store: Store, code: str) -> ImsStation:
    for s in ims_stations(store):
        if s.code == code:
            return s
    raise KeyError(f"no IMS station {code!r}: add it with `stax impact stations add`")


def put_ims_station(store: Store, station: ImsStation, by: User) -> None:
    """Add a station or replace its entry (administrators)."""
    _require_admin(by, "change the IMS stations")
    ims_stations(store)  # seed first, so that a first edit does not hide the defaults
    with store.conn:
        store.db["ims_stations"].upsert(
            {**station.to_json(), "updated_at": now_iso(), "updated_by": by.username}, pk="code"
        )


def remove_ims_station(store: Store, code: str, by: User) -> bool:
    """Remove a station (administrators). False when there was none."""
    _require_admin(by, "change the IMS stations")
    ims_stations(store)
    with store.conn:
        return bool(store.conn.execute("delete from ims_stations where code = ?", [code]).rowcount)


# ------------------------------------------------------------------ ATM data in
@dataclass(frozen=True)
class ForwardRelease:
    """What a forward cdump file was run with (the file does not say)."""

    emitter: str  # facility code
    bq_per_h: float  # release rate in the CONTROL file (units per hour)
    hours: float  # release duration
    decayed: bool = False  # the run had the nuclide's half-life (output already decayed)
    nuclide: str | None = None

    def __post_init__(self) -> None:
        if not (self.bq_per_h > 0 and self.hours > 0):
            raise ValueError("a forward run's release rate and duration must be positive")


@dataclass(frozen=True)
class AtmOutcome:
    name: str
    outcome: str  # stored, duplicate, refused
    reason: str | None = None  # why it was refused
    atm_id: int | None = None


def _is_srs_name(name: str) -> bool:
    return name.lower().endswith(SRS_SUFFIXES)


def _srs_row(f: SrsField) -> dict[str, Any]:
    h = f.header
    start, end = f.step_windows()
    return {
        "kind": "srs",
        "station": h.station,
        "sample_start": _iso(h.sample_start),
        "sample_stop": _iso(h.sample_stop),
        "window_start": _iso_s(float(start.min())),
        "window_end": _iso_s(float(end.max())),
        "details": json.dumps(
            {
                "centre": f.centre,
                "step_base": f.step_base,
                "step_base_reason": f.step_base_reason,
                "cells": f.cells,
                "steps": h.steps,
                "step_hours": h.step_hours,
                "release_mass": h.release_mass,
                "receptor": [h.latitude, h.longitude],
            }
        ),
    }


def _cdump_row(data: bytes, name: str, forward: ForwardRelease) -> dict[str, Any]:
    c = read_cdump(data, name)
    if not c.periods:
        fail(name, "the cdump file has no output period")
    release_start = c.starts[0].time
    return {
        "kind": "cdump",
        "emitter": forward.emitter,
        "sample_start": _iso(c.periods[0].start),
        "sample_stop": _iso(c.periods[-1].stop),
        "window_start": _iso(release_start),
        "window_end": _iso_s(release_start.timestamp() + forward.hours * 3600),
        "details": json.dumps(
            {
                "model": c.model,
                "packed": c.packed,
                "grid": [c.nlat, c.nlon, c.dlat, c.dlon, c.lat0, c.lon0],
                "levels": c.levels,
                "pollutants": c.pollutants,
                "periods": len(c.periods),
                "bq_per_h": forward.bq_per_h,
                "hours": forward.hours,
                "decayed": forward.decayed,
                "nuclide": forward.nuclide,
            }
        ),
    }


def add_atm_file(
    store: Store,
    name: str,
    data: bytes,
    *,
    by: User,
    origin: str = "upload",
    forward: ForwardRelease | None = None,
) -> AtmOutcome:
    """Record one ATM file: stored with what it covers, a duplicate, or refused (kept in
    quarantine with the reason). A zip goes through `add_atm_upload`."""
    _require_admin(by, "add ATM data")
    digest = hashlib.sha256(data).hexdigest()
    known = store.db.execute("select id from atm_files where sha256 = ?", [digest]).fetchone()
    if known:
        return AtmOutcome(name, "duplicate", None, known[0])
    try:
        if forward is not None:
            row = _cdump_row(data, name, forward)
            if not store.db["facilities"].count_where("code = ?", [forward.emitter]):
                return _refuse(store, name, data, origin, f"{forward.emitter}: no such facility")
        elif _is_srs_name(name):
            row = _srs_row(read_srs(data, name))
        else:
            return _refuse(
                store,
                name,
                data,
                origin,
                f"{name}: not an SRS file name (.txt, .txt.gz, .srm); a forward cdump file "
                "needs its emitter and unit release (stax impact atm add --emitter CODE "
                "--release-bq-per-h R --release-hours H)",
            )
    except FormatError as exc:
        return _refuse(store, name, data, origin, "; ".join(str(p) for p in exc.problems[:5]))
    with store.conn:
        table = store.db["atm_files"]
        table.insert(
            {
                **row,
                "file_name": name,
                "sha256": digest,
                "content": data,
                "origin": origin,
                "added_by": by.username,
                "received_at": now_iso(),
            }
        )
        return AtmOutcome(name, "stored", None, int(table.last_pk))


def _refuse(store: Store, name: str, data: bytes, origin: str, reason: str) -> AtmOutcome:
    digest = hashlib.sha256(data).hexdigest()
    seen = store.db.execute(
        "select 1 from quarantine where sha256 = ? and peer = ?", [digest, f"atm {origin}"]
    ).fetchone()
    if not seen:  # a folder scanned again does not fill the quarantine with copies
        store.quarantine(body=data, reason=reason, status=422, file_name=name, peer=f"atm {origin}")
    return AtmOutcome(name, "refused", reason)


def add_atm_upload(
    store: Store,
    name: str,
    data: bytes,
    *,
    by: User,
    origin: str = "upload",
    forward: ForwardRelease | None = None,
) -> list[AtmOutcome]:
    """One uploaded file, or each member of a zip (folders inside it included)."""
    if not name.lower().endswith(".zip"):
        return [add_atm_file(store, name, data, by=by, origin=origin, forward=forward)]
    _require_admin(by, "add ATM data")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        return [_refuse(store, name, data, origin, f"{name}: not a readable zip file: {exc}")]
    out = []
    for m in members:
        member = f"{name}/{m.filename}"
        if m.file_size > MAX_MEMBER_BYTES:
            out.append(
                AtmOutcome(member, "refused", f"{member}: {m.file_size} bytes unpacked: too large")
            )
            continue
        try:
            content = archive.read(m)
        except (zipfile.BadZipFile, OSError, NotImplementedError) as exc:
            out.append(_refuse(store, member, data, origin, f"{member}: cannot unpack: {exc}"))
            continue
        out.append(add_atm_file(store, member, content, by=by, origin=origin, forward=forward))
    return out


def add_atm_folder(
    store: Store, folder: Path, *, by: User, forward: ForwardRelease | None = None
) -> list[AtmOutcome]:
    """Every file under `folder` (zips unpacked), in name order. Files are left in place."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    out = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = str(path.relative_to(folder))
        try:
            data = path.read_bytes()
        except OSError as exc:
            out.append(AtmOutcome(name, "refused", f"{path}: cannot read: {exc.strerror}"))
            continue
        out += add_atm_upload(store, name, data, by=by, origin=str(folder), forward=forward)
    return out


def scan_atm_dir(store: Store, atm_dir: Path | None) -> list[AtmOutcome]:
    """Pick up the `[impact] atm_dir` folder (SRS files; known files are duplicates)."""
    if atm_dir is None:
        return []
    return add_atm_folder(store, atm_dir, by=OPERATOR)


def atm_files(store: Store, kind: str | None = None) -> list[dict[str, Any]]:
    """What is recorded, without the bytes."""
    where, params = ("where kind = ?", [kind]) if kind else ("", [])
    return list(
        store.db.query(
            "select id, file_name, kind, station, emitter, sample_start, sample_stop, "
            f"window_start, window_end, details, origin, added_by, received_at from atm_files {where} "
            "order by kind, station, sample_start, id",
            params,
        )
    )


def srs_fields(store: Store, station: str, start: datetime, end: datetime) -> list[SrsField]:
    """The stored SRS files of an IMS station whose samples overlap [start, end)."""
    rows = store.db.execute(
        "select file_name, content from atm_files where kind = 'srs' and station = ? "
        "and sample_stop > ? and sample_start < ? order by sample_start, id",
        [station, _iso(start), _iso(end)],
    ).fetchall()
    return [read_srs(bytes(content), name) for name, content in rows]


def forward_runs(
    store: Store, emitter_list: Sequence[Emitter], start: datetime, end: datetime
) -> list[ForwardRun]:
    """The stored forward runs of these emitters whose output overlaps [start, end), with
    the release each was recorded with."""
    where = {e.code: e for e in emitter_list}
    if not where:
        return []
    rows = store.db.execute(
        f"select file_name, emitter, details, window_start, content from atm_files "
        f"where kind = 'cdump' and emitter in ({', '.join('?' * len(where))}) "
        "and sample_stop > ? and sample_start < ? order by window_start, id",
        [*where, _iso(start), _iso(end)],
    ).fetchall()
    runs = []
    for name, emitter, details, window_start, content in rows:
        d = json.loads(details)
        runs.append(
            ForwardRun(
                read_cdump(bytes(content), name),
                where[emitter],
                _parse(window_start).timestamp(),
                d["hours"],
                d["bq_per_h"],
                d["decayed"],
            )
        )
    return runs


# ------------------------------------------------------------------ releases
def result_rows(
    store: Store, method: str, facilities: Sequence[str], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Stored results of `method` (central: table `analyses`; station: `station_results`)
    for these facilities with samples in [start, end): station, message_id, interval_start
    and the result JSON. Not filtered by any access rule: see `releases_from_result_rows`."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not facilities:
        return []
    marks = ", ".join("?" * len(facilities))
    collection = "json_extract(m.summary, '$.collection.start')"
    if method == "central":
        sql = (
            f"select m.id as message_id, m.station, coalesce({collection}, m.start_time) as interval_start, "
            "a.result from analyses a join messages m on m.id = a.message_id "
            f"where a.method = 'central' and a.result is not null and m.station in ({marks}) "
            "and m.start_time >= ? and m.start_time < ?"
        )
    else:
        sql = (
            f"select m.id as message_id, s.station, coalesce({collection}, s.acquisition_start) as interval_start, "
            "s.result from station_results s left join messages m "
            "on m.station = s.station and m.file_name = s.file_name "
            f"where s.station in ({marks}) and s.acquisition_start >= ? and s.acquisition_start < ?"
        )
    return list(
        store.db.query(sql + " order by interval_start", [*facilities, _iso(start), _iso(end)])
    )


def releases_from_result_rows(rows: Iterable[dict[str, Any]], nuclide: str) -> dict[str, Releases]:
    """A nuclide's releases per facility from result rows THE CALLER HAS ALREADY FILTERED
    by the access and publish rule (central/access.py): only what the user may see.

    Each row covers [interval_start, + interval_s) of its result; a detected nuclide
    gives its release, a non-detect its MDR (as the emission CSV does), a nuclide or
    release missing from the result leaves a gap."""
    per: dict[str, list[tuple[float, float, float | None, float | None]]] = {}
    for row in rows:
        result = json.loads(row["result"]) if isinstance(row["result"], str) else row["result"]
        nuclides = result.get("nuclides") if isinstance(result, dict) else None
        if not isinstance(nuclides, dict) or not result.get("interval_s"):
            continue  # a result without releases (an empty or failed analysis): a gap
        entry = next((v for k, v in nuclides.items() if k.upper() == nuclide), None)
        start = _parse(row["interval_start"]).timestamp()
        end = start + float(result["interval_s"])
        if entry is None or entry.get("release_bq") is None:
            continue
        if entry.get("detected"):
            per.setdefault(row["station"], []).append((start, end, entry["release_bq"], None))
        else:
            per.setdefault(row["station"], []).append((start, end, None, entry.get("mdr_bq")))
    return {station: Releases.from_intervals(iv) for station, iv in per.items()}


def emitters(store: Store, facilities: Sequence[str]) -> list[Emitter]:
    """The facilities with a known place, as emitters."""
    rows = store.db.query("select code, latitude, longitude from facilities order by code")
    return [
        Emitter(r["code"], r["latitude"], r["longitude"])
        for r in rows
        if r["code"] in facilities and r["latitude"] is not None and r["longitude"] is not None
    ]


def backward_impact(
    fields: Sequence[SrsField],
    emitter_list: Sequence[Emitter],
    rows: Sequence[dict[str, Any]],
    nuclides: Sequence[str] = XENON,
    decay: bool = True,
) -> tuple[list[SampleImpact], list[TotalImpact]]:
    """The emitters impact and total impact series at the IMS samples of `fields`, from
    result rows already filtered by the access rule. What the /impact page draws."""
    releases = {}
    for n in nuclides:
        for station, r in releases_from_result_rows(rows, n).items():
            releases[(station, n)] = r
    series = impact_series(fields, emitter_list, releases, nuclides, decay)
    return series, total_impact(series)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_s(t: float) -> str:
    return _iso(datetime.fromtimestamp(t, UTC))


def _parse(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)
