"""A first guess of the energy-scale correction (gain, offset) from the strong library lines.

A zero-area Gaussian filter gives, around each strong gamma line of the library, the
significance of a peak at every channel within +-MAX_DRIFT. Every trial gain on a grid
predicts where all those lines are at once; its score is the sum of the squared positive
significances there. All the lines present vote together, so a peak of another nuclide
inside one line's window cannot pull the scale; a gain other than 0 must beat 0 clearly.
The lines that are then found near their predicted channels give (gain, offset) by
weighted least squares; the joint fit refines both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_DRIFT = 0.01  # relative gain drift searched for
MIN_SIGNIFICANCE = 8.0  # filter response / its standard deviation, of a line used
MIN_INTENSITY = 0.05  # photons per decay of the lines used
MIN_SCORE_GAIN = 25.0  # a gain other than 0 must raise the score this much (5 sigma)
GRID_STEP_FWHM = 0.25  # grid step: this fraction of the FWHM at the highest line


@dataclass(frozen=True)
class ScaleGuess:
    gain: float
    offset_kev: float
    lines: tuple[tuple[float, float, float], ...]  # (library keV, found keV, significance) used

    @property
    def strongest(self) -> float:
        """The highest significance of the lines used (0 without any)."""
        return max((s for _, _, s in self.lines), default=0.0)


@dataclass
class _Response:
    energy: float
    first: float  # channel of resp[0]
    signif: np.ndarray
    resp: np.ndarray
    fwhm_ch: float


def guess_scale(counts: np.ndarray, cal, energies: np.ndarray) -> ScaleGuess:
    """(gain, offset) with E_apparent = E (1 + gain) + offset, from the lines found."""
    responses = [r for e in np.unique(energies) if (r := _response(counts, cal, float(e)))]
    if not responses:
        return ScaleGuess(0.0, 0.0, ())
    gain = _best_gain(responses, cal)
    found = []
    for r in responses:
        x = float(cal.energy.channel(r.energy * (1.0 + gain))) - r.first
        lo = max(int(np.floor(x - r.fwhm_ch)), 1)
        hi = min(int(np.ceil(x + r.fwhm_ch)), len(r.signif) - 2)
        if hi < lo:
            continue
        i = lo + int(np.argmax(r.signif[lo : hi + 1]))
        if r.signif[i] < MIN_SIGNIFICANCE:
            continue
        r0, r1, r2 = r.resp[i - 1], r.resp[i], r.resp[i + 1]
        den = r0 - 2 * r1 + r2
        frac = 0.5 * (r0 - r2) / den if den < 0 else 0.0
        channel = r.first + i + float(np.clip(frac, -0.5, 0.5))
        found.append((r.energy, float(cal.energy.energy(channel)), float(r.signif[i])))
    if not found:
        return ScaleGuess(0.0, 0.0, ())
    return _fit(found, cal, gain)


def significance(counts, cal, energy: float, extra_fwhm_kev: float = 0.0) -> float:
    """The filter significance of a line within one FWHM of its calibrated position."""
    r = _response(counts, cal, energy, extra_fwhm_kev, drift=0.0)
    if r is None:
        return 0.0
    x = float(cal.energy.channel(energy)) - r.first
    lo, hi = max(int(x - r.fwhm_ch), 0), min(int(x + r.fwhm_ch) + 1, len(r.signif) - 1)
    return float(np.max(r.signif[lo : hi + 1])) if hi >= lo else 0.0


def _response(counts, cal, e: float, extra_fwhm_kev=0.0, drift=MAX_DRIFT) -> _Response | None:
    x = float(cal.energy.channel(e))
    slope = abs(float(cal.energy.slope(x)))
    sigma = float(np.hypot(cal.resolution.fwhm(e), extra_fwhm_kev)) / 2.3548 / slope
    half = max(3.0 * sigma, drift * e / slope)
    k = int(np.ceil(3.0 * sigma))
    lo, hi = int(np.floor(x - half)) - k, int(np.ceil(x + half)) + k
    if lo < 0 or hi >= len(counts) or sigma < 0.3:
        return None
    j = np.arange(-k, k + 1)
    kernel = np.exp(-0.5 * (j / sigma) ** 2)
    kernel -= kernel.mean()
    seg = counts[lo : hi + 1].astype(float)
    resp = np.correlate(seg, kernel, mode="valid")
    var = np.correlate(seg, kernel * kernel, mode="valid")
    return _Response(e, lo + k, resp / np.sqrt(var + 1.0), resp, 2.3548 * sigma)


def _best_gain(responses: list[_Response], cal) -> float:
    top = max(responses, key=lambda r: r.energy)
    e_top = top.energy
    step = GRID_STEP_FWHM * top.fwhm_ch * abs(float(cal.energy.slope(cal.energy.channel(e_top))))
    n = int(np.ceil(MAX_DRIFT * e_top / step))
    gains = np.linspace(-MAX_DRIFT, MAX_DRIFT, 2 * n + 1)
    score = np.zeros(len(gains))
    for r in responses:
        x = cal.energy.channel(r.energy * (1.0 + gains)) - r.first
        s = np.interp(x, np.arange(len(r.signif)), r.signif, left=0.0, right=0.0)
        score += np.maximum(s, 0.0) ** 2
    zero = float(np.interp(0.0, gains, score))
    best = int(np.argmax(score))
    return float(gains[best]) if score[best] - zero > MIN_SCORE_GAIN else 0.0


def _fit(found, cal, gain: float) -> ScaleGuess:
    e = np.array([f[0] for f in found])
    d = np.array([f[1] - f[0] for f in found])  # apparent minus library energy
    w = np.array([f[2] for f in found])
    tol = 0.4 * cal.resolution.fwhm(e)
    inl = np.abs(d - gain * e) < tol
    g, o = gain, 0.0
    if inl.sum() >= 2 and np.ptp(e[inl]) > 150.0:
        design = np.vstack([e[inl], np.ones(inl.sum())]).T * w[inl, None]
        g, o = np.linalg.lstsq(design, d[inl] * w[inl], rcond=None)[0]
    elif inl.any():
        g = float(np.sum(w[inl] * d[inl] * e[inl]) / np.sum(w[inl] * e[inl] ** 2))
    used = tuple(f for f, ok in zip(found, inl) if ok)
    return ScaleGuess(float(g), float(o), used)
