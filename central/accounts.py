"""Users, roles and the facilities each user may see. Passwords are hashed with Argon2id."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .sessions import end_user_sessions
from .store import ROLES, Store, now_iso

_hasher = PasswordHasher()  # Argon2id, memory-hard; parameters from argon2-cffi's defaults


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    enabled: bool
    assigned: frozenset[str]  # facility codes the user may see
    owned: frozenset[str]  # facility codes the user manages

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can_see(self, facility: str) -> bool:
        return self.is_admin or facility in self.assigned or facility in self.owned

    def visible_facilities(self, all_codes: list[str]) -> list[str]:
        return [c for c in all_codes if self.can_see(c)]


class AccountError(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise AccountError("passwords have at least 8 characters")
    return _hasher.hash(password)


def create_user(
    store: Store,
    username: str,
    password: str,
    role: str = "user",
    facilities: list[str] = (),  # type: ignore[assignment]
    owned: list[str] = (),  # type: ignore[assignment]
    email: str | None = None,
) -> User:
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if not username or any(c.isspace() for c in username):
        raise AccountError("user names are one word")
    if store.db["users"].count_where("username = ?", [username]):
        raise AccountError(f"user {username!r} exists")
    now = now_iso()
    with store.conn:
        table = store.db["users"]
        table.insert(
            {
                "username": username,
                "password_hash": hash_password(password),
                "role": role,
                "enabled": 1,
                "email": email,
                "created_at": now,
                "updated_at": now,
            }
        )
        user_id = int(table.last_pk)
    for code in facilities:
        assign_facility(store, user_id, code)
    for code in owned:
        assign_facility(store, user_id, code, relation="owned")
    user = get_user(store, user_id)
    assert user is not None
    return user


def assign_facility(store: Store, user_id: int, facility: str, relation: str = "assigned") -> None:
    if relation not in ("assigned", "owned"):
        raise AccountError("relation is 'assigned' or 'owned'")
    store.ensure_facility(facility)
    with store.conn:
        store.db["user_facilities"].upsert(
            {"user_id": user_id, "facility": facility, "relation": relation},
            pk=("user_id", "facility"),
        )


def unassign_facility(store: Store, user_id: int, facility: str) -> None:
    with store.conn:
        store.conn.execute(
            "delete from user_facilities where user_id = ? and facility = ?", [user_id, facility]
        )


def get_user(store: Store, user_id: int) -> User | None:
    rows = list(store.db.query("select * from users where id = ?", [user_id]))
    if not rows:
        return None
    row = rows[0]
    links = list(
        store.db.query(
            "select facility, relation from user_facilities where user_id = ?", [user_id]
        )
    )
    return User(
        id=row["id"],
        username=row["username"],
        role=row["role"],
        enabled=bool(row["enabled"]),
        assigned=frozenset(r["facility"] for r in links if r["relation"] == "assigned"),
        owned=frozenset(r["facility"] for r in links if r["relation"] == "owned"),
    )


def authenticate(store: Store, username: str, password: str) -> User | None:
    """The enabled user with this name and password, else None (same answer for every failure)."""
    rows = list(
        store.db.query(
            "select id, password_hash, enabled from users where username = ?", [username]
        )
    )
    if not rows:
        # spend the same time as a real check so that user names cannot be probed by timing
        with contextlib.suppress(VerificationError, InvalidHashError):
            _hasher.verify(_DUMMY_HASH, password)
        return None
    row = rows[0]
    try:
        _hasher.verify(row["password_hash"], password)
    except (VerificationError, InvalidHashError):
        return None
    if not row["enabled"]:
        return None
    if _hasher.check_needs_rehash(row["password_hash"]):
        with store.conn:
            store.db["users"].update(row["id"], {"password_hash": _hasher.hash(password)})
    return get_user(store, row["id"])


_DUMMY_HASH = _hasher.hash("not a real password")


# ------------------------------------------------ ending sessions (central/sessions.py)
def set_password(store: Store, user_id: int, password: str) -> None:
    """Change a user's password; every session of the user ends at once."""
    password_hash = hash_password(password)
    with store.conn:
        store.db["users"].update(user_id, {"password_hash": password_hash, "updated_at": now_iso()})
    end_user_sessions(store, user_id)


def disable_user(store: Store, user_id: int) -> None:
    """Disable a user: no more logins, and every open session ends at once."""
    with store.conn:
        store.db["users"].update(user_id, {"enabled": 0, "updated_at": now_iso()})
    end_user_sessions(store, user_id)


def enable_user(store: Store, user_id: int) -> None:
    with store.conn:
        store.db["users"].update(user_id, {"enabled": 1, "updated_at": now_iso()})


def log_out_everywhere(store: Store, user_id: int) -> int:
    """End every session of the user, on every browser; how many were open."""
    return end_user_sessions(store, user_id)
