"""The central method's line search (gain.guess_scale) and Poisson fitter on real HPGe
spectra (tests/data/vendor): the natural background lines are found where they are, with
the width HPGe resolution has."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from scipy.special import erf

from central.reanalysis.fit import fit_poisson
from central.reanalysis.gain import guess_scale
from tests.analysis_station.vendor import (
    MIN_SNR,
    NATURAL_LINES_KEV,
    nominal_fwhm_kev,
    position_tolerance_kev,
    spectra,
)

SQRT2 = np.sqrt(2.0)


class _Resolution:
    def fwhm(self, energy):
        return nominal_fwhm_kev(energy)


class _Calibration:
    def __init__(self, energy):
        self.energy, self.resolution = energy, _Resolution()


def line_width(counts, cal, energy: float) -> tuple[float, float]:
    """(FWHM keV, area / u) of one line: a bin-integrated Gaussian on a linear baseline,
    fitted by the central method's Poisson fitter."""
    x0 = cal.channel(energy)
    s0 = float(nominal_fwhm_kev(energy) / 2.3548 / cal.slope(x0))
    half = int(np.ceil(6 * s0)) + 4
    lo = int(x0) - half
    n = counts[lo : lo + 2 * half + 1]
    edges = lo - 0.5 + np.arange(n.size + 1)
    t = (edges[:-1] + 0.5 - (lo + half)) / half

    def parts(p):
        pos, log_s = p[3], p[4]
        s = np.exp(log_s)
        z = (edges - pos) / (SQRT2 * s)
        shape = 0.5 * np.diff(erf(z))
        return shape, s, z

    def mu(p):
        shape, _, _ = parts(p)
        return p[0] * shape + p[1] + p[2] * t

    def jac(p):
        shape, s, z = parts(p)
        pdf = np.exp(-z * z) / (np.sqrt(2 * np.pi) * s)
        d_pos = -p[0] * np.diff(pdf)
        d_logs = -p[0] * np.diff(pdf * (edges - p[3]))
        cols = np.vstack([shape, np.ones(n.size), t, d_pos, d_logs]).T
        return mu(p), sparse.csr_matrix(cols)

    base = max(float(np.median(n)), 1.0)
    p0 = np.array([max(n.sum() - base * n.size, 10.0), base, 0.0, x0, np.log(s0)])
    free = np.arange(5)
    fit = fit_poisson(mu, jac, n, p0, free, np.zeros(5), np.zeros(5))
    cov = np.linalg.inv(fit.information)
    fwhm = 2.3548200450309493 * np.exp(fit.p[4]) * float(cal.slope(fit.p[3]))
    return fwhm, fit.p[0] / np.sqrt(cov[0, 0])


@pytest.mark.parametrize("name,counts,cal", list(spectra()), ids=lambda v: str(v)[:12])
def test_natural_lines_are_found_where_they_are_with_hpge_widths(name, counts, cal):
    guess = guess_scale(counts, _Calibration(cal), np.array(NATURAL_LINES_KEV))
    rows = []
    for line, found, _ in guess.lines:
        fwhm, snr = line_width(counts, cal, found)
        if snr >= MIN_SNR:
            rows.append((line, found, fwhm))
    assert len(rows) >= 5, f"{name}: only {len(rows)} natural lines found"
    lines, found, fwhm = (np.array(x) for x in zip(*rows))
    # the method's own energy-scale correction: E_apparent = E (1 + gain) + offset
    residual = found - lines - (guess.gain * lines + guess.offset_kev)
    for e, d in zip(lines, residual):
        assert abs(d) <= position_tolerance_kev(cal, e), f"{name}: {e} keV off by {d:+.3f}"
    assert np.all((fwhm > 0.8) & (fwhm < 4.0))
    assert np.corrcoef(lines, fwhm)[0, 1] > 0.9
    assert fwhm[-1] > 1.4 * fwhm[0]
