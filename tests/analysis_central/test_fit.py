"""The Poisson fit on the edge of its domain, the uncertainty of an estimate below zero,
and x-rays with their own ratios."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from central.reanalysis import analyze
from central.reanalysis.analysis import _covariance, _referenced
from central.reanalysis.fit import fit_poisson

from .simulated import simulate


def _line_on_flat_baseline(n_channels: int = 61):
    """mu = b + a g(x): a Gaussian line of unit area on a flat baseline, both linear."""
    x = np.arange(n_channels) - n_channels // 2
    g = np.exp(-0.5 * (x / 2.0) ** 2)
    g /= g.sum()
    design = sparse.csr_matrix(np.column_stack([g, np.ones(n_channels)]))

    def mu_of(p):
        return design @ p[:2]

    def jacobian_of(p):
        return mu_of(p), design

    return g, mu_of, jacobian_of


def test_a_negative_line_over_empty_channels_stops_on_the_edge_quickly():
    g, mu_of, jacobian_of = _line_on_flat_baseline()
    n = np.ones(len(g))
    n[np.abs(np.arange(len(g)) - len(g) // 2) <= 6] = 0  # a hole where the line would be
    free = np.arange(2)
    fit = fit_poisson(mu_of, jacobian_of, n, np.array([0.0, 1.0]), free, np.zeros(2), np.zeros(2))
    assert fit.converged and fit.iterations < 25
    assert fit.p[0] < 0  # the line dug into the baseline, unbounded below zero
    assert fit.mu.min() >= 0 and fit.mu.min() < 1e-2  # down to the edge, not across


def test_a_positive_line_converges_to_the_weighted_estimate():
    g, mu_of, jacobian_of = _line_on_flat_baseline()
    rng = np.random.default_rng(3)
    n = rng.poisson(5.0 + 400.0 * g).astype(float)
    free = np.arange(2)
    fit = fit_poisson(mu_of, jacobian_of, n, np.array([100.0, 4.0]), free, np.zeros(2), np.zeros(2))
    assert fit.converged and fit.iterations < 15
    # the Poisson likelihood keeps the total: sum(mu) == sum(n) with a free flat baseline
    assert abs(fit.mu.sum() - n.sum()) < 1e-3 * n.sum()
    assert abs(fit.p[0] - 400.0) < 4 * np.sqrt(fit.covariance()[0, 0])


class _OneRegion:
    """The line on its flat baseline as the model _referenced and _covariance read it."""

    n_amp = 1

    def __init__(self, mu_of, n_channels: int):
        self.mu = mu_of
        self.region_of_row = np.zeros(n_channels, int)


def _line_uncertainty(area: float, baseline: float = 20.0, lowest: float = -np.inf):
    """(estimate, u^2 as analysis.py states it, u^2 at zero) for counts mu = b + area g."""
    g, mu_of, jacobian_of = _line_on_flat_baseline()
    n = baseline + area * g  # the expected counts themselves: the estimate is the area
    fit = fit_poisson(
        mu_of,
        jacobian_of,
        n,
        np.array([0.0, baseline]),
        np.arange(2),
        np.zeros(2),
        np.zeros(2),
        lower=np.array([lowest, -np.inf]),
    )
    ref = _referenced(_OneRegion(mu_of, len(g)), fit)
    return fit.p[0], _covariance(_OneRegion(mu_of, len(g)), ref)[0, 0], ref.covariance()[0, 0]


def test_an_estimate_below_zero_has_the_uncertainty_of_its_own_counts():
    """ISO 11929: u^2(y) = u^2(0) + kappa y on both sides of zero. With u(0) below zero the
    few-count pulls at zero activity were narrow (Xe-131m with 0-100 counts: SD 0.88)."""
    _, var0, _ = _line_uncertainty(0.0)
    up, var_up, _ = _line_uncertainty(30.0)
    down, var_down, var_down_at_zero = _line_uncertainty(-30.0)
    assert up == pytest.approx(30.0, rel=1e-4) and down == pytest.approx(-30.0, rel=1e-4)
    assert var_down_at_zero == pytest.approx(var0)  # the information is still taken at zero
    assert var_up - var0 > 0.1 * var0  # the line's own counts raise u above zero ...
    assert var_down - var0 == pytest.approx(-(var_up - var0), rel=0.05)  # ... and lower it below


def test_an_estimate_held_by_its_lower_bound_keeps_the_uncertainty_at_zero():
    """The bound decided it, not the counts: no primary result to take u(y) at."""
    held, var_held, var_held_at_zero = _line_uncertainty(-30.0, lowest=-10.0)
    assert held == -10.0
    assert var_held == var_held_at_zero
    _, var_free, var_free_at_zero = _line_uncertainty(-30.0)
    assert var_free < 0.9 * var_free_at_zero


def test_a_strong_xe135_leaves_the_cs_k_x_rays_well_fitted():
    """Xe-135's Cs K ratios differ from Xe-133's; with one group shape the region misfit
    (reduced chi-square 1.67 on this spectrum; 1.09 with them tied to Xe-135)."""
    res = analyze(simulate({"Xe-135": 5000.0, "Xe-133": 50.0}, seed=5).phd)
    cs_k = [p for p in res.peaks if p.nuclide == "Cs-K"]
    assert cs_k
    assert all(p.reduced_chi2 is not None and p.reduced_chi2 < 1.4 for p in cs_k)
    lines = res.nuclides["Xe-135"].lines
    assert lines and all(ln.energy_kev > 100 for ln in lines)  # x-rays never reported
