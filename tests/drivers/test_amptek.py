"""Amptek DP5: byte-exact packets (hex as in the DP5 Programmer's Guide), each fault."""

from __future__ import annotations

import pytest

from edge_agent.drivers.amptek import AmptekDp5
from edge_agent.drivers.base import DeviceError, DeviceProtocolError, DeviceTimeout, Presets

from .replay import SILENCE, UNPLUGGED, ReplayTransport

H = bytes.fromhex
STATUS_REQUEST = H("f5 fa 01 01 00 00 fe 0f")
OK = H("f5 fa ff 00 00 00 fd 12")
CHANNELS = (
    H("f5 fa 20 03 00 07 4d 43 41 43 3d 3f 3b fc 1c"),  # MCAC=?;
    H("f5 fa 82 07 00 09 4d 43 41 43 3d 32 35 36 3b fb 56"),
)  # MCAC=256;


def framed(pid: bytes, data: bytes) -> bytes:
    """A reply packet built here, independently of the driver's own packer."""
    head = b"\xf5\xfa" + pid + len(data).to_bytes(2, "big") + data
    return head + ((-sum(head)) & 0xFFFF).to_bytes(2, "big")


def status_bytes(
    real_ms=900_000, live_ms=891_000, hv_half_volts=-7000, flags=0x20, device=1, firmware=0x68
) -> bytes:
    """A status as Amptek's SDK (DP5Status.cpp) reads it, written byte by byte here."""
    s = bytearray(64)
    fast = 1_000_000
    s[0:4] = fast.to_bytes(4, "little")  # fast count (input)
    s[4:8] = (fast * live_ms // real_ms).to_bytes(4, "little")  # slow count (output)
    s[12] = real_ms % 100  # accumulation time: ms below 100, then 100 ms units
    s[13:16] = (real_ms // 100).to_bytes(3, "little")
    if device == 3:
        s[16:20] = live_ms.to_bytes(4, "little")  # live time: MCA8000D only
    s[20:24] = real_ms.to_bytes(4, "little")
    s[24] = firmware
    s[30], s[31] = (hv_half_volts >> 8) & 0xFF, hv_half_volts & 0xFF  # MSB first, signed
    s[32], s[33] = 901 >> 8, 901 & 0xFF  # 90.1 K, 12 bits MSB first
    s[34] = 36
    s[35] = flags
    s[39] = device
    return bytes(s)


def dp5(*pairs):
    port = ReplayTransport([CHANNELS, *pairs])
    return AmptekDp5(port), port


def test_channels_from_the_configuration():
    mca, port = dp5()
    assert mca.channels == 256
    port.done()


def test_status_gives_times_flags_and_readings():
    mca, port = dp5(
        (STATUS_REQUEST, framed(b"\x80\x01", status_bytes())),
        (STATUS_REQUEST, framed(b"\x80\x01", status_bytes(flags=0x80))),
    )
    s = mca.status()
    assert s.acquiring and not s.preset_reached
    assert s.readings == {
        "hv_volts": -3500.0,
        "detector_temperature_k": 90.1,
        "board_temperature_c": 36,
        "dead_time_percent": 1.0,
    }
    e = mca.elapsed()
    assert (e.live_time, e.real_time) == (891.0, 900.0)  # 900 s x slow / fast
    port.done()


def test_live_time_of_an_mca8000d_and_the_preset_flags():
    """The MCA8000D (firmware >= 6.07) counts live time itself; D6 is its live preset, on a
    PX5 the fast threshold lock (not a preset); D4 preset counts reached."""
    mcad = status_bytes(live_ms=123_456, flags=0x40, device=3, firmware=0x67)
    px5 = status_bytes(flags=0x60)
    counts = status_bytes(flags=0x10)
    mca, port = dp5(
        (STATUS_REQUEST, framed(b"\x80\x01", mcad)),
        (STATUS_REQUEST, framed(b"\x80\x01", mcad)),
        (STATUS_REQUEST, framed(b"\x80\x01", px5)),
        (STATUS_REQUEST, framed(b"\x80\x01", counts)),
    )
    assert mca.elapsed().live_time == 123.456
    assert mca.status().preset_reached
    s = mca.status()
    assert s.acquiring and not s.preset_reached
    assert mca.status().preset_reached
    port.done()


@pytest.mark.parametrize("code", [0x0C, 0x0F])
def test_acknowledgements_that_are_ok(code):
    ack = framed(bytes((0xFF, code)), b"")
    mca, port = dp5((H("f5 fa f0 02 00 00 fd 1f"), ack))
    mca.start()
    port.done()


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (0x08, r"FPGA error \(not initialized\)"),
        (0x09, "CP2201 not found"),
        (0x0A, "scope data not available"),
        (0x0B, "PC5 not present"),
        (0x0E, "I2C error"),
        (0x10, "not supported by this FPGA version"),
        (0x11, "calibration data not present"),
        (0x42, "unknown error"),
    ],
)
def test_ack_error_codes(code, text):
    mca, _ = dp5((H("f5 fa f0 02 00 00 fd 1f"), framed(bytes((0xFF, code)), b"")))
    with pytest.raises(DeviceError, match=rf"{text} \(ACK FF {code:02X}\)"):
        mca.start()


def test_presets_through_the_text_configuration():
    mca, port = dp5(
        (H("f5 fa 20 02 00 1b") + b"PRET=OFF;PRER=900;PREC=OFF;" + H("f6 7f"), OK),
        (
            H("f5 fa 20 03 00 0e") + b"PRET=?;PRER=?;" + H("f9 fe"),
            H("f5 fa 82 07 00 12") + b"PRET=OFF;PRER=900;" + H("f8 9e"),
        ),
    )
    mca.set_presets(Presets(real_time=900))
    assert mca.presets() == Presets(real_time=900.0)
    port.done()


def test_enable_disable_clear():
    mca, port = dp5(
        (H("f5 fa f0 03 00 00 fd 1e"), OK),
        (H("f5 fa f0 01 00 00 fd 20"), OK),
        (H("f5 fa f0 02 00 00 fd 1f"), OK),
    )
    mca.stop()
    mca.clear()
    mca.start()
    port.done()


def test_spectrum_three_bytes_per_channel_lsb_first():
    counts = [i * 65_537 for i in range(256)]  # up to 16.7 million: all three bytes used
    data = b"".join(c.to_bytes(3, "little") for c in counts) + status_bytes()
    mca, port = dp5((H("f5 fa 02 03 00 00 fe 0c"), framed(b"\x81\x02", data)))
    assert mca.read_spectrum().tolist() == counts
    port.done()


def test_a_spectrum_of_the_wrong_size_is_refused():
    data = bytes(3 * 512) + status_bytes()
    mca, _ = dp5((H("f5 fa 02 03 00 00 fe 0c"), framed(b"\x81\x04", data)))
    with pytest.raises(DeviceProtocolError, match="expected a spectrum of 256 channels"):
        mca.read_spectrum()


@pytest.mark.parametrize(
    ("reply", "error", "message"),
    [
        (b"\x8f\xff\x00?#\x13garbage\r\n", DeviceProtocolError, "does not start with F5 FA"),
        (framed(b"\x80\x01", status_bytes())[:-1] + b"\x00", DeviceProtocolError, "checksum error"),
        (SILENCE, DeviceTimeout, "expected 6 bytes"),
        (
            H("f5 fa ff 0d 00 00 fd 05"),
            DeviceError,
            r"busy, another interface in use \(ACK FF 0D\)",
        ),
        (UNPLUGGED, DeviceError, "unplugged"),
    ],
    ids=["garbage", "bad_checksum", "silence", "error", "disconnect"],
)
def test_each_fault_is_a_clear_device_error(reply, error, message):
    mca, _ = dp5((STATUS_REQUEST, reply))
    with pytest.raises(error, match=message):
        mca.status()


def test_ack_error_for_a_bad_parameter():
    mca, _ = dp5((H("f5 fa f0 02 00 00 fd 1f"), H("f5 fa ff 05 00 00 fd 0d")))
    with pytest.raises(DeviceError, match=r"refused: bad parameter \(ACK FF 05\)"):
        mca.start()
