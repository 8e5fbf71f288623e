"""Poisson maximum likelihood by Levenberg-Marquardt on the Fisher information.

Minimises the Poisson deviance 2 sum(mu - n + n ln(n/mu)) (Baker and Cousins 1984) plus
Gaussian priors on chosen parameters; the covariance is the inverse of the expected
(Fisher) information J^T diag(1/mu) J plus the priors' information, at the optimum.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.linalg import lapack

from .jacobian import BlockJacobian, as_jacobian

TO_BOUNDARY = 0.99  # share of the way to the edge mu = 0 that a blocked step goes
EDGE_MU = 1e-3  # an empty channel with mu below this is on the edge of the domain


@dataclass
class PoissonFit:
    p: np.ndarray  # all parameters
    free: np.ndarray  # indices of the fitted parameters (the rest stayed fixed)
    mu: np.ndarray
    jac: BlockJacobian  # d mu / d p[free] at the optimum
    information: np.ndarray  # Fisher information of p[free], priors included
    deviance: float  # of the data (priors not included)
    iterations: int
    converged: bool
    prior_weight: np.ndarray  # of the free parameters (1/sigma^2, 0 for none)
    mu_ref: np.ndarray | None = None  # the expected counts the information is evaluated at
    lower: np.ndarray | None = None  # lower bounds of p[free] (-inf: none)

    def covariance(self) -> np.ndarray:
        return invert(self.information)

    def with_floor(self, floor: np.ndarray) -> PoissonFit:
        """The same fit with its information evaluated at mu + floor.

        Where mu -> 0 (an empty region) the expected information 1/mu diverges, while a
        region with no counts does not tell a line's area to infinite precision; a floor
        of one count per region is the n + 1 of ISO 11929 for few counts.
        """
        return self.with_reference(self.mu + floor)

    def with_reference(self, mu_ref: np.ndarray) -> PoissonFit:
        """The same fit with its information evaluated at the expected counts mu_ref."""
        info = information(self.jac, mu_ref) + np.diag(self.prior_weight)
        return replace(self, information=info, mu_ref=mu_ref)


def deviance(n: np.ndarray, mu: np.ndarray) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(n > 0, n * np.log(np.where(n > 0, n, 1.0) / mu), 0.0)
    return float(2.0 * np.sum(mu - n + t))


def solve(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """np.linalg.solve(matrix, rhs) for one right-hand side: LAPACK's dgesv called
    directly, without numpy's checks and wrapping (the same routine: the same values).
    Raises np.linalg.LinAlgError for a singular matrix, as numpy does."""
    _, _, x, info = lapack.dgesv(matrix, rhs)
    if info > 0:
        raise np.linalg.LinAlgError("Singular matrix")
    if info < 0:
        raise ValueError(f"dgesv: illegal argument {-info}")
    return x


def information(jac: BlockJacobian, mu: np.ndarray) -> np.ndarray:
    """J^T diag(1/mu) J as a dense matrix."""
    return jac.information(mu)


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
    mu, jac = _evaluated(jacobian_of, p)
    if np.any(mu <= 0):
        raise ValueError("starting point gives non-positive expected counts")

    # what depends on the counts alone, once (deviance(n, mu) with the same operations)
    n_pos = n > 0
    n_safe = np.where(n_pos, n, 1.0)
    n_zero = n == 0
    prior_diag = np.diag(prior_weight)

    def objective(p_, mu_):
        q = p_[free] - prior_mean
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(n_pos, n * np.log(n_safe / mu_), 0.0)
        return float(2.0 * np.sum(mu_ - n + t)) + float(np.sum(prior_weight * q * q))

    obj = objective(p, mu)
    lam = 1e-3
    converged = False
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 (reported below)
        # Rows on the edge of the domain (n = 0, mu ~ 0: a negative line over empty
        # channels) are held there by a linear constraint instead of weighing 1/mu ~ inf
        # in the information, which would leave the other directions stiff and the
        # damped steps tiny.
        edge = np.flatnonzero(n_zero & (mu < EDGE_MU))
        info = jac.information(mu, drop=edge)
        info += prior_diag
        residual = 1.0 - n / mu
        residual[edge] = 0.0
        grad = jac.rmatvec(residual) + prior_weight * (p[free] - prior_mean)
        x = p[free]
        pinned = ((x <= lo) & (grad > 0)) | ((x >= hi) & (grad < 0))
        act = np.flatnonzero(~pinned)
        sub = info if len(act) == m else info[np.ix_(act, act)]
        d = np.sqrt(np.diag(sub))
        d[d == 0] = 1.0
        scaled = sub / d[:, None] / d[None, :]
        g = grad[act] / d
        diagonal = np.arange(len(act))
        held = jac.rows(edge)[:, act] / d[None, :] if len(edge) else None
        known: dict = {}
        accepted = False
        while lam < 1e10:
            try:
                damped = scaled.copy()  # scaled + lam I
                damped[diagonal, diagonal] += lam
                step = solve(damped, -g)
                if held is not None:
                    step = _held_step(damped, g, held, step, known)
                step = step / d
            except np.linalg.LinAlgError:
                lam *= 10.0
                continue
            trial = p.copy()
            xt = x.copy()
            xt[act] += step
            trial[free] = np.clip(xt, lo, hi)
            mu_t = mu_of(trial)
            if not np.all(mu_t > 0):
                # The optimum may lie on the edge mu = 0 of the domain. Go a fixed share
                # of the way to that edge, as the linearised mu predicts it (fraction to
                # the boundary, as in interior-point methods), instead of shrinking the
                # step until it fits; rows that get there are held from the next step on.
                full = np.zeros(m)
                full[act] = step
                dmu = jac.matvec(full)
                keep = np.ones(len(mu), bool)
                keep[edge] = False
                falling = (dmu < 0) & keep
                if np.any(falling):
                    alpha = TO_BOUNDARY * float(np.min(-mu[falling] / dmu[falling]))
                    if 0.0 < alpha < 1.0:
                        xt = x.copy()
                        xt[act] += alpha * step
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
        mu, jac = _evaluated(jacobian_of, p)
        if gain < tolerance:
            converged = True
            break
    info = information(jac, mu)
    info += prior_diag
    return PoissonFit(
        p,
        np.asarray(free),
        mu,
        jac,
        info,
        deviance(n, mu),
        iterations,
        converged,
        prior_weight,
        lower=lo,
    )


def _evaluated(jacobian_of, p):
    mu, jac = jacobian_of(p)
    return mu, as_jacobian(jac)


def _held_step(matrix, g, held, free_step, known=None):
    """The step of `matrix s = -g` that keeps mu of the held rows where it is.

    A held row is released when the free step would raise its mu (the edge no longer
    binds). The constrained step lives in the null space of the remaining rows' Jacobian.
    known: a dict kept over one iteration's damped steps (the same held rows), holding
    the binding rows' row space by which rows bind (the SVD of the same rows, once).
    """
    binds = held @ free_step < 0
    if not np.any(binds):
        return free_step
    key = binds.tobytes()
    if known is None or key not in known:
        b = _row_space(held[binds], len(free_step))
        if known is not None:
            known[key] = b
    else:
        b = known[key]
    if b is None:
        return free_step
    if len(b) >= len(free_step):
        return np.zeros_like(free_step)
    rank = len(b)
    n = len(free_step)
    kkt = np.zeros((n + rank, n + rank))
    kkt[:n, :n] = matrix
    kkt[:n, n:] = b.T
    kkt[n:, :n] = b
    rhs = np.concatenate([-g, np.zeros(rank)])
    try:
        sol = solve(kkt, rhs)
    except np.linalg.LinAlgError:
        sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
    return sol[:n]


def _row_space(binding, n: int):
    """An orthonormal basis (rank x n) of the rows' span, None for rank 0.

    The binding rows touch few parameters (those of the regions the rows lie in): their
    row space comes from the SVD of that block alone, and the step from the KKT system
    [M B'; B 0] (s, lambda) = (-g, 0), the same constrained minimum as the step in the
    null space of B, at a fraction of the cost of a full SVD (measured: the full SVD
    was a quarter of the method's time)."""
    cols = np.flatnonzero(np.any(binding != 0.0, axis=0))
    _, sv, vt = np.linalg.svd(binding[:, cols], full_matrices=False)
    rank = int(np.sum(sv > 1e-10 * sv[0])) if len(sv) else 0
    if rank == 0:
        return None
    b = np.zeros((rank, n))
    b[:, cols] = vt[:rank]
    return b
