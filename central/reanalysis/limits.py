"""Decision threshold and detection limit (ISO 11929) and Currie's levels, for one estimate.

The estimate's variance is modelled as u^2(y) = u0^2 + kappa y + u_rel^2 y^2: u0 is its
counting uncertainty when the true value is zero (from the Fisher information of the
fitted background), kappa the growth of the counting variance with the value (Poisson:
kappa = 1 in counts, 1/(eps I t) for one line in Bq) and u_rel the relative calibration
uncertainty. With k = k_(1-alpha) = k_(1-beta):
    decision threshold  y* = k u0
    detection limit     y# = y* + k u(y#)  ->  y# = (2 y* + k^2 kappa) / (1 - k^2 u_rel^2)
With few counts the null distribution is skewed and y* is its upper alpha quantile
instead (`upper_quantile`, above k u0); y# = y* + k u(y#) then solves the quadratic
    (1 - k^2 u_rel^2) y#^2 - (2 y* + k^2 kappa) y# + (y*^2 - k^2 u0^2) = 0,
which is the closed form above when y* = k u0.
Currie (1968), the same without calibration uncertainty:
    L_C = k u0,  L_D = k^2 kappa + 2 k u0  (= 2.71 + 3.29 sqrt(B) in counts for sigma0^2 = B).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr

_SQRT2PI = math.sqrt(2.0 * math.pi)
ALPHA = 0.05
MAJOR_WEIGHT = 0.02  # weights below this fraction of the largest count as Gaussian
K = 1.645  # k_(1-alpha) = k_(1-beta), alpha = beta = 5 %


@dataclass(frozen=True)
class Limits:
    decision_threshold: float
    detection_limit: float
    currie_lc: float
    currie_ld: float


def limits(
    u0: float, kappa: float, u_rel: float, y_star: float | None = None, k: float = K
) -> Limits:
    """The limits for an estimate with null standard uncertainty u0.

    y_star: the decision threshold when known better than k u0 (few counts: see
    `upper_quantile`); the detection limit follows from it by the closed form.
    """
    lc = k * u0
    y_star = lc if y_star is None else max(y_star, lc)
    a = 1.0 - (k * u_rel) ** 2
    b = 2.0 * y_star + k * k * kappa
    c = y_star * y_star - lc * lc  # >= 0
    y_hash = (b + math.sqrt(max(b * b - 4.0 * a * c, 0.0))) / (2.0 * a) if a > 0 else math.inf
    return Limits(y_star, y_hash, lc, k * k * kappa + 2.0 * lc)


def upper_quantile(c: np.ndarray, mu: np.ndarray, alpha: float = ALPHA) -> float:
    """y with P(sum c_i (n_i - mu_i) > y) = alpha for independent n_i ~ Poisson(mu_i).

    A linear estimate near zero is such a sum. With few counts it is skewed to the right,
    so k u0 would be exceeded more often than alpha on blanks; the saddlepoint
    approximation of Lugannani and Rice (1980) gives the tail from the cumulant
    generating function K(t) = sum mu_i (e^(t c_i) - 1 - t c_i).
    """
    keep = (mu > 0) & (c != 0)
    c, mu = c[keep], mu[keep]
    sigma = math.sqrt(float(np.sum(c * c * mu)))
    if sigma == 0:
        return 0.0
    c = c / sigma  # standardised: t in units of 1/sigma
    # small weights add (almost) Gaussian noise: lump them into one normal term
    major = np.abs(c) > MAJOR_WEIGHT * np.max(np.abs(c))
    rest = float(np.sum(c[~major] ** 2 * mu[~major]))
    c, mu = c[major], mu[major]
    t_max = min(50.0, 500.0 / max(float(np.max(c)), 1e-12))

    mu_c = mu * c
    mu_cc = mu_c * c

    def tail(t):
        tc = np.multiply.outer(np.atleast_1d(t), c)
        e = np.exp(tc)
        e1 = e - 1.0
        # the sums over the channels as products with mu, mu c, mu c^2 (no temporaries)
        k0 = (e1 - tc) @ mu + 0.5 * rest * t * t
        k1 = e1 @ mu_c + rest * t
        k2 = e @ mu_cc + rest
        w = np.sqrt(np.maximum(2.0 * (t * k1 - k0), 1e-300))
        u = t * np.sqrt(k2)
        return ndtr(-w) + np.exp(-0.5 * w * w) / _SQRT2PI * (1.0 / u - 1.0 / w) - alpha

    c_row = c[None, :]

    def tail_at(t: float) -> float:
        """tail(t)[0] with scalar arithmetic where the arrays had one element (the same
        operations, so the same values; a tenth of the ufunc calls the root search made)."""
        tc = t * c_row
        e = np.exp(tc)
        e1 = e - 1.0
        k0 = ((e1 - tc) @ mu)[0] + 0.5 * rest * t * t
        k1 = (e1 @ mu_c)[0] + rest * t
        k2 = (e @ mu_cc)[0] + rest
        w = math.sqrt(max(2.0 * (t * k1 - k0), 1e-300))
        u = t * math.sqrt(k2)
        # numpy's exp, not math.exp: they differ in the last bit of some values
        return float(ndtr(-w) + np.exp(-0.5 * w * w) / _SQRT2PI * (1.0 / u - 1.0 / w) - alpha)

    grid = _grid(t_max) if t_max > 0.2 else np.array([t_max])
    values = tail(grid)
    below = np.flatnonzero(values < 0)
    if len(below) == 0:
        t = float(grid[-1])  # heavier than any tail we can follow: the largest y reached
    elif below[0] == 0:
        return K * sigma  # lighter than Gaussian here: keep k u0
    else:
        i = below[0]
        t = brentq(tail_at, grid[i - 1], grid[i], xtol=1e-6)
    return sigma * (float(np.sum(mu * c * (np.exp(t * c) - 1.0))) + rest * t)


@functools.lru_cache(maxsize=64)
def _grid(t_max: float) -> np.ndarray:
    """The search grid of upper_quantile's saddlepoint (t_max is mostly its cap of 50)."""
    grid = np.geomspace(0.2, t_max, 24)
    grid.flags.writeable = False
    return grid
