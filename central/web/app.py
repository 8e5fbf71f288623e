"""The web application: Flask with sessions and downloads, and the Dash pages on top."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from dash import Dash
from dash.development.base_component import Component
from flask import Flask, has_request_context
from flask_login import current_user

from central.config import CentralConfig

from .auth import csrf_token, current_account, init_auth
from .callbacks import register_callbacks
from .clock import init_clock
from .db import init_store
from .downloads import init_downloads
from .headers import init_security_headers
from .layout import APP_NAME, frame, validation_layout

ASSETS = Path(__file__).resolve().parent / "assets"
ROLE_NAMES = {"admin": "Administrator", "owner": "Facility owner", "user": "User"}


def create_app(config: CentralConfig, *, clock: Callable[[], float] = time.time) -> Dash:
    """The Dash app; its Flask server (`.server`) is what a WSGI server serves.

    `clock` gives the time in seconds for session expiry, the publish delay and the API's
    rate limit (tests pass their own).
    """
    server = Flask(__name__, static_folder=None)
    init_clock(server, clock)
    # the guard is registered before Dash adds its routes and hooks, so it runs first
    init_store(server, config.storage.database_path)
    _apply_soh_limits(config)
    init_auth(server, config.web, clock)
    init_downloads(server)
    from central.api import init_api  # here: central.api builds on this package's modules

    init_api(server, config.web.api_requests_per_minute)
    app = Dash(
        __name__,
        server=server,
        title=APP_NAME,
        update_title=None,
        assets_folder=str(ASSETS),
        serve_locally=True,
        compress=False,
        enable_mcp=False,
    )
    app.layout = _serve_layout
    app.validation_layout = validation_layout()
    register_callbacks(app, config.web.page_size)
    init_security_headers(server, app.csp_hashes(), https=config.web.https)
    return app


def _apply_soh_limits(config: CentralConfig) -> None:
    """The configuration's default SOH limits into the database (central/soh.py)."""
    from central.soh import apply_default_limits
    from central.store import Store

    with Store(config.storage.database_path) as store:
        apply_default_limits(store, config.soh.limits)


def _serve_layout() -> Component:
    if not has_request_context() or not current_user.is_authenticated:
        # Dash calls the layout to check it once, at start-up or in the first request
        # (whichever route that is): no user then. Real layouts are behind the guard.
        return validation_layout()
    account = current_account()
    return frame(
        account.username, ROLE_NAMES.get(account.role, account.role), account.is_admin, csrf_token()
    )
