"""The facility register: what the central knows of each facility, who may change it, and
the record of every change (who, when, old, new) — the publish delay among them.

The web's Facilities page and `stax central facility set` both change facilities here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.timeutil import iso_z

from .access import DELAYS, AccessDenied
from .accounts import User
from .store import Store


class FacilityError(ValueError):
    """A facility change that cannot be made: the message says which field and why."""


def _text(value: Any) -> str | None:
    text = str(value).strip()
    return text or None


def _number(low: float | None = None, high: float | None = None) -> Callable[[Any], Any]:
    def parse(value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected a number, got {value!r}") from None
        if (low is not None and number < low) or (high is not None and number > high):
            raise ValueError(f"expected {low} to {high}, got {number:g}")
        return number

    return parse


def _seconds(value: Any) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError(f"expected a whole number of seconds, got {value!r}") from None
    if number <= 0:
        raise ValueError(f"expected a positive number of seconds, got {number}")
    return number


def _yes_no(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    text = str(value).strip().lower()
    if text in ("1", "yes", "true", "y"):
        return 1
    if text in ("0", "no", "false", "n"):
        return 0
    raise ValueError(f"expected yes or no, got {value!r}")


def parse_publish_delay(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in DELAYS:
        raise ValueError(f"expected one of {', '.join(DELAYS)}, got {value!r}")
    return text


@dataclass(frozen=True)
class Field:
    key: str  # the column of `facilities`
    label: str
    parse: Callable[[Any], Any]  # text or a value from a form -> what is stored
    required: bool = False  # may not be emptied


# Editable fields, in the order the Facilities page shows them.
FIELDS: tuple[Field, ...] = (
    Field("name", "Name", _text),
    Field("network", "Network", _text),
    Field("type", "Type", _text),
    Field("site", "Site", _text),
    Field("country", "Country", _text),
    Field("latitude", "Latitude", _number(-90, 90)),
    Field("longitude", "Longitude", _number(-180, 180)),
    Field("altitude", "Altitude (m)", _number()),
    Field("stack_height", "Stack height (m)", _number(0)),
    Field("publish_delay", "Publish delay", parse_publish_delay, required=True),
    Field("emitter_type", "Emitter type", _text),
    Field("realtime_data", "Realtime data", _yes_no),
    Field("collection_seconds", "Collection (s)", _seconds),
)
FIELD_BY_KEY = {f.key: f for f in FIELDS}


@dataclass(frozen=True)
class Change:
    facility: str
    field: str
    old: str | None
    new: str | None
    changed_by: str
    changed_at: str


def can_manage(user: User, code: str) -> bool:
    """Owners of the facility and administrators change it."""
    return user.is_admin or code in user.owned


def facilities_of(store: Store, user: User) -> list[dict[str, Any]]:
    """The facilities `user` may see (administrators: all), by code."""
    return [row for row in store.facilities() if user.can_see(row["code"])]


def facility(store: Store, code: str) -> dict[str, Any] | None:
    rows = list(store.db.query("select * from facilities where code = ?", [code]))
    return rows[0] if rows else None


def clean_changes(values: Mapping[str, Any]) -> dict[str, Any]:
    """Form or command-line values as what is stored; FacilityError names a bad field.
    An empty value empties the field (not allowed for the publish delay)."""
    clean: dict[str, Any] = {}
    for key, value in values.items():
        field = FIELD_BY_KEY.get(key)
        if field is None:
            raise FacilityError(f"{key}: not a facility field ({', '.join(FIELD_BY_KEY)})")
        if value is None or (isinstance(value, str) and not value.strip()):
            if field.required:
                raise FacilityError(f"{field.label}: may not be empty")
            clean[key] = None
            continue
        try:
            clean[key] = field.parse(value)
        except ValueError as exc:
            raise FacilityError(f"{field.label}: {exc}") from None
    return clean


def update_facility(
    store: Store,
    code: str,
    values: Mapping[str, Any],
    *,
    changed_by: str,
    now: datetime,
    user: User | None = None,
) -> list[Change]:
    """Change facility `code`'s fields and record each change; unchanged fields are not
    recorded. With `user` (the web), only its owners and administrators may; without (the
    command line on the server), whoever runs it may. Returns the changes made."""
    if user is not None and not can_manage(user, code):
        raise AccessDenied(f"user {user.username!r} does not manage facility {code}")
    row = facility(store, code)
    if row is None:
        raise FacilityError(f"no facility {code}")
    clean = clean_changes(values)
    stamp = iso_z(now)
    changes = [
        Change(code, key, _shown(row.get(key)), _shown(value), changed_by, stamp)
        for key, value in clean.items()
        if _shown(row.get(key)) != _shown(value)
    ]
    if changes:
        with store.conn:
            store.db["facilities"].update(
                code, {**{c.field: clean[c.field] for c in changes}, "updated_at": stamp}
            )
            store.db["facility_changes"].insert_all(
                [
                    {
                        "facility": c.facility,
                        "field": c.field,
                        "old": c.old,
                        "new": c.new,
                        "changed_by": c.changed_by,
                        "changed_at": c.changed_at,
                    }
                    for c in changes
                ]
            )
    return changes


def facility_changes(store: Store, code: str) -> list[Change]:
    """Every recorded change of facility `code`, oldest first."""
    return [
        Change(r["facility"], r["field"], r["old"], r["new"], r["changed_by"], r["changed_at"])
        for r in store.db.query(
            "select * from facility_changes where facility = ? order by id", [code]
        )
    ]


def _shown(value: Any) -> str | None:
    """A value as the change record keeps it (and as two values are compared)."""
    return None if value is None else str(value)
