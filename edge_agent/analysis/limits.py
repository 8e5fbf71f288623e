"""Decision thresholds and detection limits: ISO 11929 and, alongside, Currie (1968).

ISO 11929 with the uncertainty of the estimate as a function of the true value y,
u^2(y) = u0^2 + g y + u_rel^2 y^2 (u0: at y = 0; g: the Poisson variance the signal adds
per unit of y, 1 in counts; u_rel: relative calibration uncertainty):
  decision threshold y* = k_(1-alpha) u0,
  detection limit    y# = y* + k_(1-beta) u(y#),
which for k_(1-alpha) = k_(1-beta) = k has the closed form y# = (2 y* + k^2 g)/(1 - k^2 u_rel^2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    decision_threshold: float
    detection_limit: float


def iso11929(
    u0: float, g: float, u_rel: float, k_alpha: float = 1.645, k_beta: float = 1.645
) -> Limits:
    """Decision threshold and detection limit (closed form when k_alpha == k_beta)."""
    y_star = k_alpha * u0
    if k_alpha == k_beta:
        den = 1.0 - (k_beta * u_rel) ** 2
        if den <= 0:
            return Limits(y_star, math.inf)
        return Limits(y_star, (2.0 * y_star + k_beta**2 * g) / den)
    return Limits(y_star, detection_limit_by_iteration(u0, g, u_rel, k_alpha, k_beta))


def detection_limit_by_iteration(
    u0: float, g: float, u_rel: float, k_alpha: float = 1.645, k_beta: float = 1.645
) -> float:
    """y# from the fixed point y = y* + k_beta u(y), iterated from y = 2 y*."""
    if (k_beta * u_rel) ** 2 >= 1.0:
        return math.inf
    y_star = k_alpha * u0
    y = 2.0 * y_star + k_beta**2 * g
    for _ in range(200):
        new = y_star + k_beta * math.sqrt(u0 * u0 + g * y + (u_rel * y) ** 2)
        if abs(new - y) <= 1e-12 * max(abs(new), 1e-300):
            return new
        y = new
    return y


def currie(background_counts: float, n_peak: int, n_side: int, k: float = 1.645) -> Limits:
    """Currie's critical level L_C and detection limit L_D in counts.

    The continuum of an n_peak-channel window comes from n_side channels beside it:
    sigma0^2 = B (1 + n_peak/n_side); L_C = k sigma0, L_D = k^2 + 2 L_C (2.71 + 3.29 sigma0).
    """
    b = max(background_counts, 0.0)
    ratio = n_peak / n_side if n_side > 0 else 0.0
    sigma0 = math.sqrt(b * (1.0 + ratio))
    lc = k * sigma0
    return Limits(lc, k * k + 2.0 * lc)
