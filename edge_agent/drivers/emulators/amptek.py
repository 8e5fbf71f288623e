"""An Amptek DP5 / PX5-HPGe speaking the packet protocol of drivers/amptek.py over UDP,
its counts and times from the simulated MCA behind it."""

from __future__ import annotations

import struct

from ..amptek import (
    CLEAR,
    CONFIG_GET,
    CONFIG_REPLY,
    CONFIG_SET,
    DISABLE,
    ENABLE,
    KEEP_ALIVE,
    MCA8000D,
    SPECTRUM_AND_STATUS,
    STATUS,
    STATUS_BYTES,
    STATUS_REPLY,
    SYNC,
    checksum,
    packet,
    spectrum_pid2,
)
from ..base import Presets
from ._mca import simulated_mca

__all__ = ["AmptekEmulator", "emulated"]


def _ack(code: int = 0) -> bytes:
    return packet(0xFF, code)


class AmptekEmulator:
    name = "Amptek DP5 emulator"
    transport = "udp"
    faults = ("garbage", "bad_checksum", "silence", "error", "disconnect")

    def __init__(
        self,
        mca,
        hv_volts: float = 3500.0,
        detector_k: float = 90.1,
        device: int = 1,  # PX5 (the PX5-HPGe), which has no live-time counter
        firmware: int = 0x68,  # 6.08
        input_cps: float = 1000.0,
    ):
        self.mca = mca
        self.hv_volts = hv_volts
        self.detector_k = detector_k
        self.device = device
        self.firmware = firmware
        self.input_cps = input_cps
        spectrum_pid2(mca.channels, True)  # a DP5 has 256..8192 channels

    def split(self, buffer: bytes) -> tuple[bytes | None, bytes]:
        start = buffer.find(SYNC)
        if start < 0 or len(buffer) < start + 8:
            return None, buffer
        length = struct.unpack(">H", buffer[start + 4 : start + 6])[0]
        end = start + 8 + length
        if len(buffer) < end:
            return None, buffer
        return buffer[start:end], buffer[end:]

    def corrupt(self, reply: bytes) -> bytes:
        return reply[:-1] + bytes(((reply[-1] + 1) & 0xFF,))

    def error_reply(self, request: bytes) -> bytes:
        return _ack(0x0D)  # busy: another interface is using the device

    def status_bytes(self) -> bytes:
        """The 64-byte status as Amptek's SDK reads it (drivers/amptek.parse_status)."""
        s = bytearray(STATUS_BYTES)
        e = self.mca.elapsed()
        acc_ms = round(e.real_time * 1000)
        fast = round(self.input_cps * e.real_time)
        slow = round(fast * e.live_time / e.real_time) if e.real_time > 0 else 0
        s[0:4] = fast.to_bytes(4, "little")
        s[4:8] = slow.to_bytes(4, "little")
        s[12] = acc_ms % 100
        s[13:16] = (acc_ms // 100).to_bytes(3, "little")
        if self.device == MCA8000D:
            s[16:20] = min(round(e.live_time * 1000), acc_ms).to_bytes(4, "little")
        s[20:24] = round(e.real_time * 1000).to_bytes(4, "little")
        s[24] = self.firmware
        s[30:32] = struct.pack(">h", round(self.hv_volts * 2))
        s[32:34] = (round(self.detector_k * 10) & 0x0FFF).to_bytes(2, "big")
        s[34] = 35
        status = self.mca.status()
        s[35] = (0x80 if status.preset_reached else 0) | (0x20 if status.acquiring else 0)
        s[39] = self.device
        return bytes(s)

    def answer(self, request: bytes) -> bytes:
        if len(request) < 8 or request[:2] != SYNC:
            return _ack(0x01)
        length = struct.unpack(">H", request[4:6])[0]
        if len(request) != 8 + length:
            return _ack(0x03)
        if checksum(request[:-2]) != request[-2:]:
            return _ack(0x04)
        pid, data = (request[2], request[3]), request[6:-2]
        mca = self.mca
        if pid == STATUS:
            return packet(*STATUS_REPLY, self.status_bytes())
        if pid == SPECTRUM_AND_STATUS:
            counts = mca.read_spectrum()
            raw = b"".join(int(c).to_bytes(3, "little") for c in counts)
            return packet(0x81, spectrum_pid2(mca.channels, True), raw + self.status_bytes())
        if pid in (CLEAR, ENABLE, DISABLE, KEEP_ALIVE):
            {CLEAR: mca.clear, ENABLE: mca.start, DISABLE: mca.stop}.get(pid, lambda: None)()
            return _ack()
        if pid == CONFIG_SET:
            return self._set(data.decode("ascii", "replace"))
        if pid == CONFIG_GET:
            return self._get(data.decode("ascii", "replace"))
        return _ack(0x02)

    def _values(self) -> dict[str, str]:
        p = self.mca.presets()

        def text(v):
            return "OFF" if v is None else f"{v:g}"

        return {
            "PRET": text(p.live_time),
            "PRER": text(p.real_time),
            "PREC": "OFF",
            "MCAC": str(self.mca.channels),
            "HVSE": f"{self.hv_volts:g}",
        }

    def _set(self, text: str) -> bytes:
        p = self.mca.presets()
        live, real = p.live_time, p.real_time
        for item in filter(None, text.split(";")):
            key, _, value = item.partition("=")
            try:
                seconds = None if value.upper() == "OFF" else float(value)
            except ValueError:
                return _ack(0x05)
            if key == "PRET":
                live = seconds
            elif key == "PRER":
                real = seconds
            elif key not in ("PREC",):
                return _ack(0x05)
        self.mca.set_presets(Presets(live_time=live, real_time=real))
        return _ack()

    def _get(self, text: str) -> bytes:
        values = self._values()
        out = []
        for item in filter(None, text.split(";")):
            key = item.partition("=")[0]
            if key not in values:
                return _ack(0x05)
            out.append(f"{key}={values[key]};")
        return packet(*CONFIG_REPLY, "".join(out).encode("ascii"))


def emulated(seed: int = 1, clock=None, source=None, station: str = "EMU02", **_) -> AmptekEmulator:
    if source is None:
        from ._mca import nominal_source

        source = nominal_source(station, seed, channels=8192)
    return AmptekEmulator(simulated_mca(seed=seed, clock=clock, source=source, station=station))
