"""The daily ATS of one station, made from its spectra and their analysis results, and read back.

One builder for both analyses: the station's agent writes the ATS of its own results
(MetaData.Analysis STATION, `.TXT`) at the end of each UTC day, and the same function can
write the central re-analysis's (CENTRAL, `.AS`). The reader turns an ATS back into one
`AnalysisResult` per sample, which is how the central server gets the station's numbers
to compare with its own (central/compare.py): pure functions, no I/O.

Units written: Bq, Bq/m3 and Bq per interval (`Bq/900s`). Units read: any the schema allows
(kBq, MBq, ...), converted to Bq. The ATS keeps release values of detects only (a
non-detect has its MDR); the reader gives a non-detect the release its activity stands for,
by the sample's own release factor (MDR / DetectionLimit), so that a comparison can work in
releases throughout.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from shared.formats import ATS_VERSION, validate_ats
from shared.formats.phd import Phd
from shared.results import AnalysisResult, CalibrationCheck, NuclideResult
from shared.timeutil import as_utc, iso_z

ANALYSES = ("STATION", "CENTRAL")

_PREFIX = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_RELEASE_UNIT = re.compile(r"^([kMGT]?)Bq/(?:([1-9][0-9]*)s|h)$")
_ACTIVITY_UNIT = re.compile(r"^([kMGT]?)Bq$")
_CONCENTRATION_UNIT = re.compile(r"^([kMGT]?)Bq/m3$")


@dataclass(frozen=True)
class AtsStation:
    """What the ATS says about the station (its `Station` object)."""

    code: str
    site: str
    country: str = ""
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class SampleRecord:
    """One sample of the day: its PHD, the product file name it was sent as (None: not
    sent), and the analysis result (None: not analysed, `error` says why)."""

    phd: Phd
    file_name: str | None
    result: AnalysisResult | None
    analysed_at: datetime | None = None
    error: str | None = None


@dataclass(frozen=True)
class StationSample:
    """One sample of an ATS read back: which spectrum, and its result in our model."""

    file_name: str | None
    srid: str
    acquisition_start: str  # ISO 8601 UTC with Z, as AnalysisResult carries it
    result: AnalysisResult


# ---------------------------------------------------------------------- names
def ats_nuclide_name(name: str) -> str:
    """Library name to ATS name: Xe-131m -> XE-131M."""
    return name.upper()


def library_nuclide_name(ats_name: str) -> str:
    """ATS name to library name: XE-131M -> Xe-131m, I-131 -> I-131."""
    element, _, rest = ats_name.partition("-")
    return f"{element.capitalize()}-{rest.replace('M', 'm')}"


# ---------------------------------------------------------------------- writing
def daily_ats(
    *,
    station: AtsStation,
    day: date,
    samples: Sequence[SampleRecord],
    analysis: str,
    generated_by: str,
    generated_at: datetime,
) -> dict[str, Any]:
    """The ATS document of `station`'s samples whose collection starts on `day` (UTC).

    Samples of other days are an error, not silently dropped. The document is validated
    against the schema before it is returned."""
    if analysis not in ANALYSES:
        raise ValueError(f"analysis must be STATION or CENTRAL, not {analysis!r}")
    detectors: dict[str, list[SampleRecord]] = {}
    for record in sorted(samples, key=lambda r: _collection(r.phd)[0]):
        start = _collection(record.phd)[0]
        if start.date() != day:
            raise ValueError(
                f"{record.file_name or record.phd.header.srid}: collected on {start.date()}, "
                f"not on {day}"
            )
        if record.phd.header.station != station.code:
            raise ValueError(
                f"{record.file_name or record.phd.header.srid}: from station "
                f"{record.phd.header.station}, not {station.code}"
            )
        detectors.setdefault(record.phd.header.detector, []).append(record)
    doc = {
        "MetaData": {
            "GenerationDate": iso_z(generated_at),
            "GeneratedBy": generated_by,
            "Description": f"Daily report for {station.code}"
            + (" (central re-analysis)" if analysis == "CENTRAL" else ""),
            "Version": ATS_VERSION,
            "Analysis": analysis,
            "Day": day.isoformat(),
        },
        "Station": {
            "Code": station.code,
            "Site": station.site,
            "Country": station.country,
            "Latitude": station.latitude,
            "Longitude": station.longitude,
        },
        "Detectors": [
            {
                "Code": code,
                "Manufacturer": None,
                "Calibrations": _calibrations([r.phd for r in records]),
                "Samples": [_sample(r) for r in records],
            }
            for code, records in detectors.items()
        ],
    }
    validate_ats(doc, f"ATS of {station.code} for {day}")
    return doc


def _collection(phd: Phd) -> tuple[datetime, datetime]:
    if phd.collection is not None:
        return as_utc(phd.collection.start), as_utc(phd.collection.stop)
    if phd.acquisition is not None:
        start = as_utc(phd.acquisition.start)
        return start, start + timedelta(seconds=phd.acquisition.real_time)
    raise ValueError(f"{phd.header.srid}: neither #Collection nor #Acquisition")


def _calibrations(phds: Sequence[Phd]) -> list[dict[str, Any]]:
    seen: dict[tuple, dict[str, Any]] = {}
    for phd in phds:
        if phd.calibration_time is None:
            continue
        entry = {
            "Time": iso_z(phd.calibration_time),
            "Energy": [
                {"Energy": p.energy, "Channel": p.channel, "Uncertainty": p.uncertainty}
                for p in phd.g_energy
            ],
            "Resolution": [
                {"Energy": p.energy, "FWHM": p.fwhm, "Uncertainty": p.uncertainty}
                for p in phd.g_resolution
            ],
            "Efficiency": [
                {"Energy": p.energy, "Efficiency": p.efficiency, "Uncertainty": p.uncertainty}
                for p in phd.g_efficiency
            ],
        }
        key = (entry["Time"], repr(entry["Energy"]), repr(entry["Resolution"]))
        key += (repr(entry["Efficiency"]),)
        seen.setdefault(key, entry)
    return sorted(seen.values(), key=lambda e: e["Time"])


def _quantity(value: float | None, unit: str, unc: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"Value": _number(value), "Unit": unit}
    if unc is not None:
        out["Uncertainty"] = _number(unc)
    return out


def _sample(record: SampleRecord) -> dict[str, Any]:
    phd = record.phd
    start, stop = _collection(phd)
    stack = phd.stack
    collection: dict[str, Any] = {
        "CollectionPeriod": {"Start": iso_z(start), "Stop": iso_z(stop)},
        "SampleSize": _quantity(stack.chamber_volume_m3 if stack else None, "m3"),
        "StackFlow": _quantity(stack.stack_flow_m3_s if stack else None, "m3/s"),
    }
    if stack is not None:
        optional = (
            ("SampleFlow", stack.sample_flow_m3_s, "m3/s"),
            ("TransitTime", stack.transit_time_s, "s"),
            ("ChamberPressure", stack.chamber_pressure_kpa, "kPa"),
            ("ChamberTemperature", stack.chamber_temperature_k, "K"),
            ("ReferencePressure", stack.reference_pressure_kpa, "kPa"),
            ("ReferenceTemperature", stack.reference_temperature_k, "K"),
        )
        for key, value, unit in optional:
            if value is not None:
                collection[key] = _quantity(value, unit)
    acq = phd.acquisition
    result = record.result
    analysis: dict[str, Any] = {
        "Method": _method_text(result, record.error),
        "Nuclides": [],
    }
    if record.analysed_at is not None:
        analysis["Time"] = iso_z(record.analysed_at)
    if result is not None:
        unit = f"Bq/{round(result.interval_s)}s"
        analysis["Nuclides"] = [_nuclide(n, unit) for n in result.nuclides.values()]
        if result.efficiency_model:
            analysis["EfficiencyModel"] = result.efficiency_model
        if result.calibration_misses:
            analysis["CalibrationWarnings"] = [
                {
                    "Block": c.block,
                    "Energy": c.energy_kev,
                    "Measured": c.measured,
                    "Fitted": c.fitted,
                    "Uncertainty": c.uncertainty,
                    "Deviation": c.deviation,
                    "Sigmas": c.sigmas,
                }
                for c in result.calibration_misses
            ]
        if result.warnings:
            analysis["Warnings"] = list(result.warnings)
    return {
        "SampleId": phd.header.srid,
        "FileName": record.file_name,
        "Collection": collection,
        "Acquisition": {
            "Start": iso_z(acq.start) if acq else iso_z(start),
            "RealTime": acq.real_time if acq else (stop - start).total_seconds(),
            "LiveTime": acq.live_time if acq else 0.0,
        },
        "Analysis": analysis,
    }


def _method_text(result: AnalysisResult | None, error: str | None) -> str:
    if result is not None:
        return f"stax-monitor {result.method} analysis {result.method_version}"
    return f"not analysed: {error}" if error else "not analysed"


def _nuclide(r: NuclideResult, release_unit: str) -> dict[str, Any]:
    detected = bool(r.detected)
    out = {
        "Name": ats_nuclide_name(r.nuclide),
        "Detected": detected,
        "Activity": _number(r.activity_bq),
        "ActivityUncertainty": _number(r.activity_unc_bq),
        "ActivityCountingUncertainty": _number(r.activity_counting_unc_bq),
        "ActivityUnit": "Bq",
        "Concentration": _number(r.concentration_bq_m3),
        "ConcentrationUncertainty": _number(r.concentration_unc_bq_m3),
        "ConcentrationUnit": "Bq/m3",
        "Release": _number(r.release_bq) if detected else None,
        "ReleaseUncertainty": _number(r.release_unc_bq) if detected else None,
        "ReleaseUnit": release_unit,
        "DecisionThreshold": _number(r.activity_decision_threshold_bq),
        "DetectionLimit": _number(r.activity_detection_limit_bq),
        "MDR": _number(r.mdr_bq),
        "Lines": [
            {
                "Energy": ln.energy_kev,
                "NetArea": _number(ln.net_area),
                "NetAreaUncertainty": _number(ln.net_area_unc),
            }
            for ln in r.lines
            if ln.used
        ],
    }
    if r.efficiency_unc_bq is not None:
        out["UncertaintyBudget"] = {
            "Counting": _number(r.activity_counting_unc_bq),
            "Efficiency": _number(r.efficiency_unc_bq),
            "NuclearData": _number(r.nuclear_data_unc_bq),
            "LineDisagreement": _number(r.disagreement_unc_bq),
            "Summing": _number(r.summing_unc_bq),
        }
        # in the release's and concentration's uncertainty only (not the activity's)
        if r.half_life_unc_bq is not None:
            out["UncertaintyBudget"]["HalfLife"] = _number(r.half_life_unc_bq)
    if r.lines_chi2 is not None and r.lines_dof and r.lines_consistent is not None:
        out["LineConsistency"] = {
            "ChiSquare": max(float(r.lines_chi2), 0.0),
            "DegreesOfFreedom": int(r.lines_dof),
            "BirgeRatio": float(r.birge_ratio or 0.0),
            "Consistent": bool(r.lines_consistent),
        }
    return out


def _number(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------- reading
def station_samples(doc: dict[str, Any]) -> list[StationSample]:
    """Each sample of a (validated) ATS document as an AnalysisResult, in file order.

    Samples that were not analysed (no nuclides) come back with no nuclides."""
    analysis = doc["MetaData"]["Analysis"]
    code = doc["Station"]["Code"]
    out = []
    for detector in doc["Detectors"]:
        for sample in detector["Samples"]:
            acq = sample["Acquisition"]
            result = AnalysisResult(
                method=analysis.lower(),
                method_version=sample["Analysis"]["Method"],
                source=sample["FileName"] or sample["SampleId"],
                station=code,
                detector=detector["Code"],
                srid=sample["SampleId"],
                acquisition_start=acq["Start"],
                live_time_s=float(acq["LiveTime"]),
                real_time_s=float(acq["RealTime"]),
                interval_s=_interval_s(sample),
                nuclides={},
            )
            for n in sample["Analysis"]["Nuclides"]:
                name = library_nuclide_name(n["Name"])
                result.nuclides[name] = nuclide_result(name, n)
            result.efficiency_model = sample["Analysis"].get("EfficiencyModel")
            result.warnings = list(sample["Analysis"].get("Warnings", []))
            result.calibration_misses = [
                CalibrationCheck(
                    c["Block"],
                    c["Energy"],
                    c["Measured"],
                    c["Fitted"],
                    c["Uncertainty"],
                    c["Deviation"],
                    c["Sigmas"],
                )
                for c in sample["Analysis"].get("CalibrationWarnings", [])
            ]
            out.append(StationSample(sample["FileName"], sample["SampleId"], acq["Start"], result))
    return out


def _interval_s(sample: dict[str, Any]) -> float:
    for n in sample["Analysis"]["Nuclides"]:
        m = _RELEASE_UNIT.match(n["ReleaseUnit"])
        if m:
            return float(m.group(2)) if m.group(2) else 3600.0
    period = sample["Collection"]["CollectionPeriod"]
    start = datetime.fromisoformat(period["Start"].replace("Z", "+00:00"))
    stop = datetime.fromisoformat(period["Stop"].replace("Z", "+00:00"))
    return (stop - start).total_seconds()


def _scale(pattern: re.Pattern[str], unit: str) -> float:
    m = pattern.match(unit)
    if m is None:
        raise ValueError(f"unit {unit!r} is not one this reader knows")
    return _PREFIX[m.group(1)]


def _times(value: float | None, factor: float | None) -> float | None:
    return None if value is None or factor is None else value * factor


def nuclide_result(name: str, n: dict[str, Any]) -> NuclideResult:
    """An ATS nuclide entry in Bq as a NuclideResult (release quantities of a non-detect
    through the release factor MDR / DetectionLimit)."""
    fa = _scale(_ACTIVITY_UNIT, n["ActivityUnit"])
    fc = _scale(_CONCENTRATION_UNIT, n["ConcentrationUnit"])
    fr = _scale(_RELEASE_UNIT, n["ReleaseUnit"])
    activity = _times(n["Activity"], fa)
    unc = _times(n["ActivityUncertainty"], fa)
    counting = _times(n.get("ActivityCountingUncertainty"), fa)
    release = _times(n["Release"], fr)
    release_unc = _times(n["ReleaseUncertainty"], fr)
    mdr = _times(n["MDR"], fr)
    dt = _times(n["DecisionThreshold"], fa)
    dl = _times(n["DetectionLimit"], fa)
    # release per Bq in the chamber: the detect's own ratio, else the limits'
    factor = None
    if release is not None and activity:
        factor = release / activity
    elif mdr is not None and dl:
        factor = mdr / dl
    if release is None:
        release = _times(activity, factor)
    budget = n.get("UncertaintyBudget") or {}
    if release_unc is None:
        # the half-life's part is the conversion's: in the release, not in the activity
        half_life = _times(budget.get("HalfLife"), fa)
        release_unc = _times(None if unc is None else math.hypot(unc, half_life or 0.0), factor)
    nan = math.nan
    consistency = n.get("LineConsistency") or {}
    return NuclideResult(
        nuclide=name,
        detected=bool(n["Detected"]),
        activity_bq=nan if activity is None else activity,
        activity_unc_bq=nan if unc is None else unc,
        activity_counting_unc_bq=(
            counting if counting is not None else (nan if unc is None else unc)
        ),
        concentration_bq_m3=_times(n["Concentration"], fc),
        concentration_unc_bq_m3=_times(n["ConcentrationUncertainty"], fc),
        release_bq=release,
        release_unc_bq=release_unc,
        decision_threshold_bq=_times(dt, factor),
        detection_limit_bq=mdr if mdr is not None else _times(dl, factor),
        mdr_bq=mdr if mdr is not None else _times(dl, factor),
        activity_decision_threshold_bq=nan if dt is None else dt,
        activity_detection_limit_bq=nan if dl is None else dl,
        efficiency_unc_bq=_times(budget.get("Efficiency"), fa),
        nuclear_data_unc_bq=_times(budget.get("NuclearData"), fa),
        disagreement_unc_bq=_times(budget.get("LineDisagreement"), fa),
        summing_unc_bq=_times(budget.get("Summing"), fa),
        half_life_unc_bq=_times(budget.get("HalfLife"), fa),
        lines_chi2=consistency.get("ChiSquare"),
        lines_dof=consistency.get("DegreesOfFreedom"),
        birge_ratio=consistency.get("BirgeRatio"),
        lines_consistent=consistency.get("Consistent"),
    )


__all__ = [
    "ANALYSES",
    "AtsStation",
    "SampleRecord",
    "StationSample",
    "ats_nuclide_name",
    "daily_ats",
    "library_nuclide_name",
    "nuclide_result",
    "station_samples",
]
