"""An Alicat mass flow meter answering polls with a data frame near a set flow."""

from __future__ import annotations

import math
import time

__all__ = ["AlicatEmulator", "emulated"]


class AlicatEmulator:
    name = "Alicat flow meter emulator"
    transport = "tcp"
    faults = ("garbage", "silence", "error", "disconnect")  # no checksum in this protocol

    def __init__(self, unit_id: str = "A", flow_slpm: float = 2.0):
        self.unit_id = unit_id
        self.flow_slpm = flow_slpm

    def split(self, buffer: bytes) -> tuple[bytes | None, bytes]:
        line, sep, rest = buffer.partition(b"\r")
        return (line, rest) if sep else (None, buffer)

    def corrupt(self, reply: bytes) -> bytes:  # pragma: no cover - not among its faults
        return reply

    def frame(self, flow: float, status: str = "") -> bytes:
        text = (
            f"{self.unit_id} +014.70 +025.00 {flow * 1.002:+07.3f} {flow:+07.3f} "
            f"{self.flow_slpm:.3f} Air{(' ' + status) if status else ''}\r"
        )
        return text.encode("ascii")

    def error_reply(self, request: bytes) -> bytes:
        return self.frame(self.flow_slpm * 1.3, "MOV")

    def answer(self, request: bytes) -> bytes:
        if request.strip().decode("ascii", "replace") != self.unit_id:
            return b""  # an Alicat ignores polls for other unit ids
        flow = self.flow_slpm * (1 + 0.002 * math.sin(time.time() / 60))
        return self.frame(round(flow, 3))


def emulated(unit_id: str = "A", flow_slpm: float = 2.0, **_) -> AlicatEmulator:
    return AlicatEmulator(unit_id, flow_slpm)
