"""Chamber activity -> concentration and release in the interval, with the shared formulas.

The conversion (physics.md section 6) lives in shared/release.py, the same code the
simulator uses for its truth; this module only gathers its inputs from the PHD. Both
conversions are linear in the activity, so one factor per nuclide serves the activity,
its uncertainty and its limits alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from shared.formats.phd import Phd
from shared.nuclear.library import Library
from shared.release import FlowThroughChamber, chamber_activity_to_concentration


@dataclass(frozen=True)
class ReleaseFactors:
    concentration: dict[str, float]  # Bq/m3 (reference conditions) per Bq in the chamber
    release: dict[str, float]  # Bq per interval per Bq in the chamber
    # u(factor)/factor from the half-life's uncertainty (both factors alike)
    half_life_rel: dict[str, float] = field(default_factory=dict)

    def factor(self, nuclide: str) -> float:
        return self.release[nuclide]

    def concentration_factor(self, nuclide: str) -> float:
        return self.concentration[nuclide]


def release_factors(
    phd: Phd, library: Library, nuclides, interval_s: float
) -> tuple[ReleaseFactors | None, str | None]:
    """The factors, or None and the reason when the PHD has no usable #Stack block."""
    if phd.stack is None:
        return None, "no #Stack block: release, concentration and MDR are not computed"
    try:
        chamber = FlowThroughChamber.from_stack(phd.stack, interval_s)
    except ValueError as exc:
        return None, f"{exc}; release, concentration and MDR are not computed"
    if not (chamber.stack_flow_m3_s > 0 and chamber.sample_flow_m3_s > 0):
        return None, "#Stack: flows must be positive; release is not computed"
    if not chamber.chamber_volume_ref_m3 > 0:
        return None, "#Stack: chamber volume must be positive; release is not computed"
    conc, rel, hl = {}, {}, {}
    for name in nuclides:
        lam = library[name].decay_constant
        hl[name] = half_life_rel_unc(
            library[name].half_life_s,
            library[name].half_life_unc_s,
            chamber.transit_time_s,
            chamber.residence_time_s,
        )
        conc[name] = float(
            chamber_activity_to_concentration(
                1.0,
                chamber.chamber_volume_ref_m3,
                lam,
                chamber.transit_time_s,
                chamber.residence_time_s,
            )
        )
        rel[name] = float(chamber.chamber_activity_to_release(1.0, lam))
    return ReleaseFactors(conc, rel, hl), None


def half_life_rel_unc(half_life_s, half_life_unc_s, transit_s, residence_s) -> float:
    """u(F)/F of the release and concentration factors F from u(T1/2).

    F goes as e^(lambda tau) / f(lambda t_res), f(x) = (1 - e^(-x)) / x, so
    d ln F / d lambda = tau + t_res (1/x - 1/(e^x - 1)) and d lambda / d T = -lambda / T.
    The chamber activity itself takes no decay correction (mean activity while counting).
    """
    if not half_life_s or not half_life_unc_s:
        return 0.0
    lam = math.log(2) / half_life_s
    x = lam * residence_s
    # 1/x - 1/(e^x - 1) -> 1/2 - x/12 for small x (cancellation otherwise)
    g = 0.5 - x / 12.0 if x < 1e-4 else 1.0 / x - 1.0 / math.expm1(x)
    dlnf_dlam = transit_s + residence_s * g
    return abs(dlnf_dlam) * lam * half_life_unc_s / half_life_s
