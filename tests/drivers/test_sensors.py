"""Alicat and CryoTel: byte-exact command/response pairs and each fault; Modbus: exact
frames against the emulator (TCP and RTU, CRC included) and each fault."""

from __future__ import annotations

import socket

import pytest

from edge_agent.drivers.alicat import AlicatFlowMeter
from edge_agent.drivers.base import DeviceError, DeviceProtocolError, DeviceTimeout
from edge_agent.drivers.cryotel import CryoTelGt
from edge_agent.drivers.emulators import EmulatorServer, make_device
from edge_agent.drivers.emulators.modbus import DEFAULT_REGISTERS, crc16
from edge_agent.drivers.modbus import ModbusRegister, ModbusSensor, decode, encode

from .replay import SILENCE, UNPLUGGED, ReplayTransport

FRAME = b"A +014.70 +025.00 +02.004 +02.004 2.000 Air\r"  # hardware.md's example


# ------------------------------------------------------------------ Alicat
def test_alicat_data_frame():
    port = ReplayTransport([(b"A\r", FRAME)])
    assert AlicatFlowMeter(port).read() == {
        "sample_pressure_kpa": 101.353,  # 14.70 psia
        "sample_temperature_c": 25.0,
        "sample_volumetric_flow_lpm": 2.004,
        "sample_flow_slpm": 2.004,
        "sample_flow_setpoint_slpm": 2.0,
    }
    port.done()


def test_alicat_status_codes_lock_is_harmless():
    port = ReplayTransport([(b"B\r", FRAME.replace(b"A ", b"B ", 1)[:-1] + b" LCK\r")])
    assert AlicatFlowMeter(port, "B").read()["sample_flow_slpm"] == 2.004


@pytest.mark.parametrize(
    ("reply", "error", "message"),
    [
        (b"\x8f\xff\x00?#\x13garbage\r", DeviceProtocolError, "unreadable data frame"),
        (SILENCE, DeviceTimeout, "no reply"),
        (FRAME[:-1] + b" MOV\r", DeviceError, r"MOV \(mass flow over range\); readings not used"),
        (UNPLUGGED, DeviceError, "unplugged"),
        (b"A +014.70 +0x5.00 +02.004 +02.004 2.000 Air\r", DeviceProtocolError, "numbers"),
    ],
    ids=["garbage", "silence", "error", "disconnect", "bad_number"],
)
def test_alicat_faults(reply, error, message):
    with pytest.raises(error, match=message):
        AlicatFlowMeter(ReplayTransport([(b"A\r", reply)])).read()


# ------------------------------------------------------------------ CryoTel
CRYOTEL = [
    (b"TC\r", b"TC\r\n77.00\r\n"),
    (b"P\r", b"P\r\n103.53\r\n"),
    (b"E\r", b"E\r\n240.00\r\n70.00\r\n103.53\r\n"),
    (b"ERROR\r", b"ERROR\r\n000000\r\n"),
]


def test_cryotel_readings():
    port = ReplayTransport(CRYOTEL)
    assert CryoTelGt(port).read() == {
        "cold_tip_temperature_k": 77.0,
        "cooler_power_w": 103.53,
        "cooler_max_power_w": 240.0,
        "cooler_min_power_w": 70.0,
        "cooler_error_code": 0.0,
    }
    port.done()


def test_cryotel_error_bits_are_reported_as_a_reading():
    pairs = [*CRYOTEL[:3], (b"ERROR\r", b"ERROR\r\n000101\r\n")]
    assert CryoTelGt(ReplayTransport(pairs)).read()["cooler_error_code"] == 5.0


@pytest.mark.parametrize(
    ("reply", "error", "message"),
    [
        (b"\x8f\xff\x00?#\x13garbage\r\n", DeviceProtocolError, "expected the echo 'TC'"),
        (SILENCE, DeviceTimeout, "no reply"),
        (b"TC\r\nInvalid Command\r\n", DeviceProtocolError, "not a number"),
        (UNPLUGGED, DeviceError, "unplugged"),
    ],
    ids=["garbage", "silence", "error", "disconnect"],
)
def test_cryotel_faults(reply, error, message):
    with pytest.raises(error, match=message):
        CryoTelGt(ReplayTransport([(b"TC\r", reply)])).read()


# ------------------------------------------------------------------ Modbus
def test_crc16_of_a_known_frame():
    # read holding registers 0..1 of unit 1: the CRC every Modbus reference shows (C4 0B)
    assert crc16(bytes.fromhex("01 03 00 00 00 02")) == bytes.fromhex("c4 0b")


@pytest.mark.parametrize(
    ("register", "words", "value"),
    [
        (ModbusRegister("f", 0, "float32", word_order="big"), [0x4248, 0x0000], 50.0),
        (ModbusRegister("f", 0, "float32", word_order="little"), [0x0000, 0x4248], 50.0),
        (ModbusRegister("t", 0, "int16", scale=0.1), [0xFF38], -20.0),
        (
            ModbusRegister("u", 0, "uint32", word_order="little", scale=0.01),
            [0x2710, 0x0000],
            100.0,
        ),
    ],
)
def test_word_order_and_scaling(register, words, value):
    assert decode(register, words) == pytest.approx(value)
    assert encode(register, value) == words


def _exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(request)
        return s.recv(256)


def test_emulator_frames_byte_exact_tcp_and_rtu():
    with EmulatorServer(make_device("modbus")) as srv:
        reply = _exchange(srv.port, bytes.fromhex("00 07 00 00 00 06 01 03 00 00 00 02"))
        assert reply == bytes.fromhex("00 07 00 00 00 07 01 03 04 42 48 00 00")
        srv.fault = "error"
        reply = _exchange(srv.port, bytes.fromhex("00 08 00 00 00 06 01 04 00 0a 00 01"))
        assert reply == bytes.fromhex("00 08 00 00 00 03 01 84 04")
    with EmulatorServer(make_device("modbus", framing="rtu")) as srv:
        reply = _exchange(srv.port, bytes.fromhex("01 03 00 00 00 02 c4 0b"))
        assert reply[:7] == bytes.fromhex("01 03 04 42 48 00 00")
        assert reply[7:] == crc16(reply[:7])


@pytest.mark.parametrize("framing", ["tcp", "rtu"])
def test_modbus_sensor_reads_the_configured_registers_and_each_fault(framing):
    with EmulatorServer(make_device("modbus", framing=framing)) as srv:
        url = f"tcp://127.0.0.1:{srv.port}"
        sensor = ModbusSensor(url, list(DEFAULT_REGISTERS), framing=framing, timeout=0.3)
        try:
            expected = {
                "stack_flow_m3_s": 50.0,
                "ups_on_battery": 0.0,
                "shield_temperature_c": 21.5,
                "ups_battery_charge_percent": 100.0,
            }
            assert sensor.read() == pytest.approx(expected)
            for fault in srv.device.faults:
                srv.fault = fault
                kind = DeviceError if fault == "error" else DeviceTimeout
                message = (
                    "exception 4 (server device failure)"
                    if fault == "error"
                    else "no valid reply|cannot connect"
                )
                with pytest.raises(kind, match=message.replace("(", r"\(").replace(")", r"\)")):
                    sensor.read()
                srv.fault = None
                assert sensor.read() == pytest.approx(expected)  # and it comes back
        finally:
            sensor.close()


def test_a_missing_register_is_the_devices_exception():
    with EmulatorServer(make_device("modbus")) as srv:
        sensor = ModbusSensor(
            f"tcp://127.0.0.1:{srv.port}", [ModbusRegister("x", 500)], timeout=0.5
        )
        with pytest.raises(DeviceError, match=r"exception 2 \(illegal data address\)"):
            sensor.read()
        sensor.close()
