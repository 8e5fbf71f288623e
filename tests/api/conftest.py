"""Fixtures for the API: the web tests' database and app (with the clock the tests move),
served by waitress on a loopback port in a thread, and an API token per user."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import waitress
from waitress import wasyncore

from central.accounts import authenticate
from central.store import Store
from central.tokens import make_token
from tests.web.conftest import (  # noqa: F401 - fixtures
    app,
    cheap_password_hashing,
    clock,
    config,
    sample,
    template_db,
)
from tests.web.helpers import PASSWORD


@contextlib.contextmanager
def serving(wsgi_app) -> Iterator[str]:
    """`wsgi_app` served by waitress on a free loopback port: its base URL."""
    srv = waitress.create_server(wsgi_app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.effective_port}/"
    finally:
        # closed from inside its own loop: closing the sockets under a select() breaks it
        srv.trigger.pull_trigger(lambda: wasyncore.close_all(srv._map))
        thread.join(5)
        srv.task_dispatcher.shutdown()


@pytest.fixture
def server(app):  # noqa: F811 - the fixture imported above
    """The app on http://127.0.0.1:PORT/, stopped after the test."""
    with serving(app.server) as url:
        yield url


@pytest.fixture
def tokens(config) -> dict[str, str]:  # noqa: F811
    """An API token for each enabled user of the sample, by user name."""
    made = {}
    with Store(config.storage.database_path) as store:
        for name in ("admin", "alice", "owen"):
            account = authenticate(store, name, PASSWORD)
            made[name], _ = make_token(store, account.id, "test", by=account, now=datetime.now(UTC))
    return made
