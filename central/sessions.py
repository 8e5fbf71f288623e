"""Web sessions kept on the server, so that ending one ends it at once, everywhere.

The signed session cookie carries a random token; the `web_sessions` table holds its
SHA-256 (a stolen database gives no usable cookie), the user and when it was last used.
A request is logged in only while its row exists: logout deletes the row, a password
change, disabling the user and "log out everywhere" delete all of the user's rows, and a
copy of the cookie taken before is worth nothing after. Time is passed in (seconds).
"""

from __future__ import annotations

import hashlib
import secrets

from .store import Store, now_iso


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(store: Store, user_id: int, now: float, address: str | None = None) -> str:
    """A new session for `user_id`; returns the token to put in the signed cookie."""
    token = secrets.token_urlsafe(32)
    with store.conn:
        store.conn.execute(
            "insert into web_sessions (id, user_id, created_at, last_seen, address) "
            "values (?, ?, ?, ?, ?)",
            [_key(token), user_id, now_iso(), now, address],
        )
    return token


def session_user(
    store: Store, token: object, now: float, *, lifetime: float, refresh: float
) -> int | None:
    """The user of a live session, else None. A session unused for longer than
    `lifetime` seconds is ended; its last use is written back at most every `refresh`
    seconds (not on every Dash callback)."""
    if not isinstance(token, str) or not token:
        return None
    key = _key(token)
    row = store.conn.execute(
        "select user_id, last_seen from web_sessions where id = ?", [key]
    ).fetchone()
    if row is None:
        return None
    user_id, last_seen = row
    if now - last_seen > lifetime:
        end_session(store, token)
        return None
    if now - last_seen >= refresh:
        with store.conn:
            store.conn.execute("update web_sessions set last_seen = ? where id = ?", [now, key])
    return int(user_id)


def end_session(store: Store, token: object) -> None:
    """End one session (logging out)."""
    if isinstance(token, str):
        with store.conn:
            store.conn.execute("delete from web_sessions where id = ?", [_key(token)])


def end_user_sessions(store: Store, user_id: int) -> int:
    """End every session of a user ("log out everywhere"); how many there were."""
    with store.conn:
        return store.conn.execute("delete from web_sessions where user_id = ?", [user_id]).rowcount


def user_sessions(store: Store, user_id: int) -> list[dict]:
    """A user's open sessions (for a settings page): created, last seen, address."""
    rows = store.conn.execute(
        "select created_at, last_seen, address from web_sessions where user_id = ? "
        "order by last_seen desc",
        [user_id],
    ).fetchall()
    return [{"created_at": r[0], "last_seen": r[1], "address": r[2]} for r in rows]
