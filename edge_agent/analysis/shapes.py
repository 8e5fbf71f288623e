"""Peak shapes integrated over channels: Gaussian with a low-energy exponential tail, and the step.

Channel i covers [i - 0.5, i + 0.5) in the coordinate of the energy calibration, so a
peak at energy E sits at the fractional channel E^-1(E). Every shape has unit area over
the whole axis (a region that cuts a peak still fits its full area).
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfc, erfcx, ndtr

_SQRT2 = np.sqrt(2.0)
_INV_SQRT2PI = 1.0 / np.sqrt(2.0 * np.pi)


def peak_cdf(x, position: float, sigma: float, tail_fraction: float = 0.0, tail_length=1.0):
    """Cumulative distribution of a unit-area peak at the points x (channels).

    The peak is (1 - eta) Gaussian + eta (Gaussian convolved with a low-energy exponential
    of decay length tau = tail_length channels). The tail's CDF is the Gaussian CDF plus
    exp(u r + r^2/2) Phi(-(u + r)), u = (x - x0)/sigma, r = sigma/tau; the second form
    below is the same quantity written with erfcx so that it never overflows.
    """
    return peak_cdf_pdf(x, position, sigma, tail_fraction, tail_length)[0]


def peak_cdf_pdf(x, position: float, sigma: float, tail_fraction: float = 0.0, tail_length=1.0):
    """The peak's CDF and its density (per channel) at x; see `peak_cdf`."""
    u = (np.asarray(x, dtype=float) - position) / sigma
    cdf = ndtr(u)
    pdf = np.exp(-0.5 * u * u) * (_INV_SQRT2PI / sigma)
    if tail_fraction <= 0.0:
        return cdf, pdf
    r = sigma / tail_length
    b = u + r
    with np.errstate(over="ignore", under="ignore"):
        term = np.where(
            b > 0.0,
            0.5 * erfcx(np.maximum(b, 0.0) / _SQRT2) * np.exp(-0.5 * u * u),
            np.exp(np.minimum(u * r + 0.5 * r * r, 700.0)) * ndtr(-b),
        )
    # the tail density is term / tau: d/dx of Phi(u) + term is phi(u)/sigma - phi(u)/sigma + term/tau
    return cdf + tail_fraction * term, (
        1.0 - tail_fraction
    ) * pdf + tail_fraction * term / tail_length


def peak_in_bins(edges, position: float, sigma: float, tail_fraction=0.0, tail_length=1.0):
    """The fraction of a unit-area peak in each bin between consecutive edges."""
    return np.diff(peak_cdf(edges, position, sigma, tail_fraction, tail_length))


def peak_in_bins_with_derivatives(edges, position, sigma, tail_fraction=0.0, tail_length=1.0):
    """Bin contents and their derivatives by position and by ln(sigma).

    With tau proportional to sigma the CDF is a function of u = (x - x0)/sigma only, so
    d/dx0 = -pdf and d/d(ln sigma) = -(x - x0) pdf at each edge.
    """
    e = np.asarray(edges, dtype=float)
    cdf, pdf = peak_cdf_pdf(e, position, sigma, tail_fraction, tail_length)
    xp = (e - position) * pdf
    return np.diff(cdf), -np.diff(pdf), -np.diff(xp)


def step_in_bins(edges, position: float, sigma: float):
    """A unit step below the peak (1 far below, 0 far above): erfc-shaped, mean over each bin.

    Evaluated at the bin centres: the step varies slowly enough over one channel.
    """
    return step_with_derivatives(edges, position, sigma)[0]


def step_with_derivatives(edges, position, sigma):
    """The step and its derivatives by position and by ln(sigma) (edges may be a column
    against rows of positions and sigmas)."""
    centres = 0.5 * (np.asarray(edges[:-1], dtype=float) + np.asarray(edges[1:], dtype=float))
    z = (centres - position) / sigma
    phi = np.exp(-0.5 * z * z) * _INV_SQRT2PI
    return 0.5 * erfc(z / _SQRT2), phi / sigma, z * phi


def gaussian_fraction_within(half_width_sigma: float) -> float:
    """The fraction of a Gaussian's area within +-half_width_sigma standard deviations."""
    return float(1.0 - erfc(half_width_sigma / _SQRT2))
