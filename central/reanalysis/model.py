"""The expected counts of every fitted channel as a function of all parameters at once.

Parameters, in this order:
- amplitudes: one per component (nuclide activity, x-ray group, annihilation), or one per
  line in the line-by-line variant;
- baseline: per region, exp(b0 + b1 t + b2 t^2) with t = -1 .. 1 across the region
  (positive by construction, smooth, and with a log-slope that follows the continuum);
- shape parameters shared by all lines (SHAPE_NAMES): gain and offset corrections of the
  energy scale, width scale, tail fraction and log tail length, step height and the
  annihilation line's extra width.

A line of energy E sits at the channel of the apparent energy E (1 + gain) + offset on
the PHD's energy calibration, with FWHM scale * (1 + gain) * FWHM_cal(E) (annihilation:
added in quadrature to its Doppler width). Regions are the unions of the lines' windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .components import ModelLine
from .shapes import line_shape

SHAPE_NAMES = (
    "gain",
    "offset_kev",
    "width_scale",
    "tail_fraction",
    "log_tail_length",
    "step",
    "annihilation_fwhm_kev",
)
GAIN, OFFSET, WIDTH, ETA, LOG_TAIL, STEP, ANN_FWHM = range(len(SHAPE_NAMES))
_FWHM_PER_SIGMA = 2.3548200450309493

# a line's window, in FWHM at its energy: the tail side is longer
WINDOW_LOW_FWHM = 6.0
WINDOW_HIGH_FWHM = 4.0
MIN_COUNTS_SLOPE = 40  # fewer counts in a region: a flat baseline


@dataclass(frozen=True)
class Region:
    first: int  # first channel
    last: int  # last channel (inclusive)
    degree: int  # of the log-baseline polynomial
    rows: slice  # its rows in the fitted-channel vector


class SpectrumModel:
    """Regions, lines and parameters of one spectrum; evaluates mu and its Jacobian."""

    def __init__(
        self,
        counts: np.ndarray,
        calibrations,
        lines: list[ModelLine],
        line_amplitude: np.ndarray,
        line_weight: np.ndarray,
        n_amplitudes: int,
        theta0: np.ndarray,
        regions: list[Region] | None = None,
    ):
        self.counts = counts
        self.cal = calibrations
        self.lines = lines
        self.energy = np.array([ln.energy for ln in lines])
        self.extra_fwhm = np.array([ln.extra_fwhm_kev for ln in lines])
        self.is_ann = np.array([ln.kind == "annihilation" for ln in lines])
        self.line_amplitude = np.asarray(line_amplitude, dtype=int)
        self.line_weight = np.asarray(line_weight, dtype=float)
        self.n_amp = n_amplitudes
        self.theta0 = np.asarray(theta0, dtype=float)
        self.regions = regions if regions is not None else self._regions(self.theta0)
        self._layout()

    # ------------------------------------------------------------------ geometry
    def positions(self, theta) -> tuple[np.ndarray, np.ndarray]:
        """Centroid channels and sigmas (channels) of the lines."""
        g, o, s = theta[GAIN], theta[OFFSET], theta[WIDTH]
        e_app = self.energy * (1.0 + g) + o
        x0 = self.cal.energy.channel(e_app)
        fwhm_kev = s * self.cal.resolution.fwhm(self.energy)
        ann = np.hypot(fwhm_kev, np.where(self.extra_fwhm > 0, theta[ANN_FWHM], 0.0))
        fwhm_kev = np.where(self.is_ann, ann, fwhm_kev) * (1.0 + g)
        sigma = fwhm_kev / _FWHM_PER_SIGMA / np.abs(self.cal.energy.slope(x0))
        return x0, sigma

    def _regions(self, theta) -> list[Region]:
        x0, sigma = self.positions(theta)
        fwhm = sigma * _FWHM_PER_SIGMA
        n = len(self.counts)
        lo = np.floor(x0 - WINDOW_LOW_FWHM * fwhm).astype(int)
        hi = np.ceil(x0 + WINDOW_HIGH_FWHM * fwhm).astype(int)
        spans = sorted((max(a, 0), min(b, n - 1)) for a, b in zip(lo, hi) if b > 0 and a < n - 1)
        merged: list[list[int]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        regions = []
        row = 0
        for a, b in merged:
            width = b - a + 1
            inside = (x0 >= a) & (x0 <= b)
            mean_fwhm = float(np.mean(fwhm[inside])) if inside.any() else 1.0
            total = float(self.counts[a : b + 1].sum())
            degree = 2 if width > 14 * mean_fwhm else 1
            if total < 400:  # too few counts to see curvature
                degree = min(degree, 1)
            if total < MIN_COUNTS_SLOPE:
                degree = 0
            regions.append(Region(a, b, degree, slice(row, row + width)))
            row += width
        return regions

    def _layout(self) -> None:
        regs = self.regions
        self.channels = np.concatenate([np.arange(r.first, r.last + 1) for r in regs])
        self.n = self.counts[self.channels].astype(float)
        self.n_fit = len(self.channels)
        region_of_row = np.concatenate(
            [np.full(r.last - r.first + 1, k) for k, r in enumerate(regs)]
        )
        self.region_of_row = region_of_row
        # every line is evaluated over its whole region (its tail and step reach the edge)
        x0, _ = self.positions(self.theta0)
        line_region = np.full(len(self.lines), -1)
        for k, r in enumerate(regs):
            line_region[(x0 >= r.first - 0.5) & (x0 <= r.last + 0.5)] = k
        self.line_region = line_region
        keep = line_region >= 0
        pair_line, pair_row = [], []
        for i in np.flatnonzero(keep):
            r = regs[line_region[i]]
            rows = np.arange(r.rows.start, r.rows.stop)
            pair_row.append(rows)
            pair_line.append(np.full(len(rows), i))
        self.pair_line = np.concatenate(pair_line) if pair_line else np.zeros(0, int)
        self.pair_row = np.concatenate(pair_row) if pair_row else np.zeros(0, int)
        self.pair_channel = self.channels[self.pair_row].astype(float)
        # baseline design: t^d per region
        cols, rows, vals = [], [], []
        self.base_index = []
        j = 0
        for r in regs:
            m = r.last - r.first + 1
            t = np.linspace(-1.0, 1.0, m) if m > 1 else np.zeros(1)
            idx = []
            for d in range(r.degree + 1):
                rows.append(np.arange(r.rows.start, r.rows.stop))
                cols.append(np.full(m, j))
                vals.append(t**d)
                idx.append(j)
                j += 1
            self.base_index.append(idx)
        self.n_base = j
        self.base_design = sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(self.n_fit, self.n_base),
        )
        self.n_shape = len(SHAPE_NAMES)
        self.n_params = self.n_amp + self.n_base + self.n_shape

    # --------------------------------------------------------------- evaluation
    def split(self, p):
        a = p[: self.n_amp]
        b = p[self.n_amp : self.n_amp + self.n_base]
        theta = p[self.n_amp + self.n_base :]
        return a, b, theta

    def shapes(self, theta) -> np.ndarray:
        """Unit-area shape values of every (line, row) pair."""
        x0, sigma = self.positions(theta)
        pl = self.pair_line
        return line_shape(
            self.pair_channel,
            x0[pl],
            sigma[pl],
            theta[ETA],
            np.exp(theta[LOG_TAIL]),
            theta[STEP],
        )

    def line_counts(self, a) -> np.ndarray:
        """Expected area of every line for amplitudes a."""
        return a[self.line_amplitude] * self.line_weight

    def peaks(self, a, theta, shapes=None) -> np.ndarray:
        vals = self.shapes(theta) if shapes is None else shapes
        return np.bincount(
            self.pair_row, vals * self.line_counts(a)[self.pair_line], minlength=self.n_fit
        )

    def baseline(self, b) -> np.ndarray:
        return np.exp(np.clip(self.base_design @ b, -60.0, 60.0))

    def mu(self, p) -> np.ndarray:
        a, b, theta = self.split(p)
        return self.peaks(a, theta) + self.baseline(b)

    def amplitude_columns(self, theta, shapes=None) -> sparse.csr_matrix:
        """d mu / d amplitude (does not depend on the amplitudes)."""
        vals = self.shapes(theta) if shapes is None else shapes
        pl = self.pair_line
        return sparse.csr_matrix(
            (vals * self.line_weight[pl], (self.pair_row, self.line_amplitude[pl])),
            shape=(self.n_fit, self.n_amp),
        )

    def jacobian(self, p, free_shape):
        """mu and d mu / d (amplitudes, baseline, free shape parameters), sparse CSR."""
        a, b, theta = self.split(p)
        vals = self.shapes(theta)
        peaks = self.peaks(a, theta, vals)
        base = self.baseline(b)
        cols_a = self.amplitude_columns(theta, vals)
        cols_b = self.base_design.multiply(base[:, None]).tocsr()
        free = np.flatnonzero(free_shape)
        dtheta = np.empty((self.n_fit, len(free)))
        for col, j in enumerate(free):
            step = _FD_STEP[j]
            th = theta.copy()
            th[j] += step
            dtheta[:, col] = (self.peaks(a, th) - peaks) / step
        jac = sparse.hstack([cols_a, cols_b, sparse.csr_matrix(dtheta)], format="csr")
        return peaks + base, jac


# finite-difference steps of the shape parameters (small against their plausible spread)
_FD_STEP = np.array([1e-6, 1e-4, 1e-5, 1e-5, 1e-4, 1e-6, 1e-4])
