"""Decision threshold and detection limit (ISO 11929) and Currie's levels, for one estimate.

The estimate's variance is modelled as u^2(y) = u0^2 + kappa y + u_rel^2 y^2: u0 is its
counting uncertainty when the true value is zero (from the Fisher information of the
fitted background), kappa the growth of the counting variance with the value (Poisson:
kappa = 1 in counts, 1/(eps I t) for one line in Bq) and u_rel the relative calibration
uncertainty. With k = k_(1-alpha) = k_(1-beta):
    decision threshold  y* = k u0
    detection limit     y# = y* + k u(y#)  ->  y# = (2 y* + k^2 kappa) / (1 - k^2 u_rel^2)
and Currie (1968), the same without calibration uncertainty:
    L_C = k u0,  L_D = k^2 kappa + 2 k u0  (= 2.71 + 3.29 sqrt(B) in counts for sigma0^2 = B).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

K = 1.645  # alpha = beta = 5 %


@dataclass(frozen=True)
class Limits:
    decision_threshold: float
    detection_limit: float
    currie_lc: float
    currie_ld: float


def limits(u0: float, kappa: float, u_rel: float, k: float = K) -> Limits:
    y_star = k * u0
    denom = 1.0 - (k * u_rel) ** 2
    y_hash = (2.0 * y_star + k * k * kappa) / denom if denom > 0 else math.inf
    return Limits(y_star, y_hash, y_star, k * k * kappa + 2.0 * y_star)
