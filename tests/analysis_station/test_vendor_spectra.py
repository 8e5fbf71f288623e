"""The station's peak search and region fit on real HPGe spectra (tests/data/vendor):
the natural background lines are found where they are, with the width HPGe resolution has."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.analysis.fit import Component, fit_region
from edge_agent.analysis.search import search_peaks
from tests.analysis_station.vendor import (
    MIN_SNR,
    NATURAL_LINES_KEV,
    linear_residuals,
    nominal_fwhm_kev,
    position_tolerance_kev,
    spectra,
)

FWHM_PER_SIGMA = 2.3548200450309493


def station_lines(counts, cal):
    """(line keV, found keV, area / u, FWHM keV) of each natural line the search finds,
    its position and width from a free-shape region fit (the station's strong-peak fit)."""
    idx = np.arange(counts.size)
    sigma = nominal_fwhm_kev(cal.energy(idx)) / FWHM_PER_SIGMA / cal.slope(idx)
    found = search_peaks(counts, sigma, 4.0)
    out = []
    for line in NATURAL_LINES_KEV:
        near = [p for p in found if abs(cal.energy(p.channel) - line) < 2.5]
        if not near:
            continue
        pos = max(near, key=lambda p: p.significance).channel
        s = float(sigma[int(pos)])
        for _ in range(4):  # the width may move ~40 % per fit: a few rounds from the guess
            half = int(np.ceil(4 * s)) + 5
            lo = int(pos) - half
            comp = Component(
                "natural",
                "found",
                None,
                np.array([line]),
                np.array([pos]),
                np.array([s]),
                np.array([1.0]),
            )
            fit = fit_region(counts[lo : lo + 2 * half + 1], lo, [comp], free_shape=True)
            pos, s = pos + float(fit.shifts[0]), s * float(fit.width_scales[0])
        snr = fit.area(0) / fit.area_unc(0)
        if snr >= MIN_SNR:
            fwhm = s * FWHM_PER_SIGMA * float(cal.slope(pos))
            out.append((line, float(cal.energy(pos)), snr, fwhm))
    return out


@pytest.mark.parametrize("name,counts,cal", list(spectra()), ids=lambda v: str(v)[:12])
def test_natural_lines_are_found_where_they_are_with_hpge_widths(name, counts, cal):
    rows = station_lines(counts, cal)
    assert len(rows) >= 5, f"{name}: only {len(rows)} natural lines found"
    lines, found, snr, fwhm = (np.array(x) for x in zip(*rows))
    residual, _ = linear_residuals(lines, found, snr)
    for e, d in zip(lines, residual):
        assert abs(d) <= position_tolerance_kev(cal, e), f"{name}: {e} keV off by {d:+.3f}"
    # FWHM grows with energy as sqrt(w0 + w1 E + w2 E^2) does: rising, 0.8-4 keV
    assert np.all((fwhm > 0.8) & (fwhm < 4.0))
    assert np.corrcoef(lines, fwhm)[0, 1] > 0.9
    assert fwhm[-1] > 1.4 * fwhm[0]
