"""The Alerts page's list: the alerts stations sent (central/station_alerts.py) and the
ones the central raised (`central_alerts`, central/alerts.py), as one list of episodes,
filtered, sorted and paged. Plain functions; the rule is applied by the two sources.

A row: id ('s<message id>' or 'c<central alert id>'), source ('station' or 'central'),
station ('' for a central-wide alert), kind, state ('open', 'cleared', 'single'),
raised_at, cleared_at, message, cleared_message (why it ended), time (raised_at, else
cleared_at: what the list sorts and filters by).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.timeutil import iso_z

from .accounts import User
from .alerts import alert_episodes
from .alerts import open_alerts as central_open_alerts
from .paging import Page, page_of
from .station_alerts import CLEARED, OPEN, SINGLE, station_episodes
from .store import Store

STATES = (OPEN, CLEARED, SINGLE)
SOURCES = ("station", "central")
FIELDS = (
    "id",
    "source",
    "station",
    "kind",
    "state",
    "time",
    "raised_at",
    "cleared_at",
    "message",
    "cleared_message",
)


@dataclass(frozen=True)
class AlertFilter:
    stations: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    since: datetime | None = None  # its time at or after
    until: datetime | None = None  # its time before


def central_episodes(store: Store, user: User, now: datetime) -> list[dict[str, Any]]:
    """The central's alert episodes `user` may see (central.alerts.alert_episodes), in
    this list's shape."""
    return [_central_row(e) for e in alert_episodes(store, user, now)]


def _central_row(e: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"c{e['id']}",
        "source": "central",
        "station": e.get("station") or "",
        "kind": e.get("kind") or "",
        "state": e.get("state") or OPEN,
        "raised_at": e.get("raised_at"),
        "cleared_at": e.get("cleared_at"),
        "message": e.get("message") or "",
        "cleared_message": e.get("clear_message") or "",
    }


def all_alerts(store: Store, user: User, now: datetime) -> list[dict[str, Any]]:
    """Every alert episode `user` may see at `now`, from both sources."""
    rows = []
    for e in station_episodes(store, user, now):
        rows.append({k: e[k] for k in FIELDS if k in e} | {"id": f"s{e['id']}"})
    rows.extend(central_episodes(store, user, now))
    for row in rows:
        row["time"] = row.get("raised_at") or row.get("cleared_at") or ""
    return rows


def matches(row: dict[str, Any], f: AlertFilter) -> bool:
    """Whether an alert row passes the filter (pure)."""
    if f.stations and row["station"] not in f.stations:
        return False
    if f.kinds and row["kind"] not in f.kinds:
        return False
    if f.states and row["state"] not in f.states:
        return False
    if f.sources and row["source"] not in f.sources:
        return False
    if f.since is not None and row["time"] < iso_z(f.since):
        return False
    return not (f.until is not None and row["time"] >= iso_z(f.until))


def alert_page(
    store: Store,
    user: User,
    filters: AlertFilter,
    *,
    now: datetime,
    sort: str = "time",
    descending: bool = True,
    page: int = 1,
    page_size: int = 25,
) -> Page:
    """One page of the alerts `user` may see at `now` that match `filters`."""
    if sort not in FIELDS:
        raise ValueError(f"cannot sort alerts by {sort!r}; columns: {', '.join(FIELDS)}")
    rows = [r for r in all_alerts(store, user, now) if matches(r, filters)]
    rows.sort(key=lambda r: (str(r.get(sort) or ""), r["time"], r["id"]), reverse=descending)
    return page_of(rows, page, page_size)


def alert_kinds(store: Store, user: User, now: datetime) -> list[str]:
    """The kinds of the alerts `user` sees, for the filter's options."""
    return sorted({r["kind"] for r in all_alerts(store, user, now) if r["kind"]})


def open_alerts(store: Store, user: User, now: datetime) -> list[dict[str, Any]]:
    """The open episodes of both sources, newest first (the dashboard)."""
    rows = [
        {k: e[k] for k in FIELDS if k in e} | {"id": f"s{e['id']}"}
        for e in station_episodes(store, user, now)
        if e["state"] == OPEN
    ]
    rows += [_central_row(e) for e in central_open_alerts(store, user, now)]
    for row in rows:
        row["time"] = row.get("raised_at") or ""
    return sorted(rows, key=lambda r: r["time"], reverse=True)
