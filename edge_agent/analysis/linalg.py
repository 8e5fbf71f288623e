"""Dense solves of the small systems of the fits (5-30 unknowns), without numpy's overhead.

np.linalg.solve and inv spend 15-25 us per call in argument checks around LAPACK's gesv
(LU with partial pivoting); the fits make some 500 such calls per spectrum. These call
gesv directly through scipy and raise np.linalg.LinAlgError for an exactly singular
matrix as numpy does, so that the callers' fallbacks (lstsq, pinv) stay as they are.
inv solves against the identity, as numpy's inv does.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

LinAlgError = np.linalg.LinAlgError


def solve(a, b) -> np.ndarray:
    """x with a x = b (a square; b a vector or a matrix of right-hand sides)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        return np.linalg.solve(a, b)  # numpy's checks and errors for odd shapes
    _, _, x, info = lapack.dgesv(a, b)
    if info > 0:
        raise LinAlgError("Singular matrix")
    if info < 0:
        raise ValueError(f"gesv: illegal argument {-info}")
    return x


def inv(a) -> np.ndarray:
    """The inverse of a square matrix."""
    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        return np.linalg.inv(a)
    return solve(a, np.eye(a.shape[0]))
