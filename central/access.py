"""Who may see which received file, and when: the one access rule of the central server.

Two parts, always applied together:
- the facility rule: a user sees the files of the facilities assigned or owned
  (administrators: every station). A station's code is its facility's code.
- the publish delay: a file is published when its data time (`messages.data_until`, the
  end of the period its data cover) plus its facility's delay has passed (`immediately`,
  `1d`, `3d`, `7d`; `never`: not published). Until then only the facility's owners and
  administrators see it. A daily ATS or CSV covers its whole day, so it is published when
  the day's last data are.

Every path that hands out data (web pages, table counts, filter options, chart callbacks,
downloads, the API, e-mail and MQTT) asks here, either as one SQL condition
(`message_scope`, `published_scope`) or as one row check (`can_see_message`,
`is_published`). Time is an argument: a shortened delay publishes at once what it now
allows, a longer one hides again what it no longer allows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from shared.timeutil import iso_z

from .accounts import User
from .store import Store

# How long after its data time a file is published; None: never.
DELAYS: dict[str, timedelta | None] = {
    "immediately": timedelta(0),
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
    "7d": timedelta(days=7),
    "never": None,
}


class AccessDenied(PermissionError):
    """The user may not see this item."""


def visible_stations(store: Store, user: User) -> list[str]:
    """The station codes whose files `user` may see (some of them perhaps not yet), sorted.

    Administrators see every known station: the registered facilities and any station
    that has sent files, registered or not.
    """
    codes = {row["code"] for row in store.db.query("select code from facilities")}
    codes |= {row["station"] for row in store.db.query("select distinct station from messages")}
    return [code for code in sorted(codes) if user.can_see(code)]


def sees_unpublished(user: User, station: str) -> bool:
    """Whether `user` sees this station's files before they are published."""
    return user.is_admin or station in user.owned


def publish_delays(store: Store) -> dict[str, str]:
    """Each registered facility's publish delay (`immediately`, `1d`, ... `never`)."""
    return {
        row["code"]: row["publish_delay"]
        for row in store.db.query("select code, publish_delay from facilities")
    }


def published_before(delay: str, now: datetime) -> str | None:
    """The latest data time published at `now` under `delay` (None: nothing is)."""
    if delay not in DELAYS:
        raise ValueError(f"publish delay must be one of {', '.join(DELAYS)}, not {delay!r}")
    span = DELAYS[delay]
    return None if span is None else iso_z(now - span)


def published_at(delay: str, data_until: str | None) -> str | None:
    """When a file whose data end at `data_until` (ISO 8601 UTC) is published under
    `delay`, as ISO 8601 UTC; None when it never is (`never`, or no data time). The same
    rule as `is_published`: published once `data_until` + the delay has passed."""
    if delay not in DELAYS:
        raise ValueError(f"publish delay must be one of {', '.join(DELAYS)}, not {delay!r}")
    span = DELAYS[delay]
    if span is None or data_until is None:
        return None
    return iso_z(datetime.fromisoformat(data_until) + span)


def message_scope(store: Store, user: User, now: datetime) -> tuple[str, list[Any]]:
    """The rule for `user` at `now` as an SQL condition on `messages` (or any table or view
    with its `station` and `data_until` columns), with its parameters.

    Paged lists, counts, filter options and any other query over many messages use this,
    so that they agree with `can_see_message` row by row.
    """
    if user.is_admin:
        return "1", []
    stations = visible_stations(store, user)
    early = [s for s in stations if sees_unpublished(user, s)]
    parts: list[str] = []
    params: list[Any] = []
    if early:
        parts.append(f"station in ({_marks(early)})")
        params.extend(early)
    later = [s for s in stations if s not in early]
    condition, more = _published_condition(later, publish_delays(store), now)
    if condition != "0":
        parts.append(condition)
        params.extend(more)
    if not parts:
        return "0", []
    return "(" + " or ".join(parts) + ")", params


def published_scope(store: Store, now: datetime) -> tuple[str, list[Any]]:
    """What is published to the world at `now`, as an SQL condition (for e-mail
    subscriptions and MQTT: no user, no early view). Files of a station that is not a
    registered facility are never published."""
    delays = publish_delays(store)
    return _published_condition(sorted(delays), delays, now)


def can_see_message(store: Store, user: User, row: Mapping[str, Any], now: datetime) -> bool:
    """Whether `user` may see this row of `messages` at `now` (needs `station` and
    `data_until`)."""
    station = row["station"]
    if not user.can_see(station):
        return False
    if sees_unpublished(user, station):
        return True
    return is_published(store, row, now)


def is_published(store: Store, row: Mapping[str, Any], now: datetime) -> bool:
    """Whether this row of `messages` is published to the world at `now`."""
    found = store.conn.execute(
        "select publish_delay from facilities where code = ?", [row["station"]]
    ).fetchone()
    if found is None:
        return False
    cutoff = published_before(found[0], now)
    return cutoff is not None and row["data_until"] is not None and row["data_until"] <= cutoff


def check_message_access(store: Store, user: User, row: Mapping[str, Any], now: datetime) -> None:
    """Raise AccessDenied unless `user` may see this row of `messages` at `now`."""
    if not can_see_message(store, user, row, now):
        raise AccessDenied(
            f"user {user.username!r} may not see this file of station {row['station']}"
        )


def _published_condition(
    stations: Iterable[str], delays: Mapping[str, str], now: datetime
) -> tuple[str, list[Any]]:
    """`stations`' published files at `now`: one `station in (...) and data_until <= ?`
    per delay in use (at most four), so that the (station, data_until) index serves it."""
    by_cutoff: dict[str, list[str]] = defaultdict(list)
    for station in stations:
        if station not in delays:
            continue
        cutoff = published_before(delays[station], now)
        if cutoff is not None:
            by_cutoff[cutoff].append(station)
    if not by_cutoff:
        return "0", []
    parts, params = [], []
    for cutoff, codes in sorted(by_cutoff.items()):
        parts.append(f"(station in ({_marks(codes)}) and data_until <= ?)")
        params.extend([*codes, cutoff])
    return "(" + " or ".join(parts) + ")", params


def _marks(values: list[str]) -> str:
    return ", ".join("?" * len(values))
