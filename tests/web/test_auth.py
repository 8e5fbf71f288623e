"""Logging in and out, sessions that expire, CSRF tokens and the session secret."""

from __future__ import annotations

import os
import stat
from dataclasses import replace

import pytest
import requests

from central.accounts import disable_user, log_out_everywhere, set_password
from central.sessions import user_sessions
from central.store import Store
from central.web import create_app
from central.web.auth import load_secret_key
from shared.config import ConfigError

from .helpers import PASSWORD, csrf_header, form_token, login
from .live_server import start_live_web, stop_live_web

WRONG = "Wrong user name or password."


def test_login_with_the_right_password_opens_the_pages(client):
    response = login(client, "alice")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/received")
    assert page.status_code == 200
    assert "<title>STAX monitor</title>" in page.get_data(as_text=True)
    assert client.get("/_dash-layout").status_code == 200


def test_login_goes_back_to_the_page_first_asked_for(client):
    first = client.get("/quarantine")
    assert first.status_code == 302
    assert first.headers["Location"] == "/login?next=/quarantine"
    token = form_token(client.get(first.headers["Location"]).get_data(as_text=True))
    response = client.post(
        "/login",
        data={
            "username": "admin",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/quarantine",
        },
    )
    assert response.headers["Location"] == "/quarantine"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil", "x"])
def test_login_never_sends_the_browser_to_another_site(client, target):
    token = form_token(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login",
        data={"username": "alice", "password": PASSWORD, "csrf_token": token, "next": target},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_a_wrong_password_an_unknown_user_and_a_disabled_user_get_the_same_answer(client):
    answers = []
    for name, password in [
        ("alice", "not her password"),
        ("nosuchuser", PASSWORD),
        ("dave", PASSWORD),
    ]:
        response = login(client, name, password)
        assert response.status_code == 401
        text = response.get_data(as_text=True)
        assert WRONG in text
        answers.append(text.replace(f'value="{name}"', ""))  # the form keeps the name typed
        assert client.get("/_dash-layout").status_code == 401
    # nothing tells an unknown or disabled user name from a wrong password
    assert len({form_free(a) for a in answers}) == 1


def form_free(html: str) -> str:
    """The page without its per-request CSRF token."""
    return html.replace(form_token(html), "")


def test_a_login_post_without_the_forms_token_is_refused(client):
    client.get("/login")
    response = client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/_dash-layout").status_code == 401


def test_a_user_disabled_after_logging_in_is_out_at_the_next_request(client, config):
    login(client, "alice")
    assert client.get("/_dash-layout").status_code == 200
    with Store(config.storage.database_path) as store, store.conn:
        store.conn.execute("update users set enabled = 0 where username = 'alice'")
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/received").headers["Location"].startswith("/login")


def test_a_session_ends_after_session_minutes_without_a_request(client, clock):
    login(client, "alice")
    clock.advance(29)
    assert client.get("/_dash-layout").status_code == 200
    clock.advance(29)  # idle time counts from the last request
    assert client.get("/_dash-layout").status_code == 200
    clock.advance(31)
    assert client.get("/_dash-layout").status_code == 401
    response = client.get("/received")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_an_expired_page_asks_to_log_in_again(client, clock):
    login(client, "alice")
    clock.advance(31)
    response = client.get("/received")
    assert response.headers["Location"] == "/login?next=/received&expired=1"
    assert "Your session has ended" in client.get(response.headers["Location"]).get_data(
        as_text=True
    )


def test_logout_ends_the_session(client):
    login(client, "alice")
    token = csrf_header(client)["X-CSRFToken"]
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert client.get("/_dash-layout").status_code == 401
    assert client.get_cookie("_csrf_token") is None


def test_logout_and_callbacks_need_the_csrf_token(client):
    login(client, "alice")
    assert client.post("/logout").status_code == 403
    response = client.post("/_dash-update-component", json={"output": "x", "inputs": []})
    assert response.status_code == 403
    assert client.get("/_dash-layout").status_code == 200  # still logged in


def test_the_session_cookie_is_http_only_and_same_site(client):
    response = login(client, "alice")
    cookies = response.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("stax_session="))
    assert "HttpOnly" in session
    assert "SameSite=Lax" in session


def test_the_secret_key_file_is_created_private_and_reused(tmp_path):
    path = tmp_path / "keys" / "web-secret.key"
    key = load_secret_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 32
    assert load_secret_key(path) == key


def test_a_secret_key_file_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "web-secret.key"
    path.write_text("k" * 64)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_secret_key(path)


def test_sessions_survive_a_restart_with_the_same_key(config, clock):
    first = create_app(config, clock=clock).server.test_client()
    login(first, "alice")
    cookie = first.get_cookie("stax_session")
    second = create_app(config, clock=clock).server.test_client()
    second.set_cookie("stax_session", cookie.value)
    assert second.get("/_dash-layout").status_code == 200


# ------------------------------------------- sessions kept on the server (live server)
@pytest.fixture
def live(tmp_path, config):
    web = start_live_web(tmp_path, config)
    yield web
    stop_live_web(web)


def user_id(config, username: str) -> int:
    with Store(config.storage.database_path) as store:
        return store.conn.execute("select id from users where username = ?", [username]).fetchone()[
            0
        ]


def copy_of(web, client):
    """Another HTTP client holding a copy of `client`'s cookies (a stolen cookie)."""
    thief = web.client()
    thief.cookies.update(client.cookies)
    return thief


def test_logout_ends_a_session_whose_cookie_was_copied_before(live):
    browser = live.client()
    assert live.login(browser, "alice").status_code == 302
    thief = copy_of(live, browser)
    assert live.get(thief, "/_dash-layout").status_code == 200
    token = browser.cookies["_csrf_token"]
    assert live.get(browser, "/_dash-layout").status_code == 200
    logout = browser.post(
        f"{live.url}/logout", data={"csrf_token": token}, allow_redirects=False, timeout=10
    )
    assert logout.status_code == 302
    assert live.get(thief, "/_dash-layout").status_code == 401
    assert live.get(thief, "/received").headers["Location"].startswith("/login")


@pytest.mark.parametrize("how", ["password", "disable", "everywhere"])
def test_a_password_change_disabling_and_log_out_everywhere_end_every_session(live, config, how):
    first, second = live.client(), live.client()
    for browser in (first, second):
        assert live.login(browser, "alice").status_code == 302
    other = live.client()
    assert live.login(other, "admin").status_code == 302
    alice = user_id(config, "alice")
    with Store(config.storage.database_path) as store:
        assert len(user_sessions(store, alice)) == 2
        if how == "password":
            set_password(store, alice, "a new long password")
        elif how == "disable":
            disable_user(store, alice)
        else:
            assert log_out_everywhere(store, alice) == 2
        assert user_sessions(store, alice) == []
    for browser in (first, second):
        assert live.get(browser, "/_dash-layout").status_code == 401
    assert live.get(other, "/_dash-layout").status_code == 200  # someone else's: untouched
    if how == "password":
        assert live.login(live.client(), "alice", "a new long password").status_code == 302


# ------------------------------------------------------- security headers (live server)
def assert_security_headers(response):
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "script-src 'self' 'sha256-" in csp  # Dash's inline script by hash, no unsafe-inline
    assert "unsafe-eval" not in csp and "script-src 'self' 'unsafe-inline'" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_every_response_carries_the_security_headers(live):
    browser = live.client()
    anonymous = [live.get(browser, p) for p in ("/login", "/received", "/_dash-layout")]
    assert [r.status_code for r in anonymous] == [200, 302, 401]
    live.login(browser, "admin")
    for path, status in [
        ("/", 200),
        ("/_dash-layout", 200),
        ("/assets/style.css", 200),
        ("/download?ids=999999", 404),
        ("/api/v1/files", 401),  # the API's own answer (no Bearer token), not /login
    ]:
        response = live.get(browser, path)
        assert response.status_code == status, path
        assert_security_headers(response)
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP: no HSTS
    cookies = " ".join(anonymous[0].raw.headers.getlist("Set-Cookie"))
    assert "Secure" not in cookies


def test_the_api_paths_are_left_to_the_apis_own_authentication(live):
    for path in ("/api/v1/files", "/api/v1/anything"):
        response = live.get(live.client(), path)
        # the API's JSON 401, not the login page's redirect; no session, no CSRF cookie
        assert response.status_code == 401, path
        assert response.headers["Content-Type"].startswith("application/json")
        assert "Bearer" in response.headers["WWW-Authenticate"]
        assert "Location" not in response.headers and "Set-Cookie" not in response.headers
        assert_security_headers(response)


def test_over_https_the_cookies_are_secure_and_hsts_is_sent(tmp_path, config):
    web = start_live_web(tmp_path, config, ["https = true"])
    try:
        # behind the HTTPS proxy: the client would send the Secure cookie back, so do that
        form = requests.get(f"{web.url}/login", timeout=10)
        [first] = form.raw.headers.getlist("Set-Cookie")
        assert first.startswith("stax_session=") and "; Secure" in first
        response = requests.post(
            f"{web.url}/login",
            data={"username": "alice", "password": PASSWORD, "csrf_token": form_token(form.text)},
            headers={"Cookie": first.split(";")[0]},
            allow_redirects=False,
            timeout=30,
        )
        assert response.status_code == 302
        cookies = response.raw.headers.getlist("Set-Cookie")
        assert {c.split("=")[0] for c in cookies} == {
            "stax_session",
            "_csrf_token",
            "stax_known_browser",
        }
        assert all("; Secure" in c for c in cookies), cookies
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        stop_live_web(web)


# ------------------------------------------ login throttling (test client, the tests' clock)
@pytest.fixture
def strict(config, clock, request):
    """A test client of the app with small limits: `per_user`, `per_address` failures.
    The waits are measured on the tests' clock, which the tests move: no sleeping."""
    per_user, per_address = request.param
    web = replace(
        config.web, login_failures_per_user=per_user, login_failures_per_address=per_address
    )
    return create_app(replace(config, web=web), clock=clock).server


def pass_seconds(clock, seconds: float) -> None:
    clock.advance(seconds / 60)


@pytest.mark.parametrize("strict", [(3, 100)], indirect=True)
def test_wrong_passwords_for_a_user_meet_a_growing_wait(strict, clock):
    known = strict.test_client()
    assert login(known, "alice").status_code == 302  # alice's own browser, from before
    logout = {"csrf_token": csrf_header(known)["X-CSRFToken"]}
    assert known.post("/logout", data=logout).status_code == 302
    attacker = strict.test_client()
    answers = [login(attacker, "alice", "guess").status_code for _ in range(4)]
    assert answers == [401, 401, 401, 401]  # 3 free, the 4th closes the door for 1 s
    blocked = login(attacker, "alice")  # even the right password is not checked now
    assert blocked.status_code == 429
    assert blocked.headers["Retry-After"] == "1"
    assert "Too many failed logins: try again in 1 second." in blocked.get_data(as_text=True)
    pass_seconds(clock, 0.9)
    assert login(attacker, "alice", "guess").status_code == 429  # not open yet
    pass_seconds(clock, 0.2)  # 1.1 s after the 4th failure: open again
    assert login(attacker, "alice", "guess").status_code == 401
    again = login(attacker, "alice", "guess")
    assert again.status_code == 429 and again.headers["Retry-After"] == "2"  # growing
    # the attacker cannot lock alice out: her known browser logs in at once
    assert login(known, "alice").status_code == 302
    assert known.get("/_dash-layout").status_code == 200


@pytest.mark.parametrize("strict", [(100, 4)], indirect=True)
def test_one_address_trying_many_user_names_meets_a_wait_too(strict, clock):
    client = strict.test_client()
    names = ["u1", "u2", "u3", "u4", "u5"]
    answers = [login(client, name, "guess").status_code for name in names]
    assert answers == [401, 401, 401, 401, 401]  # 4 free, the 5th closes the door
    assert login(client, "owen").status_code == 429  # any user from this address
    pass_seconds(clock, 1.1)
    assert login(client, "owen").status_code == 302  # the door opens again
