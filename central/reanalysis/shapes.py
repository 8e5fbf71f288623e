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
    # erfc differences keep precision on both sides of the peak: erfc(a) - erfc(b) above
    # it, erfc(-b) - erfc(-a) below (two erfc per channel, not both pairs)
    above = a > 0
    return 0.5 * (erfc(np.where(above, a, -b)) - erfc(np.where(above, b, -a)))


class PairEdges:
    """The channel edges of a model's (line, channel) pairs, each edge once.

    A model's pairs come in runs of consecutive channels of one line: the upper edge of a
    channel is the lower edge of the next (i + 1/2 and (i + 1) - 1/2 are the same float),
    so the Gaussian's erfc is evaluated once per edge instead of twice per channel, at the
    very same arguments (the values equal `gaussian_in_channels`' to the last bit).
    """

    def __init__(self, channel: np.ndarray, line: np.ndarray):
        n = len(channel)
        starts = np.ones(n, bool)
        starts[1:] = (line[1:] != line[:-1]) | (channel[1:] != channel[:-1] + 1.0)
        run = np.cumsum(starts) - 1
        self.lower = np.arange(n) + run  # each pair's lower edge (its upper one is next)
        n_edges = n + (int(run[-1]) + 1 if n else 0)
        self.edge = np.empty(n_edges)
        self.edge[self.lower] = channel - 0.5
        self.edge[self.lower + 1] = channel + 0.5
        self.edge_line = np.empty(n_edges, np.intp)
        self.edge_line[self.lower] = line
        self.edge_line[self.lower + 1] = line
        self.is_lower = np.zeros(max(n_edges - 1, 0), bool)
        self.is_lower[self.lower] = True

    def gaussian(self, x0: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """`gaussian_in_channels` of every pair; x0 and sigma per line."""
        e = (self.edge - x0[self.edge_line]) / (_SQRT2 * sigma[self.edge_line])
        f = erfc(np.abs(e))  # erfc(a) where a > 0, erfc(-a) where a <= 0
        lo, hi = e[:-1], e[1:]
        f_lo, f_hi = f[:-1], f[1:]
        above = lo > 0
        diff = np.where(above, f_lo - f_hi, f_hi - f_lo)
        # the channel across the centre (a <= 0 < b) needs erfc(-b), not erfc(b)
        across = np.flatnonzero(self.is_lower & ~above & (hi > 0))
        diff[across] = erfc(-hi[across]) - f_lo[across]
        return 0.5 * diff[self.lower]


# Below this, erfc(x) = 2 - erfc(-x) with erfc(6.5) = 3.8e-20, far under half the spacing
# of doubles at 2 (1.1e-16): erfc returns exactly 2.0 there (checked from -5.87 down)
ERFC_TWO_BELOW = -6.5


def _erfc(x: np.ndarray) -> np.ndarray:
    """erfc(x), with the 2.0 it returns below ERFC_TWO_BELOW filled in, not evaluated (a
    third of the step's and the tail's arguments lie there: far below the line)."""
    out = np.full(x.shape, 2.0)
    live = ~(x < ERFC_TWO_BELOW)  # NaN stays live: erfc(NaN) is NaN
    out[live] = erfc(x[live])
    return out


def tail(i, x0, sigma, r):
    """Unit-area exponential tail (length r*sigma, low-energy side) convolved with the Gaussian."""
    u = (i - x0) / sigma
    z = (u + 1.0 / r) / _SQRT2  # the tail's decay is 1/tau = 1/(r sigma)
    # exp(u/r + 1/(2 r^2)) erfc(z) = exp(-u^2/2) erfcx(z): the second form for z > 0
    # stays finite where the first overflows; the first is exact for z <= 0.
    out = np.empty_like(u)
    pos = z > 0
    up, zp = u[pos], z[pos]
    out[pos] = np.exp(-0.5 * up * up) * erfcx(zp)
    neg = ~pos
    out[neg] = np.exp(u[neg] / r + 0.5 / (r * r)) * _erfc(z[neg])
    return out / (2.0 * r * sigma)


def step(i, x0, sigma):
    """1 far below the line, 0 far above."""
    return 0.5 * _erfc((i - x0) / (_SQRT2 * sigma))


def line_shape(i, x0, sigma, eta, r, h, peak=1.0, parts=None):
    """Counts per channel of a line of unit area, with its step (see the module docstring).

    peak (0 or 1, may be an array) switches the peak off: a pure step of height h.
    parts: (Gaussian, tail or None, step) at these points when already known."""
    g, t, st = parts if parts is not None else (gaussian_in_channels(i, x0, sigma), None, None)
    out = (1.0 - eta) * g
    if eta:
        out = out + eta * (tail(i, x0, sigma, r) if t is None else t)
    out = out * peak
    return out + (h / (_SQRT2PI * sigma)) * (step(i, x0, sigma) if st is None else st)


def line_shape_partials(
    i, x0, sigma, eta, r, h, t=None, peak=1.0, g=None, st=None, partials: bool = True
):
    """The shape and its derivatives by x0, sigma, eta and h (analytic), vectorised;
    t, g, st: the tail, Gaussian and step at these points when already known; peak as in
    `line_shape`. partials=False: the shape alone (the same values), no derivatives.

    G = Phi(b) - Phi(a): dG/dx0 = (phi(a) - phi(b)) / sigma, dG/dsigma = (a phi(a) - b phi(b)) / sigma;
    S = Phi(-u): dS/dx0 = phi(u) / sigma, dS/dsigma = u phi(u) / sigma;
    T(u) / sigma-scaled tail: dT/du = (T - phi(u) / sigma) / r, u = (i - x0) / sigma.
    """
    inv = 1.0 / sigma
    if not partials:
        g = gaussian_in_channels(i, x0, sigma) if g is None else g
        t = tail(i, x0, sigma, r) if t is None else t
        st = step(i, x0, sigma) if st is None else st
        return peak * ((1.0 - eta) * g + eta * t) + h / _SQRT2PI * inv * st
    a = (i - 0.5 - x0) * inv
    b = (i + 0.5 - x0) * inv
    u = (i - x0) * inv
    pa, pb, pu = _phi(a), _phi(b), _phi(u)
    g = gaussian_in_channels(i, x0, sigma) if g is None else g
    t = tail(i, x0, sigma, r) if t is None else t
    st = step(i, x0, sigma) if st is None else st
    dg_dx = (pa - pb) * inv
    dg_ds = (a * pa - b * pb) * inv
    dt_du = (t - pu * inv) / r
    dt_dx = -dt_du * inv
    dt_ds = -(t + u * dt_du) * inv
    c = h / _SQRT2PI * inv  # step height per unit area
    ds_dx = pu * inv
    ds_ds = u * pu * inv
    shape = peak * ((1.0 - eta) * g + eta * t) + c * st
    d_x0 = peak * ((1.0 - eta) * dg_dx + eta * dt_dx) + c * ds_dx
    d_sigma = peak * ((1.0 - eta) * dg_ds + eta * dt_ds) + c * (ds_ds - st * inv)
    return shape, d_x0, d_sigma, peak * (t - g), st * (inv / _SQRT2PI)


def _phi(z):
    return np.exp(-0.5 * z * z) / _SQRT2PI
