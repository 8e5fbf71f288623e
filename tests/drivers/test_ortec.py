"""ORTEC MCB: byte-exact command/response pairs, each fault, and the emulator end to end."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.drivers.base import DeviceError, DeviceProtocolError, DeviceTimeout, Presets
from edge_agent.drivers.ortec import OrtecMcb, checksum

from .replay import SILENCE, UNPLUGGED, ReplayTransport

OK = b"%000000069\r"
CHANNELS = (b"SHOW_GAIN_CONVERSION\r", b"$C00006093\r" + OK)  # 6 channels, then the handshake


def mcb(*pairs):
    port = ReplayTransport([CHANNELS, *pairs])
    return OrtecMcb(port), port


def test_checksum_of_the_documented_record():
    # hardware.md: $G0007892556117 = 7,892,556 ticks, checksum 117
    assert checksum(b"$G0007892556") == b"117"


def test_live_and_real_time_in_20_ms_ticks():
    mca, port = mcb(
        (b"SHOW_LIVE\r", b"$G0007892556117\r" + OK),
        (b"SHOW_TRUE\r", b"$G0000045000084\r" + OK),
    )
    e = mca.elapsed()
    assert e.live_time == pytest.approx(157851.12) and e.real_time == 900.0
    port.done()


def test_presets_are_cleared_set_and_read_back():
    mca, port = mcb(
        (b"CLEAR_PRESET\r", OK),
        (b"SET_TRUE_PRESET 45000\r", OK),
        (b"SHOW_LIVE_PRESET\r", b"$G0000000000075\r" + OK),
        (b"SHOW_TRUE_PRESET\r", b"$G0000045000084\r" + OK),
    )
    mca.set_presets(Presets(real_time=900.0))
    assert mca.presets() == Presets(real_time=900.0)
    port.done()


def test_start_stop_clear_and_status():
    mca, port = mcb(
        (b"STOP\r", OK),
        (b"CLEAR\r", OK),
        (b"START\r", OK),
        (b"SHOW_ACTIVE\r", b"$C00001088\r" + OK),
        (b"SHOW_HV_ACTUAL\r", b"$C04187107\r" + OK),
        (b"SHOW_LIVE_PRESET\r", b"$G0000000000075\r" + OK),
        (b"SHOW_TRUE_PRESET\r", b"$G0000000000075\r" + OK),
    )
    mca.stop()
    mca.clear()
    mca.start()
    status = mca.status()
    assert status.acquiring and status.readings == {"hv_volts": 4187}
    port.done()


def test_spectrum_in_m_records_of_three_channels():
    body1, body2 = b"$M000000000100000000020000000003", b"$M000000000400000000050000000006"
    reply = body1 + checksum(body1) + b"\r" + body2 + checksum(body2) + b"\r"
    mca, port = mcb((b"SHOW_DATA 0,6\r", reply + OK))
    counts = mca.read_spectrum()
    assert counts.dtype == np.int64 and counts.tolist() == [1, 2, 3, 4, 5, 6]
    port.done()


@pytest.mark.parametrize(
    ("reply", "error", "message"),
    [
        (b"\x8f\xff\x00?#\x13garbage\r", DeviceProtocolError, "unreadable reply to SHOW_LIVE"),
        (b"$G0007892556118\r", DeviceProtocolError, r"checksum error .*\(expected 117"),
        (SILENCE, DeviceTimeout, "no reply"),
        (b"%131000074\r", DeviceError, r"command execution error \(error %131000\)"),
        (UNPLUGGED, DeviceError, "unplugged"),
    ],
    ids=["garbage", "bad_checksum", "silence", "error", "disconnect"],
)
def test_each_fault_is_a_clear_device_error(reply, error, message):
    mca, _ = mcb((b"SHOW_LIVE\r", reply))
    with pytest.raises(error, match=message):
        mca.elapsed()


def test_error_record_checksum_is_right():
    assert checksum(b"%131000") == b"074"
    assert checksum(b"%001000") == b"070"  # the power-up reply %001000070


def test_a_data_record_without_its_handshake_is_an_error():
    """Data, then the % handshake: a reply that is not followed by one is out of step."""
    mca, _ = mcb((b"SHOW_LIVE\r", b"$G0007892556117\r$G0007892556117\r"))
    with pytest.raises(DeviceProtocolError, match="expected the % handshake"):
        mca.elapsed()
    mca, _ = mcb((b"SHOW_LIVE\r", b"$G0007892556117\r%131000074\r"))
    with pytest.raises(DeviceError, match="command execution error"):
        mca.elapsed()


def test_power_up_is_reported():
    mca, _ = mcb((b"STOP\r", b"%001000070\r"))
    with pytest.raises(DeviceError, match="just powered up"):
        mca.stop()


def test_an_mcb_without_the_bridge_transfer_says_so():
    mca, _ = mcb((b"SHOW_DATA 0,6\r", b"%132000075\r"))
    with pytest.raises(
        DeviceError, match="not an ORTEC command; a real MCB needs the UMCBI bridge"
    ):
        mca.read_spectrum()


def test_a_spectrum_cut_short_is_an_error_not_a_spectrum():
    body = b"$M000000000100000000020000000003"
    mca, _ = mcb((b"SHOW_DATA 0,6\r", body + checksum(body) + b"\r"))
    with pytest.raises(DeviceTimeout):
        mca.read_spectrum()


def test_a_disconnected_device_server_is_reconnected_when_it_answers_again():
    from edge_agent.clock import SystemClock
    from edge_agent.drivers.base import open_transport
    from edge_agent.drivers.emulators import EmulatorServer
    from edge_agent.drivers.emulators.ortec import OrtecEmulator
    from edge_agent.drivers.simulated import SimulatedMca
    from tests.agent.conftest import FlatSource

    with EmulatorServer(OrtecEmulator(SimulatedMca(FlatSource(), SystemClock()))) as server:
        mca = OrtecMcb(open_transport(server.url, timeout=0.5))
        assert mca.channels == 1024
        server.fault = "disconnect"
        with pytest.raises(DeviceError, match="connection lost"):
            mca.stop()
        server.fault = None
        mca.stop()  # reopened, no restart of the agent needed
        assert not mca.status().acquiring
        mca.close()
