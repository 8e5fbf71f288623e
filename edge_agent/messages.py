"""The files a station makes from an acquisition: the SAMPLEPHD message, its bytes and its
name (docs/formats.md sections 2 and 5; the PHD itself comes from
shared/formats/sample_phd.py, which the simulator uses too); and the name and Station
object of its daily ATS (the document itself comes from shared/timeseries.py).
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, date, datetime, time

from shared.formats import Phd, StackConditions, write_message
from shared.formats.filenames import ProductName, extension_for
from shared.formats.sample_phd import make_sample_phd, phd_file_name, sample_message
from shared.timeseries import AtsStation
from shared.timeutil import as_utc

from .calibration import CalibrationPoints
from .config import StackDefaults, StationConfig
from .cycle import Acquired

__all__ = [
    "ats_file_name",
    "ats_station",
    "phd_file_name",
    "sample_phd",
    "srid",
    "stack_conditions",
    "to_bytes",
]


def srid(station_number: int, interval_start: datetime) -> str:
    """STAX sample reference id: SM + the configured 2-digit station number + yyyymmddHHMM."""
    return f"SM{station_number:02d}{as_utc(interval_start):%Y%m%d%H%M}"


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
    """The SAMPLEPHD of one acquisition. In a flow-through chamber collection and
    acquisition are the same period; the sampled volume is the sample flow times the real
    time (0 when the sample flow is unknown)."""
    if calibration.time is None:
        raise ValueError("the calibration has no date: set [calibration] time")
    flow = stack.sample_flow_m3_s if stack is not None else None
    channels = len(acquired.counts)
    return make_sample_phd(
        station=station.code,
        detector=station.detector,
        counts=acquired.counts,
        energy_span_kev=calibration.energy_span(channels),
        collection_start=acquired.start,
        collection_stop=acquired.stop,
        sampled_volume_m3=round(flow * acquired.real_time, 6) if flow is not None else 0.0,
        acquisition_start=acquired.start,
        real_time_s=acquired.real_time,
        live_time_s=acquired.live_time,
        calibration_time=calibration.time,
        energy_points=calibration.energy,
        resolution_points=calibration.resolution,
        efficiency_points=calibration.efficiency,
        transmit_time=transmit_time,
        system_type=station.system_type,
        geometry=station.geometry,
        stack=stack,
        srid=srid(station.number, acquired.interval_start),
    )


def to_bytes(phd: Phd, station: StationConfig, msg_id: int) -> bytes:
    """The message's exact bytes, as signed and sent."""
    return write_message(sample_message(phd, msg_id, station.message_format)).encode("ascii")


def ats_station(station: StationConfig) -> AtsStation:
    """The daily ATS's Station object: the code, the facility as the site, and where it is."""
    return AtsStation(
        code=station.code,
        site=station.facility,
        country=station.country,
        latitude=station.latitude,
        longitude=station.longitude,
    )


def ats_file_name(station: str, msg_id: int, day: date) -> str:
    """`<STATION>_<MSG_ID>_ATS_<yyyy>_<mm>_<dd>T00_00_00.TXT`: the station's ATS of a UTC day."""
    midnight = datetime.combine(day, time(), UTC)
    return str(ProductName(station, str(msg_id), "ATS", midnight, extension_for("ATS", "STATION")))
