"""The central's own alerts: conditions it sees in what it has stored, once per episode.

An episode is one stretch of time during which a condition holds: it is raised once (a
row in `central_alerts`, state `open`) and cleared once, with a message, when the
condition no longer holds (state `cleared`). Kinds (docs/alerts.md):

- `silent`: a station has sent no spectrum for more than N intervals;
- `gap`: spectra missing in a station's day once the day has passed;
- `disagreement`: the station's and the central's analyses of a spectrum disagree on a
  nuclide (|z| > 3, `comparisons.flagged`);
- `soh_limit`: a state-of-health value outside its limits;
- `certificate`, `crl`: a certificate of the central's PKI, or its CRL, near expiry;
- `quarantine`: more messages quarantined in the last hour than allowed.

Each check is a pure function of query results and `now` that returns observations
(`Observation`: the condition holds, or it does not, for one key); `apply_observations`
turns them into raised and cleared episodes. Station alerts carry the station and a
`data_until`, so that the access rule (`central.access.message_scope`) filters them like
the station's files; central-wide ones (station '') are for administrators only.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlite_utils

from shared.timeutil import iso_z

KINDS = ("silent", "gap", "disagreement", "soh_limit", "certificate", "crl", "quarantine")
STATES = ("open", "cleared")
CENTRAL = ""  # the station of a central-wide alert (CRL, quarantine, the central's certificates)


def ensure_schema(db: sqlite_utils.Database) -> None:
    """`central_alerts` and the cursors of the incremental checks; idempotent (every
    process opens the database and calls it)."""
    try:
        _create(db)
    except sqlite3.OperationalError as exc:  # another process made them a moment ago
        if "already exists" not in str(exc):
            raise


def _create(db: sqlite_utils.Database) -> None:
    if "central_alerts" not in db.table_names():
        db["central_alerts"].create(
            {
                "id": int,
                "station": str,  # '' for central-wide alerts (administrators only)
                "kind": str,
                "key": str,  # what identifies the episode within station and kind
                "state": str,  # open, cleared
                "raised_at": str,  # ISO Z
                "cleared_at": str,
                "data_until": str,  # the data time the alert is about: the publish rule
                "value": float,  # e.g. minutes silent, spectra missing, |z|, the SOH value
                "message": str,  # why it was raised
                "clear_message": str,  # why it was cleared
                "details": str,  # JSON
                "seq": int,  # new at each raise and clear: readers (MQTT) follow it
                "updated_at": str,
            },
            pk="id",
            not_null={"station", "kind", "key", "state", "raised_at", "data_until", "message"},
        )
        db["central_alerts"].create_index(["station", "data_until"])
        db["central_alerts"].create_index(["state", "kind", "station", "key"])
        db["central_alerts"].create_index(["raised_at"])
        db["central_alerts"].create_index(["seq"])
        # at most one open episode per (station, kind, key)
        db.execute(
            "create unique index central_alerts_one_open on central_alerts "
            "(station, kind, key) where state = 'open'"
        )
    if "alert_cursors" not in db.table_names():
        db["alert_cursors"].create(
            {"name": str, "value": str, "updated_at": str}, pk="name", not_null={"value"}
        )


# ------------------------------------------------------------------ reading (rule applied)
def _row(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    try:
        out["details"] = json.loads(row.get("details") or "{}")
    except ValueError:
        out["details"] = {}
    return out


def alert_episodes(
    store,
    user,
    now: datetime,
    stations: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    state: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
) -> list[dict[str, Any]]:
    """The episodes `user` may see at `now`, newest raised first.

    The access rule of the station's files applies (facility and publish delay, through
    `message_scope` on `station` and `data_until`); central-wide alerts (station '') are
    for administrators only. `since`/`until` keep the episodes that overlap that span
    (raised before `until`, not cleared before `since`). `details` comes parsed."""
    from .access import message_scope

    if kinds is not None:
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"alert kinds are {', '.join(KINDS)}; not {', '.join(unknown)}")
    if state is not None and state not in STATES:
        raise ValueError(f"alert state must be open or cleared, not {state!r}")
    condition, params = message_scope(store, user, now)
    where = [condition]
    if not user.is_admin:
        where.append("station != ''")
    if stations is not None:
        where.append(f"station in ({', '.join('?' * len(stations))})")
        params = [*params, *stations]
    if kinds is not None:
        where.append(f"kind in ({', '.join('?' * len(kinds))})")
        params = [*params, *kinds]
    if state is not None:
        where.append("state = ?")
        params = [*params, state]
    if until is not None:
        where.append("raised_at <= ?")
        params = [*params, _text(until)]
    if since is not None:
        where.append("(cleared_at is null or cleared_at >= ?)")
        params = [*params, _text(since)]
    sql = (
        "select * from central_alerts where "
        + " and ".join(f"({w})" for w in where)
        + " order by raised_at desc, id desc"
    )
    return [_row(r) for r in store.db.query(sql, params)]


def open_alerts(store, user, now: datetime) -> list[dict[str, Any]]:
    """The episodes still open that `user` may see at `now`, newest first."""
    return alert_episodes(store, user, now, state="open")


def _text(t: datetime | str) -> str:
    return t if isinstance(t, str) else iso_z(t)


# ------------------------------------------------------------------ raising and clearing
@dataclass(frozen=True)
class Observation:
    """What a check saw for one (station, kind, key): the condition holds (`active`) or
    not. `at` orders observations of data arriving out of time order: an inactive one
    older than what keeps the episode open does not clear it."""

    kind: str
    station: str
    key: str
    active: bool
    message: str
    data_until: str = ""  # for a new episode; defaults to now
    value: float | None = None
    details: dict[str, Any] = field(default_factory=dict)
    at: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"alert kind must be one of {', '.join(KINDS)}, not {self.kind!r}")


def _next_seq(store) -> int:
    row = store.conn.execute("select coalesce(max(seq), 0) from central_alerts").fetchone()
    return int(row[0]) + 1


def _open_episode(store, station: str, kind: str, key: str) -> dict[str, Any] | None:
    rows = list(
        store.db.query(
            "select * from central_alerts where state = 'open' and station = ? and kind = ? "
            "and key = ?",
            [station, kind, key],
        )
    )
    return _row(rows[0]) if rows else None


def apply_observations(
    store, observations: Iterable[Observation], now: datetime
) -> list[dict[str, Any]]:
    """Raise what holds and is not open, clear what is open and no longer holds, in the
    order given; an open episode seen again only gets its value and details updated.
    Returns the episodes raised or cleared (as stored), for mail and logs."""
    stamp = iso_z(now)
    changed: list[dict[str, Any]] = []
    for obs in observations:
        with store.conn:
            current = _open_episode(store, obs.station, obs.kind, obs.key)
            details = dict(obs.details)
            if obs.at is not None:
                details["last_at"] = obs.at
            if obs.active and current is None:
                table = store.db["central_alerts"]
                table.insert(
                    {
                        "station": obs.station,
                        "kind": obs.kind,
                        "key": obs.key,
                        "state": "open",
                        "raised_at": stamp,
                        "data_until": obs.data_until or stamp,
                        "value": obs.value,
                        "message": obs.message,
                        "details": json.dumps(details, sort_keys=True),
                        "seq": _next_seq(store),
                        "updated_at": stamp,
                    }
                )
                changed.append(_row(table.get(table.last_pk)))
            elif obs.active and current is not None:
                last = current["details"].get("last_at")
                if obs.at is not None and last is not None and obs.at < last:
                    details["last_at"] = last
                merged = {**current["details"], **details}
                if merged != current["details"] or obs.value != current["value"]:
                    store.conn.execute(
                        "update central_alerts set value = ?, details = ?, updated_at = ? "
                        "where id = ?",
                        [obs.value, json.dumps(merged, sort_keys=True), stamp, current["id"]],
                    )
            elif not obs.active and current is not None:
                last = current["details"].get("last_at")
                if obs.at is not None and last is not None and obs.at < last:
                    continue  # older data than what raised it: the episode goes on
                store.conn.execute(
                    "update central_alerts set state = 'cleared', cleared_at = ?, "
                    "clear_message = ?, seq = ?, updated_at = ? where id = ?",
                    [stamp, obs.message, _next_seq(store), stamp, current["id"]],
                )
                changed.append(_row(store.db["central_alerts"].get(current["id"])))
    return changed


def get_cursor(store, name: str, default: str = "") -> str:
    row = store.conn.execute("select value from alert_cursors where name = ?", [name]).fetchone()
    return default if row is None else row[0]


def set_cursor(store, name: str, value: str, now: datetime) -> None:
    with store.conn:
        store.conn.execute(
            "insert into alert_cursors (name, value, updated_at) values (?, ?, ?) "
            "on conflict(name) do update set value = excluded.value, "
            "updated_at = excluded.updated_at",
            [name, value, iso_z(now)],
        )
