"""Chamber activity -> concentration and release in the interval, with the shared formulas.

The conversion (physics.md section 6) lives in shared/release.py, the same code the
simulator uses for its truth; this module only gathers its inputs from the PHD.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.formats.phd import Phd
from shared.nuclear.library import Library


@dataclass(frozen=True)
class ReleaseFactors:
    concentration: dict[str, float]  # Bq/m3 (reference conditions) per Bq in the chamber
    release: dict[str, float]  # Bq per interval per Bq in the chamber
    relative_uncertainty: dict[str, float]

    def factor(self, nuclide: str) -> float:
        return self.release[nuclide]

    def concentration_factor(self, nuclide: str) -> float:
        return self.concentration[nuclide]

    def relative_unc(self, nuclide: str) -> float:
        return self.relative_uncertainty.get(nuclide, 0.0)


def release_factors(phd: Phd, library: Library, nuclides) -> ReleaseFactors | None:
    """None when the PHD has no usable #Stack block."""
    return None
