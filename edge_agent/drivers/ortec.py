"""ORTEC MCBs (DSPEC class, 92x, digiDART) over their ASCII command set.

Commands are `\\r`-terminated lines. Every command is answered by a `%` handshake record:
`%` + 3-digit macro and 3-digit micro error code + checksum (`%000000069` = all right);
a command that returns data sends its data record first (`$C` + 5 digits, `$G` + 10
digits, `$D` 2 x 5, `$M` 3 x 10, `$F` text), then the handshake. Each record ends in a
3-digit checksum: the sum of the record's ASCII bytes, `$` or `%` and the letter
included, mod 256. Times are 20 ms ticks. docs/agent.md says which parts of this come
from ORTEC's documentation and which are our assumptions.

Spectrum transfer: `SHOW_DATA start,count` answered by `$M`-shaped records of three
channels each (the last one zero-padded), then the handshake. This is our own
convention, not an ORTEC command: real MCBs hand spectra over binary through UMCBI
(`MIOGetData`, raw 32-bit channel words with a data mask), and ORTEC's own `$M` record
answers `SHOW_STATUS`. A station with a real MCB needs a bridge that reads the spectrum
with MIOGetData and serves it this way (docs/agent.md); a device that refuses
`SHOW_DATA` gets a clear error saying so.
"""

from __future__ import annotations

import math

import numpy as np

from .base import DeviceError, DeviceProtocolError, Elapsed, Mca, McaStatus, Presets, Transport

__all__ = ["TICK_S", "OrtecMcb", "checksum", "record"]

TICK_S = 0.02  # one tick = 20 ms
TERMINATOR = b"\r"
OK = b"%000000069"
RECORD_M = 36  # len(b"$M" + 30 digits + 3-digit checksum + CR)
# macro error codes of the % records. 1 is documented by the power-up reply `%001000070`
# that ORTEC instruments send once after power-up; the others are assumptions (our
# reading of ORTEC's instrument manuals, not checked against a device): see docs/agent.md
MACRO_ERRORS = {
    1: "the MCB has just powered up (its data and settings may be lost)",
    2: "battery-backed data lost",
    129: "command syntax error",
    131: "command execution error",
    132: "invalid command",
}


def checksum(body: bytes) -> bytes:
    return b"%03d" % (sum(body) % 256)


def record(body: bytes) -> bytes:
    """A reply record with its checksum and terminator, e.g. record(b"$C00001")."""
    return body + checksum(body) + TERMINATOR


class OrtecMcb(Mca):
    def __init__(self, transport: Transport, name: str | None = None):
        self.transport = transport
        self.name = name or f"ORTEC MCB on {transport.description}"
        self.channels = self._number("SHOW_GAIN_CONVERSION", b"C")

    # ------------------------------------------------------------ the protocol
    def _reply(self, command: str) -> bytes:
        """The data record of a command (checked), or its handshake when it has no data;
        the handshake after a data record is read and checked too."""
        line = self.transport.query(command.encode("ascii") + TERMINATOR, TERMINATOR)
        data = self._checked(command, line[:-1])
        if data[:1] == b"$":
            self._handshake(command)
        return data

    def _handshake(self, command: str) -> None:
        line = self.transport.read_until(TERMINATOR)
        data = self._checked(command, line[:-1])
        if data[:1] != b"%":
            raise DeviceProtocolError(
                f"{self.name}: {command}: expected the % handshake after the data, got "
                f"{data[:40]!r}"
            )

    def _checked(self, command: str, body: bytes) -> bytes:
        if len(body) < 4 or body[:1] not in (b"$", b"%") or not body[-3:].isdigit():
            raise DeviceProtocolError(
                f"{self.name}: unreadable reply to {command}: {body[:40]!r} (check the "
                "cable and the baud rate)"
            )
        data, got = body[:-3], body[-3:]
        if checksum(data) != got:
            raise DeviceProtocolError(
                f"{self.name}: checksum error in the reply to {command}: {body[:40]!r} "
                f"(expected {checksum(data).decode()}; a noisy line?)"
            )
        if data[:1] == b"%":
            if len(data) != 7 or not data[1:].isdigit():
                raise DeviceProtocolError(
                    f"{self.name}: unreadable handshake to {command}: {body[:40]!r}"
                )
            macro, micro = int(data[1:4]), int(data[4:7])
            if macro or micro:
                what = MACRO_ERRORS.get(macro, "error")
                raise DeviceError(
                    f"{self.name}: {command} refused: {what} (error %{macro:03d}{micro:03d})"
                )
        return data

    def _command(self, command: str) -> None:
        data = self._reply(command)
        if data[:1] != b"%":
            raise DeviceProtocolError(f"{self.name}: {command}: unexpected record {data!r}")

    def _number(self, command: str, kind: bytes) -> int:
        data = self._reply(command)
        digits = {b"C": 5, b"G": 10}[kind]
        if data[1:2] != kind or len(data) != 2 + digits or not data[2:].isdigit():
            raise DeviceProtocolError(
                f"{self.name}: {command}: expected a ${kind.decode()} record, got {data!r}"
            )
        return int(data[2:])

    # ------------------------------------------------------------ Mca
    def set_presets(self, presets: Presets) -> None:
        # a preset left over would make START silently do nothing: always clear first
        self._command("CLEAR_PRESET")
        if presets.live_time is not None:
            self._command(f"SET_LIVE_PRESET {round(presets.live_time / TICK_S)}")
        if presets.real_time is not None:
            self._command(f"SET_TRUE_PRESET {round(presets.real_time / TICK_S)}")

    def presets(self) -> Presets:
        live = self._number("SHOW_LIVE_PRESET", b"G")
        real = self._number("SHOW_TRUE_PRESET", b"G")
        return Presets(
            live_time=round(live * TICK_S, 2) if live else None,
            real_time=round(real * TICK_S, 2) if real else None,
        )

    def start(self) -> None:
        self._command("START")

    def stop(self) -> None:
        self._command("STOP")

    def clear(self) -> None:
        self._command("CLEAR")

    def elapsed(self) -> Elapsed:
        live = self._number("SHOW_LIVE", b"G")
        real = self._number("SHOW_TRUE", b"G")
        return Elapsed(live_time=round(live * TICK_S, 2), real_time=round(real * TICK_S, 2))

    def read_spectrum(self) -> np.ndarray:
        command = f"SHOW_DATA 0,{self.channels}"
        records = math.ceil(self.channels / 3)
        first = self.transport.query(command.encode("ascii") + TERMINATOR, TERMINATOR)
        try:
            head = self._checked(command, first[:-1])
        except DeviceError as exc:
            if isinstance(exc, DeviceProtocolError):
                raise
            raise DeviceError(
                f"{exc}: this MCB does not serve the spectrum as SHOW_DATA records (not an "
                "ORTEC command; a real MCB needs the UMCBI bridge, docs/agent.md)"
            ) from None
        if head[:1] != b"$":
            raise DeviceProtocolError(f"{self.name}: {command}: no data, only {head!r}")
        # the rest in one read: records have a fixed size ($M, 30 digits, checksum, CR)
        block = first + self.transport.read((records - 1) * RECORD_M)
        counts = np.zeros(3 * records, dtype=np.int64)
        for i in range(records):
            raw = block[i * RECORD_M : (i + 1) * RECORD_M]
            if raw[-1:] != TERMINATOR:
                raise DeviceProtocolError(
                    f"{self.name}: {command}: record {i} is not a $M record: {raw!r}"
                )
            data = self._checked(command, raw[:-1])
            if data[1:2] != b"M" or not data[2:].isdigit():
                raise DeviceProtocolError(
                    f"{self.name}: {command}: expected a $M record at channel {3 * i}, got "
                    f"{data[:40]!r}"
                )
            counts[3 * i : 3 * i + 3] = (int(data[2:12]), int(data[12:22]), int(data[22:32]))
        self._handshake(command)
        return counts[: self.channels]

    def status(self) -> McaStatus:
        active = self._number("SHOW_ACTIVE", b"C") != 0
        hv = self._number("SHOW_HV_ACTUAL", b"C")
        p = self.presets()
        reached = False
        if not active and (p.live_time or p.real_time):
            e = self.elapsed()
            reached = (p.live_time is not None and e.live_time >= p.live_time) or (
                p.real_time is not None and e.real_time >= p.real_time
            )
        return McaStatus(acquiring=active, preset_reached=reached, readings={"hv_volts": hv})

    def close(self) -> None:
        self.transport.close()
