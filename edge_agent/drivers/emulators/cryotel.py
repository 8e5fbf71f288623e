"""A Sunpower CryoTel GT controller holding its cold tip at 77 K."""

from __future__ import annotations

__all__ = ["CryoTelEmulator", "emulated"]

EOL = b"\r\n"


class CryoTelEmulator:
    name = "CryoTel GT emulator"
    transport = "tcp"
    faults = ("garbage", "silence", "error", "disconnect")  # no checksum in this protocol

    def __init__(self, tip_k: float = 77.0, power_w: float = 103.53):
        self.tip_k = tip_k
        self.power_w = power_w
        self.error_bits = "000000"

    def split(self, buffer: bytes) -> tuple[bytes | None, bytes]:
        line, sep, rest = buffer.partition(b"\r")
        return (line.strip(b"\n"), rest) if sep else (None, buffer)

    def corrupt(self, reply: bytes) -> bytes:  # pragma: no cover - not among its faults
        return reply

    def _reply(self, command: bytes, *values: str) -> bytes:
        return command + EOL + b"".join(v.encode("ascii") + EOL for v in values)

    def error_reply(self, request: bytes) -> bytes:
        # the cooler flags an error (here bit 0: over current) and its power drops
        if request.strip() == b"ERROR":
            return self._reply(b"ERROR", "000001")
        return self.answer(request)

    def answer(self, request: bytes) -> bytes:
        command = request.strip()
        if command == b"TC":
            return self._reply(command, f"{self.tip_k:.2f}")
        if command == b"P":
            return self._reply(command, f"{self.power_w:.2f}")
        if command == b"E":
            return self._reply(command, "240.00", "70.00", f"{self.power_w:.2f}")
        if command == b"ERROR":
            return self._reply(command, self.error_bits)
        if command == b"STATE":
            return self._reply(command, "MODE = 002.00", f"TSTATM = {self.tip_k:.2f}")
        return self._reply(command, "Invalid Command")


def emulated(**_) -> CryoTelEmulator:
    return CryoTelEmulator()
