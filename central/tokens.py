"""API tokens: made, listed and revoked by their user and by administrators, shown once,
kept as SHA-256 hashes, sent as `Authorization: Bearer <token>` to `/api/v1/`.

A token is 32 random bytes, so a fast hash is enough (guessing is hopeless without a slow
one; Argon2 on every API request would only cost time). Only its first characters are
kept in clear, to tell tokens apart in lists.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.timeutil import iso_z

from .access import AccessDenied
from .accounts import User, get_user
from .store import Store

PREFIX = "stax_"
SHOWN = 12  # characters of the token listed, e.g. stax_Ab3dE6g
# how often a token's last use is written: to the minute, without a write per request
_LAST_USED_EVERY = timedelta(minutes=1)


class TokenError(ValueError):
    """A token that cannot be made or revoked: the message says why."""


@dataclass(frozen=True)
class TokenInfo:
    id: int
    user_id: int
    name: str
    prefix: str
    created_at: str
    created_by: str
    last_used_at: str | None
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def may_manage_tokens_of(user: User, owner_id: int) -> bool:
    """A user manages their own tokens; administrators everybody's."""
    return user.is_admin or user.id == owner_id


def make_token(
    store: Store, owner_id: int, name: str, *, by: User | None, now: datetime
) -> tuple[str, TokenInfo]:
    """A new token for user `owner_id`: (the token, shown this once; what is kept).
    `by` is who asks (None: the command line on the server)."""
    if by is not None and not may_manage_tokens_of(by, owner_id):
        raise AccessDenied(f"user {by.username!r} may not make tokens for another user")
    owner = get_user(store, owner_id)
    if owner is None:
        raise TokenError(f"no user with id {owner_id}")
    name = (name or "").strip() or "token"
    if len(name) > 100:
        raise TokenError("token names have at most 100 characters")
    token = PREFIX + secrets.token_urlsafe(32)
    row = {
        "user_id": owner_id,
        "name": name,
        "prefix": token[:SHOWN],
        "token_hash": token_hash(token),
        "created_at": iso_z(now),
        "created_by": by.username if by is not None else "command line",
        "last_used_at": None,
        "revoked_at": None,
    }
    with store.conn:
        table = store.db["api_tokens"]
        table.insert(row)
        token_id = int(table.last_pk)
    return token, TokenInfo(id=token_id, **row_without_hash(row))


def row_without_hash(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("token_hash", "id")}


def list_tokens(store: Store, owner_id: int) -> list[TokenInfo]:
    """The user's tokens (active and revoked), newest first."""
    return [
        TokenInfo(id=r["id"], **row_without_hash(r))
        for r in store.db.query(
            "select * from api_tokens where user_id = ? order by id desc", [owner_id]
        )
    ]


def revoke_token(store: Store, token_id: int, *, by: User | None, now: datetime) -> TokenInfo:
    """Revoke a token at once; `by` must be its user or an administrator."""
    rows = list(store.db.query("select * from api_tokens where id = ?", [token_id]))
    if not rows or (by is not None and not may_manage_tokens_of(by, rows[0]["user_id"])):
        # the same answer for a token that does not exist and for somebody else's
        raise TokenError(f"no token {token_id} of yours")
    row = rows[0]
    if row["revoked_at"] is None:
        with store.conn:
            store.db["api_tokens"].update(token_id, {"revoked_at": iso_z(now)})
        row["revoked_at"] = iso_z(now)
    return TokenInfo(id=row["id"], **row_without_hash(row))


def user_for_token(store: Store, token: str, now: datetime) -> tuple[User, int] | None:
    """The enabled user of an active token, and the token's id; None for any other token."""
    if not token.startswith(PREFIX):
        return None
    found = store.conn.execute(
        "select id, user_id, last_used_at from api_tokens "
        "where token_hash = ? and revoked_at is null",
        [token_hash(token)],
    ).fetchone()
    if found is None:
        return None
    token_id, user_id, last_used = found
    user = get_user(store, user_id)
    if user is None or not user.enabled:
        return None
    if last_used is None or last_used < iso_z(now - _LAST_USED_EVERY):
        with store.conn:
            store.conn.execute(
                "update api_tokens set last_used_at = ? where id = ?", [iso_z(now), token_id]
            )
    return user, token_id
