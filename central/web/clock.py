"""The web server's notion of now: one clock for session expiry, the publish delay and the
API's rate limit, passed to `create_app` so that tests move it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask, current_app


def init_clock(server: Flask, clock: Callable[[], float]) -> None:
    server.config["STAX_CLOCK"] = clock


def seconds() -> float:
    """Now, in seconds since the epoch, from the app's clock."""
    return current_app.config["STAX_CLOCK"]()


def now() -> datetime:
    """Now as an aware UTC datetime, from the app's clock."""
    return datetime.fromtimestamp(seconds(), UTC)
