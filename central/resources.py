"""Resources: documents, data files and reviewed data that users download from the
`/resources` page, general (for every logged-in user) or about one station.

Who may do what:
- see and download: a general resource (no station) every logged-in user; a station's
  resource those the access rule of `central.access` lets see it (`message_scope` on
  `station` and `data_until`, the publish delay included);
- upload and delete: administrators for any station or for everyone (general); owners
  for the stations they own.

Kinds: `document` (manuals, format descriptions, scripts), `data` (additional data
files) and `reviewed` (reviewed data of a station over a span of days, `day_from` to
`day_to`, both inclusive). The data time (`data_until`) is the end of the last day a
resource covers (00:00 UTC of the next day) when it gives days, else the upload time: so
reviewed data are published when the data of their last day are, and a station's
document when its facility's delay after the upload has passed.

The bytes are kept in the database (`resource_contents`, one row per SHA-256: the same
file uploaded twice is stored once), so that a backup of the database holds them.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta
from typing import Any

import sqlite_utils

from shared.timeutil import iso_z

from .access import AccessDenied, message_scope
from .accounts import User
from .store import Store

TABLE = "resources"
CONTENTS = "resource_contents"
KINDS = {"document": "Documents", "data": "Data files", "reviewed": "Reviewed data"}
GENERAL = "STAX (general)"  # how a resource without a station is shown
NAME_MAX = 200
DESCRIPTION_MAX = 2000
# what a listing returns (never the bytes)
FIELDS = (
    "id",
    "station",
    "kind",
    "file_name",
    "description",
    "size",
    "sha256",
    "day_from",
    "day_to",
    "data_until",
    "uploaded_by",
    "uploaded_at",
)


class ResourceError(ValueError):
    """A resource that cannot be stored as given: the message says what and why."""


def ensure_schema(db: sqlite_utils.Database) -> None:
    """The `resources` and `resource_contents` tables (idempotent)."""
    if CONTENTS not in db.table_names():
        db[CONTENTS].create(
            {"sha256": str, "size": int, "content": bytes}, pk="sha256", not_null={"content"}
        )
    if TABLE not in db.table_names():
        db[TABLE].create(
            {
                "id": int,
                "station": str,  # NULL: general, for every logged-in user
                "kind": str,  # document, data, reviewed
                "file_name": str,
                "description": str,
                "size": int,
                "sha256": str,
                "day_from": str,  # yyyy-mm-dd (reviewed data: the days they cover)
                "day_to": str,
                "data_until": str,  # ISO Z: the access rule's data time
                "uploaded_by": str,
                "uploaded_at": str,
            },
            pk="id",
            foreign_keys=[("sha256", CONTENTS, "sha256")],
            not_null={"kind", "file_name", "size", "sha256", "data_until", "uploaded_at"},
        )
        db[TABLE].create_index(["station", "data_until"])
        db[TABLE].create_index(["kind"])


def can_upload(user: User, station: str | None) -> bool:
    """Administrators upload for any station and general resources; owners for their own."""
    return user.is_admin or (station is not None and station in user.owned)


def resource_scope(store: Store, user: User, now: datetime) -> tuple[str, list[Any]]:
    """The resources `user` may see at `now`, as an SQL condition on `resources`."""
    scope, params = message_scope(store, user, now)
    return f"(station is null or {scope})", params


def resource(store: Store, user: User, now: datetime, resource_id: int) -> dict | None:
    """One resource (without its bytes) if `user` may see it at `now`, else None (also
    when there is none)."""
    scope, params = resource_scope(store, user, now)
    rows = list(
        store.db.query(
            f"select {', '.join(FIELDS)} from {TABLE} where id = ? and {scope}",
            [resource_id, *params],
        )
    )
    return rows[0] if rows else None


def resources_of(
    store: Store,
    user: User,
    now: datetime,
    kind: str | None = None,
    station: str | None = None,
) -> list[dict[str, Any]]:
    """The resources `user` may see at `now`, newest first (of `kind`, of `station`)."""
    scope, params = resource_scope(store, user, now)
    where = [scope]
    if kind is not None:
        where.append("kind = ?")
        params = [*params, kind]
    if station is not None:
        where.append("station = ?")
        params = [*params, station]
    sql = (
        f"select {', '.join(FIELDS)} from {TABLE} where {' and '.join(where)} "
        "order by uploaded_at desc, id desc"
    )
    return list(store.db.query(sql, params))


def content(store: Store, row: dict[str, Any]) -> bytes:
    """The bytes of a resource row (from `resource`, which applied the rule), checked
    against its SHA-256."""
    found = store.conn.execute(
        f"select content from {CONTENTS} where sha256 = ?", [row["sha256"]]
    ).fetchone()
    if found is None:
        raise ResourceError(f"resource {row['id']}: its content is missing")
    data = bytes(found[0])
    if hashlib.sha256(data).hexdigest() != row["sha256"]:
        raise ResourceError(f"resource {row['id']}: its content does not match its SHA-256")
    return data


def clean_file_name(name: Any) -> str:
    """The uploaded file's own name without any folder part. Pure."""
    text = name if isinstance(name, str) else ""
    text = re.split(r"[\\/]", text.strip())[-1].strip()
    text = "".join(c for c in text if c.isprintable())
    if not text or text in (".", ".."):
        raise ResourceError("file: the uploaded file has no name")
    if len(text) > NAME_MAX:
        raise ResourceError(f"file: a name of at most {NAME_MAX} characters")
    return text


def _day(value: Any, field: str) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ResourceError(f"{field}: {value!r} is not a day (yyyy-mm-dd)") from None


def add_resource(
    store: Store,
    user: User,
    now: datetime,
    *,
    station: str | None,
    kind: str,
    file_name: str,
    data: bytes,
    max_bytes: int,
    description: str = "",
    day_from: date | str | None = None,
    day_to: date | str | None = None,
) -> dict[str, Any]:
    """Store an uploaded resource; returns its row (without the bytes)."""
    station = station.strip() if isinstance(station, str) and station.strip() else None
    if kind not in KINDS:
        raise ResourceError(f"kind: one of {', '.join(KINDS)}, not {kind!r}")
    if not can_upload(user, station):
        where = f"station {station}" if station else "everyone (general resources)"
        raise AccessDenied(f"user {user.username!r} may not upload resources for {where}")
    name = clean_file_name(file_name)
    if not data:
        raise ResourceError(f"file: {name} is empty")
    if len(data) > max_bytes:
        raise ResourceError(f"file: {name} has {len(data)} bytes, at most {max_bytes} are taken")
    description = description.strip() if isinstance(description, str) else ""
    if len(description) > DESCRIPTION_MAX:
        raise ResourceError(f"description: at most {DESCRIPTION_MAX} characters")
    first, last = _day(day_from, "from"), _day(day_to, "to")
    if kind == "reviewed":
        if station is None:
            raise ResourceError("station: reviewed data are about one station")
        if first is None or last is None:
            raise ResourceError("days: reviewed data give the first and last day they cover")
    if (first is None) != (last is None):
        raise ResourceError("days: give both the first and the last day, or neither")
    if first is not None and last is not None and last < first:
        raise ResourceError("days: the last day is before the first")
    stamp = iso_z(now)
    if last is not None:
        until = f"{(last + timedelta(days=1)).isoformat()}T00:00:00.000Z"
    else:
        until = stamp
    sha256 = hashlib.sha256(data).hexdigest()
    row = {
        "station": station,
        "kind": kind,
        "file_name": name,
        "description": description,
        "size": len(data),
        "sha256": sha256,
        "day_from": first.isoformat() if first else None,
        "day_to": last.isoformat() if last else None,
        "data_until": until,
        "uploaded_by": user.username,
        "uploaded_at": stamp,
    }
    with store.conn:
        store.conn.execute(
            f"insert or ignore into {CONTENTS} (sha256, size, content) values (?, ?, ?)",
            [sha256, len(data), data],
        )
        table = store.db[TABLE]
        table.insert(row)
        row["id"] = int(table.last_pk)
    return {k: row[k] for k in FIELDS}


def delete_resource(store: Store, user: User, now: datetime, resource_id: int) -> dict:
    """Delete a resource (its uploader's station's owners and administrators); its bytes
    go too unless another resource has the same. Returns the row it was."""
    rows = list(
        store.db.query(f"select {', '.join(FIELDS)} from {TABLE} where id = ?", [resource_id])
    )
    if not rows or not can_upload(user, rows[0]["station"]):
        # the same answer for another station's resource and one that does not exist
        raise AccessDenied(f"no resource {resource_id} that user {user.username!r} may delete")
    row = rows[0]
    with store.conn:
        store.conn.execute(f"delete from {TABLE} where id = ?", [resource_id])
        store.conn.execute(
            f"delete from {CONTENTS} where sha256 = ? and not exists "
            f"(select 1 from {TABLE} where sha256 = ?)",
            [row["sha256"], row["sha256"]],
        )
    return row
