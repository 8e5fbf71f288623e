"""The central re-analysis's fitted curves of one spectrum, for the spectrum viewer.

`analyses.result` keeps what the central method reports (nuclides, peaks with their
areas, the continuum's counts under each peak), not the curves: 16384 channels twice per
spectrum would make the table some hundred times larger. The viewer recomputes them from
the stored spectrum with the method's public `central.reanalysis.fitted_model` (the
checked input, the model's components, the first guess of the energy scale, the joint
Poisson fit: the very steps `analyze` reports from) and draws the model's continuum (the
log-polynomial baseline of each fit region) and its total (baseline plus every line's
shape). The same steps on the same file give the same fit:
tests/web/test_spectrum_page.py checks that the curves' line areas are the stored
result's.

The fit takes about a second; the last few are kept per file (by its SHA-256).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from central.reanalysis import fitted_model
from shared.formats.phd import Phd
from shared.results import AnalysisError


@dataclass(frozen=True)
class FittedCurves:
    """The fit over its regions: one entry per fitted channel, regions in order."""

    index: np.ndarray  # array index of each fitted channel (0 = the spectrum's first)
    region: np.ndarray  # the fit region of each fitted channel
    continuum: np.ndarray  # counts per channel
    total: np.ndarray  # counts per channel: continuum and lines
    line_energy: np.ndarray  # keV (library) of each line in the model, steps left out
    line_area: np.ndarray  # fitted counts of each such line
    line_nuclide: tuple[str, ...]


def fitted_curves(phd: Phd, source: str = "") -> FittedCurves:
    """Fit `phd` as the central method does and return its curves. Raises AnalysisError
    for a spectrum the method refuses (as `analyze` does)."""
    fit = fitted_model(phd, source=source)
    lines = fit.fitted_lines()
    return FittedCurves(
        index=fit.channels,
        region=fit.regions,
        continuum=fit.continuum(),
        total=np.asarray(fit.total(), float),
        line_energy=np.array([ln.energy_kev for ln in lines]),
        line_area=np.array([ln.area for ln in lines]),
        line_nuclide=tuple(ln.nuclide for ln in lines),
    )


@lru_cache(maxsize=8)
def _cached(sha256: str, content: bytes, source: str) -> FittedCurves:
    from shared.formats import read_message

    phd = read_message(content, source=source, lenient=True).phd
    if phd is None:
        raise AnalysisError(f"{source}: no spectrum in the file")
    return fitted_curves(phd, source)


def cached_curves(sha256: str, content: bytes, source: str) -> FittedCurves:
    """`fitted_curves` of a stored file, kept for the last few files viewed."""
    return _cached(sha256, content, source)
