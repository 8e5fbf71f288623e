"""`stax central serve` starts the [mail] listener with the intake and stops it on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import smtplib
import socket
import sqlite3
import sys

import pytest

from central.config import load_central_config
from central.serve import serve
from tests.secure.intake_harness import free_port

from .conftest import CENTRAL_ADDRESS, central_config, station_mail

IDLE = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_serve_takes_mail_when_mail_is_configured(network, tmp_path):
    port = free_port()
    config_path = central_config(tmp_path, network, {"listen": "smtp", "port": port})
    config = load_central_config(config_path)
    raw = station_mail(network, "AUS02", "401").replace(b"\n", b"\r\n")

    def deliver() -> dict:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
            return client.sendmail("aus02@station.test", [CENTRAL_ADDRESS], raw)

    async def scenario() -> dict:
        task = asyncio.create_task(serve(config, config_path, IDLE, IDLE))
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                await asyncio.sleep(0.1)
        refused = await asyncio.get_running_loop().run_in_executor(None, deliver)
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(task, 60)
        return refused

    assert asyncio.run(scenario()) == {}
    with sqlite3.connect(config.storage.database_path) as conn:
        names = [r[0] for r in conn.execute("select file_name from messages")]
    assert names == ["AUS02_401_PHD_2021_12_02T17_00_54.TXT"]
    # stopped: nothing listens there any more
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_check_names_the_mail_intake_and_an_unreadable_password_file(network, tmp_path, capsys):
    from stax.cli import main

    imap = {"host": "imap.test", "user": "stax", "password_file": tmp_path / "missing"}
    config_path = central_config(tmp_path, network, {"listen": "lmtp", "port": 8025}, **imap)
    assert main(["central", "check", "--config", str(config_path)]) == 1
    out, err = capsys.readouterr()
    assert "LMTP on 127.0.0.1:8025" in out and "stax@imap.test:993/INBOX (tls)" in out
    assert "password_file" in err and "missing" in err
