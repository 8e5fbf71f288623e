"""Maintenance annotations of the stations, and the notifications they send.

An annotation says what happened at a station and when (`start`, and `end` unless it is
still going on): a power outage, a server move, a detector change. The releases chart
draws them as shaded spans; the `/maintenance` page lists, adds, changes and deletes them.

Who may do what:
- see: the access rule of `central.access` (`message_scope` on `station` and
  `data_until`; `data_until` is the annotation's start, so a plain user of a facility
  sees an annotation when the data of its start are published);
- add, change, delete: the station's owners and the administrators (`AccessDenied`
  otherwise; an annotation the user may not change and one that does not exist get the
  same answer).

Adding or changing an annotation queues a notification to the facility's users in the
`notifications` outbox (kind `maintenance`, `sent_at` empty until the mail sender has
sent it; central/subscriptions.py's queue picks the rows up). Its `data_until` is the
annotation's start too, so that a mail sent under `published_scope` tells no more than
the page shows.

Every function takes the time (`now`) as an argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlite_utils

from shared.timeutil import as_utc, iso_z

from .access import AccessDenied, message_scope
from .accounts import User
from .store import Store

TABLE = "maintenance"
NOTIFICATIONS = "notifications"
KIND = "maintenance"
NAME_MAX = 200
TEXT_MAX = 10_000
# the fields a change may set
FIELDS = ("station", "name", "text", "start", "end")


class MaintenanceError(ValueError):
    """An annotation that cannot be stored as given: the message says which field and why."""


def ensure_schema(db: sqlite_utils.Database) -> None:
    """The `maintenance` and `notifications` tables (idempotent)."""
    if TABLE not in db.table_names():
        db[TABLE].create(
            {
                "id": int,
                "station": str,
                "name": str,
                "text": str,
                "start": str,  # ISO Z
                "end": str,  # ISO Z; NULL: still going on
                "data_until": str,  # = start: the access rule's data time
                "created_by": str,
                "created_at": str,
                "updated_at": str,
            },
            pk="id",
            not_null={"station", "name", "start", "data_until", "created_by", "created_at"},
        )
        db[TABLE].create_index(["station", "data_until"])
        db[TABLE].create_index(["station", "start"])
    if NOTIFICATIONS not in db.table_names():
        db[NOTIFICATIONS].create(
            {
                "id": int,
                "station": str,  # the facility whose users are told
                "kind": str,  # maintenance
                "subject": str,
                "text": str,
                "created_at": str,
                "data_until": str,  # the access rule's data time (the annotation's start)
                "created_by": str,
                "annotation_id": int,  # what it is about (kind maintenance)
                "sent_at": str,  # NULL until the mail sender has sent it
            },
            pk="id",
            not_null={"station", "kind", "subject", "text", "created_at", "data_until"},
        )
        db[NOTIFICATIONS].create_index(["station", "data_until"])
        db[NOTIFICATIONS].create_index(["sent_at"])


def can_edit(user: User, station: str) -> bool:
    """Owners of the station and administrators add, change and delete its annotations."""
    return user.is_admin or station in user.owned


def parse_time(value: Any, field: str) -> str:
    """A time from a form or a caller as ISO Z text (naive times are UTC)."""
    if isinstance(value, datetime):
        return iso_z(value)
    if not isinstance(value, str) or not value.strip():
        raise MaintenanceError(f"{field}: a date and time is needed (yyyy-mm-dd hh:mm, UTC)")
    text = value.strip().replace("/", "-")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        return iso_z(as_utc(datetime.fromisoformat(text)))
    except ValueError:
        raise MaintenanceError(
            f"{field}: {value!r} is not a date and time (yyyy-mm-dd hh:mm, UTC)"
        ) from None


def clean_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """Form values as stored: station, name, text, start and end checked. Pure."""
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise MaintenanceError(f"not an annotation field: {', '.join(sorted(unknown))}")
    clean: dict[str, Any] = {}
    if "station" in values:
        station = values["station"]
        if not isinstance(station, str) or not station.strip():
            raise MaintenanceError("station: choose the station the annotation is about")
        clean["station"] = station.strip()
    if "name" in values:
        name = values["name"].strip() if isinstance(values["name"], str) else ""
        if not name:
            raise MaintenanceError("name: give the annotation a name")
        if len(name) > NAME_MAX:
            raise MaintenanceError(f"name: at most {NAME_MAX} characters")
        clean["name"] = name
    if "text" in values:
        text = values["text"].strip() if isinstance(values["text"], str) else ""
        if len(text) > TEXT_MAX:
            raise MaintenanceError(f"text: at most {TEXT_MAX} characters")
        clean["text"] = text
    if "start" in values:
        clean["start"] = parse_time(values["start"], "start")
    if "end" in values:
        end = values["end"]
        empty = end is None or (isinstance(end, str) and not end.strip())
        clean["end"] = None if empty else parse_time(end, "end")
    return clean


def _check_span(start: str, end: str | None) -> None:
    if end is not None and end < start:
        raise MaintenanceError("end: the annotation ends before it starts")


def annotations(
    store: Store,
    user: User,
    now: datetime,
    station: str | None = None,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
) -> list[dict[str, Any]]:
    """The annotations `user` may see at `now`, newest start first; with `station` of that
    station only, with `start`/`end` those that overlap the span (an annotation without
    an end lasts until now)."""
    scope, params = message_scope(store, user, now)
    where = [scope]
    if station is not None:
        where.append("station = ?")
        params = [*params, station]
    if end is not None:
        where.append("start < ?")
        params = [*params, _iso(end)]
    if start is not None:
        where.append('coalesce("end", ?) >= ?')
        params = [*params, iso_z(now), _iso(start)]
    sql = f"select * from {TABLE} where {' and '.join(where)} order by start desc, id desc"
    return list(store.db.query(sql, params))


def annotation(store: Store, user: User, now: datetime, annotation_id: int) -> dict | None:
    """One annotation if `user` may see it at `now`, else None (also when there is none)."""
    scope, params = message_scope(store, user, now)
    rows = list(
        store.db.query(f"select * from {TABLE} where id = ? and {scope}", [annotation_id, *params])
    )
    return rows[0] if rows else None


def add_annotation(
    store: Store,
    user: User,
    now: datetime,
    *,
    station: str,
    name: str,
    start: datetime | str,
    end: datetime | str | None = None,
    text: str = "",
) -> dict[str, Any]:
    """Store a new annotation and queue its notification; returns the stored row."""
    clean = clean_fields(
        {"station": station, "name": name, "text": text, "start": start, "end": end}
    )
    if not can_edit(user, clean["station"]):
        raise AccessDenied(
            f"user {user.username!r} does not own station {clean['station']}: only its "
            "owners and administrators add annotations"
        )
    _check_span(clean["start"], clean["end"])
    stamp = iso_z(now)
    row = {
        **clean,
        "data_until": clean["start"],
        "created_by": user.username,
        "created_at": stamp,
        "updated_at": stamp,
    }
    with store.conn:
        table = store.db[TABLE]
        table.insert(row)
        row["id"] = int(table.last_pk)
        _queue(store, row, "new", user, stamp)
    return row


def update_annotation(
    store: Store, user: User, now: datetime, annotation_id: int, **values: Any
) -> dict[str, Any]:
    """Change an annotation's fields (those given) and queue a notification of the
    change; returns the stored row. Moving it to another station needs that station's
    ownership too."""
    row = _editable(store, user, now, annotation_id)
    clean = clean_fields(values)
    if "station" in clean and not can_edit(user, clean["station"]):
        raise AccessDenied(f"user {user.username!r} does not own station {clean['station']}")
    merged = {**row, **clean}
    _check_span(merged["start"], merged["end"])
    stamp = iso_z(now)
    changes = {**clean, "data_until": merged["start"], "updated_at": stamp}
    merged.update(changes)
    with store.conn:
        store.db[TABLE].update(annotation_id, changes)
        _queue(store, merged, "changed", user, stamp)
    return merged


def delete_annotation(store: Store, user: User, now: datetime, annotation_id: int) -> dict:
    """Delete an annotation; returns the row it was. Its notifications stay in the outbox
    (what was sent was sent)."""
    row = _editable(store, user, now, annotation_id)
    with store.conn:
        store.db[TABLE].delete(annotation_id)
    return row


def notifications(
    store: Store, user: User, now: datetime, kind: str | None = KIND
) -> list[dict[str, Any]]:
    """The queued and sent notifications `user` may see at `now`, newest first."""
    scope, params = message_scope(store, user, now)
    where = [scope]
    if kind is not None:
        where.append("kind = ?")
        params = [*params, kind]
    sql = f"select * from {NOTIFICATIONS} where {' and '.join(where)} order by created_at desc, id desc"
    return list(store.db.query(sql, params))


def notification_text(row: Mapping[str, Any], change: str) -> tuple[str, str]:
    """The subject and text of the notification of an annotation (`change`: new or
    changed). Pure."""
    subject = f"STAX maintenance at {row['station']}: {row['name']}"
    if change == "changed":
        subject += " (changed)"
    lines = [
        f"Station: {row['station']}",
        f"Annotation: {row['name']}",
        f"Start: {_shown(row['start'])} UTC",
        f"End: {_shown(row['end']) + ' UTC' if row.get('end') else 'not yet known'}",
    ]
    if row.get("text"):
        lines += ["", row["text"]]
    return subject, "\n".join(lines) + "\n"


def _queue(store: Store, row: Mapping[str, Any], change: str, user: User, stamp: str) -> None:
    subject, text = notification_text(row, change)
    store.db[NOTIFICATIONS].insert(
        {
            "station": row["station"],
            "kind": KIND,
            "subject": subject,
            "text": text,
            "created_at": stamp,
            "data_until": row["start"],
            "created_by": user.username,
            "annotation_id": row["id"],
            "sent_at": None,
        }
    )


def _editable(store: Store, user: User, now: datetime, annotation_id: int) -> dict[str, Any]:
    rows = list(store.db.query(f"select * from {TABLE} where id = ?", [annotation_id]))
    if not rows or not can_edit(user, rows[0]["station"]):
        # the same answer for one of another station and one that does not exist
        raise AccessDenied(f"no annotation {annotation_id} that user {user.username!r} may change")
    return rows[0]


def _iso(value: datetime | str) -> str:
    return iso_z(value) if isinstance(value, datetime) else parse_time(value, "span")


def _shown(value: str | None) -> str:
    if not value:
        return ""
    return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00"))).strftime("%Y/%m/%d %H:%M")
