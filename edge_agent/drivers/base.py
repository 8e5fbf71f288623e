"""What every multichannel analyser driver offers (after ophyd's MCA record), and the
byte transport that real drivers speak their protocol over.

A driver = one device's protocol over any `Transport`; the engine sees only `Mca`.
Errors are `DeviceError`s that name the device and say what to check.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # only for annotations: drivers import nothing from the engine's side
    from shared.formats import StackConditions

    from ..calibration import CalibrationPoints

__all__ = [
    "DeviceError",
    "DeviceProtocolError",
    "DeviceTimeout",
    "Elapsed",
    "Hardware",
    "Mca",
    "McaStatus",
    "Presets",
    "Sensor",
    "SerialTransport",
    "TcpTransport",
    "Transport",
    "UdpTransport",
    "VisaTransport",
    "open_transport",
]


class DeviceError(RuntimeError):
    """The device failed: the message names it and what to check."""


class DeviceTimeout(DeviceError):
    """The device did not answer in time (unplugged, powered off, wrong port)."""


class DeviceProtocolError(DeviceError):
    """The device answered something unreadable (checksum, framing, error code)."""


@dataclass(frozen=True)
class Presets:
    """Acquisition stops by itself when either is reached; None = no preset."""

    live_time: float | None = None  # s
    real_time: float | None = None  # s


@dataclass(frozen=True)
class Elapsed:
    live_time: float  # s
    real_time: float  # s


@dataclass(frozen=True)
class McaStatus:
    acquiring: bool
    preset_reached: bool = False
    # device readings worth keeping for the state of health, e.g. {"hv_volts": 4187}
    readings: dict[str, float] = field(default_factory=dict)


class Mca(ABC):
    """A multichannel analyser. Methods block until the device answered, or raise DeviceError."""

    name: str  # e.g. "simulated MCA (seed 1)" or "ORTEC DSPEC on /dev/ttyUSB0": used in errors
    channels: int

    @abstractmethod
    def set_presets(self, presets: Presets) -> None:
        """Set (or clear, with None values) the presets; drivers read them back."""

    @abstractmethod
    def presets(self) -> Presets: ...

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def clear(self) -> None:
        """Erase the spectrum and the elapsed times."""

    @abstractmethod
    def elapsed(self) -> Elapsed: ...

    @abstractmethod
    def read_spectrum(self) -> np.ndarray:
        """Counts per channel (int64, `channels` long), first channel 0."""

    @abstractmethod
    def status(self) -> McaStatus: ...

    def close(self) -> None:  # noqa: B027 - drivers without a connection have nothing to close
        """Release the connection."""


class Sensor(ABC):
    """A device sampled once per interval for the state of health (flow meter, cryocooler,
    Modbus signals...). Blocks until the device answered, or raises DeviceError.

    Quantities are snake_case names ending in their unit, the same across drivers so that
    the state of health and the alert limits can name them: e.g. `sample_flow_slpm`,
    `sample_pressure_kpa`, `sample_temperature_c`, `cooler_power_w`,
    `cold_tip_temperature_k`, `stack_flow_m3_s`, `ups_on_battery` (0/1). A quantity the
    device did not give this time is absent, never guessed.
    """

    name: str  # e.g. "Alicat flow meter on /dev/ttyUSB1": used in errors and alerts

    @abstractmethod
    def read(self) -> dict[str, float]:
        """Quantity name -> value, read now."""

    def close(self) -> None:  # noqa: B027 - sensors without a connection have nothing to close
        """Release the connection."""


@dataclass
class Hardware:
    """What the station measures with: the MCA, the sensors, stack conditions and the
    calibration. Built by `drivers.open_hardware` from the configuration (or by tests)."""

    mca: Mca
    conditions: Callable[[datetime], StackConditions | None] | None = None
    calibration: CalibrationPoints | None = None  # the detector's own, when it knows it
    sensors: list[Sensor] = field(default_factory=list)

    def close(self) -> None:
        for device in (self.mca, *self.sensors):
            device.close()


class Transport(ABC):
    """Moves bytes to and from a device: serial, TCP, VISA... Knows nothing of the protocol."""

    description: str  # e.g. "/dev/ttyUSB0" or "socket://10.0.0.5:4001"

    @abstractmethod
    def write(self, data: bytes) -> None: ...

    @abstractmethod
    def read(self, size: int) -> bytes:
        """Exactly `size` bytes, or DeviceTimeout."""

    @abstractmethod
    def read_until(self, terminator: bytes, max_size: int = 65536) -> bytes:
        """Bytes up to and including `terminator`, or DeviceTimeout."""

    def query(self, data: bytes, terminator: bytes) -> bytes:
        """Write a command and read its reply up to `terminator`."""
        self.write(data)
        return self.read_until(terminator)

    def close(self) -> None:  # noqa: B027 - some transports hold nothing
        pass


class SerialTransport(Transport):
    """pyserial's URLs: `/dev/ttyUSB0`, `COM3`, `socket://host:port`, `rfc2217://host:port`,
    `loop://` (a loopback for tests).

    A connection lost (a `socket://` device server restarted, a USB adapter unplugged) is
    reopened at the next write, so the driver carries on when the device comes back.
    """

    def __init__(self, url: str, baudrate: int = 9600, timeout: float = 5.0, **settings):
        self.description = url
        self.timeout = timeout
        self._settings = dict(baudrate=baudrate, timeout=timeout, **settings)
        self._port = None
        self._open()

    def _open(self) -> None:
        import serial  # the agent extra; imported here so that other drivers do not need it

        try:
            self._port = serial.serial_for_url(self.description, **self._settings)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise DeviceError(
                f"cannot open {self.description}: {exc} (check the port name, cabling and "
                "permissions)"
            ) from None

    def _lost(self, doing: str, exc: Exception) -> DeviceError:
        with contextlib.suppress(Exception):
            self._port.close()
        self._port = None
        return DeviceError(
            f"{self.description}: connection lost during {doing} ({exc}): device unplugged "
            "or its server restarted? Reconnecting at the next command"
        )

    def write(self, data: bytes) -> None:
        import serial

        if self._port is None:
            self._open()
        try:
            self._port.reset_input_buffer()  # bytes left from an earlier reply are stale
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            raise self._lost("write", exc) from None

    def read(self, size: int) -> bytes:
        import serial

        if self._port is None:
            raise DeviceError(f"{self.description}: not connected")
        try:
            data = self._port.read(size)
        except (serial.SerialException, OSError) as exc:
            raise self._lost("read", exc) from None
        if len(data) < size:
            raise DeviceTimeout(
                f"{self.description}: expected {size} bytes, got {len(data)} within "
                f"{self.timeout} s (is the device connected and powered?)"
            )
        return bytes(data)

    def read_until(self, terminator: bytes, max_size: int = 65536) -> bytes:
        import serial

        if self._port is None:
            raise DeviceError(f"{self.description}: not connected")
        try:
            data = self._port.read_until(terminator, max_size)
        except (serial.SerialException, OSError) as exc:
            raise self._lost("read", exc) from None
        if not data.endswith(terminator):
            raise DeviceTimeout(
                f"{self.description}: no reply ending in {terminator!r} within {self.timeout} s"
                f" (got {bytes(data)[:40]!r}; is the device connected and powered?)"
            )
        return bytes(data)

    def close(self) -> None:
        if self._port is not None:
            self._port.close()


def _host_port(url: str, scheme: str) -> tuple[str, int]:
    rest = url[len(scheme) :]
    host, sep, port = rest.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise DeviceError(f"{url}: expected {scheme}HOST:PORT, e.g. {scheme}10.0.0.5:4001")
    return host.strip("[]"), int(port)


class _BufferedTransport(Transport):
    """A transport that receives in chunks (a socket's segments, datagrams) into a buffer:
    subclasses say how to get the next chunk (`_fill`), reads take from the buffer."""

    _buffer: bytearray

    @abstractmethod
    def _fill(self, what: str) -> None:
        """Append the next chunk to `_buffer`, or raise DeviceError naming `what` waited."""

    def read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill(f"expected {size} bytes, got {len(self._buffer)}")
        data, self._buffer = bytes(self._buffer[:size]), self._buffer[size:]
        return data

    def read_until(self, terminator: bytes, max_size: int = 65536) -> bytes:
        while (end := self._buffer.find(terminator)) < 0:
            if len(self._buffer) > max_size:
                raise DeviceProtocolError(
                    f"{self.description}: {len(self._buffer)} bytes without {terminator!r}"
                )
            self._fill(f"waiting for {terminator!r}")
        end += len(terminator)
        data, self._buffer = bytes(self._buffer[:end]), self._buffer[end:]
        return data


class TcpTransport(_BufferedTransport):
    """A raw TCP connection, `tcp://host:port` (a serial-to-Ethernet server, a LAN MCA)."""

    def __init__(self, url: str, timeout: float = 5.0):

        self.description = url
        self.timeout = timeout
        self._address = _host_port(url, "tcp://")
        self._sock = None
        self._buffer = bytearray()
        self._connect()

    def _connect(self) -> None:
        import socket

        try:
            self._sock = socket.create_connection(self._address, timeout=self.timeout)
        except OSError as exc:
            raise DeviceError(
                f"cannot connect to {self.description}: {exc} (is the device on the network "
                "and powered?)"
            ) from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _drop(self) -> None:
        if self._sock is not None:
            self._sock.close()
        self._sock = None  # reconnect at the next write

    def write(self, data: bytes) -> None:
        if self._sock is None:
            self._connect()
        self._buffer.clear()  # bytes left from an earlier reply are stale
        try:
            self._sock.sendall(data)
        except OSError as exc:
            self._drop()
            raise DeviceError(f"{self.description}: write failed: {exc}") from None

    def _fill(self, what: str) -> None:
        if self._sock is None:
            raise DeviceError(f"{self.description}: not connected")
        try:
            chunk = self._sock.recv(65536)
        except TimeoutError:
            raise DeviceTimeout(
                f"{self.description}: no reply within {self.timeout} s ({what}; got "
                f"{bytes(self._buffer)[:40]!r}; is the device connected and powered?)"
            ) from None
        except OSError as exc:
            self._drop()
            raise DeviceError(f"{self.description}: connection lost: {exc}") from None
        if not chunk:
            self._drop()
            raise DeviceError(
                f"{self.description}: the device closed the connection ({what}; check "
                "the device and the network)"
            )
        self._buffer += chunk

    def close(self) -> None:
        self._drop()


class UdpTransport(_BufferedTransport):
    """Datagrams to `udp://host:port` (Amptek DP5/PX5 over Ethernet): each `read` takes
    from the datagrams received, in order."""

    def __init__(self, url: str, timeout: float = 5.0):
        import socket

        self.description = url
        self.timeout = timeout
        self._address = _host_port(url, "udp://")
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.settimeout(timeout)
        self._buffer = bytearray()

    def write(self, data: bytes) -> None:
        self._buffer.clear()  # a reply to an earlier request is stale now
        try:
            self._sock.sendto(data, self._address)
        except OSError as exc:
            raise DeviceError(f"{self.description}: send failed: {exc}") from None

    def _fill(self, what: str) -> None:
        try:
            chunk, _ = self._sock.recvfrom(65536)
        except TimeoutError:
            raise DeviceTimeout(
                f"{self.description}: no reply within {self.timeout} s ({what}; is the "
                "device on the network and powered?)"
            ) from None
        except OSError as exc:
            raise DeviceError(f"{self.description}: receive failed: {exc}") from None
        self._buffer += chunk

    def close(self) -> None:
        self._sock.close()


class VisaTransport(Transport):
    """A VISA resource through pyvisa's pure-Python backend (pyvisa-py), e.g.
    `visa://TCPIP0::10.0.0.5::4001::SOCKET` or `visa://ASRL/dev/ttyUSB0::INSTR`."""

    def __init__(self, url: str, timeout: float = 5.0, baudrate: int | None = None):
        import pyvisa

        self.description = url
        self.timeout = timeout
        resource = url[len("visa://") :]
        try:
            self._rm = pyvisa.ResourceManager("@py")
            self._res = self._rm.open_resource(resource, timeout=int(timeout * 1000))
        except (pyvisa.Error, OSError, ValueError) as exc:
            raise DeviceError(f"cannot open {url}: {exc} (check the VISA resource name)") from None
        self._res.read_termination = None
        self._res.write_termination = None
        if baudrate is not None and hasattr(self._res, "baud_rate"):
            self._res.baud_rate = baudrate

    def write(self, data: bytes) -> None:
        import pyvisa

        try:
            self._res.write_raw(data)
        except (pyvisa.Error, OSError) as exc:
            raise DeviceError(f"{self.description}: write failed: {exc}") from None

    def read(self, size: int) -> bytes:
        import pyvisa

        try:
            return bytes(self._res.read_bytes(size))
        except pyvisa.errors.VisaIOError as exc:
            raise DeviceTimeout(f"{self.description}: expected {size} bytes: {exc}") from None

    def read_until(self, terminator: bytes, max_size: int = 65536) -> bytes:
        data = bytearray()
        while not data.endswith(terminator):
            if len(data) > max_size:
                raise DeviceProtocolError(f"{self.description}: no {terminator!r} in reply")
            data += self.read(1)
        return bytes(data)

    def close(self) -> None:
        self._res.close()


def open_transport(url: str, *, baudrate: int = 9600, timeout: float = 5.0) -> Transport:
    """The transport a URL names: `tcp://`, `udp://`, `visa://`, or anything pyserial
    opens (`/dev/ttyUSB0`, `COM3`, `socket://host:port`, `rfc2217://`, `loop://`)."""
    if url.startswith("tcp://"):
        return TcpTransport(url, timeout=timeout)
    if url.startswith("udp://"):
        return UdpTransport(url, timeout=timeout)
    if url.startswith("visa://"):
        return VisaTransport(url, timeout=timeout, baudrate=baudrate)
    return SerialTransport(url, baudrate=baudrate, timeout=timeout)
