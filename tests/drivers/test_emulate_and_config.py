"""`stax emulate` as a process a driver talks to; the [mca] and [[sensors]] configuration
opening real drivers against emulators; configuration errors that say what to fix."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.clock import SystemClock
from edge_agent.config import ConfigError, load_agent_config
from edge_agent.drivers import open_hardware
from edge_agent.drivers.base import open_transport
from edge_agent.drivers.emulators import EmulatorServer, make_device
from edge_agent.drivers.ortec import OrtecMcb
from tests.agent.conftest import make_pki, write_agent_config

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_stax_emulate_runs_until_stopped_and_the_driver_talks_to_it():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "stax", "emulate", "ortec-mcb", "--listen", f"127.0.0.1:{port}"],
        cwd=REPO, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.strip() == f"ORTEC MCB emulator on socket://127.0.0.1:{port}"
        mca = OrtecMcb(open_transport(f"socket://127.0.0.1:{port}", timeout=2))
        assert mca.channels == 16384
        assert mca.status().readings == {"hv_volts": 4187}
        mca.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0


def test_stax_emulate_refuses_a_fault_the_device_cannot_show(capsys):
    from stax.cli import main

    assert main(["emulate", "cryotel", "--listen", "127.0.0.1:0", "--fault", "bad_checksum"]) == 2
    assert "cannot show fault 'bad_checksum'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def pki_files(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_configuration_opens_the_mca_and_sensors(tmp_path, pki_files):
    with (
        EmulatorServer(make_device("amptek-dp5")) as mca,
        EmulatorServer(make_device("alicat")) as alicat,
        EmulatorServer(make_device("cryotel")) as cryotel,
        EmulatorServer(make_device("modbus", framing="rtu")) as modbus,
    ):
        extra = f"""
[mca]
driver = "amptek-dp5"
port = "{mca.url}"
timeout_seconds = 1

[[sensors]]
driver = "alicat"
port = "{alicat.url}"

[[sensors]]
driver = "cryotel"
port = "{cryotel.url}"

[[sensors]]
driver = "modbus"
port = "tcp://127.0.0.1:{modbus.port}"
framing = "rtu"
[[sensors.registers]]
name = "stack_flow_m3_s"
address = 0
type = "float32"
"""
        path = write_agent_config(tmp_path, pki_files, "https://127.0.0.1:1", extra)
        config = load_agent_config(path)
        hardware = open_hardware(config, SystemClock())
        try:
            assert hardware.mca.channels == 8192
            readings = [s.read() for s in hardware.sensors]
            assert readings[0]["sample_flow_slpm"] > 1.9
            assert readings[1]["cold_tip_temperature_k"] == 77.0
            assert readings[2] == {"stack_flow_m3_s": 50.0}
        finally:
            hardware.close()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[mca]\ndriver = "ortec-mcb"\n', 'driver "ortec-mcb" needs port'),
        ('[mca]\ndriver = "vendor-files"\nfolder = "x"\n', "needs folder and channels"),
        (
            '[mca]\ndriver = "vendor-files"\nfolder = "x"\nchannels = 8192\ntimezone = "Mars/Base"\n',
            "timezone must be an IANA name",
        ),
        ('[[sensors]]\ndriver = "modbus"\nport = "tcp://h:502"\n', "needs [[sensors.registers]]"),
        (
            '[[sensors]]\ndriver = "modbus"\nport = "tcp://h:502"\n[[sensors.registers]]\n'
            'name = "Flow"\naddress = 0\n',
            "name must be snake_case",
        ),
        (
            '[[sensors]]\ndriver = "modbus"\nport = "tcp://h:502"\n[[sensors.registers]]\n'
            'name = "flow"\naddress = 0\nword_order = "middle"\n',
            "expected one of 'big', 'little'",
        ),
        (
            '[[sensors]]\ndriver = "alicat"\nport = "/dev/ttyUSB1"\nunit_id = "AB"\n',
            "unit_id must be one letter",
        ),
        ('[[sensors]]\ndriver = "flowmeter"\nport = "x"\n', "expected one of 'alicat'"),
    ],
)
def test_configuration_errors_say_what_to_fix(tmp_path, pki_files, extra, message):
    path = write_agent_config(tmp_path, pki_files, "https://127.0.0.1:1", extra)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_agent_config(path)
