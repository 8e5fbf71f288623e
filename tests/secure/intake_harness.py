"""Run the real intake on 127.0.0.1 in a thread of the test process, and talk to it over
TLS with a station's certificate (the standard library's HTTPS client)."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import sqlite3
import ssl
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

from central.config import load_central_config
from central.intake import CONTENT_TYPE, IntakeServer, start_intake

from .conftest import Network, Party


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(folder: Path, network: Network, port: int, **intake: object) -> Path:
    ca = network.ca
    lines = [
        "[intake]",
        f'server_cert = "{ca.central_cert_path}"',
        f'server_key = "{ca.central_key_path}"',
        f'ca_cert = "{ca.ca_cert_path}"',
        f'crl = "{ca.crl_path}"',
        'host = "127.0.0.1"',
        f"port = {port}",
        *(f"{k} = {v!r}" for k, v in intake.items()),
        "[storage]",
        'data_dir = "data"',
        "[web]",
        f"port = {free_port()}",
        'secret_key_file = "web-secret.key"',
    ]
    path = folder / "central.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class ThreadedIntake:
    """`start_intake` on an event loop of its own thread, stopped by `stop()`."""

    def __init__(self, config_path: Path, clock: Callable[[], datetime] | None = None):
        self.config = load_central_config(config_path)
        self.clock = clock
        self.server: IntakeServer | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="intake", daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self.server = self._loop.run_until_complete(start_intake(self.config, clock=self.clock))
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.server.close())
        self._loop.close()

    def start(self) -> ThreadedIntake:
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)

    @property
    def port(self) -> int:
        return self.config.intake.port

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.config.storage.database_path)
        conn.row_factory = sqlite3.Row
        return conn


def client_context(network: Network, station: Party | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(network.ca.ca_cert_path))
    if station is not None:
        context.load_cert_chain(station.folder / "station.pem", station.folder / "station.key")
    return context


def request(
    port: int,
    context: ssl.SSLContext,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict]:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def put(
    port: int,
    network: Network,
    station: Party | None,
    file_name: str,
    body: bytes,
    content_type: str = CONTENT_TYPE,
) -> tuple[int, dict]:
    return request(
        port,
        client_context(network, station),
        "PUT",
        f"/api/v1/messages/{quote(file_name)}",
        body,
        {"Content-Type": content_type},
    )
