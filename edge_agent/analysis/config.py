"""The station analysis settings: which nuclides, which ties, thresholds and shape defaults.

One frozen dataclass with the values the method was benchmarked with; `analyze` takes
another instance (or a dict of overrides) for experiments.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

# Reported nuclides: each gets a result or an upper limit.
NUCLIDES_OF_INTEREST = (
    "Xe-131m",
    "Xe-133",
    "Xe-133m",
    "Xe-135",
    "I-131",
    "I-133",
    "Kr-85m",
    "Kr-88",
    "Xe-135m",
)

# Fitted so that they do not bias the nuclides of interest (physics.md section 3).
INTERFERERS = ("Pb-214", "Bi-214", "Tl-208", "K-40", "Annihilation", "Pb-XRF")

# Lines that lie under a stronger line of another nuclide: their area is tied to the
# activity the nuclide's own clean lines give (a Gaussian prior in the region fit),
# and they never count towards that nuclide's activity.
TIED_LINES = (
    ("I-131", 80.185),  # under Xe-133 81.0 (physics.md 3.1)
    ("Xe-133", 160.612),  # under Xe-131m 163.9 (3.2)
    ("Xe-135", 608.185),  # under Bi-214 609.3 (3.4)
    ("I-133", 510.53),  # in the 511 keV cluster (3.5)
    ("Tl-208", 510.74),  # in the 511 keV cluster (3.5)
)

# X-ray groups are fitted as one component with the intensity ratios of the first
# nuclide named here (physics.md 3.3 and 3.6).
XRAY_GROUP_SHAPE = {"Xe-K": "Xe-131m", "Cs-K": "Xe-133", "Pb-K": "Pb-XRF", "Bi-K": "Pb-214"}

# Stable background lines for the gain-drift check (physics.md section 4).
STABLE_LINES = (
    ("Pb-214", 351.932),
    ("Bi-214", 609.312),
    ("K-40", 1460.822),
    ("Tl-208", 2614.511),
)


@dataclass(frozen=True)
class AnalysisConfig:
    nuclides: tuple[str, ...] = NUCLIDES_OF_INTEREST
    interferers: tuple[str, ...] = INTERFERERS
    tied_lines: tuple[tuple[str, float], ...] = TIED_LINES
    xray_group_shape: tuple[tuple[str, str], ...] = tuple(XRAY_GROUP_SHAPE.items())
    stable_lines: tuple[tuple[str, float], ...] = STABLE_LINES
    # x-ray groups also count towards activities (split between nuclides by their gammas)
    use_xrays: bool = True
    # ISO 11929 quantiles: k_(1-alpha), k_(1-beta) for alpha = beta = 5 %
    k_alpha: float = 1.645
    k_beta: float = 1.645
    # continuum (SNIP): largest clipping half-window in FWHM
    snip_window_fwhm: float = 2.0
    # peak search: matched second-derivative filter, significance threshold
    search_threshold: float = 4.0
    # regions: peaks closer than this (in FWHM of the larger) share a region
    merge_distance_fwhm: float = 4.0
    # each region extends this far beyond its outer peaks (FWHM)
    region_margin_fwhm: float = 3.0
    # regions with fewer counts than this get a flat continuum
    flat_baseline_counts: float = 30.0
    # a found peak within this distance (FWHM) of a library line is that line
    identify_tolerance_fwhm: float = 0.5
    # region fit: peaks above these net counts get a free position, width and a step
    strong_peak_counts: float = 3000.0
    # Compton edges: a found peak with at least this rough net area gets a step at its
    # Compton edge E_c = 2 E^2 / (m_e c^2 + 2 E) in whichever region holds it (the edge of a
    # strong line is a resolution-smeared drop that a polynomial baseline cannot follow)
    edge_min_counts: float = 1000.0
    # low-energy tail of every peak: fraction of the area and decay length in sigma (a shape
    # calibration of the detector type; the PHD does not carry it)
    tail_fraction: float = 0.015
    tail_length_sigma: float = 1.2
    # drift: fit stable lines with at least this many net counts; correct the gain when
    # the weighted shift is this many standard uncertainties away from zero
    drift_min_counts: float = 10.0
    drift_significance: float = 3.0
    # the coarse gain search covers +-this; a fitted gain beyond max_gain_drift is not
    # applied (a wrong calibration, not a drift) and is reported as a warning
    coarse_drift: float = 0.003
    max_gain_drift: float = 0.01
    # lines below this energy are left out (x-ray threshold of the detector)
    min_energy_kev: float = 20.0
    # Relative standard uncertainty of the line intensities: None takes each line's from
    # the library (shared/nuclear/library.json, "intensity_uncertainty", with its source);
    # a number overrides the library for every gamma line / x-ray line
    intensity_rel_unc_gamma: float | None = None
    intensity_rel_unc_xray: float | None = None
    # Line consistency: the lines of a nuclide disagree when chi^2 of their activities
    # about the combined one exceeds its (1 - p) quantile; the combined uncertainty is
    # then widened by the Birge ratio (see docs/analysis-station.md, step 9)
    consistency_p_value: float = 0.01


DEFAULT_CONFIG = AnalysisConfig()


def config_from(value: AnalysisConfig | dict[str, Any] | None) -> AnalysisConfig:
    """The configuration to use: the default, an AnalysisConfig, or the default with overrides."""
    if value is None:
        return DEFAULT_CONFIG
    if isinstance(value, AnalysisConfig):
        return value
    if isinstance(value, dict):
        known = {f.name for f in fields(AnalysisConfig)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown analysis setting(s): {', '.join(unknown)}")
        return replace(DEFAULT_CONFIG, **value)
    raise TypeError(f"config must be an AnalysisConfig or a dict, got {type(value).__name__}")
