"""One database connection per request: the web server runs requests on several threads."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, g

from central.store import Store


def init_store(server: Flask, database: Path) -> None:
    server.config["STAX_DATABASE"] = str(database)
    server.teardown_appcontext(_close_store)


def get_store() -> Store:
    """This request's connection, opened on first use and closed when the request ends."""
    if "stax_store" not in g:
        g.stax_store = Store(current_app.config["STAX_DATABASE"])
    return g.stax_store


def _close_store(_exc: BaseException | None) -> None:
    store = g.pop("stax_store", None)
    if store is not None:
        store.close()
