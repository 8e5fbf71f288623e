"""The Sunpower CryoTel GT cryocooler (in many electric HPGe coolers) over RS-232 ASCII,
4800 8N1, `\\r`-terminated. The controller echoes each command line, then sends its value
lines (`\\r\\n` each). Reference: InstrumentKit `sunpower/cryotel_gt.py`.

Quantities: `cold_tip_temperature_k` (TC), `cooler_power_w` (P), `cooler_max_power_w`
and `cooler_min_power_w` (E), `cooler_error_code` (ERROR, its bit field as a number: 0 is
all right; the state of health reports it and alerts on it).
"""

from __future__ import annotations

from .base import DeviceProtocolError, Sensor, Transport

__all__ = ["CryoTelGt"]

EOL = b"\r\n"


class CryoTelGt(Sensor):
    def __init__(self, transport: Transport, name: str | None = None):
        self.transport = transport
        self.name = name or f"CryoTel GT cooler on {transport.description}"

    def _query(self, command: str, lines: int) -> list[str]:
        self.transport.write(command.encode("ascii") + b"\r")
        echo = self.transport.read_until(EOL)
        if echo.strip() != command.encode("ascii"):
            raise DeviceProtocolError(
                f"{self.name}: {command}: expected the echo {command!r}, got {echo[:40]!r} "
                "(check the baud rate: 4800 8N1)"
            )
        return [
            self.transport.read_until(EOL).decode("ascii", "replace").strip() for _ in range(lines)
        ]

    def _number(self, command: str, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise DeviceProtocolError(f"{self.name}: {command}: not a number: {text!r}") from None

    def read(self) -> dict[str, float]:
        tip = self._number("TC", self._query("TC", 1)[0])
        power = self._number("P", self._query("P", 1)[0])
        high, low, _current = (self._number("E", t) for t in self._query("E", 3))
        bits = self._query("ERROR", 1)[0]
        if not bits or set(bits) - {"0", "1"}:
            raise DeviceProtocolError(f"{self.name}: ERROR: expected a bit field, got {bits!r}")
        return {
            "cold_tip_temperature_k": tip,
            "cooler_power_w": power,
            "cooler_max_power_w": high,
            "cooler_min_power_w": low,
            "cooler_error_code": float(int(bits, 2)),
        }

    def close(self) -> None:
        self.transport.close()
