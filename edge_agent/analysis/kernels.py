"""The region fit's inner loops, compiled (numba): the same arithmetic as the numpy forms.

A spectrum has some 30 regions of ~50 channels and 2-10 linear parameters. In numpy each
region fit is a few hundred calls on arrays that small, each costing more in call overhead
than in arithmetic: the fits were two thirds of the station method's time. Compiled, the
loops cost what their arithmetic costs. Each function here is the numpy code it replaces
(fit.py's Fisher scoring, Poisson objective, basis and inverse Fisher information)
written as loops; results agree with the numpy forms to rounding (summation order).

numba compiles on the first call and keeps the machine code in __pycache__ (or its
user-wide cache when the source tree is read-only), so only the first analysis after an
install or an update pays the compilation (some 10-30 s). NUMBA_DISABLE_JIT=1 runs the
same functions as Python, for debugging.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

MU_FLOOR = 1e-9
DEVIANCE_TOL = 1e-5  # changes of the deviance below this are noise
BOUNDARY = 1e-6  # mu below this in an empty channel: on the boundary of the domain

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


# ------------------------------------------------------------------ the objective
@njit(cache=True, nogil=True)
def n_log_n(n) -> float:
    """sum(n ln n) over the channels with n > 0."""
    s = 0.0
    for i in range(n.size):
        if n[i] > 0.0:
            s += n[i] * math.log(n[i])
    return s


@njit(cache=True, nogil=True)
def objective(n, mu, beta, prec, mean, nln) -> float:
    """Poisson deviance 2 sum(mu - n + n ln(n/mu)) plus the priors' sum prec (beta - m)^2;
    nln = n_log_n(n)."""
    s_mu = 0.0
    s_n = 0.0
    s_log = 0.0
    for i in range(n.size):
        s_mu += mu[i]
        s_n += n[i]
        if n[i] != 0.0:
            s_log += n[i] * math.log(mu[i])
    d = 2.0 * (s_mu - s_n + nln - s_log)
    for j in range(beta.size):
        if prec[j] != 0.0:
            d += prec[j] * (beta[j] - mean[j]) ** 2
    return d


# ----------------------------------------------------------------- linear algebra
@njit(cache=True, nogil=True)
def _solve(a, rhs):
    """(x, True) with a x = rhs, LAPACK gesv; least squares (x, False) when a is singular."""
    try:
        return np.linalg.solve(a, rhs), True
    except Exception:  # numba raises np.linalg.LinAlgError for a singular matrix
        return np.linalg.lstsq(a, rhs)[0], False


@njit(cache=True, nogil=True)
def inverse(a):
    """a^-1; the pseudo-inverse when a is singular."""
    try:
        return np.linalg.inv(a)
    except Exception:
        return np.linalg.pinv(a)


@njit(cache=True, nogil=True)
def fisher_inverse(b, mu, prec):
    """(B' diag(1/mu) B + diag(prec))^-1, mu floored at MU_FLOOR: the covariance of the
    linear parameters of a Poisson fit whose expected counts are mu."""
    m, p = b.shape
    bw = np.empty((p, m))
    for i in range(m):
        w = 1.0 / max(mu[i], MU_FLOOR)
        for j in range(p):
            bw[j, i] = b[i, j] * w
    info = bw @ b
    for j in range(p):
        info[j, j] += prec[j]
    return inverse(info)


@njit(cache=True, nogil=True)
def area_covariance(b, mu, add, prec, idx, scale):
    """fisher_inverse(b, np.maximum(mu, 0) + add, prec) at the rows and columns idx, each
    element times scale[a] scale[b]: quantify's covariance of a region's used areas at
    given expected counts, the same arithmetic as its numpy steps in one call."""
    m = mu.size
    mu0 = np.empty(m)
    for i in range(m):
        x = mu[i]
        mu0[i] = (x if (x > 0.0 or x != x) else 0.0) + add  # np.maximum keeps a NaN
    full = fisher_inverse(b, mu0, prec)
    k = idx.size
    out = np.empty((k, k))
    for u in range(k):
        for v in range(k):
            out[u, v] = full[idx[u], idx[v]] * scale[u] * scale[v]
    return out


# ------------------------------------------------------------------ Fisher scoring
@njit(cache=True, nogil=True)
def _feasible(n, p):
    """A flat baseline at the mean count: mu > 0 everywhere."""
    beta = np.zeros(p)
    beta[0] = max(n.mean(), 0.5)
    return beta


@njit(cache=True, nogil=True)
def irls(b, n, prec, mean, beta, has_start, max_iter):
    """Poisson ML of the linear parameters by Fisher scoring, kept inside mu > 0.

    b: the basis (channels x parameters, C order); beta: the start when has_start, else
    weighted least squares with Poisson weights from the data. Empty channels whose mu a
    step would push below the boundary are held there (an active set, solved with the KKT
    system); the longest step that keeps mu positive is halved until the objective drops.
    """
    m, p = b.shape
    nln = n_log_n(n)
    bt = np.ascontiguousarray(b.T)
    if not has_start:
        bw = np.empty((p, m))
        for i in range(m):
            w = 1.0 / max(n[i], 1.0)
            for j in range(p):
                bw[j, i] = bt[j, i] * w
        a = bw @ b
        for j in range(p):
            a[j, j] += prec[j]
        beta = _solve(a, bw @ n + prec * mean)[0]
        if (b @ beta).min() <= MU_FLOOR:
            beta = _feasible(n, p)
    mu = b @ beta
    if mu.min() <= MU_FLOOR:
        beta = _feasible(n, p)
        mu = b @ beta
    obj = objective(n, mu, beta, prec, mean, nln)
    bw = np.empty((p, m))
    resid = np.empty(m)
    held = np.zeros(m, dtype=np.bool_)
    for _ in range(max_iter):
        for i in range(m):
            w = 1.0 / mu[i]
            resid[i] = n[i] * w - 1.0
            for j in range(p):
                bw[j, i] = bt[j, i] * w
        grad = bt @ resid - prec * (beta - mean)
        a = bw @ b
        for j in range(p):
            a[j, j] += prec[j]
        step = _solve(a, grad)[0]
        dmu = b @ step
        k = 0
        for i in range(m):
            held[i] = n[i] == 0.0 and mu[i] < BOUNDARY and dmu[i] < 0.0
            if held[i]:
                k += 1
        if k > 0:
            if k >= p:
                break
            for i in range(m):
                if held[i]:
                    for j in range(p):
                        bw[j, i] = 0.0
            kkt = np.zeros((p + k, p + k))
            kkt[:p, :p] = bw @ b
            for j in range(p):
                kkt[j, j] += prec[j]
            r = p
            for i in range(m):
                if held[i]:
                    for j in range(p):
                        kkt[j, r] = b[i, j]
                        kkt[r, j] = b[i, j]
                    r += 1
            rhs = np.zeros(p + k)
            rhs[:p] = grad
            step = _solve(kkt, rhs)[0][:p].copy()
            dmu = b @ step
            for i in range(m):
                if held[i]:
                    dmu[i] = 0.0
        # Newton decrement: the deviance this step can still gain (to second order)
        if step @ grad < DEVIANCE_TOL:
            break
        t = 1.0
        room = np.inf
        for i in range(m):
            if dmu[i] < 0.0:
                room = min(room, max(mu[i] - MU_FLOOR, 0.0) / -dmu[i])
        if room < np.inf:
            t = min(1.0, 0.9 * room)
            if t <= 0.0:
                break
        accepted = False
        new_beta = beta
        new_mu = mu
        new_obj = obj
        for _ in range(30):
            new_beta = beta + t * step
            new_mu = np.maximum(mu + t * dmu, MU_FLOOR)
            new_obj = objective(n, new_mu, new_beta, prec, mean, nln)
            if new_obj <= obj:
                accepted = True
                break
            t *= 0.5
        if not accepted:
            break
        gained = obj - new_obj
        beta, mu, obj = new_beta, new_mu, new_obj
        if gained < DEVIANCE_TOL:
            break
    return beta


# ------------------------------------------------------------------------ shapes
@njit(cache=True, nogil=True)
def _cdf_pdf(x, position, sigma, eta, tau):
    """shapes.peak_cdf_pdf at one point: the unit peak's CDF and density (per channel).

    The tail term exp(u r + r^2/2) Phi(-(u + r)) is written as 0.5 exp(u r + r^2/2)
    erfc((u + r)/sqrt 2), which equals shapes' erfcx form: where erfc underflows the term
    is below the smallest double either way.
    """
    u = (x - position) / sigma
    cdf = 0.5 * math.erfc(-u * _INV_SQRT2)
    pdf = math.exp(-0.5 * u * u) * (_INV_SQRT2PI / sigma)
    if eta <= 0.0:
        return cdf, pdf
    r = sigma / tau
    e = min(u * r + 0.5 * r * r, 700.0)
    term = 0.5 * math.exp(e) * math.erfc((u + r) * _INV_SQRT2)
    return cdf + eta * term, (1.0 - eta) * pdf + eta * term / tau


@njit(cache=True, nogil=True)
def peak_columns(edges, pos, sig, comp, weight, nc, eta, tail_sigma, widx, n_theta, derivs):
    """The components' columns of the basis: sum over peaks of weight x (the peak's
    content of each channel between consecutive edges).

    With derivs also by the common shift (d_shift) and by each width parameter's log scale
    (d_width[j]; peaks with widx[k] == j scale with it; widx < 0: fixed). The tail length
    is tail_sigma times the peak's sigma, so the CDF is a function of (x - x0)/sigma and
    d/dx0 = -pdf, d/d ln sigma = -(x - x0) pdf at each edge.
    """
    m = edges.size - 1
    cols = np.zeros((m, nc))
    d_shift = np.zeros((m if derivs else 0, nc))
    d_width = np.zeros((n_theta if derivs else 0, m if derivs else 0, nc))
    for k in range(pos.size):
        c = comp[k]
        w = weight[k]
        x0 = pos[k]
        s = sig[k]
        tau = tail_sigma * s
        prev_cdf, prev_pdf = _cdf_pdf(edges[0], x0, s, eta, tau)
        prev_xp = (edges[0] - x0) * prev_pdf
        j = widx[k]
        for i in range(m):
            cdf, pdf = _cdf_pdf(edges[i + 1], x0, s, eta, tau)
            cols[i, c] += w * (cdf - prev_cdf)
            if derivs:
                xp = (edges[i + 1] - x0) * pdf
                d_shift[i, c] -= w * (pdf - prev_pdf)
                if j >= 0:
                    d_width[j, i, c] -= w * (xp - prev_xp)
                prev_xp = xp
            prev_cdf, prev_pdf = cdf, pdf
    return cols, d_shift, d_width


@njit(cache=True, nogil=True)
def step_columns(centres, pos, sig):
    """shapes.step_with_derivatives at the channel centres: the erfc step, and its
    derivatives by position and by ln(sigma), one column per step."""
    m = centres.size
    k = pos.size
    v = np.empty((m, k))
    dp = np.empty((m, k))
    dl = np.empty((m, k))
    for q in range(k):
        for i in range(m):
            z = (centres[i] - pos[q]) / sig[q]
            phi = math.exp(-0.5 * z * z) * _INV_SQRT2PI
            v[i, q] = 0.5 * math.erfc(z * _INV_SQRT2)
            dp[i, q] = phi / sig[q]
            dl[i, q] = z * phi
    return v, dp, dl


# --------------------------------------------------------------------- continuum
@njit(cache=True, nogil=True)
def _clip_pass(src, dst, w, p, lo, hi):
    """One SNIP pass over channels lo .. hi-1: dst[i] = min(src[i], (src[i-p] + src[i+p])/2)
    where w[i] >= p, else src[i]. On views that start at 0 the loop index is known to be
    non-negative: indexing src[i - p] directly costs a negative-index check and the stride
    arithmetic of a buffer swapped every pass (five times the instructions)."""
    left = src[lo - p : hi - p]
    right = src[lo + p : hi + p]
    mid = src[lo:hi]
    reach = w[lo:hi]
    out = dst[lo:hi]
    for k in range(hi - lo):
        here = mid[k]
        mean = 0.5 * (left[k] + right[k])
        out[k] = mean if (reach[k] >= p and mean < here) else here


@njit(cache=True, nogil=True)
def snip_clip(v, w):
    """SNIP's clipping in place: for p from max(w) down to 1, every channel i with
    w[i] >= p takes min(v[i], (v[i-p] + v[i+p]) / 2), all from the values before that p
    (continuum.snip's vector form, value for value). Two buffers take turns.

    Each pass visits only the span from the first to the last channel with w >= p: a
    channel outside it has w < p for this and every larger p, so it was never changed
    and both buffers still hold its value (the windows grow with the FWHM, so the wide
    passes cover only the top of the spectrum)."""
    n = v.size
    top = 0
    for i in range(n):
        top = max(top, w[i])
    # first[p], last[p]: the first and last channel whose window reaches p
    first = np.full(top + 2, n)
    last = np.full(top + 2, -1)
    for i in range(n):
        first[w[i]] = min(first[w[i]], i)
        last[w[i]] = max(last[w[i]], i)
    for p in range(top - 1, 0, -1):
        first[p] = min(first[p], first[p + 1])
        last[p] = max(last[p], last[p + 1])
    a = v.copy()
    b = v.copy()
    a_is_src = True
    for p in range(top, 0, -1):
        lo = max(p, first[p])
        hi = min(n - p, last[p] + 1)
        if hi <= lo:  # also 2 p >= n: no channel has both neighbours
            continue
        if a_is_src:
            _clip_pass(a, b, w, p, lo, hi)
        else:
            _clip_pass(b, a, w, p, lo, hi)
        # the channels not visited were not touched: both buffers hold the same values
        a_is_src = not a_is_src
    v[:] = a if a_is_src else b


@njit(cache=True, nogil=True)
def boxcar(y, h):
    """Moving average of y over i - h[i] .. i + h[i] (cut at the ends), by cumulative sums
    (continuum.boxcar's vector form, value for value)."""
    n = y.size
    c = np.empty(n + 1)
    c[0] = 0.0
    for i in range(n):
        c[i + 1] = c[i] + y[i]
    out = np.empty(n)
    for i in range(n):
        lo = max(i - h[i], 0)
        hi = min(i + h[i] + 1, n)
        out[i] = (c[hi] - c[lo]) / (hi - lo)
    return out


# ---------------------------------------------------------------------- peak search
@njit(cache=True, nogil=True, error_model="numpy")
def filter_bands(sigma):
    """search.matched_filter's bands, value for value: (starts, stops, median sigma).

    A band starts at the first channel left and ends before the first channel whose sigma
    differs from the start's by more than 10 % (at least one channel); its kernel width is
    the median of its sigmas. In numpy each band searched and sorted the rest of the
    spectrum (~40 us a band). error_model="numpy": a zero sigma divides as numpy does.
    """
    n = sigma.size
    starts = np.empty(n, dtype=np.int64)
    stops = np.empty(n, dtype=np.int64)
    medians = np.empty(n)
    k = 0
    start = 0
    while start < n:
        s0 = sigma[start]
        stop = n
        for j in range(start, n):
            if abs(sigma[j] / s0 - 1.0) > 0.1:
                stop = j
                break
        stop = max(stop, start + 1)
        x = np.sort(sigma[start:stop])
        half = x.size // 2
        medians[k] = x[half] if x.size % 2 else 0.5 * (x[half - 1] + x[half])
        starts[k] = start
        stops[k] = stop
        k += 1
        start = stop
    return starts[:k], stops[:k], medians[:k]


# ------------------------------------------------------------------ combination
@njit(cache=True, nogil=True)
def gls(y, m, cov):
    """Generalised least squares of y = m a with covariance cov: (a, cov_a, weights),
    a = weights @ y (pseudo-inverses when a matrix is singular)."""
    try:
        cinv = np.linalg.inv(cov)
        cov_a = np.linalg.inv(m.T @ cinv @ m)
    except Exception:
        cinv = np.linalg.pinv(cov)
        cov_a = np.linalg.pinv(m.T @ cinv @ m)
    weights = cov_a @ m.T @ cinv
    return weights @ y, cov_a, weights


# ------------------------------------------------------------------ the region
@njit(cache=True, nogil=True)
def deviance(n, mu) -> float:
    """Poisson deviance 2 sum(mu - n + n ln(n/mu)), mu floored at MU_FLOOR."""
    s_mu = 0.0
    s_n = 0.0
    s_log = 0.0
    for i in range(n.size):
        m = max(mu[i], MU_FLOOR)
        s_mu += m
        s_n += n[i]
        if n[i] > 0.0:
            s_log += n[i] * math.log(n[i] / m)
    return 2.0 * (s_mu - s_n + s_log)


@njit(cache=True, nogil=True)
def region_basis(
    edges,
    baseline,
    nc,
    peak_pos,
    peak_sig,
    peak_comp,
    peak_w,
    peak_widx,
    eta,
    tail_sigma,
    step_pos,
    step_sig,
    step_widx,
    edge_steps,
    free_shape,
    widths,
    theta,
    derivs,
):
    """B(theta) of a region, and with derivs dB/dtheta_j (n_theta x channels x columns).

    Columns: the baseline polynomial (given), the components' areas, the strong peaks'
    steps, the Compton edges (given). theta: [shift, log width scale(s)] when free_shape
    (peaks with widx k scale with theta[k]; widths=False: only the shift).
    """
    m, nb = baseline.shape
    n_steps = step_pos.size
    n_edges = edge_steps.shape[1]
    n_lin = nb + nc + n_steps + n_edges
    n_theta = theta.size
    out = np.empty((m, n_lin))
    out[:, :nb] = baseline
    shift = theta[0] if free_shape else 0.0
    sg = peak_sig.copy()
    if widths:
        for k in range(sg.size):
            sg[k] = peak_sig[k] * math.exp(theta[max(peak_widx[k], 0)])
    cols, d_shift, d_width = peak_columns(
        edges, peak_pos + shift, sg, peak_comp, peak_w, nc, eta, tail_sigma, peak_widx,
        n_theta, derivs,
    )  # fmt: skip
    out[:, nb : nb + nc] = cols
    d = np.zeros((n_theta if derivs else 0, m, n_lin))
    if derivs and n_theta > 0:
        d[0, :, nb : nb + nc] = d_shift
        for j in range(1, n_theta):
            d[j, :, nb : nb + nc] = d_width[j]
    if n_steps > 0:
        scale = np.ones(n_steps)
        if widths:
            for k in range(n_steps):
                scale[k] = math.exp(theta[max(step_widx[k], 0)])
        centres = edges[:-1] + 0.5
        v, dp, dl = step_columns(centres, step_pos + shift, step_sig * scale)
        out[:, nb + nc : nb + nc + n_steps] = v
        if derivs:
            d[0, :, nb + nc : nb + nc + n_steps] = dp
            for k in range(n_steps):
                j = step_widx[k]
                if j >= 0:
                    d[j, :, nb + nc + k] = dl[:, k]
    if n_edges > 0:
        out[:, nb + nc + n_steps :] = edge_steps
    return out, d


@njit(cache=True, nogil=True)
def jacobian(b, d, beta):
    """d mu / d(beta, theta): the basis, then each dB/dtheta_j @ beta."""
    m, p = b.shape
    k = d.shape[0]
    jac = np.empty((m, p + k))
    jac[:, :p] = b
    for j in range(k):
        jac[:, p + j] = np.ascontiguousarray(d[j]) @ beta
    return jac


@njit(cache=True, nogil=True)
def levenberg_marquardt(
    edges,
    baseline,
    nc,
    peak_pos,
    peak_sig,
    peak_comp,
    peak_w,
    peak_widx,
    eta,
    tail_sigma,
    step_pos,
    step_sig,
    step_widx,
    edge_steps,
    widths,
    n,
    beta,
    theta,
    prec,
    mean,
    lim,
    max_iter,
):
    """Damped Gauss-Newton on (beta, theta) of a region with a free shape, then Fisher
    scoring of beta at the final theta: (beta, theta, B(theta))."""
    nl = beta.size
    b = region_basis(
        edges, baseline, nc, peak_pos, peak_sig, peak_comp, peak_w, peak_widx, eta,
        tail_sigma, step_pos, step_sig, step_widx, edge_steps, True, widths, theta, False,
    )[0]  # fmt: skip
    mu = b @ beta
    nln = n_log_n(n)
    obj = objective(n, mu, beta, prec, mean, nln)
    lam = 1e-3
    for _ in range(max_iter):
        b, d = region_basis(
            edges, baseline, nc, peak_pos, peak_sig, peak_comp, peak_w, peak_widx, eta,
            tail_sigma, step_pos, step_sig, step_widx, edge_steps, True, widths, theta, True,
        )  # fmt: skip
        jac = jacobian(b, d, beta)
        w = 1.0 / np.maximum(mu, MU_FLOOR)
        jw = np.empty_like(jac)
        for i in range(jac.shape[0]):
            jw[i] = jac[i] * w[i]
        info = jac.T @ jw
        for j in range(nl):
            info[j, j] += prec[j]
        grad = jac.T @ (n * w - 1.0)
        grad[:nl] -= prec * (beta - mean)
        improved = False
        nb_ = beta
        nt = theta
        bb = b
        nmu = mu
        nobj = obj
        for _ in range(12):
            a = info.copy()
            for j in range(a.shape[0]):
                a[j, j] += lam * (info[j, j] + 1e-12)
            try:
                step = np.linalg.solve(a, grad)
            except Exception:
                lam *= 10
                continue
            nb_ = beta + step[:nl]
            nt = np.minimum(np.maximum(theta + step[nl:], -lim), lim)
            bb = region_basis(
                edges, baseline, nc, peak_pos, peak_sig, peak_comp, peak_w, peak_widx, eta,
                tail_sigma, step_pos, step_sig, step_widx, edge_steps, True, widths, nt, False,
            )[0]  # fmt: skip
            nmu = bb @ nb_
            if nmu.min() > 0:
                nobj = objective(n, nmu, nb_, prec, mean, nln)
                if nobj <= obj:
                    improved = True
                    break
            lam *= 10
        if not improved:
            break
        done = obj - nobj < 1e-4
        beta, theta, b, mu, obj = nb_, nt, bb, nmu, nobj
        lam = max(lam / 10, 1e-6)
        if done:
            break
    # polish the linear part at the final theta
    beta = irls(b, n, prec, mean, beta, True, 50)
    return beta, theta, b
