"""The line shape of the central method: Gaussian, low-energy tail and step, per channel.

A line of unit area centred at channel x0 with standard deviation sigma (channels) gives
in channel i (covering i - 1/2 .. i + 1/2):

    (1 - eta) G_i + eta T_i   (unit area)   +   h / (sqrt(2 pi) sigma) S_i   (step, not area)

- G_i: the Gaussian integrated over the channel (erf differences);
- T_i: a Gaussian-convolved exponential tail of length tau = r sigma towards low energy,
  evaluated at the channel centre (it is smooth on the channel scale);
- S_i = erfc(u / sqrt 2) / 2, u = (i - x0) / sigma: a step that is 1 far below the line,
  i.e. h times the peak height (the step is continuum, so it is not part of the area).
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfc, erfcx

_SQRT2 = np.sqrt(2.0)
_SQRT2PI = np.sqrt(2.0 * np.pi)


def gaussian_in_channels(i, x0, sigma):
    """The Gaussian of unit area integrated over channels i (centres), vectorised."""
    a = (i - 0.5 - x0) / (_SQRT2 * sigma)
    b = (i + 0.5 - x0) / (_SQRT2 * sigma)
    # erfc differences keep precision on both sides of the peak
    return 0.5 * np.where(a > 0, erfc(a) - erfc(b), erfc(-b) - erfc(-a))


def tail(i, x0, sigma, r):
    """Unit-area exponential tail (length r*sigma, low-energy side) convolved with the Gaussian."""
    u = (i - x0) / sigma
    z = (u + 1.0 / r) / _SQRT2  # the tail's decay is 1/tau = 1/(r sigma)
    tau = r * sigma
    # exp(u/r + 1/(2 r^2)) erfc(z) = exp(-u^2/2) erfcx(z): the second form for z > 0
    # stays finite where the first overflows; the first is exact for z <= 0.
    pos = np.exp(-0.5 * u * u) * erfcx(np.maximum(z, 0.0))
    neg = np.exp(np.minimum(u / r + 0.5 / (r * r), 700.0)) * erfc(np.minimum(z, 0.0))
    return np.where(z > 0, pos, neg) / (2.0 * tau)


def step(i, x0, sigma):
    """1 far below the line, 0 far above."""
    return 0.5 * erfc((i - x0) / (_SQRT2 * sigma))


def line_shape(i, x0, sigma, eta, r, h):
    """Counts per channel of a line of unit area, with its step (see the module docstring)."""
    out = (1.0 - eta) * gaussian_in_channels(i, x0, sigma)
    if eta:
        out = out + eta * tail(i, x0, sigma, r)
    if h:
        out = out + (h / (_SQRT2PI * sigma)) * step(i, x0, sigma)
    return out
