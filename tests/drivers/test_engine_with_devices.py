"""The existing Engine on real drivers talking to emulators over loopback sockets: each
device fault during acquisition gives one alert and a gap for the interval, never a
made-up spectrum, and acquisition carries on when the device comes back."""

from __future__ import annotations

import threading
from datetime import timedelta

import numpy as np
import pytest

from edge_agent.clock import CYCLE, SteppingClock
from edge_agent.drivers.amptek import AmptekDp5
from edge_agent.drivers.base import open_transport
from edge_agent.drivers.emulators import EmulatorServer
from edge_agent.drivers.emulators._mca import RebinnedSource
from edge_agent.drivers.emulators.amptek import AmptekEmulator
from edge_agent.drivers.emulators.ortec import OrtecEmulator
from edge_agent.drivers.ortec import OrtecMcb
from edge_agent.drivers.simulated import SimulatedMca
from edge_agent.engine import Engine
from edge_agent.outbox import Outbox
from shared.formats import read_message
from tests.agent.conftest import T0

DRIVERS = {
    "ortec-mcb": (OrtecEmulator, OrtecMcb, 1),
    "amptek-dp5": (AmptekEmulator, AmptekDp5, 4),  # 1024 channels summed to 256
}


class EmulatedStation:
    def __init__(self, tmp_path, source, station, driver):
        emulator, driver_cls, factor = DRIVERS[driver]
        self.clock = SteppingClock(T0 - timedelta(minutes=7))
        src = RebinnedSource(source, factor) if factor > 1 else source
        # the device keeps its own time from the same (stepping) clock as the station
        self.device = SimulatedMca(src, self.clock, seed=7)
        self.server = EmulatorServer(emulator(self.device)).start()
        self.mca = driver_cls(open_transport(self.server.url, timeout=0.3))
        self.outbox = Outbox(tmp_path / "outbox.sqlite")
        self.alerts = []
        self.engine = Engine(
            station=station,
            mca=self.mca,
            clock=self.clock,
            outbox=self.outbox,
            calibration=source.calibration(),
            seal=lambda content: content,
            alert=lambda kind, text: self.alerts.append((kind, text)),
            health_seconds=1000,
        )

    def boundaries(self, n: int) -> None:
        stop = threading.Event()
        for _ in range(n):
            now = self.clock.now()
            self.clock.wait_until(now - (now - T0) % CYCLE + CYCLE, stop)
            self.engine.at_boundary()

    def files(self):
        return sorted(self.outbox.list(), key=lambda f: f.id)

    def close(self):
        self.mca.close()
        self.server.stop()
        self.outbox.close()


@pytest.fixture
def emulated(tmp_path, source, station):
    made = []

    def make(driver):
        made.append(EmulatedStation(tmp_path, source, station, driver))
        return made[-1]

    yield make
    for s in made:
        s.close()


@pytest.mark.parametrize("driver", list(DRIVERS))
def test_spectra_through_the_real_protocol_are_the_devices(emulated, driver):
    s = emulated(driver)
    s.boundaries(3)  # armed at 00:00; files for 00:00 and 00:15
    files = s.files()
    assert [f.interval_start for f in files] == [T0, T0 + CYCLE]
    phd = read_message(s.outbox.get(files[-1].id).content, source="x").phd
    assert phd.acquisition.real_time == 900.0
    assert phd.g_spectrum.channels == s.mca.channels
    assert phd.g_spectrum.counts.sum() > 0
    assert s.alerts == []


@pytest.mark.parametrize("fault", ["garbage", "bad_checksum", "silence", "error", "disconnect"])
@pytest.mark.parametrize("driver", list(DRIVERS))
def test_a_device_fault_is_a_gap_and_acquisition_carries_on(emulated, driver, fault):
    s = emulated(driver)
    s.boundaries(2)  # 00:00 armed, 00:15 file of 00:00
    s.server.fault = fault
    s.boundaries(2)  # 00:30 and 00:45: the device fails
    assert [f.interval_start for f in s.files()] == [T0]  # nothing made up
    kinds = [k for k, _ in s.alerts]
    assert kinds == ["ALERT_SYSTEM", "ALERT_SYSTEM"]
    assert "MCA not answering" in s.alerts[0][1]
    assert "Spectra input data missing" in s.alerts[1][1]
    s.server.fault = None
    s.boundaries(3)  # 01:00 re-armed; 01:15 and 01:30 files
    assert [f.interval_start for f in s.files()] == [T0, T0 + 4 * CYCLE, T0 + 5 * CYCLE]
    (gap,) = s.outbox.gaps("AUS02")
    assert (gap.start, gap.end) == (T0 + CYCLE, T0 + 4 * CYCLE)
    assert gap.reason.startswith("MCA fault")
    assert len(s.alerts) == 2  # one episode, one alert each
    assert s.engine.fault is None
    counts = read_message(s.outbox.get(s.files()[-1].id).content, source="x").phd.g_spectrum.counts
    assert np.asarray(counts).sum() > 0
