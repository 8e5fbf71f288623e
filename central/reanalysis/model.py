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

import functools
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .components import STEP_LINE, ModelLine
from .jacobian import BlockJacobian, BlockLayout
from .shapes import PairEdges, line_shape, line_shape_partials, step, tail

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
        # a strong line has a step line of its own (kind "step": a free step, no peak);
        # the shared step height h serves the other lines
        self.is_step = np.array([ln.kind == STEP_LINE for ln in lines])
        stepped = {round(ln.energy, 3) for ln in lines if ln.kind == STEP_LINE}
        self.shares_h = np.array(
            [ln.kind != STEP_LINE and round(ln.energy, 3) not in stepped for ln in lines]
        )
        self.line_amplitude = np.asarray(line_amplitude, dtype=int)
        self.line_weight = np.asarray(line_weight, dtype=float)
        self.n_amp = n_amplitudes
        self.theta0 = np.asarray(theta0, dtype=float)
        self.regions = regions if regions is not None else self._regions(self.theta0)
        self._layout()

    # ------------------------------------------------------------------ geometry
    def positions(self, theta) -> tuple[np.ndarray, np.ndarray]:
        """Centroid channels and sigmas (channels) of the lines."""
        return self._geometry(theta)[:2]

    def _geometry(self, theta):
        """x0, sigma (channels) and their derivatives by the shape parameters.

        x0 = channel(E (1 + g) + o); sigma = (1 + g) sigma_E / slope(x0) with sigma_E = s
        sigma_cal(E), or hypot(s sigma_cal, w / 2.3548) for annihilation (w its extra FWHM).
        The slope's own change with x0 is neglected in the derivatives (a2 is tiny).
        """
        g, o, s = theta[GAIN], theta[OFFSET], theta[WIDTH]
        x0 = self.cal.energy.channel(self.energy * (1.0 + g) + o)
        slope = np.abs(self.cal.energy.slope(x0))
        sig_cal = self.cal.resolution.fwhm(self.energy) / _FWHM_PER_SIGMA
        det = s * sig_cal
        extra = np.where(self.is_ann, theta[ANN_FWHM] / _FWHM_PER_SIGMA, 0.0)
        sig_e = np.hypot(det, extra)
        sigma = (1.0 + g) * sig_e / slope
        d = {
            "x0_gain": self.energy / slope,
            "x0_offset": 1.0 / slope,
            "sigma_gain": sig_e / slope,
            "sigma_width": (1.0 + g) * det * sig_cal / sig_e / slope,
            "sigma_ann": np.where(
                self.is_ann, (1.0 + g) * extra / sig_e / slope / _FWHM_PER_SIGMA, 0.0
            ),
        }
        return x0, sigma, d

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
        # the pairs: each line with a region, on every row of its region, line by line
        lines_in = np.flatnonzero(line_region >= 0)
        first_row = np.array([r.rows.start for r in regs], dtype=np.intp)
        width = np.array([r.rows.stop - r.rows.start for r in regs], dtype=np.intp)
        widths = width[line_region[lines_in]]
        self.pair_line = np.repeat(lines_in, widths)
        offset = np.arange(len(self.pair_line)) - np.repeat(np.cumsum(widths) - widths, widths)
        self.pair_row = np.repeat(first_row[line_region[lines_in]], widths) + offset
        self.pair_channel = self.channels[self.pair_row].astype(float)
        # baseline design: t^d per region, entries in CSR order (row by row, d ascending)
        self.base_index, self._base_rows, self._base_cols, self._base_vals = _baseline_design(
            tuple((r.rows.start, r.rows.stop, r.degree) for r in regs)
        )
        self.n_base = sum(len(idx) for idx in self.base_index)
        # amplitude columns: one entry per (row, amplitude), summed over its lines; entries
        # ordered by row, then amplitude (np.unique's order, found without sorting)
        key = self.pair_row.astype(np.int64) * self.n_amp + self.line_amplitude[self.pair_line]
        present = np.zeros(self.n_fit * self.n_amp, bool)
        present[key] = True
        uniq = np.flatnonzero(present)
        self._amp_entry = (np.cumsum(present) - 1)[key]
        self._amp_cols = (uniq % self.n_amp).astype(np.int32)
        self._amp_indptr = np.concatenate(
            [[0], np.cumsum(np.bincount(uniq // self.n_amp, minlength=self.n_fit))]
        )
        self._structure: dict = {}
        self._last_parts: dict = {}
        self._peak = (~self.is_step).astype(float)
        # per (line, row) pair: what does not depend on the parameters
        pl = self.pair_line
        self._edges = PairEdges(self.pair_channel, pl)
        self._pair_peak = self._peak[pl]
        self._pair_weight = self.line_weight[pl]
        self._pair_shares_h = self.shares_h[pl]
        self.n_shape = len(SHAPE_NAMES)
        self.n_params = self.n_amp + self.n_base + self.n_shape

    # --------------------------------------------------------------- evaluation
    def split(self, p):
        a = p[: self.n_amp]
        b = p[self.n_amp : self.n_amp + self.n_base]
        theta = p[self.n_amp + self.n_base :]
        return a, b, theta

    def _step_heights(self, theta) -> np.ndarray:
        """Per line: 1 for step lines (their amplitude is the height), h or 0 for peaks."""
        return np.where(self.is_step, 1.0, np.where(self.shares_h, theta[STEP], 0.0))

    def _parts(self, theta, with_tail: bool) -> dict:
        """The geometry and the Gaussian, step (and tail) values of every (line, row) pair
        at theta, and the shapes computed from them. The last theta's are kept: the fit
        evaluates mu at a trial point and, once it is accepted, the Jacobian at the same
        point; with the shape parameters fixed, every point of the fit has the same."""
        key = np.asarray(theta, dtype=float).tobytes()
        c = self._last_parts
        if c.get("key") != key:
            x0, sigma, dgeo = self._geometry(theta)
            pl = self.pair_line
            xp, sp = x0[pl], sigma[pl]
            c.clear()
            c.update(
                key=key,
                dgeo=dgeo,
                xp=xp,
                sp=sp,
                r=np.exp(theta[LOG_TAIL]),
                g=self._edges.gaussian(x0, sigma),
                st=step(self.pair_channel, xp, sp),
                t=None,
                h=self._step_heights(theta)[pl],
            )
        if with_tail and c["t"] is None:
            c["t"] = tail(self.pair_channel, c["xp"], c["sp"], c["r"])
        return c

    def shapes(self, theta) -> np.ndarray:
        """Unit-area shape values of every (line, row) pair."""
        c = self._parts(theta, with_tail=bool(theta[ETA]))
        if "shapes" not in c:
            c["shapes"] = line_shape(
                *self._shape_arguments(c, theta), parts=(c["g"], c["t"], c["st"])
            )
        return c["shapes"]

    def _shape_arguments(self, c: dict, theta) -> tuple:
        """What line_shape and line_shape_partials take of every (line, row) pair."""
        return self.pair_channel, c["xp"], c["sp"], theta[ETA], c["r"], c["h"], self._pair_peak

    def line_counts(self, a) -> np.ndarray:
        """Expected area of every line for amplitudes a."""
        return a[self.line_amplitude] * self.line_weight

    def peaks(self, a, theta, shapes=None) -> np.ndarray:
        vals = self.shapes(theta) if shapes is None else shapes
        return np.bincount(
            self.pair_row, vals * self.line_counts(a)[self.pair_line], minlength=self.n_fit
        )

    def baseline(self, b) -> np.ndarray:
        # base_design @ b summed in the CSR's own order (row by row, columns ascending)
        log_base = np.bincount(
            self._base_rows, self._base_vals * b[self._base_cols], minlength=self.n_fit
        )
        return np.exp(np.clip(log_base, -60.0, 60.0))

    def mu(self, p) -> np.ndarray:
        a, b, theta = self.split(p)
        return self.peaks(a, theta) + self.baseline(b)

    def amplitude_columns(self, theta, shapes=None) -> sparse.csr_matrix:
        """d mu / d amplitude (does not depend on the amplitudes)."""
        vals = self.shapes(theta) if shapes is None else shapes
        return sparse.csr_matrix(
            (self._amp_data(vals), self._amp_cols, self._amp_indptr),
            shape=(self.n_fit, self.n_amp),
        )

    def amplitude_entries(self, theta) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, columns, values) of amplitude_columns' stored entries, in its order."""
        rows = np.repeat(np.arange(self.n_fit), np.diff(self._amp_indptr))
        return rows, self._amp_cols, self._amp_data(self.shapes(theta))

    def _amp_data(self, vals):
        w = vals * self._pair_weight
        return np.bincount(self._amp_entry, w, minlength=len(self._amp_cols))

    def jacobian(self, p, free_shape):
        """mu and d mu / d (amplitudes, baseline, free shape parameters) in blocks."""
        a, b, theta = self.split(p)
        c = self._parts(theta, with_tail=True)
        free = np.flatnonzero(free_shape)
        layout, pair_pos, base_pos = self._block_layout(free)
        n_fit, width = self.n_fit, layout.width
        pl = self.pair_line
        key = ("jacobian", len(free) > 0)
        if key not in c:
            channel, xp, sp, eta, r, h, peak = self._shape_arguments(c, theta)
            out = line_shape_partials(
                channel,
                xp,
                sp,
                eta,
                r,
                h,
                c["t"],
                peak,
                g=c["g"],
                st=c["st"],
                partials=len(free) > 0,
            )
            c[key] = out if len(free) else (out, None, None, None, None)
        vals, d_x0, d_sig, d_eta, d_step = c[key]
        amp = self.line_counts(a)[pl]
        rows = self.pair_row
        peaks = np.bincount(rows, vals * amp, minlength=n_fit)
        base = self.baseline(b)
        # the amplitudes' entries summed over their lines, straight into the blocks (they
        # do not depend on the amplitudes: kept while theta is)
        amp_key = ("amplitude entries", tuple(free))
        if amp_key not in c:
            c[amp_key] = np.bincount(pair_pos, vals * self._pair_weight, minlength=n_fit * width)
        local = c[amp_key].copy()
        local[base_pos] = self._base_vals * base[self._base_rows]
        local = local.reshape(n_fit, width)
        dgeo = c["dgeo"]
        for k, j in enumerate(free):  # the shape columns come first in every block
            if j == GAIN:
                w = d_x0 * dgeo["x0_gain"][pl] + d_sig * dgeo["sigma_gain"][pl]
            elif j == OFFSET:
                w = d_x0 * dgeo["x0_offset"][pl]
            elif j == WIDTH:
                w = d_sig * dgeo["sigma_width"][pl]
            elif j == ETA:
                w = d_eta
            elif j == LOG_TAIL:
                h = 1e-4
                t1 = tail(self.pair_channel, c["xp"], c["sp"], c["r"] * np.exp(h))
                w = theta[ETA] * self._pair_peak * (t1 - c["t"]) / h
            elif j == STEP:
                w = d_step * self._pair_shares_h
            else:  # ANN_FWHM
                w = d_sig * dgeo["sigma_ann"][pl]
            local[:, k] = np.bincount(rows, w * amp, minlength=n_fit)
        return peaks + base, BlockJacobian(local, layout)

    def _block_layout(self, free):
        """The blocks (one per region: free shape, its amplitudes, its baseline) and where
        each (line, row) pair and baseline entry goes in the flattened local array."""
        key = tuple(free)
        if key not in self._structure:
            nf = len(free)
            shape_cols = self.n_amp + self.n_base + np.arange(nf)
            n_regions = len(self.regions)
            # which amplitudes have a line in each region, ascending
            has = np.zeros((n_regions, self.n_amp), bool)
            inside = self.line_region >= 0
            has[self.line_region[inside], self.line_amplitude[inside]] = True
            amps = [np.flatnonzero(row) for row in has]
            block_cols = [
                np.concatenate([shape_cols, amps[k], self.n_amp + np.array(self.base_index[k])])
                for k in range(n_regions)
            ]
            layout = BlockLayout(
                [r.rows.start for r in self.regions],
                [r.rows.stop for r in self.regions],
                block_cols,
                self.n_amp + self.n_base + nf,
            )
            rank = nf + np.cumsum(has, axis=1) - 1  # local column of each region's amplitude
            width = layout.width
            region = self.region_of_row
            pr = self.pair_row
            pair_pos = pr * width + rank[region[pr], self.line_amplitude[self.pair_line]]
            br = self._base_rows
            first_base = np.array([idx[0] for idx in self.base_index])
            n_amps = has.sum(axis=1)
            base_pos = br * width + (
                nf + n_amps[region[br]] + self._base_cols - first_base[region[br]]
            )
            self._structure[key] = (layout, pair_pos, base_pos)
        return self._structure[key]


@functools.lru_cache(maxsize=16)
def _baseline_design(regions: tuple) -> tuple:
    """(column indices per region, rows, columns, values) of the baseline design t^d,
    t = -1 .. 1 across each region, for regions given as (first row, stop row, degree).
    Kept: the line-by-line refit has the joint fit's regions."""
    rows, cols, vals, base_index = [], [], [], []
    j = 0
    for start, stop, degree in regions:
        m = stop - start
        t = np.linspace(-1.0, 1.0, m) if m > 1 else np.zeros(1)
        n_d = degree + 1
        rows.append(np.repeat(np.arange(start, stop), n_d))
        cols.append(np.tile(np.arange(j, j + n_d), m))
        vals.append(np.column_stack([t**d for d in range(n_d)]).ravel())
        base_index.append(tuple(range(j, j + n_d)))
        j += n_d
    out = tuple(np.concatenate(x) for x in (rows, cols, vals))
    for a in out:
        a.flags.writeable = False
    return (tuple(base_index), *out)
