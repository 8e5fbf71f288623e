"""Modbus RTU and Modbus TCP signals (stack flow, UPS, shield, plant), through pymodbus.

Which registers hold what is the site's wiring, so it comes from the configuration: each
`ModbusRegister` names its quantity, address, table (holding or input), type, word order
and scaling (value = raw * scale + offset). Types: uint16, int16, uint32, int32, float32;
32-bit values span two registers, most significant first ("big") or last ("little").
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Literal

from .base import DeviceError, DeviceProtocolError, DeviceTimeout, Sensor

__all__ = ["EXCEPTION_CODES", "ModbusRegister", "ModbusSensor", "decode", "encode"]

_FORMATS = {"uint16": ">H", "int16": ">h", "uint32": ">I", "int32": ">i", "float32": ">f"}
EXCEPTION_CODES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


@dataclass(frozen=True)
class ModbusRegister:
    name: str  # the quantity, e.g. stack_flow_m3_s
    address: int  # 0-based register address
    type: Literal["uint16", "int16", "uint32", "int32", "float32"] = "uint16"
    table: Literal["holding", "input"] = "holding"
    word_order: Literal["big", "little"] = "big"
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        if self.type not in _FORMATS:
            raise ValueError(f"type must be one of {', '.join(_FORMATS)}, got {self.type!r}")
        if self.table not in ("holding", "input"):
            raise ValueError(f'table must be "holding" or "input", got {self.table!r}')
        if self.word_order not in ("big", "little"):
            raise ValueError(f'word_order must be "big" or "little", got {self.word_order!r}')
        if not 0 <= self.address <= 65535 - self.count + 1:
            raise ValueError(f"address must be 0-65535, got {self.address}")
        if not math.isfinite(self.scale) or self.scale == 0:
            raise ValueError("scale must be a non-zero number")

    @property
    def count(self) -> int:
        return 1 if self.type.endswith("16") else 2


def decode(register: ModbusRegister, words: list[int]) -> float:
    """The quantity's value from its registers."""
    if register.word_order == "little":
        words = list(reversed(words))
    raw = struct.unpack(_FORMATS[register.type], b"".join(struct.pack(">H", w) for w in words))[0]
    return raw * register.scale + register.offset


def encode(register: ModbusRegister, value: float) -> list[int]:
    """The registers that hold `value` (the emulator's side of `decode`)."""
    raw = (value - register.offset) / register.scale
    if register.type != "float32":
        raw = round(raw)
    data = struct.pack(_FORMATS[register.type], raw)
    words = [struct.unpack(">H", data[i : i + 2])[0] for i in range(0, len(data), 2)]
    return list(reversed(words)) if register.word_order == "little" else words


class ModbusSensor(Sensor):
    """Reads its registers on every `read()`. `url`: `tcp://host:port` (framing "tcp":
    Modbus TCP; "rtu": RTU frames through a TCP gateway) or a serial port (RTU)."""

    def __init__(
        self,
        url: str,
        registers: list[ModbusRegister],
        *,
        framing: Literal["tcp", "rtu"] = "tcp",
        unit: int = 1,
        baudrate: int = 9600,
        timeout: float = 3.0,
        name: str | None = None,
    ):
        from pymodbus.client import ModbusSerialClient, ModbusTcpClient
        from pymodbus.framer import FramerType

        if not registers:
            raise ValueError("a Modbus sensor needs at least one register")
        self.url = url
        self.registers = list(registers)
        self.unit = unit
        self.name = name or f"Modbus {framing.upper()} unit {unit} on {url}"
        framer = FramerType.SOCKET if framing == "tcp" else FramerType.RTU
        if url.startswith("tcp://"):
            host, _, port = url[len("tcp://") :].rpartition(":")
            if not host or not port.isdigit():
                raise DeviceError(f"{url}: expected tcp://HOST:PORT")
            self._client = ModbusTcpClient(
                host, port=int(port), framer=framer, timeout=timeout, retries=0
            )
        else:
            if framing != "rtu":
                raise ValueError('a serial Modbus line needs framing = "rtu"')
            self._client = ModbusSerialClient(
                url, framer=framer, baudrate=baudrate, timeout=timeout, retries=0
            )

    def _read(self, register: ModbusRegister) -> list[int]:
        from pymodbus.exceptions import ModbusException

        if not self._client.connected and not self._client.connect():
            raise DeviceTimeout(f"{self.name}: cannot connect (is the device on and wired?)")
        call = (
            self._client.read_holding_registers
            if register.table == "holding"
            else self._client.read_input_registers
        )
        try:
            reply = call(register.address, count=register.count, device_id=self.unit)
        except ModbusException as exc:
            self._client.close()  # reconnect next time: the line may be out of step
            raise DeviceTimeout(
                f"{self.name}: no valid reply for {register.name} (register "
                f"{register.address}): {exc}"
            ) from None
        if reply.isError():
            code = getattr(reply, "exception_code", None)
            what = EXCEPTION_CODES.get(code, "error")
            raise DeviceError(
                f"{self.name}: {register.name} (register {register.address}): the device "
                f"answers exception {code} ({what})"
            )
        words = list(reply.registers)
        if len(words) != register.count:
            raise DeviceProtocolError(
                f"{self.name}: {register.name}: {len(words)} registers, expected {register.count}"
            )
        return words

    def read(self) -> dict[str, float]:
        return {r.name: decode(r, self._read(r)) for r in self.registers}

    def close(self) -> None:
        self._client.close()
