"""`stax demo --hardware emulated`: one station per MCA driver with the three sensors,
real drivers against emulators that the demo starts."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from central.demo import prepare_demo
from edge_agent.config import load_agent_config


def test_each_station_gets_its_own_mca_driver_the_sensors_and_a_calibration(tmp_path):
    demo = prepare_demo(tmp_path / "demo", stations=3, speed=60, hardware="emulated")
    agents = {code: load_agent_config(path) for code, path in demo.agent_configs.items()}
    assert [a.mca.driver for a in agents.values()] == ["ortec-mcb", "amptek-dp5", "vendor-files"]
    assert agents["AUS02"].mca.port.startswith("socket://127.0.0.1:")
    assert agents["BES01"].mca.port.startswith("udp://127.0.0.1:")
    assert agents["USS06"].mca.wait_seconds < 1.5  # under the tolerance of a 60x clock
    for a in agents.values():
        assert [s.driver for s in a.sensors] == ["alicat", "cryotel", "modbus"]
        assert a.calibration.file.exists()


@pytest.mark.slow
def test_the_emulated_demo_stores_spectra_of_every_driver(tmp_path):
    folder = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "stax", "demo", "--data-dir", str(folder), "--hardware",
         "emulated", "--speed", "600", "--duration", "12"],
        capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "emulated hardware: 12 devices" in result.stdout
    with sqlite3.connect(folder / "central" / "data" / "central.sqlite") as db:
        stored = dict(db.execute("select station, count(*) from messages group by station"))
    assert all(stored.get(code, 0) >= 2 for code in ("AUS02", "BES01", "USS06")), stored
    assert list((folder / "stations" / "USS06" / "vendor-files" / "accepted").iterdir())
