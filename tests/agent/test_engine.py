"""The engine with the simulated MCA: a file per interval, well-formed and named right;
gaps instead of invented spectra when the MCA fails or the agent was stopped."""

import threading
from datetime import timedelta

import numpy as np
import pytest

from edge_agent.clock import CYCLE, SteppingClock
from edge_agent.drivers.simulated import SimulatedMca
from edge_agent.engine import Engine
from edge_agent.outbox import Outbox, ReleasePolicy
from shared.formats import read_message

from .conftest import T0


def seal(content: bytes) -> bytes:
    return b"SEALED:" + content


class Station:
    """An engine over a stepping clock, driven boundary by boundary."""

    def __init__(self, tmp_path, source, station, start=T0 - timedelta(minutes=7), **kw):
        self.clock = SteppingClock(start)
        self.mca = SimulatedMca(source, self.clock, seed=7)
        self.outbox = Outbox(tmp_path / "outbox.sqlite")
        self.alerts = []
        self.engine = Engine(
            station=station,
            mca=self.mca,
            clock=self.clock,
            outbox=self.outbox,
            calibration=source.calibration(),
            seal=seal,
            conditions=self.mca.stack_conditions,
            alert=lambda kind, text: self.alerts.append((kind, text)),
            **kw,
        )

    def boundaries(self, n: int) -> None:
        stop = threading.Event()
        for _ in range(n):
            now = self.clock.now()
            self.clock.wait_until(now - (now - T0) % CYCLE + CYCLE, stop)
            self.engine.at_boundary()

    def files(self):
        return sorted(self.outbox.list(), key=lambda f: f.id)


def test_each_interval_gives_one_well_formed_file(tmp_path, source, station):
    s = Station(tmp_path, source, station)
    s.boundaries(5)  # arm at 00:00, then four spectra
    files = s.files()
    assert [f.file_name for f in files] == [
        f"AUS02_{i + 1}_PHD_2023_11_20T00_{15 * i:02d}_00.TXT" for i in range(4)
    ]
    assert [f.state for f in files] == ["ready"] * 4
    for i, item in enumerate(files):
        full = s.outbox.get(item.id)
        assert full.payload == seal(full.content)
        message = read_message(full.content, source=item.file_name)  # strict
        assert message.format == "STX1.0" and message.msg_id == str(i + 1)
        assert message.msg_source == "AUS02"
        phd = message.phd
        h = phd.header
        start = T0 + i * CYCLE
        assert (h.station, h.detector, h.system_type, h.geometry, h.qualifier) == (
            "AUS02", "AUS02_001", "P", "Marinelli", "FULL",
        )  # fmt: skip
        assert h.srid == f"SM02{start:%Y%m%d%H%M}"
        assert phd.acquisition.start == start
        assert phd.acquisition.real_time == 900.0
        assert phd.acquisition.live_time == pytest.approx(891.0, abs=0.02)
        assert phd.g_spectrum.channels == 1024
        assert phd.g_spectrum.counts.sum() > 0
        assert len(phd.g_energy) == 2 and len(phd.g_efficiency) == 2
        assert phd.stack.stack_flow_m3_s == 50.0
        assert phd.stack.reference_temperature_k == 273.15  # from the defaults
        assert phd.collection.air_volume == pytest.approx(0.09)
    assert s.outbox.gaps("AUS02") == []
    assert s.outbox.acquired_until("AUS02") == T0 + 4 * CYCLE


def test_the_same_seed_and_interval_give_the_same_spectrum(tmp_path, source, station):
    a = Station(tmp_path / "a", source, station)
    b = Station(tmp_path / "b", source, station)
    a.boundaries(3)
    b.boundaries(3)
    ca = [read_message(a.outbox.get(f.id).content).phd.g_spectrum.counts for f in a.files()]
    cb = [read_message(b.outbox.get(f.id).content).phd.g_spectrum.counts for f in b.files()]
    assert all(np.array_equal(x, y) for x, y in zip(ca, cb))
    assert not np.array_equal(ca[0], ca[1])


def test_release_policy_is_applied_to_new_files(tmp_path, source, station):
    s = Station(tmp_path, source, station, release=ReleasePolicy("manual"))
    s.boundaries(3)
    assert [f.state for f in s.files()] == ["held", "held"]


@pytest.mark.parametrize("fault", ["no_answer", "garbage"])
def test_a_device_fault_gives_a_clear_alert_a_gap_and_no_file(
    tmp_path, source, station, fault, caplog
):
    s = Station(tmp_path, source, station, health_seconds=1000)
    s.boundaries(3)  # two files: 00:00, 00:15
    s.mca.fault = fault
    s.boundaries(3)  # 00:45, 01:00, 01:15: nothing
    assert len(s.files()) == 2
    assert not s.engine.healthy
    assert len(s.alerts) == 2  # once per episode: MCA fault, then the missing spectra
    assert "MCA not answering" in s.alerts[0][1]
    expected = "no answer" if fault == "no_answer" else "unreadable reply"
    assert expected in s.alerts[0][1]
    assert "Spectra input data missing" in s.alerts[1][1]
    s.mca.fault = None
    s.boundaries(3)  # 01:30 re-armed; 01:45 and 02:00 give files
    assert s.engine.healthy
    files = s.files()
    assert [f.interval_start for f in files] == [
        T0, T0 + CYCLE, T0 + 6 * CYCLE, T0 + 7 * CYCLE,
    ]  # fmt: skip
    gaps = s.outbox.gaps("AUS02")
    assert [(g.start, g.end) for g in gaps] == [(T0 + 2 * CYCLE, T0 + 6 * CYCLE)]
    assert gaps[0].reason.startswith("MCA fault")
    assert "answers again" in caplog.text


def test_a_short_glitch_costs_one_interval(tmp_path, source, station):
    s = Station(tmp_path, source, station)
    s.boundaries(2)  # armed at 00:00, file for 00:00 at 00:15

    class Once:
        fired = False

    original = s.mca.read_spectrum

    def flaky():
        if not Once.fired:
            Once.fired = True
            s.mca.fault = "garbage"
            try:
                return original()
            finally:
                s.mca.fault = None
        return original()

    s.mca.read_spectrum = flaky
    s.boundaries(2)  # 00:30: read fails, re-armed at once; 00:45: file for 00:30
    assert [f.interval_start for f in s.files()] == [T0, T0 + 2 * CYCLE]
    assert [(g.start, g.end) for g in s.outbox.gaps("AUS02")] == [(T0 + CYCLE, T0 + 2 * CYCLE)]


def test_an_mca_that_restarted_mid_interval_gives_no_file(tmp_path, source, station):
    s = Station(tmp_path, source, station)
    s.boundaries(2)
    s.clock.advance(timedelta(minutes=5))
    s.mca.clear()  # as after a power glitch: counts and times start again
    s.boundaries(2)
    assert [f.interval_start for f in s.files()] == [T0, T0 + 2 * CYCLE]
    (gap,) = s.outbox.gaps("AUS02")
    assert "real time 600.0 s does not match the interval (900.0 s)" in gap.reason


def test_a_late_boundary_is_a_gap_and_acquisition_restarts_at_the_next(tmp_path, source, station):
    s = Station(tmp_path, source, station)
    s.boundaries(2)
    s.clock.advance(CYCLE + timedelta(minutes=3))  # the computer slept through 00:30
    s.engine.at_boundary()  # at 00:33: too late to start the 00:30 interval
    s.boundaries(2)  # 00:45 armed, 01:00 file
    assert [f.interval_start for f in s.files()] == [T0, T0 + 3 * CYCLE]
    (gap,) = s.outbox.gaps("AUS02")
    assert (gap.start, gap.end) == (T0 + CYCLE, T0 + 3 * CYCLE)
    assert "late" in gap.reason


def test_after_a_restart_it_continues_at_the_next_boundary(tmp_path, source, station, caplog):
    s = Station(tmp_path, source, station)
    s.boundaries(3)
    s.outbox.close()
    later = T0 + timedelta(hours=2, minutes=3)
    again = Station(tmp_path, source, station, start=later)
    stop = threading.Event()
    queued = []

    def count(item):
        queued.append(item)
        if len(queued) == 2:
            stop.set()

    again.engine.on_queued = count
    again.engine.run(stop)  # arms at 02:15, files for 02:15 and 02:30
    files = again.files()
    assert [f.msg_id for f in files] == [1, 2, 3, 4]  # the MSG_ID counter went on
    assert [f.interval_start for f in files][2:] == [T0 + 9 * CYCLE, T0 + 10 * CYCLE]
    (gap,) = again.outbox.gaps("AUS02")
    assert (gap.start, gap.end, gap.reason) == (T0 + 2 * CYCLE, T0 + 9 * CYCLE, "agent not running")
    assert again.alerts == []  # a planned stop is not an alarm
    assert "resuming" in caplog.text


def test_analysis_hook_sees_each_spectrum_and_its_failure_does_not_lose_it(
    tmp_path, source, station
):
    seen = []

    def analysis(phd, source):
        seen.append((phd.header.srid, source))
        raise RuntimeError("analysis bug")

    s = Station(tmp_path, source, station, analysis=analysis)
    s.boundaries(3)
    assert seen == [
        ("SM02202311200000", "AUS02_1_PHD_2023_11_20T00_00_00.TXT"),
        ("SM02202311200015", "AUS02_2_PHD_2023_11_20T00_15_00.TXT"),
    ]
    assert len(s.files()) == 2
    kept = s.outbox.analysis("AUS02_1_PHD_2023_11_20T00_00_00.TXT")
    assert kept["result"] is None and "analysis bug" in kept["error"]


def test_the_station_method_result_is_kept_beside_each_file(tmp_path, station):
    from edge_agent.analysis import analyze

    s = simulator_station(tmp_path, station, analysis=analyze)
    s.boundaries(2)
    (item,) = s.files()
    kept = s.outbox.analysis(item.file_name)
    assert kept["error"] is None
    result = kept["result"]
    assert result["method"] == "station" and result["source"] == item.file_name
    assert result["srid"] == read_message(s.outbox.get(item.id).content).phd.header.srid
    xe133 = result["nuclides"]["Xe-133"]
    assert xe133["mdr_bq"] > 0 and xe133["decision_threshold_bq"] > 0


def simulator_station(tmp_path, station, **kw) -> Station:
    """A station whose MCA plays the spectrum simulator, with a dated calibration."""
    from edge_agent.drivers.simulated import SimulatorSource

    source = SimulatorSource("AUS02", "AUS02_001", seed=11)
    s = Station(tmp_path, source, station, **kw)
    calibration = source.calibration()
    s.engine.calibration = type(calibration)(
        calibration.energy, calibration.resolution, calibration.efficiency, T0.replace(month=1)
    )
    return s


def test_the_simulated_mca_plays_the_spectrum_simulator(tmp_path, station):
    from edge_agent.drivers.simulated import SimulatorSource
    from shared.simulation.series import interval_spec

    s = simulator_station(tmp_path, station)
    s.boundaries(3)
    files = s.files()
    assert len(files) == 2
    phd = read_message(s.outbox.get(files[1].id).content).phd
    assert phd.g_spectrum.channels == 16384
    assert phd.g_spectrum.energy_span == pytest.approx(3000, abs=5)
    assert phd.stack == interval_spec("AUS02", T0 + CYCLE, 11).stack
    assert phd.collection.air_volume == pytest.approx(phd.stack.sample_flow_m3_s * 900, rel=1e-5)
    assert phd.acquisition.live_time < phd.acquisition.real_time == 900.0
    # the same seed and interval again: the same counts
    again = Station(tmp_path / "again", SimulatorSource("AUS02", "AUS02_001", seed=11), station)
    again.engine.calibration = s.engine.calibration
    again.boundaries(3)
    phd2 = read_message(again.outbox.get(again.files()[1].id).content).phd
    assert phd2.g_spectrum == phd.g_spectrum
