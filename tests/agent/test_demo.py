"""`stax demo`: the folder it prepares, reused on the next run, and a short real run."""

import json
import re
import sqlite3
import stat
import subprocess
import sys

import pytest

from central.accounts import authenticate
from central.config import load_central_config
from central.demo import prepare_demo
from central.store import Store
from edge_agent.config import load_agent_config


def test_a_second_run_reuses_the_ca_accounts_and_ports(tmp_path):
    first = prepare_demo(tmp_path / "demo", stations=2, speed=60)
    ca = (tmp_path / "demo" / "pki" / "ca" / "ca.pem").read_bytes()
    again = prepare_demo(tmp_path / "demo", stations=2, speed=120)
    assert (tmp_path / "demo" / "pki" / "ca" / "ca.pem").read_bytes() == ca
    assert again.logins == first.logins and set(first.logins) == {"admin", "viewer"}
    assert (again.web_port, again.intake_port) == (first.web_port, first.intake_port)
    logins = tmp_path / "demo" / "logins.json"
    assert stat.S_IMODE(logins.stat().st_mode) == 0o600

    central = load_central_config(again.central_config)
    assert central.intake.port == again.intake_port and central.web.port == again.web_port
    agents = {code: load_agent_config(path) for code, path in again.agent_configs.items()}
    assert sorted(agents) == ["AUS02", "BES01"]
    assert agents["AUS02"].clock.speed == 120
    assert agents["AUS02"].central.url == f"https://127.0.0.1:{again.intake_port}"
    assert agents["AUS02"].mca.seed != agents["BES01"].mca.seed
    with Store(central.storage.database_path) as store:
        admin = authenticate(store, "admin", first.logins["admin"]["password"])
        viewer = authenticate(store, "viewer", first.logins["viewer"]["password"])
        assert admin.is_admin
        assert viewer.assigned == {"AUS02"} and not viewer.can_see("BES01")
        assert [f["name"] for f in store.facilities()] == ["ANSTO", "IRE"]


@pytest.mark.slow
def test_the_demo_runs_and_stops_by_itself(tmp_path):
    folder = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "stax", "demo", "--data-dir", str(folder), "--stations", "2",
         "--speed", "900", "--duration", "8"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    logins = json.loads((folder / "logins.json").read_text())
    assert re.search(r"web UI\s+http://127\.0\.0\.1:\d+/", out)
    assert logins["admin"]["password"] in out and logins["viewer"]["password"] in out
    assert f"STAX_API_TOKEN={logins['viewer']['token']} stax fetch --url http" in out
    with sqlite3.connect(folder / "central" / "data" / "central.sqlite") as db:
        stored = dict(db.execute("select station, count(*) from messages group by station"))
        assert db.execute("select count(*) from quarantine").fetchone()[0] == 0
    assert stored.get("AUS02", 0) >= 2 and stored.get("BES01", 0) >= 2
    assert "stopping the agents and the central server" in out
