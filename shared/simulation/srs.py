"""Simulated SRS fields with realistic magnitudes, for tests and the demo (docs/impact.md).

A backward Gaussian puff from the receptor: its centre drifts upwind at a steady speed
(5-10 m/s), its width grows to about 1000 km in 4 days, its peak value/M follows the real
CWAO file's magnitudes (~1e-16 m^-3 per cell and step near the receptor, falling with
distance), with log-normal noise. Cells below a floor are left out, as in real files.
Deterministic for a given seed; the result is the SRS text, read back by shared.atm.srs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from shared.atm.srs import SrsHeader, format_srs

EARTH_RADIUS_KM = 6371.0
KM_PER_DEG = math.pi * EARTH_RADIUS_KM / 180.0


@dataclass(frozen=True)
class PuffWeather:
    """The backward puff's motion: where the air came from and how it spread."""

    speed_m_s: float = 7.0  # drift of the centre (5-10 m/s)
    from_deg: float = 270.0  # direction the air came from (270: west wind)
    width0_km: float = 30.0  # puff width (1 sigma) at the receptor
    width_4d_km: float = 1000.0  # width after 4 days backward
    noise_sigma: float = 0.5  # log-normal noise on each cell
    # value/M (m^-3 per Bq per step) at the puff centre within the first steps;
    # the peak falls as the puff spreads, so that dilution matches impact.md's figures
    peak_per_bq: float = 6e-14
    spread_exponent: float = 2.6  # peak ~ width^-a (2 would be a flat layer)


def simulate_srs_text(
    station: str,
    latitude: float,
    longitude: float,
    sample_stop: datetime,
    *,
    sample_hours: float = 24.0,
    simulation_hours: float = 120.0,
    step_hours: float = 3.0,
    grid_deg: float = 0.5,
    release_mass: float = 1e15,
    weather: PuffWeather | None = None,
    seed: int = 0,
    floor: float = 1e-6,
    max_cells: int | None = None,
) -> str:
    """The text of one SRS file (CTBTO format, step base 0) for an IMS sample ending at
    `sample_stop`. `floor` drops cells whose value (before / M) is below it."""
    w = weather or PuffWeather()
    rng = np.random.default_rng(seed)
    steps = round(simulation_hours / step_hours)
    header = SrsHeader(
        latitude=latitude,
        longitude=longitude,
        sample_start=sample_stop - timedelta(hours=sample_hours),
        sample_stop=sample_stop,
        release_mass=release_mass,
        simulation_hours=steps * step_hours,
        step_hours=step_hours,
        averaging_hours=step_hours,
        dx=grid_deg,
        dy=grid_deg,
        station=station,
    )
    # upwind: the air arriving from `from_deg` was there earlier
    bearing = math.radians(w.from_deg)
    lats, lons, ks, values = [], [], [], []
    for k in range(steps):
        t_h = (k + 0.5) * step_hours
        drift_km = w.speed_m_s * 3.6 * max(0.0, t_h - sample_hours / 2)
        width_km = w.width0_km + (w.width_4d_km - w.width0_km) * min(1.0, t_h / 96.0) ** 1.2
        c_lat = latitude + drift_km * math.cos(bearing) / KM_PER_DEG
        c_lon = longitude + drift_km * math.sin(bearing) / (
            KM_PER_DEG * math.cos(math.radians(latitude))
        )
        # the same air spread wider: the peak falls with the area
        peak = w.peak_per_bq * (w.width0_km / width_km) ** w.spread_exponent * release_mass
        reach = 3.0 * width_km
        n_lat = int(reach / KM_PER_DEG / grid_deg) + 1
        n_lon = int(reach / (KM_PER_DEG * max(0.2, math.cos(math.radians(c_lat)))) / grid_deg) + 1
        gi = np.arange(-n_lat, n_lat + 1)
        gj = np.arange(-n_lon, n_lon + 1)
        cell_lat = (round(c_lat / grid_deg) + gi) * grid_deg
        cell_lon = (round(c_lon / grid_deg) + gj) * grid_deg
        la, lo = np.meshgrid(cell_lat, cell_lon, indexing="ij")
        keep = (la >= -90) & (la <= 90)
        dy = (la - c_lat) * KM_PER_DEG
        dx = (lo - c_lon) * KM_PER_DEG * np.cos(np.radians(la))
        v = peak * np.exp(-(dx**2 + dy**2) / (2 * width_km**2))
        v = v * rng.lognormal(0.0, w.noise_sigma, size=v.shape)
        keep &= v >= floor
        lats.append(la[keep])
        lons.append(((lo[keep] + 180.0) % 360.0) - 180.0)
        ks.append(np.full(int(keep.sum()), k))
        values.append(v[keep])
    lat_a, lon_a = np.concatenate(lats), np.concatenate(lons)
    k_a, v_a = np.concatenate(ks), np.concatenate(values)
    if max_cells is not None and v_a.size > max_cells:
        top = np.argsort(v_a)[::-1][:max_cells]
        top.sort()
        lat_a, lon_a, k_a, v_a = lat_a[top], lon_a[top], k_a[top], v_a[top]
    return format_srs(header, lat_a, lon_a, k_a, v_a)


def srs_file_name(station: str, sample_stop: datetime, centre: str = "SIMU") -> str:
    """`STATION.YYYYMMDDHH.CENTRE.txt`, the name the real files carry."""
    return f"{station}.{sample_stop:%Y%m%d%H}.{centre}.txt"
