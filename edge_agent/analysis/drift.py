"""Energy drift: fit the stable background lines, estimate and apply a relative gain correction.

Each stable line that is present (a found peak near its calibrated position with enough
counts) is fitted alone with a free centroid. Each gives a gain estimate
g_i = E_library / E_cal(centroid); their inverse-variance mean is applied when it differs
from 1 by more than `drift_significance` standard uncertainties.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .fit import Component, fit_region
from .scale import FWHM_PER_SIGMA, ChannelScale
from .search import FoundPeak


@dataclass
class DriftResult:
    gain: float = 1.0  # applied correction (1: none)
    gain_unc: float = 0.0
    shifts_kev: dict[str, float] = field(default_factory=dict)  # fitted - library energy
    significant: bool = False


def estimate_drift(
    counts,
    scale: ChannelScale,
    found: list[FoundPeak],
    stable_lines,
    *,
    min_counts: float,
    significance: float,
    tail_fraction: float,
    tail_length_sigma: float,
) -> DriftResult:
    counts = np.asarray(counts)
    size = counts.size
    found_ch = np.array([p.channel for p in found]) if found else np.zeros(0)
    gains, weights = [], []
    result = DriftResult()
    for name, energy in stable_lines:
        pos = float(scale.index(energy))
        sig = float(scale.sigma_channels(energy))
        if not (10 * sig < pos < size - 10 * sig):
            continue
        # a found peak within a few FWHM (or 0.5 %) of the calibrated position
        reach = max(3 * FWHM_PER_SIGMA * sig, 0.005 * pos)
        near = np.nonzero(np.abs(found_ch - pos) < reach)[0]
        if near.size == 0:
            continue
        start = float(found_ch[near[np.argmin(np.abs(found_ch[near] - pos))]])
        lo = max(int(start - 6 * sig), 0)
        hi = min(int(start + 6 * sig) + 1, size)
        comp = Component(
            key=name,
            kind="nuclide",
            nuclide=name,
            energies=np.array([energy]),
            positions=np.array([start]),
            sigmas=np.array([sig]),
            weights=np.array([1.0]),
        )
        fit = fit_region(
            counts[lo:hi],
            lo,
            [comp],
            baseline_order=1,
            tail_fraction=tail_fraction,
            tail_length_sigma=tail_length_sigma,
            free_shape=True,
        )
        if fit.area(0) < min_counts or fit.area(0) < 5 * fit.area_unc(0):
            continue
        centroid = start + fit.shifts[0]
        n_lin = fit.beta.size  # the shift is the first parameter after the linear ones
        u_c = float(np.sqrt(max(fit.covariance[n_lin, n_lin], 0.0)))
        e_fit = float(scale.energy(centroid))
        g = energy / e_fit * scale.gain
        u_g = g * float(scale.kev_per_channel(centroid)) * max(u_c, 1e-3) / e_fit
        result.shifts_kev[f"{name} {energy:.2f}"] = e_fit - energy
        gains.append(g)
        weights.append(1.0 / u_g**2)
    if not gains:
        return result
    w = np.array(weights)
    g_mean = float(np.sum(w * np.array(gains)) / w.sum())
    u_mean = float(1.0 / np.sqrt(w.sum()))
    result.gain_unc = u_mean
    if abs(g_mean - scale.gain) > significance * u_mean:
        result.gain = g_mean
        result.significant = True
    else:
        result.gain = scale.gain
    return result
