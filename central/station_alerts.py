"""The alerts stations send (ALERT messages), as episodes: raised, then cleared.

A station's agent (edge_agent/alerts.py) sends one ALERT message when a condition starts
and one of the same kind when it ends; the message format has no episode key, so the
pairing is read from the text the agent writes (`episode_of`, a pure function): a
quantity out of its limits and back, the outbox growing and back to normal, the MCA or a
sensor not answering and answering again, spectra missing and coming again, the
certificate or CRL running out and valid again. A text of another kind (another
station software, a one-off such as "Daily ATS ... not made") is an alert of its own.

The text is the alert section's free text as shared/formats reads it (kept in
`messages.summary` at intake, read from the stored file when the summary lacks it).
Every query goes through `central.access.message_scope`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.formats import FormatError, read_message
from shared.timeutil import iso_z

from .access import message_scope
from .accounts import User
from .store import Store


def ensure_schema(db) -> None:
    """A small index of the ALERT messages alone (idempotent; `Store` calls it): the
    alert lists read them all, out of a year's hundreds of thousands of files."""
    db.execute(
        "create index if not exists messages_alerts on messages (station, start_time) "
        "where product = 'ALERT'"
    )


# episode states
OPEN, CLEARED, SINGLE = "open", "cleared", "single"

# (pattern, key template, clears): the texts edge_agent/alerts.py and engine.py write
_PATTERNS: tuple[tuple[re.Pattern[str], str, bool], ...] = tuple(
    (re.compile(pattern), key, clears)
    for pattern, key, clears in (
        (r"^(?P<q>\S+) = \S+, back within its limits", "limit:{q}", True),
        (r"^(?P<q>\S+) = \S+, (below|above) its limit", "limit:{q}", False),
        (r"^Outbox back to normal", "outbox", True),
        (r"^Outbox growing", "outbox", False),
        (r"^Station certificate valid again", "cert", True),
        (r"^station certificate ", "cert", False),
        (r"^CRL valid again", "crl", True),
        (r"^CRL ", "crl", False),
        (r"^MCA answers again", "mca", True),
        (r"^MCA not answering", "mca", False),
        (r"^Spectra input data again", "spectra", True),
        (r"^Spectra input data missing", "spectra", False),
        (r"^Sensor answers again", "sensor", True),
        (r"^Sensor not answering", "sensor", False),
    )
)


@dataclass(frozen=True)
class Episode:
    """What one station alert message says about its episode."""

    key: str | None  # None: an alert of its own, no episode
    clears: bool


def episode_of(text: str) -> Episode:
    """The episode an alert's text opens or clears (pure)."""
    first = text.strip().split("\n", 1)[0]
    for pattern, key, clears in _PATTERNS:
        match = pattern.match(first)
        if match:
            return Episode(key.format(**match.groupdict()), clears)
    return Episode(None, False)


def alert_text(store: Store, row: dict[str, Any]) -> str:
    """The free text of a stored ALERT message: from its summary, else read from the file."""
    try:
        summary = json.loads(row.get("summary") or "{}")
    except ValueError:
        summary = {}
    text = summary.get("text") if isinstance(summary, dict) else None
    if isinstance(text, str):
        return text
    try:
        message = read_message(store.content(row["id"]), source=row["file_name"], lenient=True)
    except (FormatError, OSError, KeyError, ValueError):
        return ""
    alert = message.alert
    return alert.text if alert is not None else ""


def station_alert_messages(
    store: Store,
    user: User,
    now: datetime,
    *,
    stations: Sequence[str] = (),
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """The ALERT messages `user` may see at `now`, oldest first, each with its text:
    id, station, kind (ALERT_SYSTEM, ALERT_FLOW ...), time, file_name, text."""
    scope, params = message_scope(store, user, now)
    where, args = [scope, "product = 'ALERT'"], list(params)
    if stations:
        where.append(f"station in ({', '.join('?' * len(stations))})")
        args.extend(stations)
    if until is not None:
        where.append("start_time < ?")
        args.append(iso_z(until))
    rows = store.db.query(
        "select id, station, data_type, start_time, file_name, summary from messages "
        f"where {' and '.join(where)} order by start_time, id",
        args,
    )
    return [
        {
            "id": r["id"],
            "station": r["station"],
            "kind": r["data_type"],
            "time": r["start_time"],
            "file_name": r["file_name"],
            "text": alert_text(store, r),
        }
        for r in rows
    ]


def episodes(messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Station alert messages (oldest first) as episodes (pure): one row per raising
    message, cleared by the next clearing message of the same station, kind and key; a
    clearing message with nothing open before it (its raise is older than the data
    seen) is an episode of its own, already cleared.

    Each row: id (the first message's), source 'station', station, kind, key, state
    (open, cleared, single), raised_at, cleared_at, message, cleared_message."""
    out: list[dict[str, Any]] = []
    open_: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for m in messages:
        episode = episode_of(m["text"])
        row = {
            "id": m["id"],
            "source": "station",
            "station": m["station"],
            "kind": m["kind"],
            "key": episode.key,
            "state": SINGLE,
            "raised_at": m["time"],
            "cleared_at": None,
            "message": m["text"],
            "cleared_message": None,
        }
        if episode.key is None:
            out.append(row)
            continue
        slot = (m["station"], m["kind"], episode.key)
        if not episode.clears:
            row["state"] = OPEN
            open_.setdefault(slot, []).append(row)
            out.append(row)
            continue
        waiting = open_.get(slot)
        if waiting:
            opened = waiting.pop(0)
            opened.update(state=CLEARED, cleared_at=m["time"], cleared_message=m["text"])
        else:
            row.update(state=CLEARED, raised_at=None, cleared_at=m["time"])
            out.append(row)
    return out


def station_episodes(
    store: Store, user: User, now: datetime, *, stations: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The station alert episodes `user` may see at `now` (as `episodes`)."""
    return episodes(station_alert_messages(store, user, now, stations=stations, until=None))


def open_station_alerts(store: Store, user: User, now: datetime) -> list[dict[str, Any]]:
    """The station alert episodes still open, newest first."""
    rows = [e for e in station_episodes(store, user, now) if e["state"] == OPEN]
    return sorted(rows, key=lambda e: e["raised_at"] or "", reverse=True)
