"""Changing one's own password on the Settings page, over HTTP as the browser calls it:
the current password is asked, bad input changes nothing, a change ends every session
of the user and of nobody else. PASSWORD_LEAK is the entry in tests/web/test_leaks.py."""

from __future__ import annotations

import pytest

from central.accounts import AccountError, authenticate, change_own_password
from central.store import Store

from .dash_calls import answer, call
from .helpers import PASSWORD, login

NEW = "a new and long password"


def change(client, current, new, again):
    return call(
        client,
        "pw-message.children",
        [("pw-change", "n_clicks", 1)],
        [("pw-current", "value", current), ("pw-new", "value", new), ("pw-again", "value", again)],
    )


def message(response) -> str:
    return str(answer(response)["pw-message"]["children"])


def hashes(config) -> dict[str, str]:
    with Store(config.storage.database_path) as store:
        return {r[0]: r[1] for r in store.conn.execute("select username, password_hash from users")}


def test_a_user_changes_their_password_and_logs_in_again_with_it(app, config):
    alice, owen = app.server.test_client(), app.server.test_client()
    login(alice, "alice")
    login(owen, "owen")
    before = hashes(config)
    for current, new, again, why in (
        ("wrong password", NEW, NEW, "the current password is not right"),
        (PASSWORD, NEW, NEW + "x", "the two new passwords differ"),
        (PASSWORD, "short", "short", "passwords have at least 8 characters"),
        (PASSWORD, PASSWORD, PASSWORD, "the new password is the current one"),
        (None, NEW, NEW, "the current password is not right"),
        (PASSWORD, ["not", "text"], NEW, "the two new passwords differ"),
    ):
        response = change(alice, current, new, again)
        assert f"Not changed: {why}" in message(response), why
        assert answer(response)["pw-current"]["value"] is None  # the fields emptied
    assert hashes(config) == before  # nothing changed
    assert "Log in again" in message(change(alice, PASSWORD, NEW, NEW))
    assert alice.get("/received").status_code == 302  # this session has ended
    assert login(alice, "alice").status_code == 401  # the old password is refused
    assert login(alice, "alice", NEW).status_code == 302
    after = hashes(config)
    assert after["alice"] != before["alice"]
    assert {k: v for k, v in after.items() if k != "alice"} == {
        k: v for k, v in before.items() if k != "alice"
    }
    assert owen.get("/received").status_code == 200  # another user's session goes on


def test_wrong_current_passwords_meet_the_logins_growing_wait(app, config, clock):
    """An open session is no password-guessing oracle: after the login's free failures
    (5) each wrong current password closes the door, even to the right one, until the
    wait is over; the wait is the login's too."""
    alice = app.server.test_client()
    login(alice, "alice")
    before = hashes(config)
    for _ in range(5):
        assert "not right" in message(change(alice, "wrong password", NEW, NEW))
    assert "not right" in message(change(alice, "wrong password", NEW, NEW))  # 6th: 1 s wait
    refused = message(change(alice, PASSWORD, NEW, NEW))
    assert "too many wrong passwords; try again in 1 s" in refused
    assert hashes(config) == before
    other = app.server.test_client()  # the login of the same user waits as well
    assert login(other, "alice").status_code == 429
    clock.advance(1.5 / 60)
    assert "Log in again" in message(change(alice, PASSWORD, NEW, NEW))


def test_change_own_password_checks_before_writing(config):
    with Store(config.storage.database_path) as store:
        owen = authenticate(store, "owen", PASSWORD)
        with pytest.raises(AccountError, match="not right"):
            change_own_password(store, owen, "nope", NEW, NEW)
        assert authenticate(store, "owen", PASSWORD) is not None
        change_own_password(store, owen, PASSWORD, NEW, NEW)
        assert authenticate(store, "owen", PASSWORD) is None
        assert authenticate(store, "owen", NEW).id == owen.id


def password_leak(w, no_markers) -> None:
    """Only one's own password changes: the callback takes no user id at all."""
    with Store(w.client.application.config["STAX_DATABASE"]) as store:
        before = dict(store.conn.execute("select username, password_hash from users"))
    refused = change(w.client, "wrong password", NEW, NEW)
    no_markers(w, refused)
    assert "Not changed" in message(refused)
    done = change(w.client, PASSWORD, NEW, NEW)
    no_markers(w, done)
    assert "Log in again" in message(done)
    with Store(w.client.application.config["STAX_DATABASE"]) as store:
        after = dict(store.conn.execute("select username, password_hash from users"))
    assert {k for k in after if after[k] != before[k]} == {w.username}
    assert login(w.client, w.username, NEW).status_code == 302  # the world logged in again
