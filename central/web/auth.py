"""Logging in and out, sessions that expire, and the guard in front of every route.

The guard runs before every request: only the login page and static assets are public;
anonymous requests for pages are sent to the login page, any other request gets 401. Posts
(the login and logout forms, Dash callbacks) must carry the session's CSRF token. Paths
under /api/ are left to the REST API's own authentication (Bearer tokens, JSON answers).

Sessions are kept on the server (central/sessions.py): the signed cookie only carries a
token whose row must exist, so logout, a password change, disabling the user and "log out
everywhere" end a session at once, even where its cookie was copied.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Response, redirect, render_template_string, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

import shared
from central.access import AccessDenied
from central.accounts import User, authenticate, get_user
from central.config import WebConfig
from central.sessions import end_session, session_user, start_session
from shared.config import ConfigError

from . import throttle
from .db import get_store

# Dash pages: an anonymous browser asking for one of these is sent to the login page.
PAGE_ENDPOINTS = frozenset({"/", "/<path:path>"})
# The only routes open to anonymous users.
PUBLIC_ENDPOINTS = frozenset({"login", "_dash_assets.static", "/_favicon.ico"})
# Dash's renderer reads this cookie and sends its value back in this header with every
# callback: the double-submit pattern, checked against the token kept in the session.
CSRF_COOKIE = "_csrf_token"
CSRF_HEADER = "X-CSRFToken"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
KNOWN_COOKIE = "stax_known_browser"
KNOWN_DAYS = 180
# the REST API (a blueprint under /api/v1) authenticates its own requests
API_PREFIX = "/api/"


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


class WebUser(UserMixin):
    """A logged-in account as Flask-Login wants it."""

    def __init__(self, account: User):
        self.account = account

    def get_id(self) -> str:
        return str(self.account.id)


def current_account() -> User:
    """The account of the user making this request."""
    if not current_user.is_authenticated:
        raise AccessDenied("not logged in")
    return current_user.account


def csrf_token() -> str:
    """This session's CSRF token, made on first use."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def load_secret_key(path: Path) -> str:
    """The session signing key from `path`, created (mode 0600) when the file is absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigError(
            f"{path}: [web] secret_key_file is readable by others (mode {mode:o}); "
            f"run: chmod 600 {path}"
        )
    key = path.read_text().strip()
    if len(key) < 32:
        raise ConfigError(
            f"{path}: [web] secret_key_file holds a key of {len(key)} characters, 32 or more "
            "are needed; delete the file to have a new key made"
        )
    return key


def init_auth(server: Flask, web: WebConfig, clock: Callable[[], float]) -> None:
    """Sessions, the login and logout routes and the guard, on `server`."""
    lifetime = timedelta(minutes=web.session_minutes).total_seconds()
    # how often the last use is written to the session's row: often enough to be exact to
    # a tenth of the session's length, seldom enough not to write on every callback
    refresh = min(60.0, lifetime / 10)
    server.config.update(
        SECRET_KEY=load_secret_key(web.secret_key_file),
        SESSION_COOKIE_NAME="stax_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=web.https,
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=web.session_minutes),
    )
    manager = LoginManager()
    manager.init_app(server)
    limits = throttle.LoginLimits(
        per_user=web.login_failures_per_user,
        per_address=web.login_failures_per_address,
        max_delay=web.login_max_delay_seconds,
    )
    server.config["STAX_LOGIN_LIMITS"] = limits  # the Settings page's password change too
    known_browsers = KnownBrowsers(server.config["SECRET_KEY"])

    @manager.user_loader
    def _load_user(user_id: str) -> WebUser | None:
        try:
            account = get_user(get_store(), int(user_id))
        except ValueError:
            return None
        if account is None or not account.enabled:
            return None  # a user disabled since logging in is out at the next request
        return WebUser(account)

    def end_dead_session() -> bool:
        """Log out a cookie whose server-side session has ended (logout elsewhere, idle
        for longer than session_minutes, password changed, user disabled); True if so."""
        if "_user_id" not in session:
            return False
        user_id = session_user(
            get_store(), session.get("sid"), clock(), lifetime=lifetime, refresh=refresh
        )
        if user_id is not None and str(user_id) == session.get("_user_id"):
            return False
        logout_user()
        session.clear()
        return True

    @server.before_request
    def _guard() -> Response | None:
        if is_api_request():
            if request.endpoint in PAGE_ENDPOINTS:
                # Dash's catch-all page route would answer any path: not under /api/
                return json_response(404, f"no API route {request.path}")
            return None  # no redirect, no CSRF cookie: the API answers for itself
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        expired = end_dead_session()
        if not current_user.is_authenticated:
            if request.method in ("GET", "HEAD") and request.endpoint in PAGE_ENDPOINTS:
                target = request.full_path if request.query_string else request.path
                return redirect(url_for("login", next=target, expired=1 if expired else None))
            return text_response(401, "log in first" if not expired else "the session has ended")
        if request.method not in _SAFE_METHODS and not _csrf_ok():
            return text_response(403, "missing or wrong CSRF token: reload the page")
        return None

    @server.after_request
    def _send_csrf_cookie(response: Response) -> Response:
        if is_api_request():
            return response
        token = session.get("csrf")
        if "_user_id" in session and token and request.cookies.get(CSRF_COOKIE) != token:
            response.set_cookie(
                CSRF_COOKIE,
                token,
                samesite="Strict",
                secure=server.config["SESSION_COOKIE_SECURE"],
                httponly=False,  # Dash's renderer must read it
            )
        return response

    @server.route("/login", methods=["GET", "POST"])
    def login() -> Response | str | tuple[str, int]:
        if request.method == "POST":
            username = request.form.get("username", "")
            if not _csrf_ok():
                return _login_page("The form had expired: please try again.", username, 400)
            store, now, address = get_store(), clock(), request.remote_addr or "?"
            known = known_browsers.loads(request.cookies.get(KNOWN_COOKIE)) == username
            wait = throttle.wait_seconds(store, limits, username, address, now, known=known)
            if wait:
                return _too_many_failures(username, wait)
            account = authenticate(store, username, request.form.get("password", ""))
            if account is None:
                throttle.record_failure(store, limits, username, address, now)
                return _login_page("Wrong user name or password.", username, 401)
            throttle.record_success(store, username)
            target = _safe_next(request.form.get("next"))
            end_session(get_store(), session.get("sid"))
            session.clear()  # a new session on login: nothing carried over from before
            login_user(WebUser(account))
            session.permanent = True
            session["sid"] = start_session(get_store(), account.id, clock(), request.remote_addr)
            session["csrf"] = secrets.token_urlsafe(32)
            response = redirect(target)
            response.set_cookie(
                KNOWN_COOKIE,
                known_browsers.dumps(username),
                max_age=KNOWN_DAYS * 86400,
                httponly=True,
                samesite="Strict",
                secure=web.https,
            )
            return response
        if not end_dead_session() and current_user.is_authenticated:
            return redirect("/")
        notice = (
            "Your session has ended: please log in again." if request.args.get("expired") else ""
        )
        return _login_page(notice, "", 200, is_error=False)

    @server.route("/logout", methods=["POST"])
    def logout() -> Response:
        end_session(get_store(), session.get("sid"))
        logout_user()
        session.clear()
        response = redirect(url_for("login"))
        response.delete_cookie(CSRF_COOKIE)
        return response


class KnownBrowsers:
    """The signed cookie of a browser that has logged in as a user: exempt from that
    user's login wait, so that failing on purpose cannot lock the user out."""

    def __init__(self, secret: str):
        self._serializer = URLSafeTimedSerializer(secret, salt="stax-known-browser")

    def dumps(self, username: str) -> str:
        return self._serializer.dumps(username)

    def loads(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            name = self._serializer.loads(cookie, max_age=KNOWN_DAYS * 86400)
        except BadSignature:
            return None
        return name if isinstance(name, str) else None


def _too_many_failures(username: str, wait: int) -> Response:
    html, status = _login_page(
        f"Too many failed logins: try again in {wait} second{'s' if wait != 1 else ''}.",
        username,
        429,
    )
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Retry-After"] = str(wait)
    return response


def _csrf_ok() -> bool:
    expected = session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.mimetype == "application/x-www-form-urlencoded":
        given = request.form.get(CSRF_FIELD)
    return (
        isinstance(expected, str)
        and isinstance(given, str)
        and hmac.compare_digest(expected.encode(), given.encode())
    )


def json_response(status: int, message: str) -> Response:
    """An answer for an API path, in the API's JSON shape."""
    return Response(
        json.dumps({"error": message}) + "\n", status=status, mimetype="application/json"
    )


def text_response(status: int, message: str) -> Response:
    """A short plain-text answer, e.g. why a request was refused."""
    return Response(message + "\n", status=status, mimetype="text/plain")


def _safe_next(target: str | None) -> str:
    """A path on this server to go to after logging in; never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path == "/login":
        return "/"
    return target


def _login_page(message: str, username: str, status: int, is_error: bool = True):
    html = render_template_string(
        _LOGIN_TEMPLATE,
        version=shared.__version__,
        message=message,
        is_error=is_error,
        username=username,
        next=request.values.get("next", ""),
        token=csrf_token(),
        field=CSRF_FIELD,
    )
    return html, status


_LOGIN_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in - STAX monitor</title>
<link rel="stylesheet" href="/assets/style.css">
</head>
<body class="login-body">
<main class="login-card">
  <h1 class="brand">STAX monitor</h1>
  <p class="version">v. {{ version }}</p>
  {% if message %}<p class="{{ 'error' if is_error else 'notice' }}" role="alert">{{ message }}</p>{% endif %}
  <form method="post" action="/login" id="login-form">
    <input type="hidden" name="{{ field }}" value="{{ token }}">
    <input type="hidden" name="next" value="{{ next }}">
    <label for="username">User name</label>
    <input id="username" name="username" value="{{ username }}" autocomplete="username" required autofocus>
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required>
    <button type="submit" id="login-button">Log in</button>
  </form>
</main>
</body>
</html>
"""
