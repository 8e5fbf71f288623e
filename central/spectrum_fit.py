"""The central re-analysis's fitted curves of one spectrum, for the spectrum viewer.

`analyses.result` keeps what the central method reports (nuclides, peaks with their
areas, the continuum's counts under each peak), not the curves: 16384 channels twice per
spectrum would make the table some hundred times larger. The viewer recomputes them from
the stored spectrum with the method's own steps (central/reanalysis/analysis.py: the
checked input, the model's components, the first guess of the energy scale, the joint
Poisson fit) and draws the model's continuum (the log-polynomial baseline of each fit
region) and its total (baseline plus every line's shape). The same steps on the same
file give the same fit: tests/web/test_spectrum_page.py checks that the curves' line
areas are the stored result's.

The fit takes about a second; the last few are kept per file (by its SHA-256).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from central.reanalysis import analysis as method
from central.reanalysis.components import STEP_LINE, build_components, with_steps
from central.reanalysis.gain import guess_scale
from central.reanalysis.model import ANN_FWHM
from shared.formats.phd import Phd
from shared.nuclear import load_library


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
    lib = load_library()
    counts, cal, live, _real = method._checked_input(phd, source)
    n_ch = len(counts)
    e_first, e_last = (float(cal.energy.energy(i)) for i in (0, n_ch - 1))
    components, lines = build_components(lib, cal.efficiency, live, max(e_first, 1.0), e_last)
    if not lines:
        raise method.AnalysisError(f"{source}: no library line in the spectrum's range")
    strong = np.array(
        [ln.energy for ln in lines if ln.kind == "gamma" and ln.intensity >= method.MIN_INTENSITY]
    )
    guess = guess_scale(counts, cal, strong)
    components, lines = with_steps(
        components,
        lines,
        [e for e, _, sig in guess.lines if sig >= method.STEP_MIN_SIGNIFICANCE],
    )
    theta0 = np.array(
        [
            guess.gain,
            guess.offset_kev,
            1.0,
            method.TAIL_FRACTION0,
            math.log(method.TAIL_LENGTH0),
            method.STEP0,
            0.0,
        ]
    )
    ann = [ln.extra_fwhm_kev for ln in lines if ln.kind == "annihilation"]
    theta0[ANN_FWHM] = ann[0] if ann else 0.0
    model, result, _free = method._joint_fit(counts, cal, components, lines, theta0, guess)
    a, b, theta = model.split(result.p)
    continuum = model.baseline(b)
    total = continuum + model.peaks(a, theta)
    areas = model.line_counts(a)
    keep = [i for i, ln in enumerate(model.lines) if ln.kind != STEP_LINE]
    return FittedCurves(
        index=model.channels.astype(int),
        region=model.region_of_row.astype(int),
        continuum=np.asarray(continuum, float),
        total=np.asarray(total, float),
        line_energy=np.array([model.lines[i].energy for i in keep]),
        line_area=np.array([float(areas[i]) for i in keep]),
        line_nuclide=tuple(model.lines[i].group or model.lines[i].source for i in keep),
    )


@lru_cache(maxsize=8)
def _cached(sha256: str, content: bytes, source: str) -> FittedCurves:
    from shared.formats import read_message

    phd = read_message(content, source=source, lenient=True).phd
    if phd is None:
        raise method.AnalysisError(f"{source}: no spectrum in the file")
    return fitted_curves(phd, source)


def cached_curves(sha256: str, content: bytes, source: str) -> FittedCurves:
    """`fitted_curves` of a stored file, kept for the last few files viewed."""
    return _cached(sha256, content, source)
