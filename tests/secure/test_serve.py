"""`stax central`: serve (intake here, web UI in a supervised child), check, user add."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from central.config import load_central_config
from central.serve import Supervisor, serve
from stax.cli import main

from .conftest import alert_message, alert_name
from .intake_harness import client_context, free_port, put, request, write_config

PY = sys.executable


def wait_for_health(port: int, network, seconds: float = 30) -> dict:
    context = client_context(network, network.stations["AUS02"])
    deadline = time.monotonic() + seconds
    while True:
        try:
            return request(port, context, "GET", "/api/v1/health")[1]
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_supervisor_restarts_a_dying_child_with_growing_delays():
    async def scenario():
        supervisor = Supervisor("crasher", [PY, "-c", "raise SystemExit(3)"], backoff=0.05)
        task = asyncio.create_task(supervisor.run())
        await asyncio.sleep(1.5)
        await supervisor.stop()
        await task
        return supervisor.starts

    starts = asyncio.run(scenario())
    # delays 0.05, 0.1, 0.2, 0.4, 0.8: about 5 restarts in 1.5 s, not dozens
    assert 3 <= starts <= 7


def test_supervisor_stops_a_child_that_ignores_sigterm(tmp_path):
    script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"

    async def scenario():
        supervisor = Supervisor("stubborn", [PY, "-c", script], stop_timeout=0.5)
        task = asyncio.create_task(supervisor.run())
        await asyncio.sleep(0.5)
        started = time.monotonic()
        await supervisor.stop()
        await task
        return supervisor.process.returncode, time.monotonic() - started

    code, took = asyncio.run(scenario())
    assert code == -signal.SIGKILL and took < 5


def test_serve_runs_the_intake_and_the_web_child_until_sigterm(network, tmp_path):
    config_path = write_config(tmp_path, network, free_port())
    config = load_central_config(config_path)
    pid_file = tmp_path / "web.pid"
    script = (
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    )
    fake_web = [PY, "-c", script]

    async def scenario():
        serving = asyncio.create_task(serve(config, config_path, web_argv=fake_web))
        loop = asyncio.get_running_loop()
        health = await loop.run_in_executor(None, wait_for_health, config.intake.port, network)
        station = network.stations["AUS02"]
        body = station.seal(alert_message("AUS02", "5001"), network.central.cert)
        name = alert_name("AUS02", "5001")
        answer = await loop.run_in_executor(
            None, put, config.intake.port, network, station, name, body
        )
        for _ in range(100):
            if pid_file.exists() and pid_file.read_text():
                break
            await asyncio.sleep(0.05)
        web_pid = int(pid_file.read_text())
        os.kill(os.getpid(), signal.SIGTERM)  # serve's handler is installed by now
        await asyncio.wait_for(serving, 20)
        return health, answer, web_pid

    health, answer, web_pid = asyncio.run(scenario())
    assert health["status"] == "ok"
    assert answer[0] == 201
    assert not alive(web_pid)
    with sqlite3.connect(config.storage.database_path) as db:
        assert db.execute("select count(*) from messages").fetchone()[0] == 1


def test_stax_central_serve_as_a_command(network, tmp_path):
    port = free_port()
    config_path = write_config(tmp_path, network, port)
    repo = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [PY, "-m", "stax", "central", "serve", "--config", str(config_path)],
        cwd=repo,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for_health(port, network)["status"] == "ok"
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert f"intake listening on https://127.0.0.1:{port}" in err
    assert "serving the intake only" in err  # no central/web in this worktree
    assert err.rstrip().endswith("stopped")


def test_configuration_errors_are_one_line_exit_2(network, tmp_path, capsys):
    config_path = write_config(tmp_path, network, free_port())
    config_path.write_text(config_path.read_text().replace("[storage]", "colour = 1\n[storage]"))
    assert main(["central", "serve", "--config", str(config_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "colour: unknown key" in err

    config_path = write_config(tmp_path, network, free_port())
    config_path.write_text(config_path.read_text().replace(str(network.ca.crl_path), "none.pem"))
    assert main(["central", "check", "--config", str(config_path)]) == 2
    assert "none.pem: cannot read" in capsys.readouterr().err


def test_check_and_user_add(network, tmp_path, capsys):
    config_path = write_config(tmp_path, network, free_port())
    assert main(["central", "check", "--config", str(config_path)]) == 0
    assert "CRL         next update" in capsys.readouterr().out

    password = tmp_path / "password"
    password.write_text("correct horse battery\n")
    args = ["central", "user", "add", "olga", "--config", str(config_path)]
    assert (
        main([*args, "--role", "owner", "--owns", "AUS02", "--password-file", str(password)]) == 0
    )
    assert "created user olga (role owner, owns AUS02)" in capsys.readouterr().out
    assert main([*args, "--password-file", str(password)]) == 2
    assert "exists" in capsys.readouterr().err

    from central.accounts import authenticate
    from central.store import Store

    with Store(load_central_config(config_path).storage.database_path) as store:
        user = authenticate(store, "olga", "correct horse battery")
        assert user is not None and user.owned == {"AUS02"}


@pytest.mark.parametrize("text", ["", "\n"])
def test_user_add_refuses_an_empty_password_file(network, tmp_path, capsys, text):
    config_path = write_config(tmp_path, network, free_port())
    password = tmp_path / "password"
    password.write_text(text)
    args = ["central", "user", "add", "x", "--config", str(config_path), "--password-file"]
    assert main([*args, str(password)]) == 2
    assert "first line must be the password" in capsys.readouterr().err
