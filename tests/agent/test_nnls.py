"""The agent's own NNLS (shared/nnls.py) against scipy's Lawson-Hanson, and the agent's
import footprint that it exists for."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.optimize import nnls as scipy_nnls

from shared.calibration import ResolutionCalibration
from shared.nnls import NnlsError, nnls


def test_equal_to_scipy_on_random_problems():
    rng = np.random.default_rng(20261202)
    for _ in range(400):
        m, n = int(rng.integers(1, 25)), int(rng.integers(1, 12))
        a = rng.normal(size=(m, n))
        b = rng.normal(size=m) * rng.choice([1e-3, 1.0, 1e3])
        x_ref, r_ref = scipy_nnls(a, b)
        x, r = nnls(a, b)
        assert np.all(x >= 0)
        assert r == pytest.approx(r_ref, rel=1e-9, abs=1e-10 * max(1, abs(b).max()))
        if m >= n and np.linalg.matrix_rank(a) == n:  # a unique optimum
            np.testing.assert_allclose(x, x_ref, rtol=1e-7, atol=1e-9 * max(1, abs(b).max()))


def test_equal_to_scipy_on_resolution_designs():
    """The one use in the agent: FWHM^2 = w0 + w1 E + w2 E^2 with relative weights."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        k = int(rng.integers(1, 9))
        e = np.sort(rng.uniform(30, 1800, k))
        fwhm = np.sqrt(np.abs(rng.normal(0.8, 0.3) + rng.normal(1e-3, 1e-3) * e)) + 0.05
        f2 = fwhm**2
        design = np.vstack([e**i for i in range(min(3, k))]).T / f2[:, None]
        x_ref, r_ref = scipy_nnls(design, np.ones(k))
        x, r = nnls(design, np.ones(k))
        assert r == pytest.approx(r_ref, rel=1e-8, abs=1e-12)
        np.testing.assert_allclose(design @ x, design @ x_ref, rtol=1e-7, atol=1e-9)
    cal = ResolutionCalibration.fit([100.0, 500.0, 1000.0], [0.9, 1.2, 1.6])
    assert all(w >= 0 for w in cal.coefficients)
    assert cal.fwhm(500.0) == pytest.approx(1.2, rel=0.05)


def test_known_solution_and_bad_input():
    x, r = nnls([[1.0, 0.0], [0.0, 1.0]], [2.0, -3.0])
    assert x.tolist() == [2.0, 0.0] and r == pytest.approx(3.0)
    with pytest.raises(NnlsError, match="rows of A"):
        nnls(np.ones((3, 2)), np.ones(2))
    with pytest.raises(NnlsError, match="finite"):
        nnls([[1.0, np.nan]], [1.0])
    with pytest.raises(NnlsError, match="2-d"):
        nnls([1.0, 2.0], [1.0, 2.0])


def test_agent_does_not_import_scipy_optimize_or_stats():
    """The agent with its station analysis stays off scipy.optimize and scipy.stats (they
    alone cost ~45 MB resident): keeps it under the 100 MB target (README)."""
    code = (
        "import sys, edge_agent.service, edge_agent.analysis.analyze, shared.simulation;"
        "print(sorted(m for m in sys.modules"
        " if m.startswith(('scipy.optimize', 'scipy.stats'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
