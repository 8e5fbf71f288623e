"""What every multichannel analyser driver offers (after ophyd's MCA record), and the
byte transport that real drivers speak their protocol over.

A driver = one device's protocol over any `Transport`; the engine sees only `Mca`.
Errors are `DeviceError`s that name the device and say what to check.
"""

from __future__ import annotations

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
    "Transport",
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
    `loop://` (a loopback for tests)."""

    def __init__(self, url: str, baudrate: int = 9600, timeout: float = 5.0, **settings):
        import serial  # the agent extra; imported here so that other drivers do not need it

        self.description = url
        self.timeout = timeout
        try:
            self._port = serial.serial_for_url(url, baudrate=baudrate, timeout=timeout, **settings)
        except (serial.SerialException, ValueError) as exc:
            raise DeviceError(
                f"cannot open {url}: {exc} (check the port name, cabling and permissions)"
            ) from None

    def write(self, data: bytes) -> None:
        import serial

        try:
            self._port.write(data)
            self._port.flush()
        except serial.SerialException as exc:
            raise DeviceError(f"{self.description}: write failed: {exc}") from None

    def read(self, size: int) -> bytes:
        data = self._port.read(size)
        if len(data) < size:
            raise DeviceTimeout(
                f"{self.description}: expected {size} bytes, got {len(data)} within "
                f"{self.timeout} s (is the device connected and powered?)"
            )
        return bytes(data)

    def read_until(self, terminator: bytes, max_size: int = 65536) -> bytes:
        data = self._port.read_until(terminator, max_size)
        if not data.endswith(terminator):
            raise DeviceTimeout(
                f"{self.description}: no reply ending in {terminator!r} within {self.timeout} s"
                f" (got {bytes(data)[:40]!r}; is the device connected and powered?)"
            )
        return bytes(data)

    def close(self) -> None:
        self._port.close()
