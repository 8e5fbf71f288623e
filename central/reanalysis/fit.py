"""Poisson maximum likelihood by Levenberg-Marquardt on the Fisher information.

Minimises the Poisson deviance 2 sum(mu - n + n ln(n/mu)) (Baker and Cousins 1984) plus
Gaussian priors on chosen parameters; the covariance is the inverse of the expected
(Fisher) information J^T diag(1/mu) J plus the priors' information, at the optimum.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import sparse


@dataclass
class PoissonFit:
    p: np.ndarray  # all parameters
    free: np.ndarray  # indices of the fitted parameters (the rest stayed fixed)
    mu: np.ndarray
    jac: sparse.csr_matrix  # d mu / d p[free] at the optimum
    information: np.ndarray  # Fisher information of p[free], priors included
    deviance: float  # of the data (priors not included)
    iterations: int
    converged: bool
    prior_weight: np.ndarray  # of the free parameters (1/sigma^2, 0 for none)
    mu_ref: np.ndarray | None = None  # the expected counts the information is evaluated at

    def covariance(self) -> np.ndarray:
        return invert(self.information)

    def with_floor(self, floor: np.ndarray) -> PoissonFit:
        """The same fit with its information evaluated at mu + floor.

        Where mu -> 0 (an empty region) the expected information 1/mu diverges, while a
        region with no counts does not tell a line's area to infinite precision; a floor
        of one count per region is the n + 1 of ISO 11929 for few counts.
        """
        mu_ref = self.mu + floor
        info = information(self.jac, mu_ref) + np.diag(self.prior_weight)
        return replace(self, information=info, mu_ref=mu_ref)


def deviance(n: np.ndarray, mu: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / mu), 0.0)
    return float(2.0 * np.sum(mu - n + t))


def information(jac: sparse.csr_matrix, mu: np.ndarray) -> np.ndarray:
    """J^T diag(1/mu) J as a dense matrix."""
    weighted = sparse.diags(1.0 / mu) @ jac
    return (jac.T @ weighted).toarray()


def invert(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive (semi-)definite matrix, scaled for conditioning."""
    d = np.sqrt(np.abs(np.diag(matrix)))
    d[d == 0] = 1.0
    scaled = matrix / d[:, None] / d[None, :]
    try:
        inv = np.linalg.inv(scaled)
    except np.linalg.LinAlgError:
        inv = np.linalg.pinv(scaled, hermitian=True)
    return inv / d[:, None] / d[None, :]


def fit_poisson(
    mu_of,
    jacobian_of,
    n: np.ndarray,
    p0: np.ndarray,
    free: np.ndarray,
    prior_mean: np.ndarray,
    prior_weight: np.ndarray,
    lower: np.ndarray | None = None,
    upper: np.ndarray | None = None,
    max_iterations: int = 60,
    tolerance: float = 1e-4,
) -> PoissonFit:
    """Fit p[free] within [lower, upper], starting from p0.

    mu_of(p) -> mu; jacobian_of(p) -> (mu, d mu / d p[free]). prior_mean, prior_weight
    (1/sigma^2, 0 for none) and the bounds are given for the free parameters. A parameter
    at a bound that the gradient pushes outwards stays there for that iteration (active
    set); trial points are projected onto the bounds. mu must stay positive: a step that
    makes any mu <= 0 is refused like one that raises the deviance.
    """
    p = np.array(p0, dtype=float)
    m = len(free)
    lo = np.full(m, -np.inf) if lower is None else np.asarray(lower, float)
    hi = np.full(m, np.inf) if upper is None else np.asarray(upper, float)
    p[free] = np.clip(p[free], lo, hi)
    mu, jac = jacobian_of(p)
    if np.any(mu <= 0):
        raise ValueError("starting point gives non-positive expected counts")

    def objective(p_, mu_):
        q = p_[free] - prior_mean
        return deviance(n, mu_) + float(np.sum(prior_weight * q * q))

    obj = objective(p, mu)
    lam = 1e-3
    converged = False
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 (reported below)
        info = information(jac, mu) + np.diag(prior_weight)
        grad = jac.T @ (1.0 - n / mu) + prior_weight * (p[free] - prior_mean)
        x = p[free]
        pinned = ((x <= lo) & (grad > 0)) | ((x >= hi) & (grad < 0))
        act = np.flatnonzero(~pinned)
        sub = info[np.ix_(act, act)]
        d = np.sqrt(np.diag(sub))
        d[d == 0] = 1.0
        scaled = sub / d[:, None] / d[None, :]
        g = grad[act] / d
        eye = np.eye(len(act))
        accepted = False
        while lam < 1e10:
            try:
                step = np.linalg.solve(scaled + lam * eye, -g) / d
            except np.linalg.LinAlgError:
                lam *= 10.0
                continue
            trial = p.copy()
            xt = x.copy()
            xt[act] += step
            trial[free] = np.clip(xt, lo, hi)
            mu_t = mu_of(trial)
            if np.all(mu_t > 0) and np.all(np.isfinite(mu_t)):
                obj_t = objective(trial, mu_t)
                if obj_t <= obj + 1e-9:
                    accepted = True
                    break
            lam *= 10.0
        if not accepted:
            converged = True  # no step improves: at the optimum within precision
            break
        gain = obj - obj_t
        p = trial
        obj = obj_t
        lam = max(lam * 0.1, 1e-7)
        mu, jac = jacobian_of(p)
        if gain < tolerance:
            converged = True
            break
    info = information(jac, mu) + np.diag(prior_weight)
    return PoissonFit(
        p, np.asarray(free), mu, jac, info, deviance(n, mu), iterations, converged, prior_weight
    )
