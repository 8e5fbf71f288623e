"""A first guess of the energy-scale correction (gain, offset) from the strong library lines.

Each strong gamma line is looked for within +-MAX_DRIFT of its calibrated position with a
zero-area Gaussian filter; the positions found vote for (gain, offset) by consensus
(every one- and two-line hypothesis is scored by the significance of the lines it
explains), so that a peak of another nuclide inside a search window cannot pull the scale.
The joint fit then refines both parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_DRIFT = 0.01  # relative gain drift searched for
MIN_SIGNIFICANCE = 8.0  # filter response / its standard deviation
MIN_INTENSITY = 0.05  # photons per decay of the lines used


@dataclass(frozen=True)
class ScaleGuess:
    gain: float
    offset_kev: float
    lines: tuple[tuple[float, float, float], ...]  # (library keV, found keV, significance) used


def guess_scale(counts: np.ndarray, cal, energies: np.ndarray) -> ScaleGuess:
    """(gain, offset) with E_apparent = E (1 + gain) + offset, from the lines found."""
    found = []
    n_ch = len(counts)
    for e in np.unique(energies):
        x = float(cal.energy.channel(e))
        slope = abs(float(cal.energy.slope(x)))
        sigma = float(cal.resolution.sigma(e)) / slope
        half = max(3.0 * sigma, MAX_DRIFT * e / slope)
        k = int(np.ceil(3.0 * sigma))
        lo, hi = int(np.floor(x - half)) - k, int(np.ceil(x + half)) + k
        if lo < 0 or hi >= n_ch or sigma < 0.3:
            continue
        j = np.arange(-k, k + 1)
        kernel = np.exp(-0.5 * (j / sigma) ** 2)
        kernel -= kernel.mean()
        seg = counts[lo : hi + 1].astype(float)
        resp = np.correlate(seg, kernel, mode="valid")
        var = np.correlate(seg, kernel * kernel, mode="valid")
        signif = resp / np.sqrt(var + 1.0)
        i = int(np.argmax(signif))
        if signif[i] < MIN_SIGNIFICANCE or i == 0 or i == len(resp) - 1:
            continue
        # parabolic interpolation of the response around its maximum
        r0, r1, r2 = resp[i - 1], resp[i], resp[i + 1]
        den = r0 - 2 * r1 + r2
        frac = 0.5 * (r0 - r2) / den if den < 0 else 0.0
        channel = lo + k + i + float(np.clip(frac, -0.5, 0.5))
        found.append((float(e), float(cal.energy.energy(channel)), float(signif[i])))
    if not found:
        return ScaleGuess(0.0, 0.0, ())
    return _consensus(found, cal)


def _consensus(found, cal) -> ScaleGuess:
    e = np.array([f[0] for f in found])
    d = np.array([f[1] - f[0] for f in found])  # apparent minus library energy
    w = np.array([f[2] for f in found])
    tol = 0.4 * cal.resolution.fwhm(e)
    hypotheses = [(0.0, 0.0)]
    for i in range(len(e)):
        hypotheses.append((d[i] / e[i], 0.0))
        for j in range(i + 1, len(e)):
            if abs(e[j] - e[i]) > 100.0:
                g = (d[j] - d[i]) / (e[j] - e[i])
                hypotheses.append((g, d[i] - g * e[i]))
    best, best_score = (0.0, 0.0), -1.0
    for g, o in hypotheses:
        if abs(g) > MAX_DRIFT or abs(o) > 5.0:
            continue
        inl = np.abs(d - (g * e + o)) < tol
        score = float(w[inl].sum()) - 1e-3 * abs(g) * 1e3  # ties: the smaller correction
        if score > best_score:
            best, best_score = (g, o), score
    g, o = best
    inl = np.abs(d - (g * e + o)) < tol
    if inl.sum() >= 2 and np.ptp(e[inl]) > 150.0:
        design = np.vstack([e[inl], np.ones(inl.sum())]).T * w[inl, None]
        g, o = np.linalg.lstsq(design, d[inl] * w[inl], rcond=None)[0]
    elif inl.any():
        g, o = float(np.sum(w[inl] * d[inl] * e[inl]) / np.sum(w[inl] * e[inl] ** 2)), 0.0
    used = tuple(f for f, ok in zip(found, inl) if ok)
    return ScaleGuess(float(g), float(o), used)
