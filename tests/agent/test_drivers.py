"""The driver layer: the serial transport (on pyserial's loopback) and the simulated MCA
behaving as the vendor-neutral interface says."""

from datetime import timedelta

import pytest

from edge_agent.clock import SteppingClock
from edge_agent.drivers.base import DeviceError, DeviceTimeout, Presets, SerialTransport
from edge_agent.drivers.simulated import SimulatedMca

from .conftest import T0


def test_serial_transport_moves_bytes_and_times_out_clearly():
    port = SerialTransport("loop://", timeout=0.05)
    try:
        assert port.query(b"SHOW_LIVE\r", b"\r") == b"SHOW_LIVE\r"  # the loop echoes
        port.write(b"$G0007892556117")
        assert port.read(2) == b"$G"
        with pytest.raises(DeviceTimeout, match=r"loop://: no reply ending in b'\\r'"):
            port.read_until(b"\r")
        with pytest.raises(DeviceTimeout, match="expected 4 bytes, got 0"):
            port.read(4)
    finally:
        port.close()


def test_a_port_that_cannot_be_opened_says_what_to_check():
    with pytest.raises(DeviceError, match=r"cannot open /dev/nonexistent-mca: .*check the port"):
        SerialTransport("/dev/nonexistent-mca")


def test_simulated_mca_counts_time_only_while_started(source):
    clock = SteppingClock(T0)
    mca = SimulatedMca(source, clock)
    mca.start()
    clock.advance(timedelta(seconds=100))
    mca.stop()
    clock.advance(timedelta(seconds=50))
    assert mca.elapsed().real_time == 100.0
    assert mca.elapsed().live_time == pytest.approx(99.0, abs=0.02)
    assert not mca.status().acquiring
    mca.start()
    clock.advance(timedelta(seconds=20))
    assert mca.elapsed().real_time == 120.0
    counts = mca.read_spectrum()
    assert counts.shape == (1024,) and counts.sum() > 0
    mca.clear()
    assert mca.elapsed().real_time == 0.0
    assert mca.status().acquiring  # clearing a running MCA does not stop it


def test_a_reached_preset_stops_the_acquisition(source):
    clock = SteppingClock(T0)
    mca = SimulatedMca(source, clock)
    mca.set_presets(Presets(real_time=60.0))
    assert mca.presets() == Presets(real_time=60.0)
    mca.start()
    clock.advance(timedelta(seconds=90))
    status = mca.status()
    assert status.preset_reached and not status.acquiring
    assert mca.elapsed().real_time == 60.0
