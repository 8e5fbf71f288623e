"""Poisson maximum-likelihood fit of one region: peaks on a local polynomial baseline.

The model is mu = B(theta) beta: beta are the linear parameters (baseline polynomial,
component areas, steps), theta the non-linear ones (shift and log width scale of strong
components). For fixed theta the areas are solved by Fisher scoring, which for the
identity link is iteratively reweighted least squares, beta = (B'WB + P)^-1 (B'Wn + P m)
with W = 1/mu: the linear part solved inside the non-linear loop. When a strong peak has
free position and width, a damped Gauss-Newton (Levenberg-Marquardt) step on (beta, theta)
follows. The objective is the Poisson deviance 2 sum(mu - n + n ln(n/mu)) (Baker and
Cousins 1984) plus Gaussian priors (beta - m)^2/s^2 for tied areas. Uncertainties are the
inverse Fisher information at the solution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from . import kernels

_MU_FLOOR = kernels.MU_FLOOR
_MAX_SHIFT_SIGMA = 1.5  # strong peaks may move this far from the calibrated position
_MAX_LOG_WIDTH = 0.35  # and change width by up to ~40 %


@dataclass
class Component:
    """Peaks whose areas keep fixed ratios: one line, a nuclide's lines, or an x-ray group."""

    key: str
    kind: str  # "nuclide", "xray", "tied", "found", "annihilation"
    nuclide: str | None  # owner (the group's shape nuclide for x-rays; None for found peaks)
    energies: np.ndarray  # keV
    positions: np.ndarray  # channel (array index)
    sigmas: np.ndarray  # channels
    weights: np.ndarray  # fraction of the component's area in each peak (sum 1)
    counts_per_bq: dict[str, float] = field(default_factory=dict)  # nuclide -> area per Bq
    intensities: dict[str, float] = field(default_factory=dict)  # nuclide -> photons per decay
    found: np.ndarray | None = None  # per peak: found by the search
    prior: tuple[float, float] | None = None  # (mean area, standard deviation)
    rel_unc: float = 0.0  # relative efficiency uncertainty (area-weighted over the peaks)
    intensity_rel_unc: float = 0.0  # relative intensity uncertainty (area-weighted), library
    summing_rel_unc: float = 0.0  # relative uncertainty for true coincidence summing
    # nuclides whose lines here have approximate intensities: their share is subtracted
    # with the activity their own lines give, never used to quantify them
    approximate: set[str] = field(default_factory=set)
    strong: bool = False  # gets a step (and frees the region's shape)
    own_width: bool = False  # broader than the detector resolution (annihilation)

    @cached_property
    def main(self) -> int:
        """The peak with the largest share (weights are set once: computed once, it is
        asked for some hundred times a spectrum)."""
        return int(np.argmax(self.weights))


@dataclass
class RegionFit:
    lo: int  # first channel (array index) of the region
    counts: np.ndarray
    components: list[Component]
    baseline_order: int
    basis: np.ndarray  # B at the solution
    beta: np.ndarray
    covariance: np.ndarray  # of (beta, theta)
    mu: np.ndarray
    shifts: np.ndarray  # per component (channels)
    width_scales: np.ndarray  # per component
    deviance: float
    dof: int
    prior_precision: np.ndarray  # diagonal of P over beta
    prior_mean: np.ndarray
    # the spectrum's level-corrected SNIP continuum over the region, set by the caller: the
    # continuum of the null hypothesis for u(0), independent of the fit's own baseline
    reference_continuum: np.ndarray | None = None

    @property
    def n_baseline(self) -> int:
        return self.baseline_order + 1

    def area_index(self, i: int) -> int:
        return self.n_baseline + i

    # area and area_unc are asked for thousands of times a spectrum: plain floats (math.sqrt
    # is correctly rounded, as np.sqrt: the same value, without a numpy call)
    def area(self, i: int) -> float:
        return float(self.beta[self.baseline_order + 1 + i])

    def area_unc(self, i: int) -> float:
        j = self.baseline_order + 1 + i
        return math.sqrt(max(float(self.covariance[j, j]), 0.0))

    @property
    def reduced_chi2(self) -> float:
        return self.deviance / self.dof if self.dof > 0 else float("nan")

    def continuum(self) -> np.ndarray:
        """mu of the baseline and the steps (what is not peak area)."""
        nb = self.n_baseline
        nc = len(self.components)
        lin = self.beta.copy()  # the areas set to zero (np.r_ is slow for this)
        lin[nb : nb + nc] = 0.0
        return self.basis @ lin

    def peak_counts(self, i: int) -> np.ndarray:
        return self.basis[:, self.area_index(i)] * self.area(i)

    @cached_property
    def linear_covariance(self) -> np.ndarray:
        """The covariance of the linear parameters at the fit's own mu, theta fixed (asked
        for by every estimate that uses the region: computed once)."""
        return self.area_covariance_at(self.mu)

    def area_covariance_at(self, mu0) -> np.ndarray:
        """Covariance of the linear parameters if the expected counts were mu0 (theta fixed).

        ISO 11929 needs u(0), the uncertainty of an area whose true value is zero: pass
        mu0 = mu without that area.
        """
        return kernels.fisher_inverse(
            self.basis, np.ascontiguousarray(mu0, dtype=float), self.prior_precision
        )


def fit_region(
    counts,
    lo: int,
    components: list[Component],
    *,
    baseline_order: int = 1,
    tail_fraction: float = 0.0,
    tail_length_sigma: float = 1.0,
    free_shape: bool = False,
    free_width: bool = True,
    start: np.ndarray | None = None,
    compton_edges: tuple[tuple[float, float], ...] = (),
) -> RegionFit:
    """Fit the channels lo .. lo + len(counts) - 1 (array indices).

    free_shape: the region's peaks share a free shift and a free width scale (a component
    with `own_width`, the Doppler-broadened annihilation line, gets its own width scale),
    and every strong component gets a step. Without it positions and widths are fixed.
    free_width=False keeps the widths fixed when the shape is free (only the shift moves).
    start: linear parameters of an earlier fit of the same region (baseline and areas) to
    start from. compton_edges: (position, sigma) in channels of Compton edges inside the region,
    each a step of free height (part of the continuum, fixed in place).
    """
    n = np.asarray(counts, dtype=float)
    edges = lo - 0.5 + np.arange(n.size + 1, dtype=float)
    centre = lo + 0.5 * (n.size - 1)
    half = max(0.5 * (n.size - 1), 1.0)
    t = (edges[:-1] + 0.5 - centre) / half
    nb = baseline_order + 1
    # C order whatever the order of the polynomial: one compiled region_basis for all regions
    baseline = np.empty((n.size, nb))
    for k in range(nb):
        baseline[:, k] = t**k
    nc = len(components)
    stepped = [i for i, c in enumerate(components) if free_shape and c.strong]
    widths = free_shape and free_width
    own = [i for i, c in enumerate(components) if widths and c.own_width]
    n_theta = 0 if not free_shape else (2 + len(own) if widths else 1)
    # which theta scales each component's width (-1: fixed)
    width_of = [(2 + own.index(i) if i in own else 1) if widths else -1 for i in range(nc)]

    # every peak of every component in one array, so that each basis is one compiled call
    peak_comp = np.repeat(np.arange(nc), [c.positions.size for c in components])
    peak_widx = np.array(width_of, dtype=np.int64)[peak_comp]
    step_widx = np.array([width_of[i] for i in stepped], dtype=np.int64)
    edge_steps = np.zeros((n.size, 0))
    if compton_edges:
        pos = np.array([p for p, _ in compton_edges], dtype=float)
        sig = np.array([w for _, w in compton_edges], dtype=float)
        edge_steps = kernels.step_columns(edges[:-1] + 0.5, pos, sig)[0]
    shape = (
        edges,
        baseline,
        nc,
        np.concatenate([c.positions for c in components]).astype(float, copy=False),
        np.concatenate([c.sigmas for c in components]).astype(float, copy=False),
        peak_comp,
        np.concatenate([c.weights for c in components]).astype(float, copy=False),
        peak_widx,
        float(tail_fraction),
        float(tail_length_sigma),
        np.array([components[i].positions[components[i].main] for i in stepped], dtype=float),
        np.array([components[i].sigmas[components[i].main] for i in stepped], dtype=float),
        step_widx,
        edge_steps,
    )
    n_steps = len(stepped)
    n_lin = nb + nc + n_steps + len(compton_edges)
    prec = np.zeros(n_lin)
    mean = np.zeros(n_lin)
    for i, c in enumerate(components):
        if c.prior is not None:
            m, s = c.prior
            prec[nb + i] = 1.0 / max(s, 1e-6) ** 2
            mean[nb + i] = m
    theta = np.zeros(n_theta)
    b = kernels.region_basis(*shape, free_shape, widths, theta, False)[0]
    if start is not None:
        start = np.concatenate(
            [start[: nb + nc], np.zeros(n_steps), start[start.size - len(compton_edges) :]]
        )
    beta = _irls(b, n, prec, mean, beta=start)
    jac = b
    if n_theta:
        sig = min(float(np.min(c.sigmas)) for c in components)
        lim = np.full(n_theta, _MAX_LOG_WIDTH)
        lim[0] = _MAX_SHIFT_SIGMA * sig
        beta, theta, b = kernels.levenberg_marquardt(
            *shape, widths, n, beta, theta, prec, mean, lim, 40
        )
        b, d = kernels.region_basis(*shape, free_shape, widths, theta, True)
        jac = kernels.jacobian(b, d, beta)
    mu = np.maximum(b @ beta, _MU_FLOOR)
    cov = kernels.fisher_inverse(jac, mu, np.concatenate([prec, np.zeros(n_theta)]))
    shifts = np.full(nc, theta[0] if free_shape else 0.0)
    scales = np.ones(nc)
    if widths:
        factor = np.exp(theta).tolist()  # each width's scale (theta[0], the shift, unused)
        scales[:] = [factor[k] for k in width_of]
    return RegionFit(
        lo=lo,
        counts=n,
        components=components,
        baseline_order=baseline_order,
        basis=b,
        beta=beta,
        covariance=cov,
        mu=mu,
        shifts=shifts,
        width_scales=scales,
        deviance=kernels.deviance(n, mu),
        dof=max(n.size - n_lin - n_theta + int(np.count_nonzero(prec)), 1),
        prior_precision=prec,
        prior_mean=mean,
    )


def _irls(b, n, prec, mean, beta=None, max_iter: int = 50) -> np.ndarray:
    """Poisson ML of the linear parameters by Fisher scoring, kept inside mu > 0
    (kernels.irls: weighted least squares start, an active set for empty channels on the
    boundary, the longest feasible step halved until the objective drops)."""
    b = np.ascontiguousarray(b, dtype=float)
    start = beta is not None
    beta0 = np.asarray(beta, dtype=float) if start else np.zeros(b.shape[1])
    return kernels.irls(b, n, prec, mean, beta0, start, max_iter)


def warm_up() -> None:
    """Compile the fit's kernels (or load them from numba's cache) on a small region
    (analyze.warm_up does it for every kernel)."""
    ch = np.arange(40, dtype=float)
    counts = np.round(5.0 + 400.0 * np.exp(-0.5 * ((ch - 20.0) / 2.0) ** 2))
    counts[:4] = 0.0
    peak = Component(
        key="warm-up",
        kind="nuclide",
        nuclide=None,
        energies=np.array([100.0]),
        positions=np.array([120.0]),
        sigmas=np.array([2.0]),
        weights=np.array([1.0]),
        strong=True,
    )
    for free in (False, True):
        fit = fit_region(
            counts, 100, [peak], tail_fraction=0.015, free_shape=free, compton_edges=((130.0, 2.0),)
        )
        fit.area_covariance_at(fit.mu)
