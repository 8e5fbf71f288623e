"""From fitted areas to nuclide activities, their uncertainties and ISO 11929 limits.

A = N / (eps I t_live) per component. The activities of all nuclides come from one
generalised least-squares solution over the components used: for lines of one nuclide
this is the inverse-variance mean; an x-ray group shared by several nuclides (Xe K from
Xe-131m and Xe-133m) is split between them by their own gamma lines. The estimate is
linear in the areas, A_n = sum_l w_nl N_l, so its uncertainty at zero activity (u0, for
the decision threshold) comes from the fit covariance re-evaluated without the nuclide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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


def estimate_activities(
    fits: list[RegionFit],
    nuclides,
    *,
    use_xrays: bool = False,
    with_limits: bool = True,
) -> dict[str, NuclideEstimate]:
    """Activities of `nuclides` from the components of `fits` that quantify them."""
    wanted = set(nuclides)
    rows: list[tuple[int, int]] = []
    own: dict[str, int] = {}
    for r, fit in enumerate(fits):
        for i, c in enumerate(fit.components):
            if c.kind in QUANTIFYING_KINDS and c.nuclide in wanted:
                rows.append((r, i))
                own[c.nuclide] = own.get(c.nuclide, 0) + 1
    if use_xrays:
        for r, fit in enumerate(fits):
            for i, c in enumerate(fit.components):
                contrib = [n for n, v in c.counts_per_bq.items() if v > 0]
                if c.kind == "xray" and contrib and all(n in own for n in contrib):
                    rows.append((r, i))
    names = [n for n in nuclides if n in own]
    if not rows or not names:
        return {}
    col = {n: k for k, n in enumerate(names)}
    m = np.zeros((len(rows), len(names)))
    for k, (r, i) in enumerate(rows):
        for n, v in fits[r].components[i].counts_per_bq.items():
            if n in col:
                m[k, col[n]] = v
    y = np.array([fits[r].area(i) for r, i in rows])
    cov = _block_covariance(fits, rows)
    cinv = np.linalg.pinv(cov)
    info = m.T @ cinv @ m
    cov_a = np.linalg.pinv(info)
    weights = cov_a @ m.T @ cinv  # nuclides x rows
    activity = weights @ y

    rel = np.array([fits[r].components[i].rel_unc for r, i in rows])
    out = {}
    for n in names:
        k = col[n]
        w = weights[k]
        u = float(np.sqrt(max(cov_a[k, k], 0.0)))
        per_row_counts = m[:, k]
        u_rel = float(abs(np.sum(w * per_row_counts * rel)))
        est = NuclideEstimate(
            nuclide=n,
            activity=float(activity[k]),
            counting_unc=u,
            u_rel_calibration=u_rel,
            u0=u,
            g=float(np.sum(w * w * per_row_counts)),
            rows=[(r, i, float(w[j])) for j, (r, i) in enumerate(rows) if w[j] != 0.0],
        )
        if with_limits:
            est.u0 = _u_at_zero(fits, rows, w, per_row_counts, float(activity[k]), n)
        out[n] = est
    return out


def _block_covariance(fits: list[RegionFit], rows) -> np.ndarray:
    cov = np.zeros((len(rows), len(rows)))
    for a, (ra, ia) in enumerate(rows):
        for b, (rb, ib) in enumerate(rows):
            if ra == rb:
                f = fits[ra]
                cov[a, b] = f.covariance[f.area_index(ia), f.area_index(ib)]
    return cov


def _u_at_zero(fits, rows, w, per_row_counts, activity, nuclide) -> float:
    """sqrt(w' C0 w): the covariance of the used areas re-evaluated with the nuclide removed."""
    var = 0.0
    regions = sorted({r for (r, _), wj in zip(rows, w) if wj != 0.0})
    for r in regions:
        fit = fits[r]
        mu0 = fit.mu.copy()
        for i, c in enumerate(fit.components):
            share = c.counts_per_bq.get(nuclide, 0.0)
            if share <= 0 or c.kind == "tied":
                continue
            if len(c.counts_per_bq) == 1:
                mu0 -= fit.peak_counts(i)
            else:
                mu0 -= fit.basis[:, fit.area_index(i)] * activity * share
        c0 = fit.area_covariance_at(mu0)
        idx = [j for j, (rr, _) in enumerate(rows) if rr == r]
        ai = [fit.area_index(rows[j][1]) for j in idx]
        wr = w[idx]
        var += float(wr @ c0[np.ix_(ai, ai)] @ wr)
    return float(np.sqrt(max(var, 0.0)))
