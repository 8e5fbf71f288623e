"""Non-negative least squares: min ||A x - b|| subject to x >= 0.

The active-set algorithm of Lawson and Hanson ("Solving Least Squares Problems", 1974,
chapter 23, algorithm NNLS), the one `scipy.optimize.nnls` also implements, written here
in numpy so that the station agent need not import scipy.optimize (about 25 MB of resident
memory, and scipy.stats beside it) for its one small fit of the resolution curve.

Each step solves the unconstrained least squares problem on the columns of the passive set
with `numpy.linalg.lstsq` (no normal equations, so the condition number is not squared).
The tests compare it with scipy's on random problems.
"""

from __future__ import annotations

import numpy as np


class NnlsError(ValueError):
    """Bad input for `nnls`, or no convergence within the iteration limit."""


def nnls(a, b, max_iter: int | None = None) -> tuple[np.ndarray, float]:
    """(x, ||A x - b||) with x >= 0 minimising the residual. `a` is m x n, `b` has m values.

    `max_iter` bounds the inner (step-back) iterations, 3 n by default as in the book;
    exceeding it raises NnlsError rather than returning a point that is not the optimum.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.ndim != 2:
        raise NnlsError(f"A must be a 2-d array, found {a.ndim} dimensions")
    m, n = a.shape
    if b.shape != (m,):
        raise NnlsError(f"b must have {m} values (the rows of A), found shape {b.shape}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise NnlsError("A and b must be finite")
    limit = 3 * n if max_iter is None else max_iter
    # the gradient threshold: below it a positive component is rounding, not descent
    tol = (
        10 * max(m, n) * np.finfo(float).eps * max(1.0, float(np.abs(a).sum(axis=0).max(initial=0)))
    )
    tol *= max(1.0, float(np.abs(b).max(initial=0)))

    x = np.zeros(n)
    passive = np.zeros(n, dtype=bool)
    inner = 0
    w = a.T @ (b - a @ x)
    refused = np.zeros(n, dtype=bool)  # a variable whose step went the wrong way by rounding
    while True:
        free = ~passive & ~refused
        if not np.any(w[free] > tol):
            break
        # move the most promising variable into the passive set
        j = int(np.argmax(np.where(free, w, -np.inf)))
        passive[j] = True
        z = _solve_passive(a, b, passive)
        if z[j] <= 0:
            # in exact arithmetic w_j > 0 makes z_j > 0; here rounding decided (the book's
            # test on the new variable): leave it at zero for this outer step
            passive[j] = False
            refused[j] = True
            continue
        while np.any(z[passive] <= 0):
            inner += 1
            if inner > limit:
                raise NnlsError(f"NNLS did not converge in {limit} iterations")
            # step from x towards z as far as x stays feasible, then drop the zeros
            q = passive & (z <= 0)
            alpha = float(np.min(x[q] / (x[q] - z[q])))
            x = x + alpha * (z - x)
            passive &= x > tol
            x[~passive] = 0.0
            z = _solve_passive(a, b, passive)
        x = z
        w = a.T @ (b - a @ x)
        refused[:] = False
    return x, float(np.linalg.norm(a @ x - b))


def _solve_passive(a: np.ndarray, b: np.ndarray, passive: np.ndarray) -> np.ndarray:
    """The least squares solution on the passive columns, zero elsewhere."""
    z = np.zeros(a.shape[1])
    if passive.any():
        z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
    return z
