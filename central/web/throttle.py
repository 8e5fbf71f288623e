"""Login throttling: a growing wait after repeated wrong passwords, per user name and per
client address, kept in the database (`login_failures`) so that every web worker thread
and a restart see the same counts.

After `free` failures in a row, each further failure closes that door for 1 s, then 2, 4,
... up to `max_delay` seconds; while it is closed the login is answered 429 with
Retry-After and the password is not even checked. A success resets the user's count;
counts are forgotten a day after the last failure.

So that an attacker cannot lock a real user out by failing on purpose with the user's
name, a browser that has logged in as that user before carries a signed "known browser"
cookie, and the per-user wait does not apply to it (the per-address wait still does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from central.store import Store

FORGET_SECONDS = 24 * 3600


@dataclass(frozen=True)
class LoginLimits:
    per_user: int = 5  # failures allowed in a row for one user name before waits begin
    per_address: int = 20  # failures allowed from one address (any user names)
    max_delay: float = 900.0  # the longest wait, seconds


def wait_seconds(
    store: Store, limits: LoginLimits, username: str, address: str, now: float, *, known: bool
) -> int:
    """Seconds before this login may be tried (0: now). `known`: the browser has logged
    in as `username` before, so the user's own wait does not apply."""
    keys = [("address", address)] if known else [("user", username), ("address", address)]
    wait = 0.0
    for scope, key in keys:
        row = store.conn.execute(
            "select blocked_until from login_failures where scope = ? and key = ?", [scope, key]
        ).fetchone()
        if row is not None:
            wait = max(wait, row[0] - now)
    return math.ceil(wait) if wait > 0 else 0


def record_failure(
    store: Store, limits: LoginLimits, username: str, address: str, now: float
) -> None:
    with store.conn:
        store.conn.execute(
            "delete from login_failures where last_failure < ?", [now - FORGET_SECONDS]
        )
        for scope, key, free in (
            ("user", username, limits.per_user),
            ("address", address, limits.per_address),
        ):
            row = store.conn.execute(
                "select failures from login_failures where scope = ? and key = ?", [scope, key]
            ).fetchone()
            failures = (row[0] if row else 0) + 1
            over = failures - free
            blocked_until = now + min(2.0 ** (over - 1), limits.max_delay) if over > 0 else 0.0
            store.conn.execute(
                "insert into login_failures (scope, key, failures, last_failure, blocked_until) "
                "values (?, ?, ?, ?, ?) on conflict (scope, key) do update set "
                "failures = excluded.failures, last_failure = excluded.last_failure, "
                "blocked_until = excluded.blocked_until",
                [scope, key, failures, now, blocked_until],
            )


def record_success(store: Store, username: str) -> None:
    """The user's count starts again; the address's is left to run out (an attacker
    with an account of their own must not clear it by logging in between guesses)."""
    with store.conn:
        store.conn.execute(
            "delete from login_failures where scope = 'user' and key = ?", [username]
        )
