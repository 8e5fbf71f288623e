"""The compiled kernels equal the numpy forms they replace (and, for the fit, an independent
optimiser): the station method's numbers must not depend on how its loops are run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize

from edge_agent.analysis import kernels, warm_up
from edge_agent.analysis.continuum import lls
from edge_agent.analysis.shapes import peak_cdf_pdf, step_with_derivatives

RNG = np.random.default_rng(20261203)


@pytest.mark.parametrize("eta", [0.0, 0.015, 0.2])
def test_peak_columns_equal_the_numpy_shapes_and_their_derivatives(eta):
    edges = 99.5 + np.arange(61, dtype=float)
    pos = np.array([120.3, 127.9, 150.0, 300.0])  # the last far outside the region
    sig = np.array([2.1, 2.4, 1.8, 2.0])
    comp = np.array([0, 0, 1, 1])
    weight = np.array([0.7, 0.3, 1.0, 0.0])
    widx = np.array([1, 1, 2, -1])
    cols, d_shift, d_width = kernels.peak_columns(
        edges, pos, sig, comp, weight, 2, eta, 1.2, widx, 3, True
    )
    cdf, pdf = peak_cdf_pdf(edges[:, None], pos, sig, eta, 1.2 * sig)
    to_comp = np.zeros((4, 2))
    to_comp[np.arange(4), comp] = weight
    np.testing.assert_allclose(cols, np.diff(cdf, axis=0) @ to_comp, rtol=0, atol=1e-13)
    np.testing.assert_allclose(d_shift, -np.diff(pdf, axis=0) @ to_comp, rtol=0, atol=1e-13)
    d_log = -np.diff((edges[:, None] - pos) * pdf, axis=0)
    for j in (1, 2):
        sel = widx == j
        np.testing.assert_allclose(d_width[j], d_log[:, sel] @ to_comp[sel], atol=1e-13)
    assert cols[:, 0].sum() == pytest.approx(1.0, abs=1e-3)  # the peak's area is inside


def test_step_columns_equal_the_numpy_step():
    edges = -0.5 + np.arange(41, dtype=float)
    pos, sig = np.array([10.2, 30.7]), np.array([1.5, 2.5])
    got = kernels.step_columns(edges[:-1] + 0.5, pos, sig)
    want = step_with_derivatives(edges[:, None], pos, sig)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-14, atol=1e-15)


def _snip_numpy(v, w):
    """continuum.snip's clipping as it was written in numpy."""
    n = v.size
    for p in range(int(w.max()), 0, -1):
        if 2 * p >= n:
            continue
        mid = v[p : n - p]
        mean = 0.5 * (v[: n - 2 * p] + v[2 * p :])
        v[p : n - p] = np.where((w[p : n - p] >= p) & (mean < mid), mean, mid)
    return v


@pytest.mark.parametrize("n", [3, 40, 2000])
def test_snip_clipping_and_boxcar_equal_numpy_value_for_value(n):
    v = lls(RNG.poisson(30.0, n).astype(float))
    w = RNG.integers(1, 25, n)
    got = v.copy()
    kernels.snip_clip(got, w)
    assert np.array_equal(got, _snip_numpy(v.copy(), w))
    y = RNG.random(n)
    h = RNG.integers(0, 9, n)
    c = np.concatenate(([0.0], np.cumsum(y)))
    i = np.arange(n)
    lo, hi = np.maximum(i - h, 0), np.minimum(i + h + 1, n)
    assert np.array_equal(kernels.boxcar(y, h), (c[hi] - c[lo]) / (hi - lo))


def test_fisher_scoring_reaches_the_poisson_maximum_an_independent_optimiser_finds():
    x = np.linspace(-1.0, 1.0, 50)
    peak = np.exp(-0.5 * (x / 0.1) ** 2)
    b = np.ascontiguousarray(np.column_stack([np.ones_like(x), x, peak / peak.sum()]))
    n = np.random.default_rng(7).poisson(b @ np.array([8.0, 2.0, 150.0])).astype(float)
    prec, mean = np.zeros(3), np.zeros(3)
    beta = kernels.irls(b, n, prec, mean, np.zeros(3), False, 50)

    def nll(p):  # the Poisson negative log-likelihood and its gradient
        mu = np.maximum(b @ p, 1e-12)
        return float(np.sum(mu - n * np.log(mu))), b.T @ (1.0 - n / mu)

    ref = minimize(
        nll, np.array([5.0, 0.0, 100.0]), jac=True, method="BFGS", options={"gtol": 1e-10}
    )
    mu = b @ beta
    cov = kernels.fisher_inverse(b, mu, prec)
    # converged to the fit's tolerance (a deviance gain below 1e-5): the likelihood within
    # that of the optimum, the parameters within a hundredth of their standard deviations
    assert nll(beta)[0] - ref.fun < 1e-5
    assert np.all(np.abs(beta - ref.x) < 0.01 * np.sqrt(np.diag(cov)))
    np.testing.assert_allclose(cov, np.linalg.inv(b.T @ (b / mu[:, None])), rtol=1e-10)


def test_fisher_scoring_holds_empty_channels_on_the_boundary():
    """Few counts and a negative area: the maximum lies on mu = 0 of an empty channel."""
    x = np.arange(20, dtype=float)
    dip = np.exp(-0.5 * ((x - 10) / 1.5) ** 2)
    b = np.ascontiguousarray(np.column_stack([np.ones_like(x), dip / dip.sum()]))
    n = np.ones(20)
    n[8:13] = 0.0
    beta = kernels.irls(b, n, np.zeros(2), np.zeros(2), np.zeros(2), False, 50)
    mu = b @ beta
    assert mu.min() >= 0.0
    assert mu.min() < 1e-3  # the emptiest channel sits on the boundary
    assert beta[1] < 0


def test_gls_equals_the_textbook_formula():
    m = RNG.random((4, 2)) + 0.5
    a = RNG.random((4, 4))
    cov = a @ a.T + 4 * np.eye(4)
    y = RNG.random(4)
    act, cov_a, weights = kernels.gls(y, m, cov)
    cinv = np.linalg.inv(cov)
    want_cov = np.linalg.inv(m.T @ cinv @ m)
    np.testing.assert_allclose(cov_a, want_cov, rtol=1e-12)
    np.testing.assert_allclose(act, want_cov @ m.T @ cinv @ y, rtol=1e-12)
    np.testing.assert_allclose(weights @ y, act, rtol=1e-12)


def test_area_covariance_equals_its_numpy_steps_value_for_value():
    b = np.ascontiguousarray(RNG.random((30, 4)))
    mu = RNG.normal(3.0, 2.0, 30)  # some below zero: clipped to zero first
    prec = np.array([0.0, 0.0, 2.0, 0.0])
    idx = np.array([1, 3])
    scale = np.array([1.5, 1.1])
    full = kernels.fisher_inverse(b, np.maximum(mu, 0.0) + 0.25, prec)
    want = full[np.ix_(idx, idx)] * scale[:, None] * scale[None, :]
    assert np.array_equal(kernels.area_covariance(b, mu, 0.25, prec, idx, scale), want)


def _bands_numpy(sigma):
    """search.matched_filter's bands as they were found in numpy."""
    out, start = [], 0
    while start < sigma.size:
        band = np.nonzero(np.abs(sigma[start:] / sigma[start] - 1.0) > 0.1)[0]
        stop = max(start + int(band[0]) if band.size else sigma.size, start + 1)
        out.append((start, stop, float(np.median(sigma[start:stop]))))
        start = stop
    return out


@pytest.mark.parametrize("n", [1, 7, 3000])
def test_filter_bands_equal_the_numpy_bands_value_for_value(n):
    # a rising width with noise (not monotonic), as a spectrum's sigma may be
    sigma = 1.0 + 4.0 * np.linspace(0.0, 1.0, n) ** 0.7 + 0.02 * RNG.random(n)
    starts, stops, medians = kernels.filter_bands(sigma)
    assert list(zip(starts.tolist(), stops.tolist(), medians.tolist())) == _bands_numpy(sigma)


def test_warm_up_compiles_every_kernel():
    warm_up()
    for name in ("irls", "fisher_inverse", "region_basis", "levenberg_marquardt", "snip_clip",
                 "boxcar", "gls", "deviance", "filter_bands",
                 "area_covariance"):  # fmt: skip
        assert getattr(kernels, name).signatures, f"{name} was not compiled by warm_up"


_NO_COMPILING_AFTER_WARM_UP = r"""
import json, sys
from pathlib import Path
import numpy as np
from edge_agent.analysis import analyze, kernels, warm_up
from shared.formats.ims import read_message
from tests.analysis_station.synthetic import radon, sample_phd

def signatures():
    return {n: [str(s) for s in getattr(kernels, n).signatures]
            for n in dir(kernels) if hasattr(getattr(kernels, n), "signatures")}

warm_up()
before = signatures()
phds = [read_message(Path(sys.argv[1]).read_bytes()).phd]
rng = np.random.default_rng(3)
for sources in ({}, radon(), {**radon(), "Xe-133": 5e4, "Xe-135": 2e4, "Xe-133m": 800.0,
                              "Xe-131m": 300.0, "Xe-135m": 3e4, "I-133": 50.0}):
    phds.append(sample_phd(sources, rng)[0])
for phd in phds:
    analyze(phd)
after = signatures()
print(json.dumps({n: [s for s in after[n] if s not in before[n]] for n in after}))
"""


def test_real_spectra_compile_nothing_after_warm_up():
    """warm_up must leave nothing to compile: on a fast clock (or a slow machine) a first
    spectrum that compiles for seconds makes the agent miss a boundary, and a missed
    boundary is an ALERT_SYSTEM "spectra input data missing". A fresh process, so that the
    suite's other tests have compiled nothing yet."""
    real = Path(__file__).resolve().parents[1] / "data"
    phd = next(real.glob("*_PHD_*.TXT"))
    out = subprocess.run(
        [sys.executable, "-c", _NO_COMPILING_AFTER_WARM_UP, str(phd)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=300,
        check=True,
    ).stdout
    compiled = {name: new for name, new in json.loads(out.splitlines()[-1]).items() if new}
    assert compiled == {}, f"compiled after warm_up: {compiled}"
