"""The Jacobian d mu / d p of the central fit, as dense blocks of consecutive rows.

Each fitted channel depends on few parameters (the amplitudes of its region's lines, the
region's baseline, the shared shape parameters), and every channel of a region on the
same ones. A `BlockJacobian` stores row r's non-zero columns in one dense array `local`
(rows x the widest block), in the order of r's block's column list: J^T W J is one small
dense product per block, J x and J^T v a gather and a scatter. No sparse matrix is built
per iteration: with ~10^4 non-zeros the cost of scipy.sparse was its construction, checks
and dispatch, not its arithmetic (measured: about a third of the method's time).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse


class BlockLayout:
    """Which columns each block of consecutive rows touches; shared by the Jacobians of
    one model and one set of free parameters (only the values change between them)."""

    def __init__(self, starts, stops, block_cols, n_cols: int):
        self.starts = np.asarray(starts, dtype=np.intp)
        self.stops = np.asarray(stops, dtype=np.intp)
        self.block_cols = [np.asarray(c, dtype=np.intp) for c in block_cols]
        n_blocks = len(self.block_cols)
        self.n_rows = int(self.stops[-1]) if n_blocks else 0
        self.n_cols = n_cols
        lens = np.array([len(c) for c in self.block_cols], dtype=np.intp)
        self.width = int(lens.max()) if n_blocks else 0
        # per block its column list padded with a dummy column n_cols (values there are 0)
        valid = np.arange(self.width) < lens[:, None]
        padded = np.full((n_blocks, self.width), n_cols, dtype=np.intp)
        padded[valid] = np.concatenate(self.block_cols) if n_blocks else []
        self.block_index = padded
        counts = self.stops - self.starts
        self.counts = counts
        self.index = np.repeat(padded, counts, axis=0)  # global column of each local entry
        self.block_of_row = np.repeat(np.arange(n_blocks), counts)
        # the entries of every block's J^T W J in the flattened (n_cols x n_cols) result,
        # block by block, each row-major
        pairs = padded[:, :, None] * n_cols + padded[:, None, :]
        self.info_index = pairs[valid[:, :, None] & valid[:, None, :]]
        self.blocks = list(
            zip(self.starts.tolist(), self.stops.tolist(), lens.tolist(), strict=True)
        )
        # the local position of each column in each block (-1: not there)
        self.position = np.full((n_cols + 1, n_blocks), -1, dtype=np.intp)
        block = np.broadcast_to(np.arange(n_blocks)[:, None], padded.shape)
        local = np.broadcast_to(np.arange(self.width), padded.shape)
        self.position[padded[valid], block[valid]] = local[valid]
        self.position = self.position[:n_cols]


class BlockJacobian:
    """d mu / d p: `local[r, j]` is the derivative of row r by column layout.index[r, j]."""

    def __init__(self, local: np.ndarray, layout: BlockLayout):
        self.local = local
        self.layout = layout
        self.shape = (layout.n_rows, layout.n_cols)

    def information(self, mu: np.ndarray, drop: np.ndarray | None = None) -> np.ndarray:
        """J^T diag(1/mu) J as a dense matrix, without the rows `drop` (indices)."""
        lay = self.layout
        weighted = self.local / mu[:, None]
        if drop is not None and len(drop):
            weighted[drop] = 0.0
        local = self.local
        parts = [(weighted[s:e, :k].T @ local[s:e, :k]).ravel() for s, e, k in lay.blocks]
        n = lay.n_cols
        flat = np.bincount(lay.info_index, np.concatenate(parts), minlength=n * n)
        return flat.reshape(n, n)

    def rmatvec(self, v: np.ndarray) -> np.ndarray:
        """J^T v."""
        lay = self.layout
        per_block = np.add.reduceat(self.local * v[:, None], lay.starts, axis=0)
        out = np.bincount(lay.block_index.ravel(), per_block.ravel(), minlength=lay.n_cols + 1)
        return out[: lay.n_cols]

    def matvec(self, x: np.ndarray) -> np.ndarray:
        """J x."""
        lay = self.layout
        x_blocks = np.append(np.asarray(x, dtype=float), 0.0)[lay.block_index]
        return np.einsum("ij,ij->i", self.local, np.repeat(x_blocks, lay.counts, axis=0))

    def matmat(self, x: np.ndarray) -> np.ndarray:
        """J X for a dense X (n_cols x q): one product per block."""
        x = np.asarray(x, dtype=float)
        parts = [
            self.local[s:e, :k] @ x[c]
            for (s, e, k), c in zip(self.layout.blocks, self.layout.block_cols, strict=True)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, x.shape[1]))

    def rows(self, rows: np.ndarray) -> np.ndarray:
        """The rows `rows` (indices) as a dense (len(rows) x n_cols) array."""
        n = self.layout.n_cols
        out = np.zeros((len(rows), n + 1))
        np.put_along_axis(out, self.layout.index[rows], self.local[rows], axis=1)
        out[:, n] = 0.0
        return out[:, :n]

    def row_block(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(columns, dense block): the rows `rows` on the columns they touch (sorted)."""
        lay = self.layout
        rows = np.asarray(rows, dtype=np.intp)
        if len(rows) > 1 and np.any(rows[1:] < rows[:-1]):
            order = np.argsort(rows, kind="stable")
            cols, out = self.row_block(rows[order])
            back = np.empty_like(order)
            back[order] = np.arange(len(order))
            return cols, out[back]
        # rows ascending: each block's rows are one run of them
        of_row = lay.block_of_row[rows]
        blocks = np.unique(of_row)
        cols = np.unique(np.concatenate([lay.block_cols[b] for b in blocks]))
        out = np.zeros((len(rows), len(cols)))
        first = np.searchsorted(of_row, blocks, side="left")
        last = np.searchsorted(of_row, blocks, side="right")
        for b, lo, hi in zip(blocks, first, last, strict=True):
            c = lay.block_cols[b]
            out[lo:hi, np.searchsorted(cols, c)] = self.local[rows[lo:hi], : len(c)]
        return cols, out

    def columns(self, cols) -> np.ndarray:
        """The columns `cols` as a dense (n_rows x len(cols)) array."""
        lay = self.layout
        out = np.zeros((self.shape[0], len(cols)))
        for j, col in enumerate(cols):
            where = lay.position[col]
            for b in np.flatnonzero(where >= 0):
                s, e = lay.starts[b], lay.stops[b]
                out[s:e, j] = self.local[s:e, where[b]]
        return out

    def column(self, col: int) -> np.ndarray:
        return self.columns([col])[:, 0]

    def toarray(self) -> np.ndarray:
        return self.rows(np.arange(self.shape[0]))


def as_jacobian(jac) -> BlockJacobian:
    """A BlockJacobian as it is, or any other (scipy.sparse or dense) matrix as one block."""
    if isinstance(jac, BlockJacobian):
        return jac
    dense = jac.toarray() if sparse.issparse(jac) else np.asarray(jac, dtype=float)
    n_rows, n_cols = dense.shape
    layout = BlockLayout([0], [n_rows], [np.arange(n_cols)], n_cols)
    return BlockJacobian(np.ascontiguousarray(dense, dtype=float), layout)
