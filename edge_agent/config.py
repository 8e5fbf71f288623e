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
    "ALERT_KINDS",
    "AgentConfig",
    "AlertsConfig",
    "CalibrationConfig",
    "CentralConfig",
    "ClockConfig",
    "ConfigError",
    "EmailConfig",
    "IdentityConfig",
    "LimitConfig",
    "McaConfig",
    "ModbusRegisterConfig",
    "OutboxConfig",
    "ProcessSensorConfig",
    "ReleaseConfig",
    "SensorConfig",
    "SohConfig",
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


MCA_DRIVERS = ("simulated", "ortec-mcb", "amptek-dp5", "vendor-files")


@dataclass(frozen=True)
class McaConfig:
    driver: Literal["simulated", "ortec-mcb", "amptek-dp5", "vendor-files"] = "simulated"
    seed: int = 1  # simulated: the same seed and interval always give the same spectrum
    detector_seed: int | None = None  # simulated: another unit of the detector type
    timeout_seconds: float = 5.0  # how long to wait for the device to answer
    # ortec-mcb, amptek-dp5: the transport, e.g. "/dev/ttyUSB0", "socket://10.0.0.5:4001",
    # "tcp://10.0.0.5:4001", "udp://10.0.0.5:10001" (DP5 over Ethernet), "visa://..."
    port: str | None = None
    baudrate: int | None = None  # serial lines; default 9600 (ORTEC) or 115200 (DP5)
    # vendor-files: the folder the vendor software writes its files into, its channels,
    # the time zone its times are in, and how it is waited for
    folder: Path | None = None
    channels: int | None = None
    timezone: str = "UTC"
    settle_seconds: float = 2.0  # a file is read once unchanged for this long
    wait_seconds: float = 20.0  # at a boundary, how long to wait for the interval's file

    def __post_init__(self) -> None:
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        if self.driver in ("ortec-mcb", "amptek-dp5") and not self.port:
            raise ValueError(
                f'driver "{self.driver}" needs port, e.g. port = "/dev/ttyUSB0" or '
                '"socket://10.0.0.5:4001"'
            )
        if self.driver == "vendor-files":
            if self.folder is None or self.channels is None:
                raise ValueError('driver "vendor-files" needs folder and channels')
            if self.channels <= 0:
                raise ValueError(f"channels must be positive, got {self.channels}")
            try:
                from zoneinfo import ZoneInfo

                ZoneInfo(self.timezone)
            except (KeyError, ValueError):
                raise ValueError(
                    f'timezone must be an IANA name such as "UTC" or "Europe/Vienna", '
                    f"got {self.timezone!r}"
                ) from None
            if not 0 <= self.settle_seconds < self.wait_seconds:
                raise ValueError("settle_seconds must be at least 0 and below wait_seconds")
        if self.baudrate is not None and self.baudrate <= 0:
            raise ValueError("baudrate must be positive")


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
class EmailConfig:
    """`[central.email]`: deliver each file as an S/MIME message through an SMTP server
    (STARTTLS, then login)."""

    host: str  # the SMTP server (submission), e.g. smtp.example.org
    to_address: str  # the central's intake mailbox
    from_address: str  # the station's address (the envelope sender and From:)
    port: int = 587  # submission with STARTTLS
    user: str | None = None  # login; none: no AUTH (the server must accept the station)
    password_file: Path | None = None  # a file holding the password only (mode 0600)
    # the CA that the SMTP server's certificate must chain to; default: [central] ca_cert
    ca_cert: Path | None = None
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        if not self.host or any(c.isspace() for c in self.host):
            raise ValueError(f"host must be a host name, got {self.host!r}")
        for key in ("to_address", "from_address"):
            value = getattr(self, key)
            if not re.match(r"^[^@\s<>]+@[^@\s<>]+$", value):
                raise ValueError(f"{key} must be an e-mail address (name@host), got {value!r}")
        if not 0 < self.port < 65536:
            raise ValueError(f"port must be 1-65535, got {self.port}")
        if (self.user is None) != (self.password_file is None):
            raise ValueError("user and password_file go together: give both or neither")
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")


@dataclass(frozen=True)
class CentralConfig:
    ca_cert: Path  # the network's CA: the only trust anchor for the server's TLS certificate
    encryption_cert: Path  # the central's certificate that messages are encrypted to
    url: str | None = None  # e.g. https://central.example.org:8443 (needed for "https")
    # how files travel: "https" (PUT to the intake), "email" (S/MIME through SMTP) or
    # "both" (each transport delivers every file; each keeps its own delivery state)
    transport: Literal["https", "email", "both"] = "https"
    email: EmailConfig | None = None  # [central.email]: needed for "email" and "both"
    timeout_seconds: float = 30.0
    retry_initial_seconds: float = 2.0  # first wait after a failed delivery (real seconds)
    retry_max_seconds: float = 600.0  # longest wait between attempts

    def __post_init__(self) -> None:
        if self.transport in ("https", "both"):
            if self.url is None:
                raise ValueError(f'url is needed with transport = "{self.transport}"')
            if not re.match(r"^https://[^/\s]+(/\S*)?$", self.url):
                raise ValueError(f"url must be https://host[:port][/path], got {self.url!r}")
        if self.transport in ("email", "both") and self.email is None:
            raise ValueError(
                f'transport = "{self.transport}" needs a [central.email] table '
                "(host, to_address, from_address, ...)"
            )
        if self.timeout_seconds <= 0 or self.retry_initial_seconds <= 0:
            raise ValueError("timeout_seconds and retry_initial_seconds must be positive")
        if self.retry_max_seconds < self.retry_initial_seconds:
            raise ValueError("retry_max_seconds must be at least retry_initial_seconds")

    @property
    def transports(self) -> tuple[str, ...]:
        """The transports every file must go through before it counts as sent."""
        return ("https", "email") if self.transport == "both" else (self.transport,)


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


# ---------------------------------------------------------------- [[sensors]]
SENSOR_DRIVERS = ("alicat", "cryotel", "modbus")


@dataclass(frozen=True)
class ModbusRegisterConfig:
    """One quantity read from Modbus registers: value = raw * scale + offset."""

    name: str  # the quantity, snake_case with its unit, e.g. stack_flow_m3_s
    address: int  # 0-based register address
    type: Literal["uint16", "int16", "uint32", "int32", "float32"] = "uint16"
    table: Literal["holding", "input"] = "holding"  # function 3 or 4
    word_order: Literal["big", "little"] = "big"  # 32-bit values: high word first or last
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        if not re.match(r"^[a-z][a-z0-9_]*$", self.name):
            raise ValueError(f"name must be snake_case (e.g. stack_flow_m3_s), got {self.name!r}")
        self.register()  # the driver's own checks

    def register(self):
        from .drivers.modbus import ModbusRegister

        return ModbusRegister(
            self.name, self.address, self.type, self.table, self.word_order, self.scale, self.offset
        )


@dataclass(frozen=True)
class SensorConfig:
    driver: Literal["alicat", "cryotel", "modbus"]
    # the transport: a serial port or socket://host:port (alicat, cryotel); tcp://host:port
    # or a serial port (modbus)
    port: str
    name: str | None = None  # how errors and alerts name it (default: driver and port)
    baudrate: int | None = None  # default 19200 (alicat), 4800 (cryotel), 9600 (modbus)
    timeout_seconds: float = 3.0
    unit_id: str = "A"  # alicat: the meter's unit id letter
    unit: int = 1  # modbus: the device (slave) address
    framing: Literal["tcp", "rtu"] = "tcp"  # modbus: Modbus TCP, or RTU frames
    registers: list[ModbusRegisterConfig] = field(default_factory=list)  # modbus

    def __post_init__(self) -> None:
        if self.timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        if self.driver == "modbus":
            if not self.registers:
                raise ValueError("a modbus sensor needs [[sensors.registers]] tables")
            if not self.port.startswith("tcp://") and self.framing != "rtu":
                raise ValueError('a serial Modbus line needs framing = "rtu"')
            names = [r.name for r in self.registers]
            if len(set(names)) != len(names):
                raise ValueError(f"register names must be unique, got {names}")
        elif self.registers:
            raise ValueError(f"registers are for modbus sensors, not {self.driver}")
        if self.driver == "alicat" and not (len(self.unit_id) == 1 and self.unit_id.isalpha()):
            raise ValueError(f"unit_id must be one letter A-Z, got {self.unit_id!r}")
        if not 0 <= self.unit <= 247:
            raise ValueError(f"unit must be 0-247, got {self.unit}")


# ---------------------------------------------------------------- [soh] and [alerts]
@dataclass(frozen=True)
class ProcessSensorConfig:
    """One `#ProcessSensors` row of the state of health: a quantity under its two names."""

    type: str  # e.g. CoolerPower, Temp, Flow
    name: str  # e.g. CP5Power, ColdTip
    quantity: str  # the sensor quantity, written in its own unit (e.g. cooler_power_w)

    def __post_init__(self) -> None:
        for key in ("type", "name", "quantity"):
            value = getattr(self, key)
            if not value or any(c.isspace() for c in value):
                raise ValueError(f"process sensor {key} must be one word, got {value!r}")


def _default_process_sensors() -> list[ProcessSensorConfig]:
    return [
        ProcessSensorConfig("CoolerPower", "CP5Power", "cooler_power_w"),  # as the seed
        ProcessSensorConfig("Temp", "ColdTip", "cold_tip_temperature_k"),
        ProcessSensorConfig("Flow", "Stack", "stack_flow_m3_s"),
        ProcessSensorConfig("Pressure", "Sample", "sample_pressure_kpa"),
        ProcessSensorConfig("Temp", "Sample", "sample_temperature_c"),
        ProcessSensorConfig("MCA", "LiveTime", "live_time_s"),
        ProcessSensorConfig("MCA", "DeadTime", "dead_time_pct"),
    ]


def _default_power() -> dict[str, str]:
    return {"MAIN": "mains_on", "AUX": "aux_on", "UPS": "ups_on_battery"}


Quantities = str | list[str]  # a quantity, or several: the first one present is used


@dataclass(frozen=True)
class SohConfig:
    """`[soh]`: which sensor or MCA quantity fills each field of the STAXSOH blocks.

    A field names a quantity (or a list: the first one a sample has); values are converted
    from the unit the quantity's name ends in to the field's unit (edge_agent/soh.py).
    """

    report_hours: int = 2  # one STAXSOH per this many hours (aligned on 00:00 UTC)
    sample_flow: Quantities = field(
        default_factory=lambda: ["sample_flow_m3_h", "sample_flow_slpm", "sample_flow_lpm"]
    )  # #AirSamplerFlow, m3/h
    room_temperature: Quantities = "room_temperature_c"  # #DetEnv, C
    shield: Quantities = "shield_closed"  # nonzero: CLOSED, zero: OPEN
    humidity: Quantities = "room_humidity_pct"
    high_voltage: Quantities = "hv_volts"  # V
    crystal_temperature: Quantities = field(
        default_factory=lambda: ["detector_temperature_c", "detector_temperature_k"]
    )  # C
    cooler: Quantities = "cooler_power_w"  # above zero: ON, else OFF
    ln2_fill: Quantities = "ln2_fill_pct"
    leakage_current: Quantities = "leakage_current_na"  # nA
    power: dict[str, str] = field(default_factory=_default_power)  # #PowerSupply: nonzero = ON
    process_sensors: list[ProcessSensorConfig] = field(default_factory=_default_process_sensors)

    def __post_init__(self) -> None:
        if not 1 <= self.report_hours <= 24 or 24 % self.report_hours:
            raise ValueError(
                f"report_hours must divide a day (1, 2, 3, 4, 6, 8, 12 or 24), got {self.report_hours}"
            )
        for supply in self.power:
            if not re.match(r"^[A-Za-z0-9_]+$", supply):
                raise ValueError(f"power supply names must be one word, got {supply!r}")
        from .soh import check_fields  # the unit rules live with the conversion

        check_fields(self)


ALERT_KINDS = ("ALERT_SYSTEM", "ALERT_FLOW", "ALERT_TEMP", "ALERT_UPS")


@dataclass(frozen=True)
class LimitConfig:
    """`[alerts.limits.QUANTITY]`: the range a quantity must stay in."""

    min: float | None = None
    max: float | None = None
    # back inside by this much before the episode ends (so a value hovering at the limit
    # does not raise an alert at every sample); in the quantity's unit
    hysteresis: float = 0.0
    kind: Literal["ALERT_SYSTEM", "ALERT_FLOW", "ALERT_TEMP", "ALERT_UPS"] | None = None

    def __post_init__(self) -> None:
        if self.min is None and self.max is None:
            raise ValueError("a limit needs min, max or both")
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        if self.hysteresis < 0:
            raise ValueError("hysteresis must not be negative")


def _default_limits() -> dict[str, LimitConfig]:
    return {
        # an HPGe crystal warming up: the spectra degrade, then the HV must go off
        "cold_tip_temperature_k": LimitConfig(max=110.0, hysteresis=2.0),
        "detector_temperature_k": LimitConfig(max=110.0, hysteresis=2.0),
        "ups_on_battery": LimitConfig(max=0.5, kind="ALERT_UPS"),
    }


@dataclass(frozen=True)
class AlertsConfig:
    """`[alerts]`: when the agent raises ALERT messages (besides device faults)."""

    # [alerts.limits.QUANTITY] tables; given, they replace the defaults entirely
    limits: dict[str, LimitConfig] = field(default_factory=_default_limits)
    outbox_max_ready: int = 24  # more files than this waiting to be sent (6 h of spectra)
    cert_warning_days: float = 30.0  # the station certificate expires within this
    crl: Path | None = None  # the CRL the station has (PEM or DER), if any
    crl_warning_days: float = 3.0  # its next update is due within this

    def __post_init__(self) -> None:
        if self.outbox_max_ready < 1:
            raise ValueError("outbox_max_ready must be at least 1")
        if self.cert_warning_days < 0 or self.crl_warning_days < 0:
            raise ValueError("cert_warning_days and crl_warning_days must not be negative")
        for quantity in self.limits:
            if not re.match(r"^[a-z0-9_]+$", quantity):
                raise ValueError(
                    f"limits: {quantity!r} is not a quantity name (snake_case ending in its unit)"
                )


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
    sensors: list[SensorConfig] = field(default_factory=list)
    soh: SohConfig = field(default_factory=SohConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)


def load_agent_config(path: str | Path) -> AgentConfig:
    """Read and check an agent configuration; ConfigError names the file and the key."""
    return load_config(AgentConfig, path)
