"""The block Jacobian of the central fit against the same matrix held dense."""

from __future__ import annotations

import numpy as np

from central.reanalysis import fitted_model
from central.reanalysis.jacobian import as_jacobian

from .simulated import simulate


def test_block_jacobian_products_equal_dense_ones():
    spectrum = simulate({"Xe-133": 300.0, "Bi-214": 1.0}, seed=5)
    jac = fitted_model(spectrum.phd).fit.jac
    dense = jac.toarray()
    rng = np.random.default_rng(1)
    n_rows, n_cols = dense.shape
    assert len(jac.layout.blocks) > 1  # one block per region
    mu = rng.uniform(0.5, 50.0, n_rows)
    drop = np.array([3, 40, n_rows - 1])
    keep = np.ones(n_rows, bool)
    keep[drop] = False
    want = dense[keep].T @ (dense[keep] / mu[keep, None])
    assert np.allclose(jac.information(mu, drop=drop), want, rtol=1e-12, atol=0)
    v, x = rng.normal(size=n_rows), rng.normal(size=n_cols)
    assert np.allclose(jac.rmatvec(v), dense.T @ v, rtol=1e-12, atol=1e-12)
    assert np.allclose(jac.matvec(x), dense @ x, rtol=1e-12, atol=1e-12)
    xs = rng.normal(size=(n_cols, 3))
    assert np.allclose(jac.matmat(xs), dense @ xs, rtol=1e-12, atol=1e-12)
    cols = np.array([0, 2, n_cols - 1])
    assert np.array_equal(jac.columns(cols), dense[:, cols])
    rows = np.arange(10, 60)
    touched, block = jac.row_block(rows)
    assert set(np.flatnonzero(np.any(dense[rows] != 0, axis=0))) <= set(touched)
    assert np.array_equal(block, dense[rows][:, touched])


def test_any_matrix_is_one_block():
    dense = np.arange(12.0).reshape(4, 3)
    jac = as_jacobian(dense)
    assert np.array_equal(jac.toarray(), dense)
    assert np.allclose(jac.information(np.ones(4)), dense.T @ dense)


def test_row_block_of_rows_in_any_order():
    spectrum = simulate({"Xe-133": 300.0}, seed=6)
    jac = fitted_model(spectrum.phd).fit.jac
    dense = jac.toarray()
    rows = np.array([900, 3, 40, 41, 2, 700])
    touched, block = jac.row_block(rows)
    assert np.array_equal(block, dense[rows][:, touched])
