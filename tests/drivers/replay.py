"""Byte-exact replay of a device conversation (after pymeasure's expected_protocol): the
driver must write exactly the expected bytes, and reads the recorded reply."""

from __future__ import annotations

from edge_agent.drivers.base import DeviceError, DeviceTimeout, Transport

SILENCE = None  # the device does not answer
UNPLUGGED = "unplugged"  # the connection is gone


class ReplayTransport(Transport):
    def __init__(self, pairs: list[tuple[bytes, bytes | str | None]]):
        self.pairs = list(pairs)
        self.description = "replay"
        self._pending = b""

    def write(self, data: bytes) -> None:
        assert self.pairs, f"unexpected write {data!r}: the conversation is over"
        expected, reply = self.pairs.pop(0)
        assert data == expected, f"wrote {data!r}, expected {expected!r}"
        if reply == UNPLUGGED:
            raise DeviceError("replay: connection lost (unplugged)")
        self._pending = b"" if reply is None else reply

    def read(self, size: int) -> bytes:
        if len(self._pending) < size:
            raise DeviceTimeout(f"replay: expected {size} bytes, got {len(self._pending)}")
        data, self._pending = self._pending[:size], self._pending[size:]
        return data

    def read_until(self, terminator: bytes, max_size: int = 65536) -> bytes:
        end = self._pending.find(terminator)
        if end < 0:
            raise DeviceTimeout(f"replay: no reply ending in {terminator!r}")
        end += len(terminator)
        data, self._pending = self._pending[:end], self._pending[end:]
        return data

    def done(self) -> None:
        assert not self.pairs, f"the driver left {len(self.pairs)} exchanges unsaid: {self.pairs}"
