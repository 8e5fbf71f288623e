"""An ORTEC MCB (DSPEC class) speaking the ASCII command set of drivers/ortec.py (a data
record, then the % handshake), its counts and times from the simulated MCA (the spectrum
simulator behind it); `SHOW_DATA` is the bridge's spectrum transfer (our convention)."""

from __future__ import annotations

from ..base import Presets
from ..ortec import OK, TERMINATOR, TICK_S, checksum, record
from ._mca import simulated_mca

__all__ = ["OrtecEmulator", "emulated"]


class OrtecEmulator:
    name = "ORTEC MCB emulator"
    transport = "tcp"
    faults = ("garbage", "bad_checksum", "silence", "error", "disconnect")

    def __init__(self, mca, hv_volts: int = 4187):
        self.mca = mca  # a SimulatedMca: the device's state
        self.hv_volts = hv_volts

    def split(self, buffer: bytes) -> tuple[bytes | None, bytes]:
        line, sep, rest = buffer.partition(TERMINATOR)
        return (line, rest) if sep else (None, buffer)

    def corrupt(self, reply: bytes) -> bytes:
        # wrong checksum in the first record
        first, sep, rest = reply.partition(TERMINATOR)
        bad = b"%03d" % ((int(first[-3:]) + 1) % 256)
        return first[:-3] + bad + sep + rest

    def error_reply(self, request: bytes) -> bytes:
        return record(b"%131000")  # command execution error (e.g. high voltage shut down)

    def answer(self, request: bytes) -> bytes:
        reply = self._answer(request)
        # a data record is followed by the handshake, as every command ends with one
        return reply + OK + TERMINATOR if reply[:1] == b"$" else reply

    def _answer(self, request: bytes) -> bytes:
        words = request.decode("ascii", "replace").strip().split(maxsplit=1)
        command, argument = ([*words, "", ""])[:2] if words else ("", "")
        mca = self.mca
        presets = mca.presets()
        if command in ("START", "STOP", "CLEAR"):
            getattr(mca, command.lower())()
            return OK + TERMINATOR
        if command == "CLEAR_PRESET":
            mca.set_presets(Presets())
            return OK + TERMINATOR
        if command in ("SET_LIVE_PRESET", "SET_TRUE_PRESET"):
            if not argument.isdigit():
                return record(b"%129000")
            value = int(argument) * TICK_S or None
            if command == "SET_LIVE_PRESET":
                mca.set_presets(Presets(live_time=value, real_time=presets.real_time))
            else:
                mca.set_presets(Presets(live_time=presets.live_time, real_time=value))
            return OK + TERMINATOR
        if command in ("SHOW_LIVE", "SHOW_TRUE"):
            e = mca.elapsed()
            real = round(e.real_time / TICK_S)
            ticks = real if command == "SHOW_TRUE" else min(round(e.live_time / TICK_S), real)
            return record(b"$G%010d" % ticks)
        if command in ("SHOW_LIVE_PRESET", "SHOW_TRUE_PRESET"):
            seconds = presets.live_time if command == "SHOW_LIVE_PRESET" else presets.real_time
            return record(b"$G%010d" % round((seconds or 0) / TICK_S))
        if command == "SHOW_ACTIVE":
            return record(b"$C%05d" % int(mca.status().acquiring))
        if command == "SHOW_GAIN_CONVERSION":
            return record(b"$C%05d" % mca.channels)
        if command == "SHOW_HV_ACTUAL":
            return record(b"$C%05d" % self.hv_volts)
        if command == "SHOW_DATA":
            try:
                start, count = (int(x) for x in argument.split(","))
            except ValueError:
                return record(b"%129000")
            counts = list(mca.read_spectrum()[start : start + count])
            counts += [0] * (-len(counts) % 3)
            return b"".join(
                record(b"$M%010d%010d%010d" % tuple(counts[i : i + 3]))
                for i in range(0, len(counts), 3)
            )
        return record(b"%132000")  # invalid command (docs/agent.md: an assumed code)


def emulated(seed: int = 1, clock=None, source=None, station: str = "EMU01", **_) -> OrtecEmulator:
    return OrtecEmulator(simulated_mca(seed=seed, clock=clock, source=source, station=station))


assert checksum(b"%000000") == OK[-3:]  # the acknowledgement's checksum, as documented
