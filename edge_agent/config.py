"""The station agent's configuration (TOML), checked at start. See config/agent.example.toml.

One file describes one detector: who the station is, which MCA driver to use, the clock,
the outbox, where to send and with which identity, and the release delay.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from shared.config import ConfigError, load_config
from shared.timeutil import as_utc

__all__ = [
    "AgentConfig",
    "CalibrationConfig",
    "CentralConfig",
    "ClockConfig",
    "ConfigError",
    "IdentityConfig",
    "McaConfig",
    "OutboxConfig",
    "ReleaseConfig",
    "StackDefaults",
    "StationConfig",
    "load_agent_config",
]

_STATION_CODE = re.compile(r"^[A-Z0-9]{5}$")


def _utc_time(text: str, key: str) -> datetime:
    """An ISO 8601 time; without a zone it is UTC."""
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise ValueError(
            f"{key} must be an ISO 8601 time such as 2023-11-20T00:00:00Z, got {text!r}"
        ) from None


@dataclass(frozen=True)
class StationConfig:
    code: str  # 5 characters, e.g. AUS02
    facility: str  # the facility the stack belongs to, e.g. ANSTO
    detector: str  # up to 9 characters, e.g. AUS02_001
    number: int  # 0-99: the two digits after SM in the sample reference id
    system_type: Literal["P", "B", "G"] = "P"
    geometry: str = "Marinelli"
    message_format: Literal["STX1.0", "IMS2.0"] = "STX1.0"
    # where the stack is, for the daily ATS's Station object (empty / null when not given)
    country: str = ""
    latitude: float | None = None  # degrees north, WGS 84
    longitude: float | None = None  # degrees east, WGS 84

    def __post_init__(self) -> None:
        if not _STATION_CODE.match(self.code):
            raise ValueError(f"code must be 5 capital letters or digits, got {self.code!r}")
        if not self.facility or any(c.isspace() for c in self.facility):
            raise ValueError(f"facility must be one word, got {self.facility!r}")
        if not self.detector or len(self.detector) > 9 or any(c.isspace() for c in self.detector):
            raise ValueError(f"detector must be 1-9 characters, no spaces, got {self.detector!r}")
        if not 0 <= self.number <= 99:
            raise ValueError(f"number must be 0-99 (two digits of the SRID), got {self.number}")
        if not self.geometry or len(self.geometry) > 17 or " " in self.geometry:
            raise ValueError(f"geometry must be 1-17 characters, no spaces, got {self.geometry!r}")
        if self.country != self.country.strip() or not self.country.isprintable():
            raise ValueError(
                f"country must be printable text without leading or trailing spaces, "
                f"got {self.country!r}"
            )
        for key, limit, positive in (("latitude", 90, "north"), ("longitude", 180, "east")):
            value = getattr(self, key)
            if value is not None and not (math.isfinite(value) and -limit <= value <= limit):
                raise ValueError(
                    f"{key} must be degrees from -{limit} to {limit} ({positive} positive, "
                    f"WGS 84), got {value}"
                )


@dataclass(frozen=True)
class McaConfig:
    driver: Literal["simulated"] = "simulated"
    seed: int = 1  # simulated: the same seed and interval always give the same spectrum
    detector_seed: int | None = None  # simulated: another unit of the detector type
    timeout_seconds: float = 5.0  # how long to wait for the device to answer

    def __post_init__(self) -> None:
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")


@dataclass(frozen=True)
class ClockConfig:
    speed: float = 1.0  # 1: real time; 60: a 15-minute cycle every 15 real seconds
    # simulated time at which the clock starts (default: now), "2023-11-20T00:00:00Z"
    start: str | None = None
    # an accelerated clock started in the past runs fast until it reaches the real time,
    # then follows it (the demo's stations: a day of history, then live data)
    catch_up: bool = False

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError(f"speed must be positive, got {self.speed}")
        if self.start is not None:
            _utc_time(self.start, "start")

    @property
    def start_time(self) -> datetime | None:
        return None if self.start is None else _utc_time(self.start, "start")


@dataclass(frozen=True)
class OutboxConfig:
    path: Path = Path("outbox.sqlite")


@dataclass(frozen=True)
class CentralConfig:
    url: str  # e.g. https://central.example.org:8443
    ca_cert: Path  # the network's CA: the only trust anchor for the server's TLS certificate
    encryption_cert: Path  # the central's certificate that messages are encrypted to
    timeout_seconds: float = 30.0
    retry_initial_seconds: float = 2.0  # first wait after a failed delivery (real seconds)
    retry_max_seconds: float = 600.0  # longest wait between attempts

    def __post_init__(self) -> None:
        if not re.match(r"^https://[^/\s]+(/\S*)?$", self.url):
            raise ValueError(f"url must be https://host[:port][/path], got {self.url!r}")
        if self.timeout_seconds <= 0 or self.retry_initial_seconds <= 0:
            raise ValueError("timeout_seconds and retry_initial_seconds must be positive")
        if self.retry_max_seconds < self.retry_initial_seconds:
            raise ValueError("retry_max_seconds must be at least retry_initial_seconds")


@dataclass(frozen=True)
class IdentityConfig:
    cert: Path  # the station certificate: signs messages and is the TLS client certificate
    key: Path  # its private key (PEM, readable only by the agent's user)
    chain: Path | None = None  # intermediate certificates up to the network CA, PEM


@dataclass(frozen=True)
class ReleaseConfig:
    mode: Literal["immediate", "delay", "manual"] = "immediate"
    delay_hours: float = 0.0  # mode "delay": hours (of station clock time) before sending

    def __post_init__(self) -> None:
        if self.delay_hours < 0:
            raise ValueError("delay_hours must not be negative")
        if self.mode == "delay" and self.delay_hours == 0:
            raise ValueError('mode "delay" needs delay_hours > 0')


@dataclass(frozen=True)
class StackDefaults:
    """#Stack values used when neither the simulator nor a sensor gives them."""

    chamber_volume_m3: float | None = None
    stack_flow_m3_s: float | None = None
    sample_flow_m3_s: float | None = None
    transit_time_s: float | None = None
    chamber_pressure_kpa: float | None = None
    chamber_temperature_k: float | None = None
    reference_pressure_kpa: float = 101.325
    reference_temperature_k: float = 273.15


@dataclass(frozen=True)
class CalibrationConfig:
    # a PHD file (e.g. the last CALIBPHD) whose #g_Energy, #g_Resolution and #g_Efficiency
    # blocks are copied into every spectrum; the simulated driver gives its own when absent
    file: Path | None = None
    time: str | None = None  # when it was last calibrated (#Calibration), "2023-01-10T08:00:00Z"

    def __post_init__(self) -> None:
        if self.time is not None:
            _utc_time(self.time, "time")

    @property
    def calibration_time(self) -> datetime | None:
        return None if self.time is None else _utc_time(self.time, "time")


@dataclass(frozen=True)
class AgentConfig:
    station: StationConfig
    central: CentralConfig
    identity: IdentityConfig
    mca: McaConfig = field(default_factory=McaConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    release: ReleaseConfig = field(default_factory=ReleaseConfig)
    stack: StackDefaults = field(default_factory=StackDefaults)
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)


def load_agent_config(path: str | Path) -> AgentConfig:
    """Read and check an agent configuration; ConfigError names the file and the key."""
    return load_config(AgentConfig, path)
