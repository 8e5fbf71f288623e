"""Build a STAX-style SAMPLEPHD from domain values (station, times, calibrations, counts).

The edge agent uses it for real MCA data and the simulator for simulated data, so it
depends on nothing but the PHD records. Naming follows STAX: SRID `SM<nn><yyyymmddHHMM>`,
measurement id `<detector>-<yyyy/mm/dd>-<hh:mm>`, files
`<STATION>_<MSG_ID>_PHD_<yyyy>_<mm>_<dd>T<HH>_<MM>_<SS>.TXT` (docs/formats.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

import numpy as np

from shared.timeutil import as_utc

from .ims import Message
from .phd import (
    Acquisition,
    Collection,
    EfficiencyPoint,
    EnergyPoint,
    Phd,
    PhdHeader,
    ResolutionPoint,
    Spectrum,
    StackConditions,
)

_STATION = re.compile(r"^[A-Z]{3}\d{2}$")


def station_number(station: str) -> str:
    """The 2-digit number of a station code such as AUS02 (-> '02')."""
    if not _STATION.match(station):
        raise ValueError(
            f"station code must be 3 capital letters and 2 digits (e.g. AUS02), got {station!r}"
        )
    return station[3:]


def stax_srid(station: str, collection_start: datetime) -> str:
    """`SM` + station number + collection start `yyyymmddHHMM` (UTC), e.g. SM02202611011545."""
    return f"SM{station_number(station)}{as_utc(collection_start):%Y%m%d%H%M}"


def measurement_id(detector: str, acquisition_start: datetime) -> str:
    """`<detector>-<yyyy/mm/dd>-<hh:mm>` of the acquisition start (UTC)."""
    return f"{detector}-{as_utc(acquisition_start):%Y/%m/%d-%H:%M}"


def phd_file_name(station: str, msg_id: int | str, acquisition_start: datetime) -> str:
    """`<STATION>_<MSG_ID>_PHD_<yyyy>_<mm>_<dd>T<HH>_<MM>_<SS>.TXT` (UTC)."""
    return f"{station}_{msg_id}_PHD_{as_utc(acquisition_start):%Y_%m_%dT%H_%M_%S}.TXT"


def make_sample_phd(
    *,
    station: str,
    detector: str,
    counts: Sequence[int] | np.ndarray,
    energy_span_kev: float,
    collection_start: datetime,
    collection_stop: datetime,
    sampled_volume_m3: float,
    acquisition_start: datetime,
    real_time_s: float,
    live_time_s: float,
    calibration_time: datetime,
    energy_points: Sequence[EnergyPoint],
    resolution_points: Sequence[ResolutionPoint],
    efficiency_points: Sequence[EfficiencyPoint],
    transmit_time: datetime | None = None,
    system_type: str = "P",
    geometry: str = "Marinelli",
    qualifier: str = "FULL",
    stack: StackConditions | None = None,
    comment: str | None = None,
    srid: str | None = None,
) -> Phd:
    """A SAMPLEPHD as a STAX stack monitor writes it. Raises ValueError naming the bad value.

    Times are UTC (naive datetimes are taken as UTC); volumes in m3 at reference conditions;
    real and live time in s; energies in keV. `srid` overrides the STAX scheme (needed for
    station codes without a 2-digit number).
    """
    if system_type not in ("P", "G"):
        raise ValueError(f"system type of a stack monitor is P or G, got {system_type!r}")
    c = np.asarray(counts)
    if c.ndim != 1 or len(c) == 0:
        raise ValueError("counts must be a non-empty list of channel contents")
    if not np.issubdtype(c.dtype, np.integer) and (
        not np.all(np.isfinite(c)) or np.any(c != np.round(c))
    ):
        raise ValueError("counts must be whole numbers")
    if np.any(c < 0):
        raise ValueError("counts must not be negative")
    if not energy_span_kev > 0:
        raise ValueError(f"energy span must be positive, got {energy_span_kev} keV")
    start, stop = as_utc(collection_start), as_utc(collection_stop)
    if stop <= start:
        raise ValueError(f"collection stop {stop} is not after its start {start}")
    if not 0 <= live_time_s <= real_time_s:
        raise ValueError(
            f"live time must be between 0 and the real time {real_time_s} s, got {live_time_s} s"
        )
    if not sampled_volume_m3 >= 0:
        raise ValueError(f"sampled volume must not be negative, got {sampled_volume_m3} m3")
    for what, points in (
        ("#g_Energy", energy_points),
        ("#g_Resolution", resolution_points),
        ("#g_Efficiency", efficiency_points),
    ):
        if not points:
            raise ValueError(f"{what} needs calibration points")
    acq_start = as_utc(acquisition_start)
    return Phd(
        data_type="SAMPLEPHD",
        header=PhdHeader(
            station=station,
            detector=detector,
            system_type=system_type,
            geometry=geometry,
            qualifier=qualifier,
            srid=srid or stax_srid(station, start),
            measurement_id=measurement_id(detector, acq_start),
            transmit_time=as_utc(transmit_time) if transmit_time is not None else None,
        ),
        comment=comment,
        collection=Collection(start=start, stop=stop, air_volume=float(sampled_volume_m3)),
        acquisition=Acquisition(
            start=acq_start, real_time=float(real_time_s), live_time=float(live_time_s)
        ),
        calibration_time=as_utc(calibration_time),
        stack=stack,
        g_energy=list(energy_points),
        g_resolution=list(resolution_points),
        g_efficiency=list(efficiency_points),
        g_spectrum=Spectrum(len(c), float(energy_span_kev), c.astype(np.int64), 0),
    )


def sample_message(phd: Phd, msg_id: int | str, format: str = "STX1.0") -> Message:
    """The message that carries one PHD (source = its station)."""
    return Message(sections=[phd], msg_id=str(msg_id), msg_source=phd.header.station, format=format)
