"""Analysis results: what both analyses report per spectrum, per nuclide and per peak.

One model for the station method, the central method, their comparison, the daily
products and `stax analyze --json`, so that the two methods are compared field by field.
Release-domain quantities (release, its uncertainty, decision threshold, MDR) are in Bq per
interval; activities are the mean activity in the counting chamber in Bq.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class PeakResult:
    """A fitted peak (found by the search or added from the library)."""

    energy_kev: float
    channel: float
    fwhm_kev: float
    net_area: float
    net_area_unc: float
    continuum: float  # counts of the continuum under the peak (within +-1.5 FWHM)
    nuclide: str | None = None  # None: found but not identified
    line_kev: float | None = None  # library energy of the assigned line
    found: bool = True  # found by the peak search (False: added from the library)
    region: int = 0  # index of the fit region
    reduced_chi2: float | None = None


@dataclass
class LineResult:
    """One line's contribution to a nuclide's activity."""

    energy_kev: float
    intensity: float  # photons per decay (fraction)
    efficiency: float
    net_area: float
    net_area_unc: float
    activity_bq: float
    activity_unc_bq: float  # counting only
    used: bool = True  # False: reported but left out of the nuclide's mean (e.g. interfered)


@dataclass
class NuclideResult:
    nuclide: str
    detected: bool
    activity_bq: float  # mean activity in the chamber
    activity_unc_bq: float  # standard uncertainty, counting and calibration
    activity_counting_unc_bq: float  # counting part only
    concentration_bq_m3: float | None  # at stack reference conditions; None without #Stack data
    concentration_unc_bq_m3: float | None
    release_bq: float | None  # Bq in the interval
    release_unc_bq: float | None
    decision_threshold_bq: float | None  # ISO 11929 decision threshold, release domain
    detection_limit_bq: float | None  # ISO 11929 detection limit, release domain (= MDR)
    mdr_bq: float | None
    activity_decision_threshold_bq: float  # the same, activity domain
    activity_detection_limit_bq: float
    currie_lc_bq: float | None = None  # Currie critical level, release domain
    currie_ld_bq: float | None = None  # Currie detection limit, release domain
    lines: list[LineResult] = field(default_factory=list)
    # The uncertainty budget of the activity (Bq, standard uncertainties; the total,
    # activity_unc_bq, is their root sum of squares with activity_counting_unc_bq). None: a
    # result written before the budget was reported.
    efficiency_unc_bq: float | None = None  # the efficiency curve (points' uncertainties, fit)
    # line intensities: each line's own part and the nuclide's decay-scheme normalisation,
    # the latter fully correlated between its lines
    nuclear_data_unc_bq: float | None = None
    disagreement_unc_bq: float | None = None  # added because the lines disagree (Birge)
    summing_unc_bq: float | None = None  # true coincidence summing, carried not corrected
    # the half-life's uncertainty, in Bq of chamber activity: it moves the factors from the
    # chamber activity to concentration and release (transit decay, residence), not the
    # activity, so it is outside activity_unc_bq and inside release_unc_bq and
    # concentration_unc_bq: release_unc_bq = F * root_sum_square(activity_unc_bq, this).
    # None: no #Stack conversion (or a result written before it was reported)
    half_life_unc_bq: float | None = None
    # Consistency of the lines the activity combines: chi^2 of the line activities about
    # the combined one (counting, efficiency and intensity uncertainties), its degrees of
    # freedom and the Birge ratio sqrt(chi^2/dof). None: fewer than two lines.
    lines_chi2: float | None = None
    lines_dof: int | None = None
    birge_ratio: float | None = None
    lines_consistent: bool | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["lines"] = [asdict(ln) for ln in self.lines]
        return d


@dataclass
class CalibrationCheck:
    """One calibration point of the PHD against the curve fitted through its block."""

    block: str  # "#g_Energy", "#g_Resolution", "#g_Efficiency"
    energy_kev: float
    measured: float  # channel, FWHM (keV) or efficiency
    fitted: float
    uncertainty: float  # the point's stated standard uncertainty
    deviation: float  # (fitted - measured) / measured
    sigmas: float  # (fitted - measured) / uncertainty


@dataclass
class AnalysisResult:
    method: str  # "station" or "central"
    method_version: str
    source: str  # file name
    station: str
    detector: str
    srid: str
    acquisition_start: str  # ISO 8601 UTC
    live_time_s: float
    real_time_s: float
    interval_s: float  # the collection interval the release refers to
    nuclides: dict[str, NuclideResult]
    peaks: list[PeakResult] = field(default_factory=list)
    energy_shift_kev: dict[str, float] = field(default_factory=dict)  # stable line -> shift found
    gain_correction: float = 1.0  # applied relative gain correction
    elapsed_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    # the calibration points the curves miss by more than 2 of their uncertainties
    calibration_misses: list[CalibrationCheck] = field(default_factory=list)
    efficiency_model: str | None = None  # the form of the efficiency curve used

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["nuclides"] = {k: v.to_json() for k, v in self.nuclides.items()}
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AnalysisResult:
        d = dict(d)
        d["nuclides"] = {
            k: NuclideResult(**{**v, "lines": [LineResult(**ln) for ln in v.get("lines", [])]})
            for k, v in d["nuclides"].items()
        }
        d["peaks"] = [PeakResult(**p) for p in d.get("peaks", [])]
        d["calibration_misses"] = [CalibrationCheck(**c) for c in d.get("calibration_misses", [])]
        return cls(**d)


def calibration_misses(checks) -> list[CalibrationCheck]:
    """The missed points of shared.calibration's checks as result records."""
    return [
        CalibrationCheck(
            c.block, c.energy_kev, c.measured, c.fitted, c.uncertainty, c.deviation, c.sigmas
        )
        for c in checks
        if c.missed
    ]


def root_sum_square(*parts: float | None) -> float:
    return float(sum((p or 0.0) ** 2 for p in parts) ** 0.5)


class AnalysisError(ValueError):
    """A spectrum that cannot be analysed (no calibration, no spectrum, ...), with the reason."""
