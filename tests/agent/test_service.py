"""The agent as systemd runs it: READY, a watchdog fed only while the MCA is healthy,
STOPPING; files delivered; one agent per outbox."""

import socket
import threading
import time
from datetime import UTC, datetime

import pytest

from edge_agent.clock import AcceleratedClock
from edge_agent.config import load_agent_config
from edge_agent.drivers.simulated import SimulatedMca
from edge_agent.service import Agent, AgentError, Hardware, station_clock
from edge_agent.systemd import Notifier
from shared.formats import read_message

from .conftest import T0, write_agent_config


class NotifySocket:
    """What systemd receives on $NOTIFY_SOCKET."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.path = str(path)
        self.messages: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                return self.messages

    def saw(self, line: str) -> int:
        return sum(line in m.split("\n") for m in self.drain())


def wait_for(condition, seconds=15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def notify(tmp_path):
    sock = NotifySocket(tmp_path / "notify")
    yield sock
    sock.sock.close()


def start_agent(tmp_path, pki, url, source, notify):
    config = load_agent_config(write_agent_config(tmp_path / "station", pki, url))
    clock = AcceleratedClock(T0.replace(minute=10), speed=900)  # 1 s a cycle
    mca = SimulatedMca(source, clock, seed=3)
    hardware = Hardware(mca, mca.stack_conditions, source.calibration())
    notifier = Notifier({"NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "600000"})
    agent = Agent(config, hardware=hardware, clock=clock, notifier=notifier)
    stop = threading.Event()
    result = []
    thread = threading.Thread(target=lambda: result.append(agent.run(stop)))
    thread.start()
    return agent, mca, stop, thread, result


def test_the_agent_acquires_sends_and_talks_to_systemd(
    tmp_path, pki, source, intake_factory, notify
):
    intake = intake_factory()
    agent, mca, stop, thread, result = start_agent(tmp_path, pki, intake.url, source, notify)
    try:
        assert wait_for(lambda: len(intake.received) >= 3)
        assert notify.saw("READY=1") == 1
        assert wait_for(lambda: notify.saw("WATCHDOG=1") >= 2)
        # the MCA stops answering: the watchdog is no longer fed
        mca.fault = "no_answer"
        assert wait_for(lambda: not agent.engine.healthy, 5)
        notify.drain()
        notify.messages.clear()
        # the service loop sends STATUS every round, after WATCHDOG when it feeds it: three
        # rounds' STATUS (about 0.9 s) with no WATCHDOG after the first are three rounds
        # that did not feed it (a round under way at the fault may have fed it once)
        assert wait_for(lambda: sum(m.startswith("STATUS=") for m in notify.drain()) >= 3, 10), (
            notify.messages
        )
        first = next(i for i, m in enumerate(notify.messages) if m.startswith("STATUS="))
        assert not any("WATCHDOG=1" in m.split("\n") for m in notify.messages[first + 1 :])
        assert any("STATUS=MCA fault" in m for m in notify.messages)
        mca.fault = None
        assert wait_for(lambda: agent.engine.healthy, 5)
        assert wait_for(lambda: notify.saw("WATCHDOG=1") >= 1, 5)
    finally:
        stop.set()
        thread.join(10)
    assert result == [0]
    assert notify.saw("STOPPING=1") == 1
    names = [path.rsplit("/", 1)[1] for path, _, _ in intake.received]
    assert names[0] == "AUS02_1_PHD_2023_11_20T00_15_00.TXT"
    assert all(client == "AUS02" for _, _, client in intake.received)


def test_one_agent_per_outbox(tmp_path, pki, source, intake_factory, notify):
    intake = intake_factory()
    agent, _mca, stop, thread, _ = start_agent(tmp_path, pki, intake.url, source, notify)
    try:
        config = load_agent_config(tmp_path / "station" / "AUS02.toml")
        with pytest.raises(AgentError, match="another agent is running with this outbox"):
            Agent(config, hardware=Hardware(SimulatedMca(source, agent.clock)))
    finally:
        stop.set()
        thread.join(10)


def test_startup_mistakes_stop_the_agent_with_a_clear_message(tmp_path, pki, source):
    config = load_agent_config(
        write_agent_config(tmp_path, pki, "https://127.0.0.1:1", '[calibration]\nfile = "no.phd"')
    )
    clock = AcceleratedClock(T0, 60)
    with pytest.raises(AgentError, match=r"no\.phd: cannot read"):
        Agent(config, hardware=Hardware(SimulatedMca(source, clock)), clock=clock)
    config = load_agent_config(write_agent_config(tmp_path, pki, "https://127.0.0.1:1"))
    with pytest.raises(AgentError, match=r"\[calibration\] file is needed"):
        Agent(config, hardware=Hardware(SimulatedMca(source, clock)), clock=clock)


def test_the_delivered_bytes_decrypt_to_a_valid_phd(tmp_path, pki, source, intake_factory, notify):
    from shared.crypto import cms, files

    intake = intake_factory()
    _agent, _mca, stop, thread, _ = start_agent(tmp_path, pki, intake.url, source, notify)
    try:
        assert wait_for(lambda: len(intake.received) >= 1)
    finally:
        stop.set()
        thread.join(10)
    central = files.load_certificate(pki.server_cert)
    signed = cms.decrypt(intake.received[0][1], central, files.load_private_key(pki.server_key))
    verified = cms.verify_signed(
        signed, [files.load_certificate(pki.ca)], [files.load_crl(pki.network.crl_path)]
    )
    assert read_message(verified.content).phd.header.srid == "SM02202311200015"


def test_an_accelerated_clock_goes_on_where_the_station_stopped():
    from edge_agent.config import ClockConfig

    later = datetime(2030, 1, 1, tzinfo=UTC)
    clock = station_clock(ClockConfig(speed=60, start="2023-11-20T00:00:00Z"), later)
    # about two real seconds before: time to start, then the next interval at once
    assert 115 <= (later - clock.now()).total_seconds() <= 120
    clock = station_clock(ClockConfig(speed=3600, start="2023-11-20T00:00:00Z"), later)
    assert 890 <= (later - clock.now()).total_seconds() <= 895
    clock = station_clock(ClockConfig(speed=60, start="2023-11-20T00:00:00Z"), None)
    assert abs((clock.now() - T0).total_seconds()) < 5
