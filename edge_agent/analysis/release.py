"""Chamber activity -> concentration and release in the interval, with the shared formulas.

The conversion (physics.md section 6) lives in shared/release.py, the same code the
simulator uses for its truth; this module only gathers its inputs from the PHD. Both
conversions are linear in the activity, so one factor per nuclide serves the activity,
its uncertainty and its limits alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.formats.phd import Phd
from shared.nuclear.library import Library
from shared.release import FlowThroughChamber, chamber_activity_to_concentration


@dataclass(frozen=True)
class ReleaseFactors:
    concentration: dict[str, float]  # Bq/m3 (reference conditions) per Bq in the chamber
    release: dict[str, float]  # Bq per interval per Bq in the chamber

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
    conc, rel = {}, {}
    for name in nuclides:
        lam = library[name].decay_constant
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
    return ReleaseFactors(conc, rel), None
