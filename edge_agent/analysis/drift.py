"""Energy drift: locate the stable background lines, estimate and apply a relative gain.

A gain drift g stretches the channel axis: a line calibrated at channel c appears at g c.
Two steps:
1. coarse: the stretch that best lines up the found peaks with the library lines (a
   grid search within the largest drift expected);
2. fine: the regions that hold the stable lines (and those with strong identified
   peaks) are fitted at that gain with a free common shift (all lines of a region move
   together, so a line under a stable one, e.g. Xe-135 608.2 keV under Bi-214 609.3 keV,
   cannot pull it); each gives g_i = (c + shift) / c_nominal, and their inverse-variance
   mean is applied when it differs from 1 by more than `drift_significance` standard
   uncertainties.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .fit import RegionFit
from .scale import ChannelScale


@dataclass
class DriftResult:
    gain: float = 1.0  # observed / calibrated channel of a line (1: no drift)
    gain_unc: float = 0.0
    shifts_kev: dict[str, float] = field(default_factory=dict)  # fitted - library energy
    significant: bool = False


def coarse_gain(
    peak_channels,
    peak_significances,
    peak_sigmas,
    line_channels,
    *,
    max_drift: float = 0.003,
    cap: float = 50.0,
    min_improvement: float = 5.0,
) -> float:
    """A first gain: the stretch of the channel axis that best lines up found peaks with
    library lines.

    score(g) = sum over found peaks of min(significance, cap) exp(-d^2/2), d the distance
    from the peak to its nearest line at g c_line in units of half the peak's sigma. The
    best g on a grid within +-max_drift is kept when it beats g = 1 by `min_improvement`:
    every peak votes, so the neighbour of one stable line cannot pull the gain alone.
    """
    p = np.asarray(peak_channels, dtype=float)
    c = np.sort(np.asarray(line_channels, dtype=float))
    if p.size == 0 or c.size == 0:
        return 1.0
    w = np.minimum(np.asarray(peak_significances, dtype=float), cap)
    half_sigma = 0.5 * np.asarray(peak_sigmas, dtype=float)
    step = 0.1 / float(p.max())  # 0.1 channel at the highest peak
    grid = 1.0 + np.arange(-max_drift, max_drift + step / 2, step)
    grid = np.append(grid, 1.0)

    def score(g: np.ndarray) -> np.ndarray:
        d = _nearest_line_distance(p, g, c) / half_sigma[None, :]
        return (w[None, :] * np.exp(-0.5 * d * d)).sum(axis=1)

    s = score(grid)
    best = int(np.argmax(s[:-1]))
    return float(grid[best]) if s[best] - s[-1] > min_improvement else 1.0


def _nearest_line_distance(p: np.ndarray, g: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(grid, peaks): min over lines of |p - g c|, c sorted, as the full table gives it.

    The products g c are sorted along the lines (rounding is monotonic), so the distance
    falls and then rises and the nearest line is beside p's place among them. That place
    is found from p / g among c, which can differ from it by one where a line sits within
    rounding of p: the five lines around it are compared (a table of ~1000 gains x peaks
    x lines was most of the drift step). Equal lines are one (the same products).
    """
    lines = np.unique(c)
    k = np.searchsorted(lines, p[None, :] / g[:, None])  # (grid, peaks)
    near = np.clip(k[:, :, None] + np.arange(-2, 3), 0, lines.size - 1)
    return np.abs(p[None, :, None] - g[:, None, None] * lines[near]).min(axis=2)


def fine_gain(
    fits: list[RegionFit],
    scale: ChannelScale,
    stable_lines,
    *,
    min_counts: float,
    significance: float,
) -> DriftResult:
    """The gain from the regions fitted with a free shift (at the gain of `scale`).

    Those are the regions of the stable lines and of strong identified peaks (xenon lines
    in a puff measure the gain far better than a few ambient counts at 1461 keV). Each
    region gives g = (c + shift) / c_nominal for its strongest identified component.
    """
    gains, weights = [], []
    result = DriftResult()
    stable = {(name, round(e, 2)) for name, e in stable_lines}
    for fit in fits:
        if fit.covariance.shape[0] <= fit.beta.size:
            continue  # positions were fixed
        best = None
        for i, c in enumerate(fit.components):
            if c.kind in ("tied", "found") or c.own_width:
                continue
            if fit.area(i) < min_counts or fit.area(i) < 5 * fit.area_unc(i):
                continue
            if best is None or fit.area(i) > fit.area(best):
                best = i
        if best is None:
            continue
        c = fit.components[best]
        m = c.main
        centroid = float(c.positions[m] + fit.shifts[best]) + scale.first_channel
        u_shift = float(np.sqrt(max(fit.covariance[fit.beta.size, fit.beta.size], 0.0)))
        nominal = float(scale.energy_cal.channel(c.energies[m]))
        gains.append(centroid / nominal)
        weights.append(1.0 / max(u_shift / nominal, 1e-9) ** 2)
        for i2, c2 in enumerate(fit.components):
            for e in c2.energies:
                if (c2.nuclide, round(float(e), 2)) in stable and fit.area(i2) >= min_counts:
                    ch = float(scale.energy_cal.channel(e)) * scale.gain + fit.shifts[i2]
                    result.shifts_kev[f"{c2.nuclide} {e:.2f}"] = float(
                        scale.energy_cal.energy(ch)
                    ) - float(e)
    if not gains:
        return result
    w = np.array(weights)
    g = float(np.sum(w * np.array(gains)) / w.sum())
    u = float(1.0 / np.sqrt(w.sum()))
    result.gain_unc = u
    result.significant = abs(g - 1.0) > significance * u
    result.gain = g if result.significant else 1.0
    return result


def stable_regions(regions, stable_lines) -> set[int]:
    """Indices of the regions that hold a stable line (fitted with a free shift)."""
    out = set()
    for k, reg in enumerate(regions):
        for name, energy in stable_lines:
            if _find_component(reg.components, name, energy) is not None:
                out.add(k)
    return out


def _find_component(components, name: str, energy: float):
    for i, c in enumerate(components):
        if c.nuclide == name and c.kind != "tied" and np.any(np.abs(c.energies - energy) < 0.01):
            return i
    return None
