"""The files a station makes: sample reference ids, file names, and the SAMPLEPHD message
of one acquisition (docs/formats.md sections 2 and 5).
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import datetime

from shared.formats import (
    Acquisition,
    Collection,
    Message,
    Phd,
    PhdHeader,
    Spectrum,
    StackConditions,
    write_message,
)
from shared.timeutil import as_utc

from .calibration import CalibrationPoints
from .config import StackDefaults, StationConfig
from .cycle import Acquired

__all__ = ["file_name", "measurement_id", "sample_phd", "srid", "stack_conditions", "to_bytes"]


def srid(station_number: int, interval_start: datetime) -> str:
    """STAX sample reference id: SM + 2-digit station number + yyyymmddHHMM."""
    return f"SM{station_number:02d}{as_utc(interval_start):%Y%m%d%H%M}"


def file_name(station: str, msg_id: int, kind: str, t: datetime, ext: str = "TXT") -> str:
    """`<STATION>_<MSG_ID>_<TYPE>_<yyyy>_<mm>_<dd>T<HH>_<MM>_<SS>.<EXT>`."""
    return f"{station}_{msg_id}_{kind}_{as_utc(t):%Y_%m_%dT%H_%M_%S}.{ext}"


def measurement_id(detector: str, start: datetime) -> str:
    return f"{detector}-{as_utc(start):%Y/%m/%d-%H:%M}"


def stack_conditions(
    measured: StackConditions | None, defaults: StackDefaults
) -> StackConditions | None:
    """Measured values where there are some, the configured defaults elsewhere."""
    values = {}
    for f in fields(StackConditions):
        if f.name == "extra":
            continue
        value = getattr(measured, f.name) if measured is not None else None
        if value is None:
            value = getattr(defaults, f.name, None)
        values[f.name] = value
    if all(v is None for v in values.values()):
        return None
    return StackConditions(**values, extra=measured.extra if measured else ())


def sample_phd(
    station: StationConfig,
    acquired: Acquired,
    calibration: CalibrationPoints,
    stack: StackConditions | None,
    transmit_time: datetime,
) -> Phd:
    """The SAMPLEPHD of one acquisition. For a flow-through chamber collection and
    acquisition are the same period; the sampled volume is the sample flow times the real
    time (0 when the sample flow is unknown)."""
    channels = len(acquired.counts)
    flow = stack.sample_flow_m3_s if stack is not None else None
    volume = round(flow * acquired.real_time, 6) if flow is not None else 0.0
    return Phd(
        data_type="SAMPLEPHD",
        header=PhdHeader(
            station=station.code,
            detector=station.detector,
            system_type=station.system_type,
            geometry=station.geometry,
            qualifier="FULL",
            srid=srid(station.number, acquired.interval_start),
            measurement_id=measurement_id(station.detector, acquired.start),
            transmit_time=transmit_time,
        ),
        collection=Collection(acquired.start, acquired.stop, volume),
        acquisition=Acquisition(acquired.start, acquired.real_time, acquired.live_time),
        calibration_time=calibration.time,
        stack=stack,
        g_energy=list(calibration.energy),
        g_resolution=list(calibration.resolution),
        g_efficiency=list(calibration.efficiency),
        g_spectrum=Spectrum(channels, calibration.energy_span(channels), acquired.counts),
    )


def to_bytes(phd: Phd, station: StationConfig, msg_id: int) -> bytes:
    """The message's exact bytes, as signed and sent."""
    message = Message(
        sections=[phd], msg_id=str(msg_id), msg_source=station.code, format=station.message_format
    )
    return write_message(message).encode("ascii")


def with_transmit_time(phd: Phd, t: datetime) -> Phd:
    return replace(phd, header=replace(phd.header, transmit_time=t))
