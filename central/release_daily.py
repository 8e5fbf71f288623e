"""Daily sums of the release table (`release_daily`): what the trends chart reads.

One row per station, nuclide, method and UTC day, summed over that day's rows of
`release_values` (central/releases.py): intervals, detected intervals, the sum of the
detected releases (Bq), the sum of their squared uncertainties (Bq²) and the sum of the
MDRs of the non-detects (Bq). A year of 10 stations is then 29,200 rows for the four
trend nuclides and both analyses instead of 2.8 million.

The access and publish rule (central.access.message_scope) is per row of
`release_values` (each spectrum's `data_until`), so a daily sum may only be read whole
when every row of the day is visible. Each day keeps the latest (`data_until`) and the
earliest (`first_until`) data time of its rows:

- the rule applied to `data_until` is true: every row of the day is visible, the sum is
  read as it is;
- the rule applied to `first_until` is false: none is, the day gives nothing;
- otherwise (the day at the publish edge, normally the last day or two of a station
  with a delay): the day is summed again from the visible rows of `release_values`.

Kept up to date in the transaction of whatever writes `release_values`
(`refresh`, called by central.releases for each (nuclide, method, day) it touches);
`rebuild` makes it again from the whole table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

DAILY = "release_daily"
DAY_S = 86_400
BUILT_KEY = "release_daily_built"
VALUES = "release_values"

_SCHEMA = f"""
create table if not exists {DAILY} (
    station text not null,
    nuclide text not null,
    method text not null,
    day_s integer not null,
    day text not null,
    data_until text not null,
    first_until text not null,
    intervals integer not null,
    detected integer not null,
    release_bq real not null,
    release_unc2_bq2 real not null,
    mdr_bq real not null,
    primary key (station, nuclide, method, day_s)
) without rowid;
"""

_FOUND = "detected and release_bq is not null"
# the aggregate columns over rows of release_values, in the table's column order
_SUMS = (
    "max(data_until), min(data_until), count(*), sum(detected), "
    f"coalesce(sum(case when {_FOUND} then release_bq end), 0), "
    f"coalesce(sum(case when {_FOUND} then coalesce(release_unc_bq, 0) * "
    "coalesce(release_unc_bq, 0) end), 0), "
    "coalesce(sum(case when not detected then coalesce(mdr_bq, 0) end), 0)"
)
_COLUMNS = (
    "station, nuclide, method, day_s, day, data_until, first_until, intervals, detected, "
    "release_bq, release_unc2_bq2, mdr_bq"
)


def ensure_schema(conn: sqlite3.Connection) -> None:
    conn.executescript(_SCHEMA)


def day_of(start_s: int) -> int:
    """The UTC midnight (seconds since the epoch) of the day an interval starts in."""
    return start_s - start_s % DAY_S


def refresh(conn: sqlite3.Connection, station: str, keys: Iterable[tuple[str, str, int]]) -> None:
    """Sum again these (nuclide, method, day_s) of `station` from `release_values`, in
    the caller's transaction (a day left without rows loses its row)."""
    for nuclide, method, day_s in set(keys):
        params = [station, nuclide, method, day_s]
        conn.execute(
            f"delete from {DAILY} where station = ? and nuclide = ? and method = ? and day_s = ?",
            params,
        )
        conn.execute(
            f"insert into {DAILY} ({_COLUMNS}) select station, nuclide, method, ?, "
            f"strftime('%Y-%m-%d', ?, 'unixepoch'), {_SUMS} from {VALUES} "
            "where station = ? and nuclide = ? and method = ? and start_s >= ? and start_s < ? "
            "group by station, nuclide, method",
            [day_s, day_s, station, nuclide, method, day_s, day_s + DAY_S],
        )


def rebuild(conn: sqlite3.Connection) -> None:
    """The whole table again from `release_values`, in the caller's transaction."""
    day = f"start_s - start_s % {DAY_S}"
    conn.execute(f"delete from {DAILY}")
    conn.execute(
        f"insert into {DAILY} ({_COLUMNS}) select station, nuclide, method, {day}, "
        f"strftime('%Y-%m-%d', {day}, 'unixepoch'), {_SUMS} from {VALUES} "
        f"group by station, nuclide, method, {day}"
    )


def daily_sums(
    conn: sqlite3.Connection,
    scope: str,
    scope_params: Sequence[Any],
    stations: Sequence[str],
    nuclides: Sequence[str],
    methods: Sequence[str],
    start_s: int,
    end_s: int,
) -> list[tuple]:
    """Per UTC day, nuclide and method, summed over `stations`: (day, nuclide, method,
    sum of the detected releases in Bq, intervals, detected intervals), over the rows
    of `release_values` with interval start in [start_s, end_s) that the SQL condition
    `scope` (central.access.message_scope, on `station` and `data_until`) lets through.
    Whole days come from the daily table, the days at the publish edge and the partial
    days at the ends of the span from `release_values`. Ordered by day, nuclide, method."""
    if not stations or not nuclides or not methods or scope == "0" or end_s <= start_s:
        return []
    first = -(-start_s // DAY_S) * DAY_S  # the whole days [first, last)
    last = end_s - end_s % DAY_S
    pick = (
        f"station in ({_marks(stations)}) and nuclide in ({_marks(nuclides)}) "
        f"and method in ({_marks(methods)})"
    )
    picked = [*stations, *nuclides, *methods]
    value_sums = "coalesce(sum(case when detected then release_bq end), 0), count(*), sum(detected)"
    parts: list[str] = []
    params: list[Any] = []
    if first < last:
        whole = f"{pick} and day_s >= ? and day_s < ?"
        # days every row of which is visible: their sums as they are
        parts.append(
            f"select day, nuclide, method, release_bq, intervals, detected from {DAILY} "
            f"where {whole} and {scope}"
        )
        params += [*picked, first, last, *scope_params]
        # days some rows of which are visible (first_until passes, data_until does not)
        parts.append(
            "select strftime('%Y-%m-%d', t.d0, 'unixepoch'), t.nu, t.me, "
            f"{value_sums} from (select station as st, nuclide as nu, method as me, "
            f"day_s as d0 from (select station, nuclide, method, day_s, first_until as "
            f"data_until from {DAILY} where {whole} and not ({scope})) where {scope}) t "
            f"join {VALUES} on station = t.st and nuclide = t.nu and method = t.me "
            f"and start_s >= t.d0 and start_s < t.d0 + {DAY_S} where {scope} "
            "group by t.st, t.nu, t.me, t.d0"
        )
        params += [*picked, first, last, *scope_params, *scope_params, *scope_params]
    for lo, hi in ((start_s, min(first, end_s)), (max(last, start_s, first), end_s)):
        if lo < hi:  # a part day at an end of the span
            parts.append(
                f"select substr(start_time, 1, 10), nuclide, method, {value_sums} "
                f"from {VALUES} where {pick} and start_s >= ? and start_s < ? and {scope} "
                "group by substr(start_time, 1, 10), nuclide, method"
            )
            params += [*picked, lo, hi, *scope_params]
    # the parts' columns named by an empty first part: day, nuclide, method, sum, n, found
    named = "select null as d, null as nu, null as me, null as s, null as n, null as f where 0"
    sql = (
        "select d, nu, me, sum(s), sum(n), sum(f) from ("
        + " union all ".join([named, *(f"select * from ({p})" for p in parts)])
        + ") group by d, nu, me order by d, nu, me"
    )
    return [tuple(r) for r in conn.execute(sql, params)]


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))
