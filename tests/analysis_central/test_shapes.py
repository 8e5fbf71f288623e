"""The shared-edge Gaussian of the central model equals the per-channel one to the bit."""

from __future__ import annotations

import numpy as np

from central.reanalysis.shapes import PairEdges, gaussian_in_channels


def test_gaussian_on_shared_edges_is_the_same_to_the_last_bit():
    rng = np.random.default_rng(7)
    x0 = np.array([40.3, 41.0, 120.7, 300.5])  # one centre on a channel, one on an edge
    sigma = np.array([1.7, 0.4, 3.2, 2.0])
    runs = [(0, 10, 80), (1, 10, 80), (2, 90, 160), (3, 200, 420), (2, 170, 175)]
    line = np.concatenate([np.full(b - a, k) for k, a, b in runs])
    channel = np.concatenate([np.arange(a, b, dtype=float) for _, a, b in runs])
    want = gaussian_in_channels(channel, x0[line], sigma[line])
    got = PairEdges(channel, line).gaussian(x0, sigma)
    assert np.array_equal(got, want)
    x0 = x0 + rng.uniform(-0.5, 0.5, len(x0))
    got = PairEdges(channel, line).gaussian(x0, sigma)
    assert np.array_equal(got, gaussian_in_channels(channel, x0[line], sigma[line]))


def test_erfc_far_below_is_two_as_scipy_gives_it():
    from scipy.special import erfc

    from central.reanalysis.shapes import _erfc

    x = np.concatenate([np.linspace(-40.0, 30.0, 70001), [-np.inf, np.inf, np.nan]])
    assert np.array_equal(_erfc(x), erfc(x), equal_nan=True)
