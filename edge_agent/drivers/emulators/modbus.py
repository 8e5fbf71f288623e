"""A Modbus device (a stack flow transmitter, a UPS, an I/O module) serving holding and
input registers over Modbus TCP (MBAP header) or RTU frames on TCP (CRC16)."""

from __future__ import annotations

import struct

from ..modbus import ModbusRegister, encode

__all__ = ["DEFAULT_REGISTERS", "DEFAULT_VALUES", "ModbusEmulator", "crc16", "emulated"]

# the signals of the example configuration (config/agent.example.toml)
DEFAULT_REGISTERS = (
    ModbusRegister("stack_flow_m3_s", 0, "float32", "holding", "big"),
    ModbusRegister("ups_on_battery", 10, "uint16", "input"),
    ModbusRegister("shield_temperature_c", 11, "int16", "input", scale=0.1),
    ModbusRegister("ups_battery_charge_percent", 12, "uint32", "holding", "little", scale=0.01),
)
DEFAULT_VALUES = {
    "stack_flow_m3_s": 50.0,
    "ups_on_battery": 0,
    "shield_temperature_c": 21.5,
    "ups_battery_charge_percent": 100.0,
}


def crc16(data: bytes) -> bytes:
    """Modbus RTU CRC: polynomial 0xA001 (reflected 0x8005), start 0xFFFF, LSB first."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return struct.pack("<H", crc)


class ModbusEmulator:
    transport = "tcp"
    scheme = "tcp"  # the modbus driver's URL: tcp://host:port

    def __init__(
        self, registers=DEFAULT_REGISTERS, values=None, framing: str = "tcp", unit: int = 1
    ):
        if framing not in ("tcp", "rtu"):
            raise ValueError(f'framing must be "tcp" or "rtu", got {framing!r}')
        self.framing = framing
        self.unit = unit
        self.name = f"Modbus {framing.upper()} emulator"
        self.faults = ("garbage", "silence", "error", "disconnect") + (
            ("bad_checksum",) if framing == "rtu" else ()
        )
        self.tables: dict[str, dict[int, int]] = {"holding": {}, "input": {}}
        self.set_values({**DEFAULT_VALUES, **(values or {})}, registers)

    def set_values(self, values: dict[str, float], registers=DEFAULT_REGISTERS) -> None:
        for r in registers:
            if r.name in values:
                for i, word in enumerate(encode(r, values[r.name])):
                    self.tables[r.table][r.address + i] = word

    # ------------------------------------------------------------ framing
    def split(self, buffer: bytes) -> tuple[bytes | None, bytes]:
        if self.framing == "tcp":
            if len(buffer) < 6:
                return None, buffer
            end = 6 + struct.unpack(">H", buffer[4:6])[0]
        else:
            end = 8  # address, function, start (2), count (2), CRC (2)
        return (buffer[:end], buffer[end:]) if len(buffer) >= end else (None, buffer)

    def _frame(self, request: bytes, pdu: bytes) -> bytes:
        if self.framing == "tcp":
            return request[:4] + struct.pack(">HB", len(pdu) + 1, self.unit) + pdu
        body = bytes((self.unit,)) + pdu
        return body + crc16(body)

    def _pdu(self, request: bytes) -> tuple[int, bytes] | None:
        if self.framing == "tcp":
            return request[6], request[7:]
        if crc16(request[:-2]) != request[-2:]:
            return None  # a bad frame is ignored, as the standard says
        return request[0], request[1:-2]

    def corrupt(self, reply: bytes) -> bytes:
        return reply[:-1] + bytes(((reply[-1] ^ 0xFF),))

    def error_reply(self, request: bytes) -> bytes:
        parsed = self._pdu(request)
        function = parsed[1][0] if parsed else 3
        return self._frame(request, bytes((function | 0x80, 4)))  # server device failure

    def answer(self, request: bytes) -> bytes:
        parsed = self._pdu(request)
        if parsed is None:
            return b""
        unit, pdu = parsed
        if unit != self.unit:
            return b""
        function = pdu[0]
        if function not in (3, 4) or len(pdu) != 5:
            return self._frame(request, bytes((function | 0x80, 1)))
        start, count = struct.unpack(">HH", pdu[1:5])
        table = self.tables["holding" if function == 3 else "input"]
        addresses = range(start, start + count)
        if not 1 <= count <= 125 or any(a not in table for a in addresses):
            return self._frame(request, bytes((function | 0x80, 2)))
        data = b"".join(struct.pack(">H", table[a]) for a in addresses)
        return self._frame(request, bytes((function, len(data))) + data)


def emulated(framing: str = "tcp", unit: int = 1, **_) -> ModbusEmulator:
    return ModbusEmulator(framing=framing, unit=unit)
