"""The station analysis' building blocks on spectra whose every parameter the test sets."""

import math

import numpy as np
import pytest

from edge_agent.analysis.continuum import continuum, snip
from edge_agent.analysis.drift import _nearest_line_distance
from edge_agent.analysis.fit import Component, fit_region
from edge_agent.analysis.limits import currie, detection_limit_by_iteration, iso11929
from edge_agent.analysis.search import search_peaks
from edge_agent.analysis.shapes import peak_cdf, peak_in_bins

SIGMA = 2.5  # channels


def peaks_on_continuum(rng, positions, areas, size=2000, level=40.0, slope=-0.01):
    x = np.arange(size, dtype=float)
    cont = level * np.exp(slope * x / 100.0) + 2.0
    edges = np.arange(size + 1) - 0.5
    mu = cont.copy()
    for p, a in zip(positions, areas):
        mu += a * peak_in_bins(edges, p, SIGMA, 0.015, 1.2 * SIGMA)
    return rng.poisson(mu), cont


def test_peak_shape_has_unit_area_and_its_tail_on_the_low_side():
    edges = np.arange(-60, 61) - 0.5
    v = peak_in_bins(edges, 0.3, 2.0, 0.02, 2.4)
    assert v.sum() == pytest.approx(1.0, abs=1e-9)
    centre = np.argmax(v)
    assert v[centre - 8] > 3 * v[centre + 8]  # the tail is below the peak
    # no overflow far from the peak, where exp() of the naive formula would overflow
    assert np.all(np.isfinite(peak_cdf(np.array([-1e4, 1e4]), 0.0, 0.5, 0.02, 0.1)))


def test_snip_follows_a_known_continuum_under_peaks():
    rng = np.random.default_rng(4)
    positions = [300, 700, 1100, 1500]
    counts, cont = peaks_on_continuum(rng, positions, [20000, 5000, 2000, 800])
    fwhm = 2.355 * SIGMA
    raw = snip(counts, 1.5 * fwhm, 0.25 * fwhm)
    est = continuum(counts, fwhm, positions)
    inner = slice(50, 1950)
    # plain clipping settles below Poisson noise; the level correction removes that
    assert np.median(raw[inner] / cont[inner]) < 0.95
    assert np.median(est[inner] / cont[inner]) == pytest.approx(1.0, abs=0.03)
    for p in positions:  # under each peak (800 to 20000 counts) the continuum stays near the truth
        assert est[p] == pytest.approx(cont[p], rel=0.1)


def test_search_finds_known_peaks_and_little_else():
    rng = np.random.default_rng(5)
    positions = [250.3, 600.0, 900.7, 1300.2, 1700.5]
    counts, _ = peaks_on_continuum(rng, positions, [5000, 2000, 800, 400, 300])
    found = search_peaks(counts, SIGMA, threshold=5.0)
    channels = np.array([p.channel for p in found])
    for p in positions:
        assert np.min(np.abs(channels - p)) < 0.6
    assert len(found) <= len(positions) + 1
    strongest = max(found, key=lambda f: f.area)
    assert strongest.channel == pytest.approx(250.3, abs=0.3)
    assert strongest.area == pytest.approx(5000, rel=0.2)


def _single_peak_fit(counts, position=130.3, lo=100):
    c = Component(
        "p",
        "nuclide",
        "X",
        np.array([100.0]),
        np.array([position]),
        np.array([SIGMA]),
        np.array([1.0]),
    )
    return fit_region(counts, lo, [c], baseline_order=1, tail_fraction=0.015, tail_length_sigma=1.2)


def test_poisson_fit_recovers_a_peak_and_its_variance():
    rng = np.random.default_rng(6)
    lo, n = 100, 60
    edges = lo - 0.5 + np.arange(n + 1)
    truth = 1500.0
    mu = 30.0 + 0.1 * np.arange(n) + truth * peak_in_bins(edges, 130.3, SIGMA, 0.015, 1.2 * SIGMA)
    fits = [_single_peak_fit(rng.poisson(mu)) for _ in range(300)]
    areas = np.array([f.area(0) for f in fits])
    uncs = np.array([f.area_unc(0) for f in fits])
    one = fits[0]
    assert abs(one.area(0) - truth) < 3 * one.area_unc(0)
    # the Fisher uncertainty matches the scatter of a small Monte-Carlo (300 draws: +-8 %)
    assert areas.std(ddof=1) / uncs.mean() == pytest.approx(1.0, abs=0.12)
    # and the maximum-likelihood area is unbiased (least squares with 1/n weights is not)
    assert abs(areas.mean() - truth) < 3 * areas.std(ddof=1) / math.sqrt(len(areas))


def test_fit_stays_inside_mu_positive_with_almost_no_counts():
    counts = np.zeros(40)
    counts[[3, 31]] = 1
    fit = _single_peak_fit(counts, position=120.0)
    assert np.all(fit.mu > 0)
    assert np.isfinite(fit.area(0)) and fit.area_unc(0) > 0


def test_iso11929_closed_form_equals_the_iteration():
    for u0, g, u_rel in [(10.0, 1.0, 0.0), (3.0, 1.0, 0.05), (150.0, 1.0, 0.1), (0.4, 0.02, 0.03)]:
        lim = iso11929(u0, g, u_rel, 1.645, 1.645)
        assert lim.decision_threshold == pytest.approx(1.645 * u0)
        assert lim.detection_limit == pytest.approx(
            detection_limit_by_iteration(u0, g, u_rel, 1.645, 1.645), rel=1e-9
        )
    # different quantiles take the iteration, which satisfies y# = y* + k_beta u(y#)
    lim = iso11929(5.0, 1.0, 0.05, 1.645, 2.326)
    y = lim.detection_limit
    assert y == pytest.approx(lim.decision_threshold + 2.326 * math.sqrt(25 + y + (0.05 * y) ** 2))
    assert iso11929(5.0, 1.0, 0.7).detection_limit == math.inf  # k u_rel >= 1: no limit


def test_currie_levels():
    lim = currie(100.0, 10, 1_000_000)
    assert lim.decision_threshold == pytest.approx(1.645 * 10.0, rel=1e-4)
    assert lim.detection_limit == pytest.approx(2.706 + 3.29 * 10.0, rel=1e-3)


def test_coarse_gain_nearest_line_distance_equals_the_full_table():
    rng = np.random.default_rng(5)
    g = 1.0 + np.arange(-0.003, 0.003 + 3e-6, 6e-6)
    for _ in range(50):
        c = np.sort(np.concatenate([rng.uniform(0, 16000, rng.integers(1, 80)), [5e3, 5e3]]))
        # peaks anywhere, on lines, and exactly on a line's product with a gain of the grid
        p = np.concatenate([rng.uniform(-100, 16500, 30), c[:3], g[7] * c[-3:]])
        want = np.abs(p[None, :, None] - (g[:, None] * c[None, :])[:, None, :]).min(axis=2)
        assert np.array_equal(_nearest_line_distance(p, g, c), want)
