"""Who may see which received file: the one access rule of the central server.

Every path that hands out data (web pages, table counts, filter options, downloads, and
later the API, e-mail and MQTT) asks here, so that the publish delay can be added in this
one module. A station's code is its facility's code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .accounts import User
from .store import Store


class AccessDenied(PermissionError):
    """The user may not see this item."""


def visible_stations(store: Store, user: User) -> list[str]:
    """The station codes whose files `user` may see, sorted.

    Administrators see every known station: the registered facilities and any station
    that has sent files, registered or not.
    """
    codes = {row["code"] for row in store.db.query("select code from facilities")}
    codes |= {row["station"] for row in store.db.query("select distinct station from messages")}
    return [code for code in sorted(codes) if user.can_see(code)]


def message_scope(store: Store, user: User) -> tuple[str, list[Any]]:
    """The rule as an SQL condition on the `messages` table, with its parameters.

    Paged lists, counts and any other query over many messages use this, so that they
    agree with `check_message_access` row by row.
    """
    stations = visible_stations(store, user)
    if not stations:
        return "0", []
    return f"station in ({', '.join('?' * len(stations))})", stations


def can_see_message(user: User, row: Mapping[str, Any]) -> bool:
    """Whether `user` may see this row of the `messages` table (needs its `station`)."""
    return user.can_see(row["station"])


def check_message_access(user: User, row: Mapping[str, Any]) -> None:
    """Raise AccessDenied unless `user` may see this row of the `messages` table."""
    if not can_see_message(user, row):
        raise AccessDenied(f"user {user.username!r} may not see files of station {row['station']}")
