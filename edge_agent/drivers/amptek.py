"""Amptek DP5 / PX5 / PX5-HPGe over their packet protocol (UDP, serial or USB-serial).

A packet is `F5 FA PID1 PID2 LEN_MSB LEN_LSB DATA... CKS_MSB CKS_LSB`, the checksum the
16-bit two's complement of the sum of all bytes before it. The device answers every
request: with data (status 80 01, spectrum 81 xx, configuration 82 07) or an
acknowledgement (PID1 FF, PID2 the error code, 00 = OK). Facts from Amptek's DP5
Programmer's Guide as summarised in ../shared/docs/hardware.md, the status layout and the
ACK codes checked against Amptek's own SDK sample code (DP5Status.cpp, DP5Protocol): see
docs/agent.md for which parts are from there and which are assumptions.
"""

from __future__ import annotations

import struct

import numpy as np

from .base import DeviceError, DeviceProtocolError, Elapsed, Mca, McaStatus, Presets, Transport

__all__ = ["ACK_ERRORS", "AmptekDp5", "checksum", "packet", "parse_status", "spectrum_pid2"]

SYNC = b"\xf5\xfa"
STATUS = (0x01, 0x01)
SPECTRUM_AND_STATUS = (0x02, 0x03)
CLEAR, ENABLE, DISABLE, KEEP_ALIVE = (0xF0, 0x01), (0xF0, 0x02), (0xF0, 0x03), (0xF0, 0x21)
CONFIG_SET, CONFIG_GET = (0x20, 0x02), (0x20, 0x03)
STATUS_REPLY, CONFIG_REPLY = (0x80, 0x01), (0x82, 0x07)
ACK_ERRORS = {
    0x00: "OK",
    0x01: "sync error",
    0x02: "PID error",
    0x03: "LEN error",
    0x04: "checksum error",
    0x05: "bad parameter",
    0x06: "bad hex record",
    0x07: "unrecognized command",
    0x08: "FPGA error (not initialized)",
    0x09: "CP2201 not found",
    0x0A: "scope data not available",
    0x0B: "PC5 not present",
    0x0C: "OK, Ethernet sharing request",
    0x0D: "busy, another interface in use",
    0x0E: "I2C error",
    0x0F: "OK, FPGA upload address",
    0x10: "feature not supported by this FPGA version",
    0x11: "calibration data not present",
}
ACK_OK = (0x00, 0x0C, 0x0F)  # acknowledgements that carry no error
MCA8000D = 3  # status byte 39, the device type: 0 DP5, 1 PX5, 2 DP5G, 3 MCA8000D, 4 TB5, 5 DP5-X
STATUS_BYTES = 64


def checksum(data: bytes) -> bytes:
    return struct.pack(">H", (-sum(data)) & 0xFFFF)


def packet(pid1: int, pid2: int, data: bytes = b"") -> bytes:
    head = SYNC + bytes((pid1, pid2)) + struct.pack(">H", len(data)) + data
    return head + checksum(head)


def spectrum_pid2(channels: int, with_status: bool) -> int:
    """Reply PID2 of a spectrum: 01/02 for 256 channels (without/with status) .. 0B/0C for 8192."""
    sizes = {256: 1, 512: 3, 1024: 5, 2048: 7, 4096: 9, 8192: 11}
    if channels not in sizes:
        raise ValueError(f"a DP5 has 256-8192 channels in powers of two, not {channels}")
    return sizes[channels] + int(with_status)


def parse_status(status: bytes) -> dict[str, float]:
    """The fields of the 64-byte status that the station keeps (layout of Amptek's SDK,
    DP5Status.cpp): counters and times LSB first, HV and detector temperature MSB first.

    Only an MCA8000D with firmware 6.07 or later counts live time (bytes 16-19); for the
    DP5, PX5 and DP5G it is derived: accumulation time (bytes 12-15, stopped during gating,
    transfer and reset lockout) times slow count / fast count, the dead-time correction
    Amptek's software shows (dead time = 1 - slow / fast). This is our assumption
    (docs/agent.md)."""
    device, firmware = status[39], status[24]
    acc_ms = status[12] + 100 * int.from_bytes(status[13:16], "little")
    fast = int.from_bytes(status[0:4], "little")
    slow = int.from_bytes(status[4:8], "little")
    has_live = device == MCA8000D and firmware >= 0x67
    if has_live:
        live_s = int.from_bytes(status[16:20], "little") / 1000
    else:
        live_s = acc_ms / 1000 * (min(slow, fast) / fast if fast else 1.0)
    hv = struct.unpack(">h", status[30:32])[0] * 0.5
    detector_k = (((status[32] & 0x0F) << 8) | status[33]) * 0.1
    flags = status[35]
    # D7 preset (real/acquisition) time reached, D4 preset counts reached; D6 is preset
    # live time reached only on the MCA8000D (on the others: fast threshold locked)
    reached = bool(flags & 0x80) or bool(flags & 0x10) or (has_live and bool(flags & 0x40))
    return {
        "accumulation_time_s": acc_ms / 1000,
        "live_time_s": round(live_s, 3),
        "real_time_s": int.from_bytes(status[20:24], "little") / 1000,
        "hv_volts": hv,
        "detector_temperature_k": round(detector_k, 1),
        "board_temperature_c": struct.unpack("b", status[34:35])[0],
        "preset_reached": float(reached),
        "mca_enabled": float(bool(flags & 0x20)),
    }


class AmptekDp5(Mca):
    def __init__(self, transport: Transport, name: str | None = None):
        self.transport = transport
        self.name = name or f"Amptek DP5 on {transport.description}"
        channels = self._config("MCAC").get("MCAC", "")
        if not channels.isdigit():
            raise DeviceProtocolError(f"{self.name}: MCAC (channels) read back as {channels!r}")
        self.channels = int(channels)

    # ------------------------------------------------------------ the protocol
    def _request(self, pid: tuple[int, int], data: bytes = b"") -> tuple[int, int, bytes]:
        self.transport.write(packet(*pid, data))
        head = self.transport.read(6)
        if head[:2] != SYNC:
            raise DeviceProtocolError(
                f"{self.name}: reply to {pid[0]:02X} {pid[1]:02X} does not start with F5 FA: "
                f"{head!r} (check the port and the baud rate)"
            )
        length = struct.unpack(">H", head[4:6])[0]
        rest = self.transport.read(length + 2)
        body, got = head + rest[:-2], rest[-2:]
        if checksum(body) != got:
            raise DeviceProtocolError(
                f"{self.name}: checksum error in the reply to {pid[0]:02X} {pid[1]:02X} "
                f"(got {got.hex()}, expected {checksum(body).hex()})"
            )
        pid1, pid2 = head[2], head[3]
        if pid1 == 0xFF and pid2 not in ACK_OK:
            what = ACK_ERRORS.get(pid2, "unknown error")
            raise DeviceError(
                f"{self.name}: request {pid[0]:02X} {pid[1]:02X} refused: {what} "
                f"(ACK FF {pid2:02X})"
            )
        return pid1, pid2, body[6:]

    def _ack(self, pid: tuple[int, int], data: bytes = b"") -> None:
        pid1, pid2, _ = self._request(pid, data)
        if pid1 != 0xFF:
            raise DeviceProtocolError(f"{self.name}: expected an ACK, got {pid1:02X} {pid2:02X}")

    def _config(self, *names: str) -> dict[str, str]:
        query = "".join(f"{n}=?;" for n in names).encode("ascii")
        pid1, pid2, data = self._request(CONFIG_GET, query)
        if (pid1, pid2) != CONFIG_REPLY:
            raise DeviceProtocolError(f"{self.name}: expected 82 07, got {pid1:02X} {pid2:02X}")
        values = {}
        for item in data.decode("ascii", "replace").split(";"):
            key, sep, value = item.partition("=")
            if sep:
                values[key.strip()] = value.strip()
        return values

    def _status(self) -> dict[str, float]:
        pid1, pid2, data = self._request(STATUS)
        if (pid1, pid2) != STATUS_REPLY or len(data) != STATUS_BYTES:
            raise DeviceProtocolError(
                f"{self.name}: expected a 64-byte status (80 01), got {pid1:02X} {pid2:02X} "
                f"with {len(data)} bytes"
            )
        return parse_status(data)

    # ------------------------------------------------------------ Mca
    def set_presets(self, presets: Presets) -> None:
        def value(seconds: float | None) -> str:
            return "OFF" if seconds is None else f"{seconds:g}"

        text = f"PRET={value(presets.live_time)};PRER={value(presets.real_time)};PREC=OFF;"
        self._ack(CONFIG_SET, text.encode("ascii"))

    def presets(self) -> Presets:
        values = self._config("PRET", "PRER")

        def seconds(key: str) -> float | None:
            text = values.get(key)
            if text is None:
                raise DeviceProtocolError(f"{self.name}: {key} not in the configuration read back")
            if text.upper() == "OFF":
                return None
            try:
                return float(text)
            except ValueError:
                raise DeviceProtocolError(f"{self.name}: {key} read back as {text!r}") from None

        return Presets(live_time=seconds("PRET"), real_time=seconds("PRER"))

    def start(self) -> None:
        self._ack(ENABLE)

    def stop(self) -> None:
        self._ack(DISABLE)

    def clear(self) -> None:
        self._ack(CLEAR)

    def elapsed(self) -> Elapsed:
        s = self._status()
        return Elapsed(live_time=s["live_time_s"], real_time=s["real_time_s"])

    def read_spectrum(self) -> np.ndarray:
        pid1, pid2, data = self._request(SPECTRUM_AND_STATUS)
        expected = spectrum_pid2(self.channels, with_status=True)
        size = 3 * self.channels + STATUS_BYTES
        if pid1 != 0x81 or pid2 != expected or len(data) != size:
            raise DeviceProtocolError(
                f"{self.name}: expected a spectrum of {self.channels} channels with status "
                f"(81 {expected:02X}, {size} bytes), got {pid1:02X} {pid2:02X} with {len(data)}"
            )
        raw = np.frombuffer(data[: 3 * self.channels], dtype=np.uint8).reshape(-1, 3)
        return (
            raw[:, 0] | (raw[:, 1].astype(np.int64) << 8) | (raw[:, 2].astype(np.int64) << 16)
        ).astype(np.int64)

    def status(self) -> McaStatus:
        s = self._status()
        readings = {k: s[k] for k in ("hv_volts", "detector_temperature_k", "board_temperature_c")}
        if s["real_time_s"] > 0:
            readings["dead_time_percent"] = round(
                100 * (1 - s["live_time_s"] / s["real_time_s"]), 2
            )
        return McaStatus(
            acquiring=bool(s["mca_enabled"]),
            preset_reached=bool(s["preset_reached"]),
            readings=readings,
        )

    def close(self) -> None:
        self.transport.close()
