"""Users, roles and the facilities each user may see. Passwords are hashed with Argon2id."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shared.timeutil import iso_z

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
    first_name: str | None = None,
    last_name: str | None = None,
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
                "first_name": first_name,
                "last_name": last_name,
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


class WrongPassword(AccountError):
    """The current password given to change it was not right (throttled like a login)."""


def change_own_password(store: Store, user: User, current: str, new: str, again: str) -> None:
    """A user changes their own password (the Settings page): the current one must be
    right, the new one given twice, at least 8 characters and not the current one. Every
    session of the user ends at once, this one too: the user logs in again with the new
    password. Raises AccountError (nothing changed) otherwise."""
    rows = list(store.db.query("select password_hash from users where id = ?", [user.id]))
    if not rows:
        raise AccountError(f"there is no user {user.id!r}")
    try:
        _hasher.verify(rows[0]["password_hash"], current if isinstance(current, str) else "")
    except (VerificationError, InvalidHashError):
        raise WrongPassword("the current password is not right") from None
    if not isinstance(new, str) or new != again:
        raise AccountError("the two new passwords differ")
    if new == current:
        raise AccountError("the new password is the current one")
    set_password(store, user.id, new)  # checks the length, ends every session


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


# ------------------------------------------------ administration (the Users page)
class NotAdministrator(PermissionError):
    """Only administrators manage users."""


def _require_admin(by: User) -> None:
    if not by.is_admin:
        raise NotAdministrator(f"user {by.username!r} is not an administrator")


def _existing(store: Store, user_id: int) -> User:
    user = get_user(store, user_id) if isinstance(user_id, int) else None
    if user is None:
        raise AccountError(f"there is no user {user_id!r}")
    return user


USER_SORTS = ("username", "first_name", "last_name", "email", "role", "enabled")
USER_SORTS += ("created_at", "updated_at")


@dataclass(frozen=True)
class UserFilter:
    """What the Users page's filters ask for; empty means no restriction."""

    username: str = ""  # a part of the user name, any case
    roles: tuple[str, ...] = ()
    enabled: bool | None = None
    facilities: tuple[str, ...] = ()  # assigned or owned, any of them


def _user_conditions(wanted: UserFilter) -> tuple[str, list]:
    where, params = ["1"], []
    if wanted.username.strip():
        # LIKE's own wildcards in the text are meant literally
        text = wanted.username.strip().replace("\\", "\\\\")
        text = text.replace("%", "\\%").replace("_", "\\_")
        where.append("username like ? escape '\\'")
        params.append(f"%{text}%")
    if wanted.roles:
        where.append(f"role in ({', '.join('?' * len(wanted.roles))})")
        params.extend(wanted.roles)
    if wanted.enabled is not None:
        where.append("enabled = ?")
        params.append(int(wanted.enabled))
    if wanted.facilities:
        where.append(
            "id in (select user_id from user_facilities where facility in "
            f"({', '.join('?' * len(wanted.facilities))}))"
        )
        params.extend(wanted.facilities)
    return " and ".join(where), params


def count_users(store: Store, wanted: UserFilter = UserFilter(), *, by: User) -> int:
    """How many users match `wanted` (administrators only)."""
    _require_admin(by)
    where, params = _user_conditions(wanted)
    return store.conn.execute(f"select count(*) from users where {where}", params).fetchone()[0]


def list_users(
    store: Store,
    wanted: UserFilter = UserFilter(),
    sort: str = "username",
    offset: int = 0,
    limit: int | None = None,
    *,
    descending: bool = False,
    by: User,
) -> list[dict]:
    """The users that match `wanted` (administrators only), sorted by `sort` (one of
    USER_SORTS; ties by id), `limit` of them from `offset`: id, username, first_name,
    last_name, email, role, enabled, created_at, updated_at, and assigned and owned
    (sorted facility codes)."""
    _require_admin(by)
    if sort not in USER_SORTS:
        raise AccountError(f"users are sorted by one of {', '.join(USER_SORTS)}, not {sort!r}")
    if offset < 0 or (limit is not None and limit < 0):
        raise AccountError("offset and limit are not negative")
    where, params = _user_conditions(wanted)
    order = "desc" if descending else "asc"
    rows = list(
        store.db.query(
            "select id, username, first_name, last_name, email, role, enabled, created_at, "
            f"updated_at from users where {where} order by {sort} {order}, id {order} "
            "limit ? offset ?",
            [*params, -1 if limit is None else limit, offset],
        )
    )
    links: dict[int, dict[str, list[str]]] = {r["id"]: {"assigned": [], "owned": []} for r in rows}
    if rows:
        ids = list(links)
        for row in store.db.query(
            "select user_id, facility, relation from user_facilities "
            f"where user_id in ({', '.join('?' * len(ids))}) order by facility",
            ids,
        ):
            links[row["user_id"]][row["relation"]].append(row["facility"])
    return [{**row, "enabled": bool(row["enabled"]), **links[row["id"]]} for row in rows]


def user_record(store: Store, user_id: int, *, by: User) -> dict | None:
    """One user's row as `list_users` gives it (administrators only); None if unknown."""
    _require_admin(by)
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        return None
    rows = list(store.db.query("select username from users where id = ?", [user_id]))
    if not rows:
        return None
    found = list_users(store, UserFilter(username=rows[0]["username"]), by=by)
    return next((u for u in found if u["id"] == user_id), None)


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _check_email(email: str | None) -> None:
    if email is not None and (
        "@" not in email or any(c.isspace() for c in email) or email.startswith("@")
    ):
        raise AccountError(f"{email!r} is not an e-mail address")


def admin_create_user(
    store: Store,
    username: str,
    *,
    by: User,
    now: datetime,
    role: str = "user",
    first_name: str | None = None,
    last_name: str | None = None,
    email: str | None = None,
    assigned: Iterable[str] = (),
    owned: Iterable[str] = (),
) -> tuple[User, str]:
    """Create a user with a new one-time password (administrators only); returns the
    user and the password, to be shown once."""
    _require_admin(by)
    email = _clean(email)
    _check_email(email)
    assigned, owned = _facility_sets(store, assigned, owned)
    password = new_password()
    user = create_user(
        store,
        (username or "").strip(),
        password,
        role=role,
        facilities=sorted(assigned),
        owned=sorted(owned),
        email=email,
        first_name=_clean(first_name),
        last_name=_clean(last_name),
    )
    with store.conn:
        store.db["users"].update(user.id, {"created_at": iso_z(now), "updated_at": iso_z(now)})
    return user, password


def update_user(
    store: Store,
    user_id: int,
    *,
    by: User,
    now: datetime,
    role: str,
    first_name: str | None,
    last_name: str | None,
    email: str | None,
) -> User:
    """Change a user's role, names and e-mail (administrators only). An administrator
    cannot take away their own administrator role (someone must remain to give it back)."""
    _require_admin(by)
    user = _existing(store, user_id)
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if user.id == by.id and role != "admin":
        raise AccountError("you cannot take away your own administrator role")
    email = _clean(email)
    _check_email(email)
    with store.conn:
        store.db["users"].update(
            user.id,
            {
                "role": role,
                "first_name": _clean(first_name),
                "last_name": _clean(last_name),
                "email": email,
                "updated_at": iso_z(now),
            },
        )
    if role != user.role:
        end_user_sessions(store, user.id)  # the next request sees the new role
    return _existing(store, user.id)


def _facility_sets(
    store: Store, assigned: Iterable[str], owned: Iterable[str]
) -> tuple[set[str], set[str]]:
    known = {row["code"] for row in store.db.query("select code from facilities")}
    assigned, owned = set(assigned), set(owned)
    unknown = sorted((assigned | owned) - known)
    if unknown:
        raise AccountError(f"no facility {', '.join(unknown)}")
    return assigned - owned, owned  # owning a facility includes seeing it


def set_user_facilities(
    store: Store,
    user_id: int,
    *,
    by: User,
    now: datetime,
    assigned: Iterable[str],
    owned: Iterable[str],
) -> User:
    """Set the facilities a user is assigned and owns, replacing the former ones
    (administrators only). A facility both assigned and owned is owned."""
    _require_admin(by)
    user = _existing(store, user_id)
    assigned, owned = _facility_sets(store, assigned, owned)
    with store.conn:
        store.conn.execute("delete from user_facilities where user_id = ?", [user.id])
        for relation, codes in (("assigned", assigned), ("owned", owned)):
            for code in sorted(codes):
                store.conn.execute(
                    "insert into user_facilities (user_id, facility, relation) values (?, ?, ?)",
                    [user.id, code, relation],
                )
        store.db["users"].update(user.id, {"updated_at": iso_z(now)})
    return _existing(store, user.id)


def set_user_enabled(store: Store, user_id: int, enabled: bool, *, by: User, now: datetime) -> User:
    """Enable or disable a user (administrators only, never themselves); disabling ends
    every session of the user at once."""
    _require_admin(by)
    user = _existing(store, user_id)
    if user.id == by.id and not enabled:
        raise AccountError("you cannot disable yourself")
    if enabled:
        enable_user(store, user.id)
    else:
        disable_user(store, user.id)
    with store.conn:
        store.db["users"].update(user.id, {"updated_at": iso_z(now)})
    return _existing(store, user.id)


def edit_user(
    store: Store,
    user_id: int,
    *,
    by: User,
    now: datetime,
    role: str,
    first_name: str | None,
    last_name: str | None,
    email: str | None,
    assigned: Iterable[str],
    owned: Iterable[str],
) -> User:
    """`update_user` and `set_user_facilities` together (the Users page's Save): every
    value is checked before anything is written, so a refused change changes nothing."""
    _require_admin(by)
    user = _existing(store, user_id)
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if user.id == by.id and role != "admin":
        raise AccountError("you cannot take away your own administrator role")
    _check_email(_clean(email))
    assigned, owned = _facility_sets(store, assigned, owned)
    update_user(
        store,
        user.id,
        by=by,
        now=now,
        role=role,
        first_name=first_name,
        last_name=last_name,
        email=email,
    )
    return set_user_facilities(store, user.id, by=by, now=now, assigned=assigned, owned=owned)


def new_password() -> str:
    """A random one-time password (16 characters of a URL-safe alphabet, 96 bits)."""
    return secrets.token_urlsafe(12)


def reset_password(store: Store, user_id: int, *, by: User, now: datetime) -> str:
    """Give a user a new random password (administrators only) and end every session
    of the user; returns the password, to be shown once and passed on to the user."""
    _require_admin(by)
    user = _existing(store, user_id)
    password = new_password()
    set_password(store, user.id, password)
    with store.conn:
        store.db["users"].update(user.id, {"updated_at": iso_z(now)})
    return password
