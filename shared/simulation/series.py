"""A realistic series of 15-minute spectra for one station: releases, stack, radon, drift.

`interval_spec(station, start, seed)` is a pure function of its arguments: every process
(working-hours releases, puffs, stack flow, radon progeny, gain drift) is either a smooth
function of time with seeded constants or drawn from a random generator derived from
(seed, station, interval index), so any interval can be asked for alone, in any order,
and is the same as in a whole series. `simulate_sample` turns a spec into the expected
spectrum, its Poisson sample, the PHD and the truth; `write_series` is the only part
that touches files.
"""

from __future__ import annotations

import csv
import json
import math
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np

from shared import __version__
from shared.formats.ims import write_message
from shared.formats.phd import Phd, StackConditions
from shared.formats.sample_phd import make_sample_phd, phd_file_name, sample_message
from shared.nuclear import Library, load_library
from shared.release import (
    REFERENCE_PRESSURE_KPA,
    REFERENCE_TEMPERATURE_K,
    FlowThroughChamber,
    volume_at_reference,
)
from shared.timeutil import as_utc, iso_z

from .detector import (
    DetectorModel,
    default_detector,
    efficiency_points,
    energy_points,
    resolution_points,
    varied_detector,
)
from .spectrum import ExpectedSpectrum, expected_spectrum, sample

INTERVAL = timedelta(minutes=15)
INTERVAL_S = 900.0
# Interval indices count from here, so that an interval's number (and its MSG_ID and
# random numbers) does not depend on where a series starts.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# Nuclides released by the facility, in report order; radon progeny come from the stack air.
RELEASED = ("Xe-131m", "Xe-133", "Xe-133m", "Xe-135", "I-131", "I-133", "Kr-85m", "Kr-88")
RADON_PROGENY = ("Pb-214", "Bi-214")
PUFF_MEMORY = 24  # intervals after which a puff (fall time <= 3 intervals) is gone (< 4e-4)
TRUTH_SCHEMA = "stax-simulator-truth/1"

# Purposes of the random streams, so that adding one never changes another.
_STATION, _DAY, _INTERVAL, _PUFF, _COUNTS, _HOUR, _RELEASE = range(7)


def _rng(seed: int, station: str, purpose: int, index: int) -> np.random.Generator:
    # SeedSequence wants non-negative words; the modulo keeps negative numbers distinct
    words = [int(seed) % (1 << 63), zlib.crc32(station.encode()), purpose, int(index) % (1 << 63)]
    return np.random.default_rng(words)


def interval_index(start: datetime) -> int:
    """The number of the 15-minute interval that starts at `start` (aligned, UTC, >= 2000)."""
    start = as_utc(start)
    n, rest = divmod(start - EPOCH, INTERVAL)
    if rest or n < 0:
        raise ValueError(
            f"interval start must be on the 15-minute grid (UTC) and after {EPOCH:%Y-%m-%d}, "
            f"got {start.isoformat()}"
        )
    return n


def interval_start(index: int) -> datetime:
    return EPOCH + index * INTERVAL


# ------------------------------------------------------------------ the station
@dataclass(frozen=True)
class StationProfile:
    """What stays the same for a station and seed: its facility's habits and its stack."""

    utc_offset_h: float  # facility local time = UTC + this
    stack_flow_mean: float  # m3/s at reference conditions
    stack_flow_waves: tuple[tuple[float, float, float], ...]  # relative amplitude, period s, phase
    transit_time_mean: float  # s at the mean stack flow
    sample_flow: float  # m3/s at reference conditions
    gain_offset: float
    gain_waves: tuple[tuple[float, float, float], ...]  # amplitude, period s, phase
    radon_mean: float  # Bq of Pb-214 in the chamber
    radon_diurnal: float  # relative amplitude, maximum at 05:00 local time
    bi_to_pb: float  # Bi-214 / Pb-214 activity ratio in the chamber


@lru_cache(maxsize=64)
def station_profile(station: str, seed: int) -> StationProfile:
    rng = _rng(seed, station, _STATION, 0)
    day = 86400.0

    def wave(amp_lo, amp_hi, period_lo, period_hi):
        return (
            float(rng.uniform(amp_lo, amp_hi)),
            float(rng.uniform(period_lo, period_hi)),
            float(rng.uniform(0, 2 * math.pi)),
        )

    return StationProfile(
        utc_offset_h=float(rng.integers(-8, 12)),
        stack_flow_mean=float(rng.uniform(14.0, 24.0)),
        stack_flow_waves=(
            wave(0.05, 0.12, day, day),  # ventilation follows the working day
            wave(0.05, 0.15, 2.5 * day, 5 * day),  # weather
            wave(0.01, 0.04, 5 * 3600.0, 11 * 3600.0),
        ),
        transit_time_mean=float(rng.uniform(7.0, 14.0)),
        sample_flow=float(rng.uniform(2.0e-4, 3.0e-4)),
        # |offset| + amplitudes < 4.5e-4: the drift stays below 5e-4
        gain_offset=float(rng.uniform(-1.0e-4, 1.0e-4)),
        gain_waves=(
            wave(1.0e-4, 2.5e-4, 3 * day, 8 * day),  # slow electronics drift
            wave(0.3e-4, 1.0e-4, day, day),  # room temperature
        ),
        radon_mean=float(rng.uniform(0.3, 1.0)),
        radon_diurnal=float(rng.uniform(0.3, 0.6)),
        bi_to_pb=float(rng.uniform(0.8, 0.95)),
    )


def _waves(t: float, waves) -> float:
    return sum(a * math.sin(2 * math.pi * t / p + ph) for a, p, ph in waves)


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


# -------------------------------------------------------------- releases
@dataclass(frozen=True)
class _Day:
    processing: bool
    level: float  # Xe-133 Bq per interval at full processing
    ratios: dict[str, float]  # to Xe-133 of the processing release
    background: float  # Xe-133 Bq per interval outside processing (hold-up tanks, hot cells)
    background_ratios: dict[str, float]


@lru_cache(maxsize=256)
def _day(station: str, seed: int, local_day: int) -> _Day:
    rng = _rng(seed, station, _DAY, local_day)
    weekday = (local_day + 5) % 7  # 2000-01-01 was a Saturday; 0 = Monday
    processing = weekday < 5 and rng.uniform() < 0.9
    return _Day(
        processing=bool(processing),
        level=_log_uniform(rng, 1e8, 1e10),
        ratios={
            "Xe-133m": _log_uniform(rng, 0.01, 0.05),
            "Xe-135": _log_uniform(rng, 0.05, 1.0),
            "Xe-131m": _log_uniform(rng, 0.001, 0.01),
        },
        background=_log_uniform(rng, 3e6, 3e7),
        # older gas: the short-lived isotopes have decayed
        background_ratios={
            "Xe-133m": _log_uniform(rng, 0.01, 0.03),
            "Xe-135": _log_uniform(rng, 0.002, 0.05),
            "Xe-131m": _log_uniform(rng, 0.002, 0.01),
        },
    )


def _working_hours(local_hour: float) -> float:
    """Fraction of full processing at a local time: 07:30-16:30 with half-hour ramps."""
    rise = min(max((local_hour - 7.25) / 0.5, 0.0), 1.0)
    fall = min(max((16.75 - local_hour) / 0.5, 0.0), 1.0)
    return min(rise, fall)


@dataclass(frozen=True)
class _Puff:
    size: float  # Xe-133 Bq in its first interval
    fall: float  # exponential fall time in intervals
    ratios: dict[str, float]


def _puff(station: str, seed: int, index: int, profile: StationProfile) -> _Puff | None:
    rng = _rng(seed, station, _PUFF, index)
    local = interval_start(index) + timedelta(hours=profile.utc_offset_h)
    day = _day(station, seed, (local.date() - EPOCH.date()).days)
    hour = local.hour + local.minute / 60.0
    # about three puffs per processing day, most of them while the hot cells work
    per_interval = 3.0 / 36 if day.processing and _working_hours(hour) > 0 else 0.3 / 96
    if rng.uniform() >= per_interval:
        return None
    ratios = {
        "Xe-133m": _log_uniform(rng, 0.01, 0.05),
        "Xe-135": _log_uniform(rng, 0.05, 1.0),
        "Xe-131m": _log_uniform(rng, 0.001, 0.01),
    }
    # traces that escape the iodine filters and the krypton of fresh targets
    for name, p, lo, hi in (
        ("I-131", 0.15, 1e-5, 1e-3),
        ("I-133", 0.15, 1e-5, 1e-3),
        ("Kr-85m", 0.3, 1e-3, 3e-2),
        ("Kr-88", 0.3, 1e-4, 1e-2),
    ):
        draw, value = rng.uniform(), _log_uniform(rng, lo, hi)
        if draw < p:
            ratios[name] = value
    return _Puff(
        size=_log_uniform(rng, 1e9, 1e12), fall=float(rng.uniform(1.0, 3.0)), ratios=ratios
    )


def _releases(station: str, seed: int, index: int, profile: StationProfile) -> dict[str, float]:
    """Bq released per nuclide in the interval: working-hours processing, background, puffs."""
    rng = _rng(seed, station, _RELEASE, index)
    start = interval_start(index)
    mid_local = start + INTERVAL / 2 + timedelta(hours=profile.utc_offset_h)
    day = _day(station, seed, (mid_local.date() - EPOCH.date()).days)
    hour = mid_local.hour + mid_local.minute / 60.0
    out = dict.fromkeys(RELEASED, 0.0)
    background = day.background * float(rng.lognormal(0.0, 0.3))
    out["Xe-133"] += background
    for name, r in day.background_ratios.items():
        out[name] += background * r
    work = _working_hours(hour) if day.processing else 0.0
    processing = day.level * work * float(rng.lognormal(0.0, 0.5))
    out["Xe-133"] += processing
    for name, r in day.ratios.items():
        out[name] += processing * r
    for j in range(index - PUFF_MEMORY, index + 1):
        puff = _puff(station, seed, j, profile)
        if puff is None:
            continue
        size = puff.size * math.exp(-(index - j) / puff.fall)
        out["Xe-133"] += size
        for name, r in puff.ratios.items():
            out[name] += size * r
    return out


# ------------------------------------------------------------------ the spec
@dataclass(frozen=True, eq=False)
class SampleSpec:
    """Everything true about one 15-minute sample before the detector sees it."""

    station: str
    detector_code: str
    seed: int
    detector_seed: int | None
    index: int  # interval number since 2000-01-01 00:00 UTC; also the MSG_ID
    start: datetime
    real_time_s: float
    releases_bq: dict[str, float]  # Bq released in the interval
    concentrations_bq_m3: dict[str, float]  # mean stack concentration, reference conditions
    chamber_activities_bq: dict[str, float]  # mean activity in the chamber (with radon progeny)
    stack: StackConditions
    gain_drift: float
    detector: DetectorModel = field(repr=False)

    @property
    def stop(self) -> datetime:
        return self.start + timedelta(seconds=self.real_time_s)

    @property
    def msg_id(self) -> int:
        return self.index

    @property
    def file_name(self) -> str:
        return phd_file_name(self.station, self.msg_id, self.start)


@lru_cache(maxsize=16)
def detector_for(detector_seed: int | None) -> DetectorModel:
    return default_detector() if detector_seed is None else varied_detector(detector_seed)


def interval_spec(
    station: str,
    start: datetime,
    seed: int,
    detector_seed: int | None = None,
    detector_code: str | None = None,
    library: Library | None = None,
) -> SampleSpec:
    """The sample of `station` for the 15-minute interval beginning at `start` (pure)."""
    library = library or load_library()
    index = interval_index(start)
    start = interval_start(index)
    detector = detector_for(detector_seed)
    profile = station_profile(station, seed)
    rng = _rng(seed, station, _INTERVAL, index)
    t = (start - EPOCH).total_seconds() + INTERVAL_S / 2

    stack_flow = profile.stack_flow_mean * (1.0 + _waves(t, profile.stack_flow_waves))
    stack_flow = float(np.clip(stack_flow * rng.normal(1.0, 0.01), 10.0, 30.0))
    transit = float(
        np.clip(profile.transit_time_mean * profile.stack_flow_mean / stack_flow, 5.0, 20.0)
    )
    sample_flow = profile.sample_flow * float(rng.normal(1.0, 0.01))
    local_hour = ((t / 3600.0 + profile.utc_offset_h) % 24.0) / 24.0
    chamber_t = 297.0 + 3.0 * math.sin(2 * math.pi * (local_hour - 0.375)) + rng.normal(0, 0.2)
    chamber_p = 100.8 + 0.6 * math.sin(2 * math.pi * t / (4.1 * 86400)) + rng.normal(0, 0.05)
    stack = StackConditions(
        chamber_volume_m3=detector.chamber_volume_m3,
        stack_flow_m3_s=round(stack_flow, 4),
        sample_flow_m3_s=round(sample_flow, 8),
        transit_time_s=round(transit, 2),
        chamber_pressure_kpa=round(float(chamber_p), 3),
        chamber_temperature_k=round(float(chamber_t), 2),
        reference_pressure_kpa=REFERENCE_PRESSURE_KPA,
        reference_temperature_k=REFERENCE_TEMPERATURE_K,
    )
    # The truth is computed from the rounded values the PHD carries.
    chamber = FlowThroughChamber.from_stack(stack, INTERVAL_S)
    releases = _releases(station, seed, index, profile)
    concentrations = {n: float(chamber.release_to_concentration(r)) for n, r in releases.items()}
    activities = {
        n: float(chamber.release_to_chamber_activity(r, library[n].decay_constant))
        for n, r in releases.items()
    }
    pb = _radon(station, seed, t, profile)
    activities["Pb-214"] = pb
    activities["Bi-214"] = pb * profile.bi_to_pb * float(rng.lognormal(0.0, 0.05))
    gain = profile.gain_offset + _waves(t, profile.gain_waves)
    return SampleSpec(
        station=station,
        detector_code=detector_code or f"{station}_001",
        seed=int(seed),
        detector_seed=detector_seed,
        index=index,
        start=start,
        real_time_s=INTERVAL_S,
        releases_bq=releases,
        concentrations_bq_m3=concentrations,
        chamber_activities_bq=activities,
        stack=stack,
        gain_drift=float(gain),
        detector=detector,
    )


def _radon(station: str, seed: int, t: float, profile: StationProfile) -> float:
    """Pb-214 in the chamber (Bq): a diurnal cycle (highest at dawn, when the air is still)
    times an hour-to-hour random factor, interpolated so that it changes smoothly."""
    hours = t / 3600.0
    h0 = math.floor(hours)
    w = hours - h0
    noise = [float(_rng(seed, station, _HOUR, h).lognormal(0.0, 0.35)) for h in (h0, h0 + 1)]
    local = (hours + profile.utc_offset_h) % 24.0
    diurnal = 1.0 + profile.radon_diurnal * math.cos(2 * math.pi * (local - 5.0) / 24.0)
    value = profile.radon_mean * diurnal * ((1 - w) * noise[0] + w * noise[1])
    return float(np.clip(value, 0.05, 5.0))


def series_specs(
    station: str,
    start: datetime,
    days: float,
    seed: int,
    detector_seed: int | None = None,
    detector_code: str | None = None,
    library: Library | None = None,
) -> list[SampleSpec]:
    """The 96-a-day samples of `days` days from `start` (aligned to 15 minutes)."""
    first = interval_index(start)
    count = round(days * 86400 / INTERVAL_S)
    return [
        interval_spec(station, interval_start(i), seed, detector_seed, detector_code, library)
        for i in range(first, first + count)
    ]


# --------------------------------------------------------------- simulation
@dataclass(eq=False)
class SimulatedSample:
    spec: SampleSpec
    expected: ExpectedSpectrum
    counts: np.ndarray
    phd: Phd

    @property
    def file_name(self) -> str:
        return self.spec.file_name

    @property
    def truth_file_name(self) -> str:
        return self.file_name.removesuffix(".TXT") + ".truth.json"


def simulate_sample(
    spec: SampleSpec, library: Library | None = None, system_type: str = "P"
) -> SimulatedSample:
    """Expected spectrum, Poisson counts and PHD of one sample (pure: same spec, same result)."""
    library = library or load_library()
    detector = spec.detector
    expected = expected_spectrum(
        detector,
        spec.chamber_activities_bq,
        real_time=spec.real_time_s,
        gain_drift=spec.gain_drift,
        library=library,
    )
    counts = sample(expected, _rng(spec.seed, spec.station, _COUNTS, spec.index))
    sampled_volume = spec.stack.sample_flow_m3_s * spec.real_time_s  # type: ignore[operator]
    phd = make_sample_phd(
        station=spec.station,
        detector=spec.detector_code,
        counts=counts,
        energy_span_kev=detector.energy_span_kev,
        collection_start=spec.start,
        collection_stop=spec.stop,
        sampled_volume_m3=round(sampled_volume, 6),
        acquisition_start=spec.start,
        real_time_s=expected.real_time,
        live_time_s=round(expected.live_time, 3),
        calibration_time=datetime(spec.start.year, 1, 1, tzinfo=UTC),
        energy_points=energy_points(detector),
        resolution_points=resolution_points(detector),
        efficiency_points=efficiency_points(detector),
        transmit_time=spec.stop + timedelta(seconds=30),
        system_type=system_type,
        stack=spec.stack,
        comment=(
            f"Simulated by stax-monitor {__version__} (seed {spec.seed}, detector "
            f"{detector.name}); the truth is in {spec.file_name.removesuffix('.TXT')}.truth.json"
        ),
    )
    return SimulatedSample(spec, expected, counts, phd)


def truth_of(sim: SimulatedSample, library: Library | None = None) -> dict:
    """The truth JSON of a sample (docs/simulator.md lists the fields)."""
    library = library or load_library()
    spec, exp = sim.spec, sim.expected
    stack = spec.stack
    chamber = FlowThroughChamber.from_stack(stack, spec.real_time_s)
    d = spec.detector
    return {
        "schema": TRUTH_SCHEMA,
        "generator": f"stax-monitor {__version__}",
        "library": {"name": library.name, "version": library.version},
        "station": spec.station,
        "detector": spec.detector_code,
        "detector_model": d.name,
        "seed": spec.seed,
        "detector_seed": spec.detector_seed,
        "msg_id": str(spec.msg_id),
        "interval_index": spec.index,
        "phd_file": sim.file_name,
        "srid": sim.phd.header.srid,
        "collection_start": iso_z(spec.start),
        "collection_stop": iso_z(spec.stop),
        "interval_s": spec.real_time_s,
        "real_time_s": exp.real_time,
        "live_time_s": exp.live_time,
        "dead_time_fraction": exp.dead_time_fraction,
        "input_rate_cps": exp.input_rate_cps,
        "gain_drift": spec.gain_drift,
        "stack": {
            "chamber_volume_m3": stack.chamber_volume_m3,
            "chamber_volume_reference_m3": float(
                volume_at_reference(
                    stack.chamber_volume_m3,
                    stack.chamber_pressure_kpa,
                    stack.chamber_temperature_k,
                    stack.reference_pressure_kpa,
                    stack.reference_temperature_k,
                )
            ),
            "stack_flow_m3_s": stack.stack_flow_m3_s,
            "sample_flow_m3_s": stack.sample_flow_m3_s,
            "transit_time_s": stack.transit_time_s,
            "residence_time_s": chamber.residence_time_s,
            "chamber_pressure_kpa": stack.chamber_pressure_kpa,
            "chamber_temperature_k": stack.chamber_temperature_k,
            "reference_pressure_kpa": stack.reference_pressure_kpa,
            "reference_temperature_k": stack.reference_temperature_k,
        },
        "releases_bq": spec.releases_bq,
        "stack_concentrations_bq_m3": spec.concentrations_bq_m3,
        "chamber_activities_bq": spec.chamber_activities_bq,
        "lines": [
            {
                "nuclide": ln.nuclide,
                "energy_kev": ln.energy_kev,
                "intensity": ln.intensity,
                "kind": ln.kind,
                "origin": ln.origin,
                "activity_bq": ln.activity_bq,
                "efficiency": ln.efficiency,
                "expected_counts": ln.area,
                "gaussian_counts": ln.gaussian_area,
                "tail_counts": ln.tail_area,
                "channel": ln.channel,
                "fwhm_kev": ln.fwhm_kev,
            }
            for ln in exp.lines
        ],
        "expected_total_counts": float(exp.counts.sum()),
        "total_counts": int(sim.counts.sum()),
        "components_expected_counts": {k: float(v.sum()) for k, v in exp.components.items()},
    }


# --------------------------------------------------------------------- files
SUMMARY_FIELDS = (
    "phd_file",
    "msg_id",
    "collection_start",
    "real_time_s",
    "live_time_s",
    "gain_drift",
    "stack_flow_m3_s",
    "transit_time_s",
    *(f"release_{n}_bq" for n in RELEASED),
    *(f"activity_{n}_bq" for n in (*RELEASED, *RADON_PROGENY)),
    "total_counts",
)


def write_sample(
    sim: SimulatedSample, out_dir: Path, format: str = "STX1.0", library: Library | None = None
) -> tuple[Path, Path]:
    """Write the PHD and its truth JSON; returns their paths."""
    out_dir = Path(out_dir)
    phd_path = out_dir / sim.file_name
    truth_path = out_dir / sim.truth_file_name
    text = write_message(sample_message(sim.phd, sim.spec.msg_id, format))
    phd_path.write_text(text, encoding="ascii", newline="\n")
    truth_path.write_text(truth_json(truth_of(sim, library)), encoding="utf-8")
    return phd_path, truth_path


def truth_json(truth: dict) -> str:
    """JSON with one top-level field, and one line of the spectrum, per text line: readable,
    and written by the fast compact encoder (an indented dump costs more than the spectrum)."""
    parts = []
    for key, value in truth.items():
        if key == "lines":
            rows = ",\n  ".join(json.dumps(row) for row in value)
            parts.append(f' "lines": [\n  {rows}\n ]')
        else:
            parts.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def summary_row(sim: SimulatedSample) -> dict[str, object]:
    spec, exp = sim.spec, sim.expected
    row: dict[str, object] = {
        "phd_file": sim.file_name,
        "msg_id": spec.msg_id,
        "collection_start": iso_z(spec.start),
        "real_time_s": exp.real_time,
        "live_time_s": exp.live_time,
        "gain_drift": f"{spec.gain_drift:.3e}",
        "stack_flow_m3_s": spec.stack.stack_flow_m3_s,
        "transit_time_s": spec.stack.transit_time_s,
        "total_counts": int(sim.counts.sum()),
    }
    for n in RELEASED:
        row[f"release_{n}_bq"] = f"{spec.releases_bq[n]:.4e}"
    for n in (*RELEASED, *RADON_PROGENY):
        row[f"activity_{n}_bq"] = f"{spec.chamber_activities_bq[n]:.4e}"
    return row


def write_series(
    specs: list[SampleSpec],
    out_dir: Path,
    format: str = "STX1.0",
    system_type: str = "P",
    library: Library | None = None,
    summary_name: str | None = None,
) -> list[Path]:
    """Simulate and write every sample, then the summary CSV. Returns the PHD paths."""
    library = library or load_library()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths, rows = [], []
    for spec in specs:
        sim = simulate_sample(spec, library, system_type)
        phd_path, _ = write_sample(sim, out_dir, format, library)
        paths.append(phd_path)
        rows.append(summary_row(sim))
    if specs:
        first = specs[0]
        name = summary_name or (
            f"{first.station}_{first.start:%Y_%m_%dT%H_%M}_{len(specs)}_samples_summary.csv"
        )
        with open(out_dir / name, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=SUMMARY_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
    return paths
