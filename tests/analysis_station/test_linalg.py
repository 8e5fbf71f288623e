"""The fits' direct LAPACK solves: numpy's answers and numpy's error for a singular matrix."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.analysis import linalg


def test_solve_and_inverse_equal_numpys():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 9))
    a = x.T @ x
    b = rng.normal(size=9)
    np.testing.assert_allclose(linalg.solve(a, b), np.linalg.solve(a, b), rtol=1e-12)
    np.testing.assert_allclose(linalg.inv(a), np.linalg.inv(a), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a @ linalg.solve(a, np.eye(9)), np.eye(9), atol=1e-9)


def test_a_singular_matrix_raises_numpys_error():
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(np.linalg.LinAlgError):
        linalg.solve(a, np.ones(2))
    with pytest.raises(np.linalg.LinAlgError):
        linalg.inv(a)
