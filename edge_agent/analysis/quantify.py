"""From fitted areas to nuclide activities, their uncertainties and ISO 11929 limits.

A = N / (eps I t_live) per component. The activities come from a generalised
least-squares solution over the components used: for the lines of one nuclide this is
the inverse-variance mean; an x-ray group shared by several nuclides (Xe K from Xe-131m
and Xe-133m) couples them and is split by their own gamma lines. The estimate is linear in
the areas, A_n = sum_l w_nl N_l. Covariances are the Fisher information of the region fits
evaluated at the estimated activities (weights that followed each line's own fluctuation
would favour the lines that fluctuated low: a negative bias at low counts), and u0, the
uncertainty at zero activity that the decision threshold needs, is the same with the
nuclide's areas at zero on the level-corrected SNIP continuum (not the fit's baseline,
which follows an upward fluctuation of the very area judged, nor a refit without the
nuclide, whose continuum would take up a real signal).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.special import chdtrc

from . import kernels, linalg
from .fit import RegionFit

QUANTIFYING_KINDS = ("nuclide", "annihilation")


@dataclass
class NuclideEstimate:
    nuclide: str
    activity: float  # Bq
    counting_unc: float  # Bq
    u_rel_calibration: float  # relative
    u0: float  # counting uncertainty if the true activity were zero (Bq)
    g: float  # variance the signal adds, per Bq (Bq^2/Bq)
    rows: list[tuple[int, int, float]] = field(default_factory=list)  # (fit, component, weight)
    u_rel_efficiency: float = 0.0  # relative, from the curve's covariance at the lines
    u_rel_nuclear: float = 0.0  # relative, from the line intensities
    efficiency_unc: float = 0.0  # Bq, with the other nuclides' shares of shared rows
    nuclear_unc: float = 0.0  # Bq, likewise
    chi2: float | None = None  # of the lines about the combination (None: one line per nuclide)
    dof: int | None = None
    consistent: bool | None = None
    disagreement_unc: float = 0.0  # Bq added (in quadrature) because the lines disagree
    summing_unc: float = 0.0  # Bq, true coincidence summing (one total efficiency: linear)


@dataclass(frozen=True)
class Systematics:
    """What the counting covariance leaves out: the efficiency curve and nuclear data."""

    ln_eff_cov: Callable[[np.ndarray], np.ndarray]  # covariance of ln eps at energies
    gamma_rel: float | None = None  # relative uncertainty of a gamma intensity (None: library)
    xray_rel: float | None = None  # of an x-ray group's intensities (None: library)
    p_value: float = 0.01  # lines disagree below this p-value of their chi^2
    # nuclide -> u/NR of its decay-scheme normalisation, common to its gamma lines
    normalisation_rel: dict[str, float] = field(default_factory=dict)

    def intensity_rel(self, component) -> float:
        """u(I)/I of a component's lines: the library's (area-weighted over its peaks), or
        the configured override of its kind."""
        override = self.xray_rel if component.kind == "xray" else self.gamma_rel
        return component.intensity_rel_unc if override is None else override


def estimate_activities(
    fits: list[RegionFit],
    nuclides,
    *,
    use_xrays: bool = False,
    with_limits: bool = True,
    limits_for=None,
    systematics: Systematics | None = None,
    needed=None,
) -> dict[str, NuclideEstimate]:
    """Activities of `nuclides` from the components of `fits` that quantify them.

    limits_for: the nuclides that need u0 (default: all of them, when with_limits).
    needed: the nuclides whose estimates the caller uses (default: all). The others are
    there for the lines they share: a set of nuclides that shares no line with a needed
    one is not solved (it cannot change them) and has no estimate in the result.
    systematics: with it, each nuclide's efficiency and nuclear-data uncertainties and the
    consistency of its lines (without: the linear efficiency bound of the components).
    """
    wanted = set(nuclides)
    rows: list[tuple[int, int]] = []
    own: set[str] = set()
    for r, fit in enumerate(fits):
        for i, c in enumerate(fit.components):
            if c.kind in QUANTIFYING_KINDS and c.nuclide in wanted:
                rows.append((r, i))
                own.add(c.nuclide)
    if use_xrays:
        for r, fit in enumerate(fits):
            for i, c in enumerate(fit.components):
                contrib = [n for n, v in _quantified(c).items() if v > 0]
                # an x-ray group counts when every nuclide it quantifies is being solved for
                # (groups of lines with approximate intensities only are never used)
                if c.kind == "xray" and contrib and all(n in own for n in contrib):
                    rows.append((r, i))
    need_u0 = set(wanted if limits_for is None else limits_for) if with_limits else set()
    out: dict[str, NuclideEstimate] = {}
    for group in _coupled_groups(fits, rows, [n for n in nuclides if n in own]):
        if needed is None or not set(needed).isdisjoint(group[0]):
            out.update(_solve_group(fits, group, need_u0, systematics))
    return out


def _quantified(component) -> dict[str, float]:
    """Area per Bq of the nuclides a component quantifies (approximate lines excluded)."""
    return {n: v for n, v in component.counts_per_bq.items() if n not in component.approximate}


def _coupled_groups(fits, rows, names):
    """(nuclides, rows) sets that share no row: each solved alone."""
    parent = {n: n for n in names}

    def root(n):
        while parent[n] != n:
            n = parent[n]
        return n

    row_nuclides = []
    for r, i in rows:
        nucs = [n for n, v in _quantified(fits[r].components[i]).items() if v > 0 and n in parent]
        row_nuclides.append(nucs)
        for n in nucs[1:]:
            parent[root(n)] = root(nucs[0])
    groups: dict[str, tuple[list[str], list[tuple[int, int]]]] = {}
    for n in names:
        groups.setdefault(root(n), ([], []))[0].append(n)
    for row, nucs in zip(rows, row_nuclides):
        if nucs:
            groups[root(nucs[0])][1].append(row)
    return list(groups.values())


def _solve_group(fits, group, need_u0, systematics=None) -> dict[str, NuclideEstimate]:
    names, rows = group
    col = {n: k for k, n in enumerate(names)}
    m = np.zeros((len(rows), len(names)))
    for k, (r, i) in enumerate(rows):
        for n, v in _quantified(fits[r].components[i]).items():
            if n in col:
                m[k, col[n]] = v
    y = np.array([fits[r].area(i) for r, i in rows])
    model = _VarianceModel(fits, rows)
    if len(rows) == len(names):  # one row per nuclide: no weighting to iterate
        activity = linalg.solve(m, y)
        cov = model.at(m @ np.maximum(activity, 0.0))
        activity, cov_a, weights = _gls(y, m, cov)
    else:
        cov = model.fitted()
        for _ in range(3):
            activity, cov_a, weights = _gls(y, m, cov)
            cov = model.at(m @ np.maximum(activity, 0.0))
        activity, cov_a, weights = _gls(y, m, cov)

    rel = np.array([fits[r].components[i].rel_unc for r, i in rows])
    # the budget and the line test of the nuclides reported (interferers need neither)
    check = None
    if systematics is not None and need_u0.intersection(names):
        check = _consistency(fits, rows, m, y, cov, activity, systematics)
        # what every nuclide's budget below shares: the rows' summing uncertainties, their
        # model areas per nuclide (shared rows pass errors on through their weight), and
        # which rows are gamma lines (the decay-scheme normalisation)
        s_rel = np.array([fits[r].components[i].summing_rel_unc for r, i in rows])
        shares = m * np.maximum(activity, 0.0)[None, :]  # row x nuclide model areas
        row_area = shares.sum(axis=1)
        gamma = np.array([fits[r].components[i].kind == "nuclide" for r, i in rows])
    out = {}
    for n in names:
        k = col[n]
        w = weights[k]
        per_row_counts = m[:, k]
        u = float(np.sqrt(max(cov_a[k, k], 0.0)))
        est = NuclideEstimate(
            nuclide=n,
            activity=float(activity[k]),
            counting_unc=u,
            u_rel_calibration=float(abs(np.sum(w * per_row_counts * rel))),
            u0=u,
            g=float(np.sum(w * w * per_row_counts)),
            rows=[(r, i, float(w[j])) for j, (r, i) in enumerate(rows) if w[j] != 0.0],
        )
        if check is not None:
            sens = w * per_row_counts  # d ln A / d ln eps of each row (sums to 1 alone)
            est.u_rel_efficiency = float(np.sqrt(max(sens @ check.eff_cov @ sens, 0.0)))
            est.u_rel_nuclear = float(np.sqrt(np.sum((sens * check.intensity_rel) ** 2)))
            norm_rel, norm_bq = _normalisation(names, n, w, m, shares, gamma, systematics)
            est.u_rel_nuclear = float(np.hypot(est.u_rel_nuclear, norm_rel))
            u_rel_summing = float(abs(sens @ s_rel))
            est.u_rel_calibration = float(
                np.sqrt(est.u_rel_efficiency**2 + est.u_rel_nuclear**2 + u_rel_summing**2)
            )
            # in Bq: a row shared with other nuclides (the Xe K group of Xe-131m and
            # Xe-133m) passes their efficiency and intensity errors on through its weight
            # (Xe-133m's Xe K intensity moves the Xe-131m the group leaves over)
            sens_bq = w * row_area
            est.efficiency_unc = float(np.sqrt(max(sens_bq @ check.eff_cov @ sens_bq, 0.0)))
            est.nuclear_unc = float(
                np.hypot(
                    np.sqrt(np.sum((w[:, None] * shares * check.intensity_rel[:, None]) ** 2)),
                    norm_bq,
                )
            )
            # the summing of every line goes with the one total efficiency: added linearly
            est.summing_unc = float(abs(sens_bq @ s_rel))
            est.chi2, est.dof, est.consistent = check.chi2, check.dof, check.consistent
            if check.consistent is False:
                birge2 = check.chi2 / check.dof
                est.disagreement_unc = float(np.sqrt(check.internal_var[k] * (birge2 - 1.0)))
        if n in need_u0:
            without = np.maximum(activity, 0.0)
            without[k] = 0.0
            c0 = model.at(m @ without, null=n, only=np.nonzero(w)[0])
            est.u0 = float(np.sqrt(max(float(w @ c0 @ w), 0.0)))
        out[n] = est
    return out


def _normalisation(names, n, w, m, shares, gamma, sy: Systematics):
    """(relative, Bq) uncertainty of nuclide n's activity from the decay-scheme
    normalisations: each nuclide's moves all its gamma rows together (fully correlated),
    so its term is the sum over those rows, not the root sum of squares. shares: the rows'
    model areas per nuclide; gamma: which rows are gamma lines."""
    if not sy.normalisation_rel:
        return 0.0, 0.0
    terms = []
    rel = 0.0
    for j, other in enumerate(names):
        nr = sy.normalisation_rel.get(other, 0.0)
        if nr <= 0:
            continue
        terms.append(nr * float(np.sum(w * shares[:, j] * gamma)))
        if other == n:
            rel = nr * abs(float(np.sum(w * m[:, j] * gamma)))
    return rel, float(np.sqrt(np.sum(np.square(terms)))) if terms else 0.0


@dataclass
class _Consistency:
    eff_cov: np.ndarray  # of ln eps at the rows' main energies
    intensity_rel: np.ndarray  # per row
    chi2: float | None
    dof: int | None
    consistent: bool | None
    internal_var: np.ndarray  # per nuclide: variance of the combination with all parts


def _consistency(fits, rows, m, y, cov_count, activity, sy: Systematics) -> _Consistency:
    """chi^2 of the rows about their combination, with every uncertainty a row carries.

    The test covariance is the counting one plus the efficiency curve's covariance of
    ln eps between the rows' energies and the intensities' (independent between lines),
    both times the rows' model areas. Lines disagree when its p-value is below
    sy.p_value; the caller then widens the combined uncertainty by the Birge ratio
    sqrt(chi^2/dof) (the external uncertainty of a weighted mean).
    """
    comps = [fits[r].components[i] for r, i in rows]
    energies = np.array([float(c.energies[c.main]) for c in comps])
    eff_cov = np.atleast_2d(sy.ln_eff_cov(energies))
    irel = np.array([sy.intensity_rel(c) for c in comps])
    model_area = m @ np.maximum(activity, 0.0)
    sys_cov = (eff_cov + np.diag(irel**2)) * np.outer(model_area, model_area)
    total = cov_count + sys_cov
    a_t, cov_t, _ = _gls(y, m, total)
    dof = len(rows) - m.shape[1]
    if dof < 1:
        return _Consistency(eff_cov, irel, None, None, None, np.diag(cov_t))
    resid = y - m @ a_t
    try:
        chi2 = float(resid @ linalg.solve(total, resid))
    except np.linalg.LinAlgError:
        chi2 = float(resid @ np.linalg.pinv(total) @ resid)
    consistent = bool(chdtrc(dof, chi2) >= sy.p_value)
    return _Consistency(eff_cov, irel, chi2, dof, consistent, np.diag(cov_t))


def _gls(y, m, cov):
    """Activities, their covariance and the weights (activities = weights @ y)."""
    return kernels.gls(
        np.ascontiguousarray(y, dtype=float),
        np.ascontiguousarray(m, dtype=float),
        np.ascontiguousarray(cov, dtype=float),
    )


class _VarianceModel:
    """Covariance of the used areas if they had given values, from each region's Fisher
    information at mu = (what is not a used area) + (the areas' shapes times the values).

    Regions fitted with a free shape also carry the position and width uncertainty: their
    variances are scaled by the ratio of the full to the linear-only covariance at the fit.
    """

    def __init__(self, fits: list[RegionFit], rows):
        self.fits = fits
        self.rows = rows
        # (fit, rows, area indices, rows x rows and areas x areas index grids)
        self.regions: list[tuple[int, np.ndarray, np.ndarray, tuple, tuple]] = []
        by_region: dict[int, list[int]] = {}
        for j, (r, _) in enumerate(rows):
            by_region.setdefault(r, []).append(j)
        self.rest = {}
        self.shapes = {}  # per region: the basis columns of its used areas
        self.scale = {}
        self._ones = {}
        self._row_sets = {}  # per region: its rows, for `at`'s only
        self._null_continuum = {}  # (region, nuclide) -> what u(0) puts in place of areas
        for r, js in by_region.items():
            fit = fits[r]
            idx = np.array([fit.area_index(rows[j][1]) for j in js], dtype=np.int64)
            js = np.array(js)
            self._ones[r] = np.ones(idx.size)  # the scale of a region with a fixed shape
            self._row_sets[r] = frozenset(js.tolist())
            # np.ix_ of each, written out (it is called for every group)
            self.regions.append((r, js, idx, (js[:, None], js), (idx[:, None], idx)))
            self.shapes[r] = fit.basis[:, idx]
            self.rest[r] = fit.mu - self.shapes[r] @ fit.beta[idx]
            if fit.covariance.shape[0] > fit.beta.size:  # free shape
                lin = np.diag(fit.linear_covariance)[idx]
                full = np.diag(fit.covariance)[idx]
                self.scale[r] = np.sqrt(np.maximum(full / np.maximum(lin, 1e-300), 1.0))

    def fitted(self) -> np.ndarray:
        cov = np.zeros((len(self.rows), len(self.rows)))
        for r, _, _, rr, aa in self.regions:
            cov[rr] = self.fits[r].covariance[aa]
        return cov

    def at(self, areas, null: str | None = None, only=None) -> np.ndarray:
        """The covariance if the used areas were `areas` (rows outside `only`: zero).

        null: the nuclide whose decision threshold is wanted (its share of `areas` is
        zero). Its regions then take the level-corrected SNIP continuum instead of their
        fitted baseline, which would follow an upward fluctuation of the very area judged
        (u(0) would shrink with it), and one count is added in each of its peak windows.
        """
        cov = np.zeros((len(self.rows), len(self.rows)))
        wanted = None if only is None else set(np.asarray(only).tolist())
        for r, js, idx, rr, _ in self.regions:
            if wanted is not None and wanted.isdisjoint(self._row_sets[r]):
                continue
            fit = self.fits[r]
            # one count added to the region's continuum: ISO 11929 takes n + 1 as the mean
            # of a Poisson count n, which keeps u(0) finite where the continuum is ~0
            mu = self.rest[r] + self.shapes[r] @ np.maximum(areas[js], 0.0)
            if null is not None:
                swap = self._null_swap(r, js, null)
                if swap is not None:
                    mu = mu + swap
            # (np.maximum(mu, 0) + 1/m) -> Fisher inverse -> the used areas' block, times
            # the free-shape scale: one compiled call
            cov[rr] = kernels.area_covariance(
                fit.basis,
                np.ascontiguousarray(mu, dtype=float),
                1.0 / fit.mu.size,
                fit.prior_precision,
                idx,
                self.scale.get(r, self._ones[r]),
            )
        return cov

    def _null_swap(self, r: int, js, null: str):
        """What u(0) of nuclide `null` adds to region r's mu: the level-corrected SNIP
        continuum in place of the fitted one, and the n + 1 of the gross count in each of
        the nuclide's peak windows (None: the region holds none of its used areas)."""
        key = (r, null)
        if key not in self._null_continuum:
            fit = self.fits[r]
            mine = [
                self.rows[j][1] for j in js if null in fit.components[self.rows[j][1]].counts_per_bq
            ]
            swap = None
            if mine and fit.reference_continuum is not None:
                swap = fit.reference_continuum - fit.continuum() + _window_count(fit, mine)
            self._null_continuum[key] = swap
        return self._null_continuum[key]


def _window_count(fit: RegionFit, components: list[int]) -> np.ndarray:
    """One count spread over +-1.25 FWHM of each component's main peak."""
    out = np.zeros(fit.mu.size)
    ch = fit.lo + np.arange(fit.mu.size)
    for i in components:
        c = fit.components[i]
        pos = c.positions[c.main] + fit.shifts[i]
        half = 1.25 * 2.3548200450309493 * c.sigmas[c.main] * fit.width_scales[i]
        window = np.abs(ch - pos) <= half
        # the window is an interval of channels: a slice, not a boolean selection
        n = int(np.count_nonzero(window))
        if n:
            first = int(np.argmax(window))
            out[first : first + n] += 1.0 / n
    return out
