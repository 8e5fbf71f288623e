"""Releases as a flat table: one row per spectrum, nuclide and method (`release_values`).

The charts read releases of a station-year (35,040 intervals x 9 nuclides x 2 methods)
in well under a second; reading them out of the analyses' JSON each time would take
minutes. So the numbers are copied out of the results once, when they are stored:

- a central re-analysis (`Store.add_analysis`) fills its spectrum's `central` rows;
- a station ATS (`Store.add_message` with `station_results`) fills the `station` rows of
  each spectrum it reports on;
- a spectrum (PHD) arriving after its station's ATS links those rows to itself.

A station result whose spectrum has not arrived is kept all the same (message_id NULL,
the interval taken from the result), so that nothing the station reported is missing
from the charts. Each refill of a spectrum deletes and rewrites its rows, so that it is
idempotent; `backfill` does the same for a database made before this table, in batches
(`fill_all`, `stax central backfill`, when it is large). Each write also sums its days
again in `release_daily` (central/release_daily.py), what the trends read.

The table has the `station` and `data_until` columns of every table about a station, so
that `central.access.message_scope` filters it directly: a spectrum's releases (of both
methods) are published when the spectrum is (data_until = the PHD's). The rows are kept
in the order the charts read them (clustered on station, nuclide, method, start), and
indexed for (station, start_time) and for the publish rule (station, data_until).

Values: Bq per interval (`interval_s` seconds, normally 900); `mdr_bq` is the ISO 11929
detection limit in the release domain (the MDR); `detected` 1/0. Columns a result does
not give are NULL. Release uncertainties are the standard uncertainties the results
carry (counting and calibration).
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shared.timeutil import iso_z

from . import release_daily
from .bulkread import paused_gc
from .datatime import data_until as _data_until

if TYPE_CHECKING:
    from .accounts import User
    from .store import Store

log = logging.getLogger(__name__)

TABLE = "release_values"
# Per station, nuclide, method and 4-hour bucket, the bucket's rows with the highest and
# the lowest drawn value (the release of a detect, the MDR of a non-detect): what a chart
# of a long span reads instead of every row, peaks included (central.web.pages.releases)
OVERVIEW = "release_overview"
BUCKET_S = 4 * 3600
_DRAWN = "coalesce(case when detected then release_bq else mdr_bq end, 0)"
METHODS = ("station", "central")
BACKFILL_KEY = "release_values_backfilled"
OVERVIEW_KEY = "release_overview_built"
BACKFILL_BATCH = 500  # spectra per transaction

COLUMNS = (
    "station",
    "nuclide",
    "method",
    "start_s",  # start of the interval, seconds since the epoch (the charts' x)
    "file_name",  # the PHD's product file name
    "message_id",  # the PHD (NULL: a station result whose spectrum has not arrived)
    "start_time",  # the same start as ISO text (iso_z)
    "data_until",  # the PHD's data time: the publish rule counts from here
    "release_bq",
    "release_unc_bq",
    "mdr_bq",
    "activity_bq",
    "activity_unc_bq",
    "detected",
    "interval_s",
)

_SCHEMA = f"""
create table if not exists {TABLE} (
    station text not null,
    nuclide text not null,
    method text not null check (method in ('station', 'central')),
    start_s integer not null,
    file_name text not null,
    message_id integer,
    start_time text not null,
    data_until text not null,
    release_bq real,
    release_unc_bq real,
    mdr_bq real,
    activity_bq real,
    activity_unc_bq real,
    detected integer not null,
    interval_s real,
    primary key (station, nuclide, method, start_s, file_name)
) without rowid;
create index if not exists {TABLE}_station_start on {TABLE} (station, start_time);
create index if not exists {TABLE}_publish on {TABLE} (station, data_until);
create index if not exists {TABLE}_file on {TABLE} (station, file_name);
create index if not exists {TABLE}_message on {TABLE} (message_id);
create table if not exists {OVERVIEW} (
    station text not null,
    nuclide text not null,
    method text not null,
    start_s integer not null,
    file_name text not null,
    message_id integer,
    start_time text not null,
    data_until text not null,
    release_bq real,
    release_unc_bq real,
    mdr_bq real,
    activity_bq real,
    activity_unc_bq real,
    detected integer not null,
    interval_s real,
    primary key (station, nuclide, method, start_s, file_name)
) without rowid;
"""


def ensure_schema(db) -> None:
    """Create the tables and their indexes (idempotent). A database made before them is
    filled here only when small (at most AUTO_SPECTRA spectra, AUTO_ROWS release rows:
    seconds); a larger one is left to `stax central backfill --config FILE` (`fill_all`),
    which says how far it is, and a warning says so, so that the server's first start
    after an upgrade does not spend minutes before it serves. `db` is the sqlite-utils
    Database of a Store."""
    conn: sqlite3.Connection = db.conn
    conn.executescript(_SCHEMA)
    release_daily.ensure_schema(conn)
    missing = pending(conn)
    if not missing:
        return
    if not small(conn):
        _warn_once(missing)
        return
    fill_all(conn, missing)


AUTO_SPECTRA = 20_000  # about half a station-year of spectra: backfilled on opening
AUTO_ROWS = 400_000  # release rows whose overview and daily sums are built on opening
_warned: set[str] = set()


def pending(conn: sqlite3.Connection) -> list[str]:
    """What a database made before them still lacks, of BACKFILL_KEY (release_values
    from the stored results), OVERVIEW_KEY, release_daily.BUILT_KEY, in that order."""
    keys = (BACKFILL_KEY, OVERVIEW_KEY, release_daily.BUILT_KEY)
    done = {
        r[0]
        for r in conn.execute(
            f"select key from meta where key in ({', '.join('?' * len(keys))})", keys
        )
    }
    return [k for k in keys if k not in done]


def small(conn: sqlite3.Connection) -> bool:
    """Whether filling what is pending takes seconds, not minutes (counted up to the
    limits only, so that asking is quick at any size)."""
    spectra = conn.execute(
        "select count(*) from (select 1 from messages where product = 'PHD' limit ?)",
        [AUTO_SPECTRA + 1],
    ).fetchone()[0]
    rows = conn.execute(
        f"select count(*) from (select 1 from {TABLE} limit ?)", [AUTO_ROWS + 1]
    ).fetchone()[0]
    return spectra <= AUTO_SPECTRA and rows <= AUTO_ROWS


def _warn_once(missing: Sequence[str]) -> None:
    key = ",".join(missing)
    if key in _warned:
        return
    _warned.add(key)
    log.warning(
        "the release tables of this database are not filled yet (%s): the charts show "
        "only what arrives from now on until `stax central backfill --config FILE` is run "
        '(docs/web.md, "The charts")',
        ", ".join(missing),
    )


def fill_all(
    conn: sqlite3.Connection,
    steps: Sequence[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    batch: int = BACKFILL_BATCH,
) -> int:
    """Fill the release tables of an existing database: `release_values` from every
    stored result (`backfill`), then `release_overview` and `release_daily` from it, each
    step recorded in `meta` when done. `steps` None: all three again; `progress(step,
    done, total)` is told as it goes. Idempotent, safe beside a running server (each
    batch is one transaction). Returns the release rows written by the backfill."""
    steps = list(steps) if steps is not None else [BACKFILL_KEY, OVERVIEW_KEY,
                                                    release_daily.BUILT_KEY]  # fmt: skip
    written = 0
    if BACKFILL_KEY in steps:
        written = backfill(conn, batch, progress=progress)
    for key, build, name in (
        (OVERVIEW_KEY, rebuild_overview, OVERVIEW),
        (release_daily.BUILT_KEY, release_daily.rebuild, release_daily.DAILY),
    ):
        if key not in steps:
            continue
        if progress:
            progress(name, 0, 1)
        with conn:
            build(conn)
            conn.execute("insert or replace into meta (key, value) values (?, '1')", [key])
        if progress:
            progress(name, 1, 1)
    return written


# ----------------------------------------------------------------- rows (pure)
def rows_from_result(
    result: Mapping[str, Any] | None,
    *,
    method: str,
    station: str,
    file_name: str,
    message_id: int | None,
    start_time: str,
    data_until: str,
) -> list[tuple]:
    """The table rows (in COLUMNS order) of one result's nuclides. A result without
    nuclides (failed, or an ATS sample not analysed) gives none."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if not result:
        return []
    start = _parse(start_time)
    if start is None:
        raise ValueError(f"{file_name}: start time {start_time!r} is not ISO 8601")
    interval = _number(result.get("interval_s"))
    out = []
    for name, n in (result.get("nuclides") or {}).items():
        out.append(
            (
                station,
                name,
                method,
                int(start.timestamp()),
                file_name,
                message_id,
                iso_z(start),
                data_until,
                _number(n.get("release_bq")),
                _number(n.get("release_unc_bq")),
                _number(n.get("mdr_bq", n.get("detection_limit_bq"))),
                _number(n.get("activity_bq")),
                _number(n.get("activity_unc_bq")),
                1 if n.get("detected") else 0,
                interval,
            )
        )
    return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _parse(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _load(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _has_results(conn: sqlite3.Connection, message_id: int) -> bool:
    """Whether a spectrum has a result to fill rows from (its central analysis, or a
    station result): the others are passed over, not emptied."""
    return (
        conn.execute(
            "select exists (select 1 from analyses where message_id = ? and method = 'central' "
            "and result is not null) or exists (select 1 from station_results s join messages m "
            "on s.station = m.station and s.file_name = m.file_name where m.id = ?)",
            [message_id, message_id],
        ).fetchone()[0]
        == 1
    )


def interval_start(summary: Mapping[str, Any], start_time: str | None) -> str | None:
    """Where a spectrum's release interval starts: its collection start, else the
    stored start time (the acquisition's), as the impact pages count it."""
    collection = summary.get("collection") if isinstance(summary, Mapping) else None
    if isinstance(collection, Mapping) and _parse(collection.get("start")) is not None:
        return collection["start"]
    return start_time


# ------------------------------------------------------------------ filling
_INSERT = f"insert or replace into {TABLE} ({', '.join(COLUMNS)}) values ({', '.join('?' * len(COLUMNS))})"


def fill_message(conn: sqlite3.Connection, message_id: int) -> int:
    """(Re)write the release rows a stored message gives: a PHD's (both methods, with
    any station result that arrived before it), or those of the spectra a station ATS
    reports on. Other products give none. Runs in the caller's transaction; returns the
    rows written."""
    row = conn.execute("select product from messages where id = ?", [message_id]).fetchone()
    if row is None:
        return 0
    if row[0] == "PHD":
        return fill_phd(conn, message_id)
    if row[0] == "ATS":
        return fill_ats(conn, message_id)
    return 0


def fill_phd(conn: sqlite3.Connection, message_id: int) -> int:
    """(Re)write one spectrum's rows from its central analysis and its station result."""
    found = conn.execute(
        "select station, file_name, start_time, data_until, summary, product "
        "from messages where id = ?",
        [message_id],
    ).fetchone()
    if found is None or found[5] != "PHD":
        return 0
    station, file_name, start_time, until, summary, _ = found
    start = interval_start(_load(summary) or {}, start_time)
    touched = _buckets(conn, "station = ? and file_name = ?", [station, file_name])
    conn.execute(f"delete from {TABLE} where station = ? and file_name = ?", [station, file_name])
    if start is None or until is None:
        refresh_summaries(conn, station, touched)
        return 0
    rows: list[tuple] = []
    central = conn.execute(
        "select result from analyses where message_id = ? and method = 'central' "
        "and result is not null",
        [message_id],
    ).fetchone()
    if central is not None:
        rows += _rows(central[0], "central", station, file_name, message_id, start, until)
    result = conn.execute(
        "select result from station_results where station = ? and file_name = ?",
        [station, file_name],
    ).fetchone()
    if result is not None:
        rows += _rows(result[0], "station", station, file_name, message_id, start, until)
    conn.executemany(_INSERT, rows)
    refresh_summaries(conn, station, touched | {(r[1], r[2], _bucket(r[3])) for r in rows})
    return len(rows)


def _rows(text, method, station, file_name, message_id, start, until) -> list[tuple]:
    try:
        return rows_from_result(
            _load(text),
            method=method,
            station=station,
            file_name=file_name,
            message_id=message_id,
            start_time=start,
            data_until=until,
        )
    except (ValueError, AttributeError, TypeError):
        return []  # a result that cannot be read gives no numbers; it stays stored


def fill_ats(conn: sqlite3.Connection, ats_message_id: int) -> int:
    """The rows of the spectra a station ATS reports on."""
    results = conn.execute(
        "select station, file_name, acquisition_start, result from station_results "
        "where ats_message_id = ?",
        [ats_message_id],
    ).fetchall()
    return sum(_fill_station_result(conn, *r) for r in results)


def _fill_station_result(
    conn: sqlite3.Connection, station: str, file_name: str, acquisition_start, text
) -> int:
    phd = conn.execute(
        "select id from messages where station = ? and file_name = ? and product = 'PHD'",
        [station, file_name],
    ).fetchone()
    if phd is not None:
        return fill_phd(conn, phd[0])
    # the spectrum has not arrived (yet): the interval and data time from the result
    result = _load(text) or {}
    start = result.get("acquisition_start") or acquisition_start
    if _parse(start) is None:
        return 0
    until = _data_until(
        product="PHD",
        start_time=start,
        summary={"acquisition": {"start": start, "real_time": result.get("real_time_s")}},
        received_at=start,
    )
    where = "station = ? and file_name = ? and method = 'station'"
    touched = _buckets(conn, where, [station, file_name])
    conn.execute(f"delete from {TABLE} where {where}", [station, file_name])
    rows = _rows(text, "station", station, file_name, None, start, until)
    conn.executemany(_INSERT, rows)
    refresh_summaries(conn, station, touched | {(r[1], r[2], _bucket(r[3])) for r in rows})
    return len(rows)


def _bucket(start_s: int) -> int:
    return start_s - start_s % BUCKET_S


def _buckets(conn: sqlite3.Connection, where: str, params: list) -> set[tuple[str, str, int]]:
    return {
        (nuclide, method, _bucket(start))
        for nuclide, method, start in conn.execute(
            f"select nuclide, method, start_s from {TABLE} where {where}", params
        )
    }


def refresh_summaries(
    conn: sqlite3.Connection, station: str, buckets: Iterable[tuple[str, str, int]]
) -> None:
    """The overview and the daily sums (central/release_daily.py) of these (nuclide,
    method, bucket start) of `station` again, after its rows were written or deleted."""
    buckets = set(buckets)
    refresh_overview(conn, station, buckets)
    release_daily.refresh(conn, station, {(n, m, release_daily.day_of(b)) for n, m, b in buckets})


def rebuild_summaries(conn: sqlite3.Connection) -> None:
    """The overview and the daily sums again from the whole table (after a bulk insert),
    in the caller's transaction."""
    rebuild_overview(conn)
    release_daily.rebuild(conn)


def refresh_overview(
    conn: sqlite3.Connection, station: str, buckets: Iterable[tuple[str, str, int]]
) -> None:
    """Rewrite the overview rows of these (nuclide, method, bucket start) of `station`
    from the table (in the caller's transaction)."""
    columns = ", ".join(COLUMNS)
    for nuclide, method, bucket in buckets:
        where = "station = ? and nuclide = ? and method = ? and start_s >= ? and start_s < ?"
        params = [station, nuclide, method, bucket, bucket + BUCKET_S]
        conn.execute(f"delete from {OVERVIEW} where {where}", params)
        for order in ("desc", "asc"):
            conn.execute(
                f"insert or ignore into {OVERVIEW} ({columns}) select {columns} from {TABLE} "
                f"where {where} order by {_DRAWN} {order}, start_s limit 1",
                params,
            )


def rebuild_overview(conn: sqlite3.Connection) -> None:
    """The whole overview again from the table (after a bulk insert), in the caller's
    transaction."""
    columns = ", ".join(COLUMNS)
    conn.execute(f"delete from {OVERVIEW}")
    conn.execute(
        f"insert or ignore into {OVERVIEW} ({columns}) select {columns} from ("
        f"select *, row_number() over (partition by station, nuclide, method, "
        f"start_s - start_s % {BUCKET_S} order by {_DRAWN} desc, start_s) as high, "
        f"row_number() over (partition by station, nuclide, method, "
        f"start_s - start_s % {BUCKET_S} order by {_DRAWN} asc, start_s) as low "
        f"from {TABLE}) where high = 1 or low = 1"
    )


def backfill(
    conn: sqlite3.Connection,
    batch: int = BACKFILL_BATCH,
    progress: Callable[[str, int, int], None] | None = None,
) -> int:
    """Fill the table from every stored result, `batch` spectra per transaction, and
    record that it is done; `progress(TABLE, spectra done, spectra)` after each batch.
    Idempotent: each spectrum's rows are rewritten, so a run cut short (or two processes
    opening the database together) leaves it right."""
    written = 0
    last = 0
    total = conn.execute("select count(*) from messages where product = 'PHD'").fetchone()[0]
    seen = 0
    while True:
        ids = [
            r[0]
            for r in conn.execute(
                "select id from messages where product = 'PHD' and id > ? order by id limit ?",
                [last, batch],
            )
        ]
        if not ids:
            break
        with conn:
            written += sum(fill_phd(conn, i) for i in ids if _has_results(conn, i))
        last = ids[-1]
        seen += len(ids)
        if progress:
            progress(TABLE, seen, total)
    orphans = conn.execute(
        "select s.station, s.file_name, s.acquisition_start, s.result from station_results s "
        "where not exists (select 1 from messages m where m.station = s.station "
        "and m.file_name = s.file_name and m.product = 'PHD')"
    ).fetchall()
    for start in range(0, len(orphans), batch):
        with conn:
            written += sum(_fill_station_result(conn, *r) for r in orphans[start : start + batch])
    with conn:
        conn.execute("insert or replace into meta (key, value) values (?, ?)", [BACKFILL_KEY, "1"])
    return written


# ------------------------------------------------------------------ reading
def release_series(
    store: Store,
    user: User,
    now: datetime,
    station: str,
    start: datetime | str,
    end: datetime | str,
    nuclides: Sequence[str] | None = None,
    methods: Sequence[str] = METHODS,
) -> list[dict[str, Any]]:
    """The release rows of `station` with interval start in [start, end) that `user`
    may see at `now` (central.access.message_scope), ordered by nuclide, method and
    time. `nuclides` None: all of them."""
    sql, params = series_query(store, user, now, station, start, end, nuclides, methods)
    cursor = store.conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor]


def series_query(
    store: Store,
    user: User,
    now: datetime,
    station: str,
    start: datetime | str,
    end: datetime | str,
    nuclides: Sequence[str] | None = None,
    methods: Sequence[str] = METHODS,
    columns: Sequence[str] = COLUMNS,
    overview: bool = False,
) -> tuple[str, list[Any]]:
    """The SQL (and its parameters) of `release_series`, for readers that want tuples;
    with `overview`, of the overview rows only (each 4-hour bucket's highest and lowest)."""
    from .access import message_scope

    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {unknown[0]!r}")
    bad = [c for c in columns if c not in COLUMNS]
    if bad:
        raise ValueError(f"no column {bad[0]!r} in {TABLE}")
    scope, scope_params = message_scope(store, user, now)
    where = ["station = ?", "start_s >= ?", "start_s < ?", scope]
    params: list[Any] = [station, _seconds(start), _seconds(end), *scope_params]
    if nuclides is not None:
        where.append(f"nuclide in ({', '.join('?' * len(nuclides))})")
        params += list(nuclides)
    where.append(f"method in ({', '.join('?' * len(methods))})")
    params += list(methods)
    sql = (
        f"select {', '.join(columns)} from {OVERVIEW if overview else TABLE} "
        f"where {' and '.join(where)} order by nuclide, method, start_s"
    )
    return sql, params


def nuclides_of(store: Store, user: User, now: datetime, station: str) -> list[str]:
    """The nuclides `station` has release rows of, among those `user` may see."""
    from .access import message_scope

    scope, params = message_scope(store, user, now)
    # one probe per nuclide down the primary key, not a scan of the station's rows
    names = []
    previous = ""
    while True:
        row = store.conn.execute(
            f"select nuclide from {TABLE} where station = ? and nuclide > ? and {scope} "
            "order by nuclide limit 1",
            [station, previous, *params],
        ).fetchone()
        if row is None:
            return names
        names.append(row[0])
        previous = row[0]


def _seconds(t: datetime | str) -> int:
    if isinstance(t, str):
        parsed = _parse(t)
        if parsed is None:
            raise ValueError(f"not an ISO 8601 time: {t!r}")
        t = parsed
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return math.floor(t.timestamp())


def insert_rows(
    conn: sqlite3.Connection, rows: Iterable[Sequence[Any]], overview: bool = True
) -> None:
    """Bulk insert rows (in COLUMNS order) in the caller's transaction, the overview and
    the daily sums of their buckets refreshed: for tools that make test or benchmark data
    without spectra (a large bulk insert: `overview=False`, then `rebuild_summaries`
    once)."""
    rows = list(rows)
    conn.executemany(_INSERT, rows)
    if overview:
        touched: dict[str, set] = {}
        for r in rows:
            touched.setdefault(r[0], set()).add((r[1], r[2], _bucket(r[3])))
        for station, buckets in touched.items():
            refresh_summaries(conn, station, buckets)


def daily_releases(
    store: Store,
    user: User,
    now: datetime,
    stations: Sequence[str],
    start: datetime | str,
    end: datetime | str,
    nuclides: Sequence[str],
    methods: Sequence[str] = METHODS,
) -> list[tuple]:
    """Per UTC day, nuclide and method, summed over `stations`: (day, nuclide, method,
    sum of the detected releases in Bq, intervals, detected intervals), of the rows
    `user` may see at `now`, for interval starts in [start, end). Read from the daily
    sums (central/release_daily.py), the days at the publish edge and the part days at
    the ends from the rows themselves."""
    from .access import message_scope

    if not stations or not nuclides:
        return []
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {unknown[0]!r}")
    scope, params = message_scope(store, user, now)
    return release_daily.daily_sums(store.conn, scope, params, stations, nuclides, methods,
                                    _seconds(start), _seconds(end))  # fmt: skip


def release_integrals(
    store: Store,
    user: User,
    now: datetime,
    station: str,
    start: datetime | str,
    end: datetime | str,
    nuclides: Sequence[str] | None = None,
) -> list[tuple]:
    """Per nuclide and method over the rows `user` may see with interval start in
    [start, end): (nuclide, method, intervals, detected intervals, sum of the detected
    releases (Bq), root sum of squares of their uncertainties (Bq), that sum plus the MDR
    of each non-detect (Bq)), summed by SQLite over every row."""
    from .access import message_scope

    scope, scope_params = message_scope(store, user, now)
    where = ["station = ?", "start_s >= ?", "start_s < ?", scope]
    params: list[Any] = [station, _seconds(start), _seconds(end), *scope_params]
    if nuclides is not None:
        where.append(f"nuclide in ({', '.join('?' * len(nuclides))})")
        params += list(nuclides)
    found = "detected and release_bq is not null"
    sql = (
        f"select nuclide, method, count(*), sum(detected), "
        f"coalesce(sum(case when {found} then release_bq end), 0), "
        f"coalesce(sum(case when {found} then coalesce(release_unc_bq, 0) * "
        "coalesce(release_unc_bq, 0) end), 0), "
        "coalesce(sum(case when not detected then coalesce(mdr_bq, 0) end), 0) "
        f"from {TABLE} where {' and '.join(where)} group by nuclide, method "
        "order by nuclide, method"
    )
    return [
        (n, m, count, int(found_), total, math.sqrt(squares), total + missed)
        for n, m, count, found_, total, squares, missed in store.conn.execute(sql, params)
    ]


def ratio_rows(
    store: Store,
    user: User,
    now: datetime,
    station: str,
    start: datetime | str,
    end: datetime | str,
    nuclides: Sequence[str],
    method: str,
    colour: str | None = None,
) -> list[tuple]:
    """The spectra of `station` (interval start in [start, end), rows `user` may see at
    `now`, one method) in which every one of `nuclides` is detected with a positive
    release: (start_s, file_name, start_time, message_id, then release and uncertainty
    (Bq) of each of `nuclides` in turn, then the release of `colour` if detected, else
    None), by time. Paired and filtered by SQLite: what the ratio chart reads."""
    from .access import message_scope

    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    needed = list(dict.fromkeys(nuclides))
    if not needed:
        return []
    read = list(dict.fromkeys([*needed, *([colour] if colour else [])]))
    scope, scope_params = message_scope(store, user, now)
    usable = "detected and release_bq > 0"
    columns = []
    params: list[Any] = []
    for n in needed:
        columns += [
            "max(case when nuclide = ? then release_bq end)",
            "max(case when nuclide = ? then release_unc_bq end)",
        ]
        params += [n, n]
    columns.append("max(case when nuclide = ? and detected then release_bq end)")
    params.append(colour)
    sql = (
        f"select start_s, file_name, max(start_time), max(message_id), {', '.join(columns)} "
        f"from {TABLE} where station = ? and method = ? and start_s >= ? and start_s < ? "
        f"and nuclide in ({', '.join('?' * len(read))}) and {scope} "
        "group by start_s, file_name "
        f"having sum(nuclide in ({', '.join('?' * len(needed))}) and {usable}) = ? "
        "order by start_s, file_name"
    )
    params += [station, method, _seconds(start), _seconds(end), *read, *scope_params]
    params += [*needed, len(needed)]
    with paused_gc():
        return store.conn.execute(sql, params).fetchall()
