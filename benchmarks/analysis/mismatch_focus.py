"""One nuclide on many spectra of the mismatch category, with its error taken apart.

    python benchmarks/analysis/mismatch_focus.py --nuclide Kr-85m --method station --n 400
    python benchmarks/analysis/mismatch_focus.py --nuclide Kr-85m --n 600 --observed 0.83:61

The mixture of mismatch_design.py that drives the nuclide (its mismatch_cases, seed
--seed), kept where its strongest line has at least 1000 expected counts. Per spectrum
the world's own errors are known: the intensity factor of each gamma line
(mismatch_library) and the fitted efficiency curve against the calibrated detector's
true one at each line. Printed: the pull SD with the stated total uncertainty and with
the counting part, the median of each stated part, the SD of each world error beside the
uncertainty the analysis states for it, and the regression of the relative error on the
world errors (the slopes are the lines' weights in the estimate; the residual SD is the
counting error), with the world's peak shape beside them (its tail fraction and length
against the model's, its FWHM scale): the shape's slopes, the intercept (the error in the
model's own world) and the part of the error the shape makes, which no stated term holds.

--observed SD:N asks whether a pull SD seen on a smaller sample (the suite's 0.83 on 61
Kr-85m spectra) is within sampling error of this one: the chance of an SD that low or
lower from N normal pulls whose SD is the one measured here (chi^2 with N-1 degrees of
freedom), and the spread of the pull SD over random subsets of N of these spectra.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.analysis.mismatch_design import (  # noqa: E402
    MISMATCH_MIN_COUNTS,
    MISMATCH_MIXTURES,
    mismatch_cases,
    mixture_of,
)
from benchmarks.analysis.run import method_function, sd_interval  # noqa: E402
from benchmarks.analysis.spectra import (  # noqa: E402
    mismatch_detectors,
    mismatch_library,
    simulate,
)
from shared.calibration import calibrations_of  # noqa: E402
from shared.nuclear import load_library  # noqa: E402
from shared.simulation.detector import default_detector  # noqa: E402

MODEL = default_detector()  # the peak shape the analyses assume (the world's is drawn)
SUBSETS = 4000  # random subsets for the spread of a small sample's pull SD


def chance_of_sd_at_most(observed: float, sd: float, n: int) -> float:
    """P(the SD of n normal values <= observed) when their true SD is sd: (n-1) s^2 / sd^2
    follows chi^2 with n-1 degrees of freedom."""
    from scipy.special import chdtr

    if n < 2 or not sd > 0:
        raise ValueError(f"need n >= 2 and sd > 0, got n={n}, sd={sd}")
    return float(chdtr(n - 1, (n - 1) * (observed / sd) ** 2))


def subset_sd_spread(pulls, size: int, draws: int = SUBSETS, seed: int = 0) -> np.ndarray:
    """The pull SD (ddof 1) of `draws` random subsets of `size` pulls, drawn without
    replacement: how far a sample of that size scatters about this one's SD."""
    pulls = np.asarray(pulls, dtype=float)
    if not 2 <= size <= pulls.size:
        raise ValueError(f"subset size {size} must lie in 2..{pulls.size}")
    rng = np.random.default_rng(seed)
    idx = np.argsort(rng.random((draws, pulls.size)), axis=1)[:, :size]
    return np.std(pulls[idx], axis=1, ddof=1)


def parse_observed(text: str) -> tuple[float, int]:
    """'0.83:61' -> (0.83, 61)."""
    try:
        sd, n = text.split(":")
        return float(sd), int(n)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected SD:N (e.g. 0.83:61), got {text!r}") from None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nuclide", default="Kr-85m")
    ap.add_argument("--method", default="station", choices=("station", "central"))
    ap.add_argument("--n", type=int, default=400, help="spectra with > 1000 counts to analyse")
    ap.add_argument("--seed", type=int, default=777)
    ap.add_argument(
        "--observed",
        type=parse_observed,
        default=None,
        metavar="SD:N",
        help="a pull SD seen on N spectra elsewhere: is it within sampling error of this one?",
    )
    args = ap.parse_args(argv)
    fn, why = method_function(args.method)
    if fn is None:
        print(f"{args.method}: not available: {why}")
        return 2
    lib = load_library()
    nuc = lib[args.nuclide]
    gammas = nuc.gammas()
    bases = [m for m, (_, drivers) in MISMATCH_MIXTURES.items() if args.nuclide in drivers]
    if not bases:
        print(f"{args.nuclide}: no mismatch mixture drives it")
        return 2
    rows, t0 = [], time.perf_counter()
    for case in mismatch_cases(64 * args.n, args.seed):
        if len(rows) >= args.n:
            break
        if mixture_of(case) not in bases:
            continue
        sim = simulate(case)
        if sim.main_line_area(args.nuclide) < MISMATCH_MIN_COUNTS:
            continue
        r = fn(sim.phd).nuclides[args.nuclide]
        truth = case.truth(args.nuclide)
        world = mismatch_library(case.world)[args.nuclide]
        calibrated = mismatch_detectors(case.world)[1]
        curve = calibrations_of(sim.phd).efficiency
        e = np.array([ln.energy for ln in gammas])
        d_int = [w.intensity / ln.intensity - 1 for w, ln in zip(world.gammas(), gammas)]
        d_eff = list(calibrated.efficiency(e) / np.atleast_1d(curve.efficiency(e)) - 1)
        parts = (
            r.activity_counting_unc_bq,
            r.efficiency_unc_bq,
            r.nuclear_data_unc_bq,
            r.disagreement_unc_bq,
            r.summing_unc_bq,
            r.activity_unc_bq,
        )
        w = case.world
        shape = (
            w["tail_fraction"] - MODEL.tail_fraction,
            w["tail_length_sigma"] - MODEL.tail_length_sigma,
            w["resolution_scale"] - 1.0,
        )
        rows.append(
            (r.activity_bq / truth - 1, *(p / truth for p in parts), *d_int, *d_eff, *shape)
        )
    a = np.array(rows)
    n = len(a)
    if n < 3:
        print(f"{args.nuclide}: {n} spectra, too few")
        return 1
    rel, uc, ue, un, ud, us, ut = a[:, :7].T
    k = len(gammas)
    d_int, d_eff = a[:, 7 : 7 + k], a[:, 7 + k : 7 + 2 * k]
    d_shape = a[:, 7 + 2 * k :]
    pulls = rel / ut
    sd = float(np.std(pulls, ddof=1))
    lo, hi = sd_interval(sd, n)
    print(
        f"{args.method} {args.nuclide}: {n} spectra (seed {args.seed}), "
        f"{time.perf_counter() - t0:.0f} s"
    )
    print(f"bias {100 * rel.mean():+.2f} +- {100 * rel.std(ddof=1) / math.sqrt(n):.2f} %")
    print(
        f"pull SD, total u: {sd:.2f} (95 % CI {lo:.2f}-{hi:.2f}); counting u: "
        f"{np.std(rel / uc, ddof=1):.2f}"
    )
    print(
        "median stated parts, %: counting {:.2f}, efficiency {:.2f}, nuclear data {:.2f}, "
        "disagreement {:.2f}, summing {:.3f}, total {:.2f}".format(
            *(100 * np.median(x) for x in (uc, ue, un, ud, us, ut))
        )
    )
    for j, ln in enumerate(gammas):
        print(
            f"  {ln.energy:8.2f} keV: intensity error SD {100 * d_int[:, j].std():.2f} % "
            f"(stated {100 * math.hypot(ln.intensity_rel_unc, nuc.normalisation_rel_unc):.2f} %,"
            f" own {100 * ln.intensity_rel_unc:.2f} %); efficiency error SD "
            f"{100 * d_eff[:, j].std():.2f} %, mean {100 * d_eff[:, j].mean():+.2f} %"
            f" +- {100 * d_eff[:, j].std() / math.sqrt(n):.2f} (true over fitted - 1)"
        )
    x = np.c_[np.ones(n), d_int, d_eff, d_shape]
    coef, *_ = np.linalg.lstsq(x, rel, rcond=None)
    resid = rel - x @ coef
    dof = max(n - x.shape[1], 1)
    se = np.sqrt(np.diag(np.linalg.pinv(x.T @ x)) * float(resid @ resid) / dof)
    names = [f"I {ln.energy:.1f}" for ln in gammas] + [f"eff {ln.energy:.1f}" for ln in gammas]
    print("regression of the relative error on the world's errors (slope = weight):")
    print("  " + ", ".join(f"{nm} {c:+.2f}" for nm, c in zip(names, coef[1 : 1 + 2 * k])))
    tf, tl, rs = coef[1 + 2 * k :]
    tf_se, tl_se, rs_se = se[1 + 2 * k :]
    print(
        f"  peak shape (the world's minus the model's {100 * MODEL.tail_fraction:.1f} % tail of"
        f" {MODEL.tail_length_sigma:.1f} sigma and its FWHM): per +1 % tail fraction"
        f" {tf:+.3f} +- {tf_se:.3f} %, per +1 sigma tail length {100 * tl:+.2f} +- {100 * tl_se:.2f}"
        f" %, per +1 % FWHM {rs:+.2f} +- {rs_se:.2f} %; intercept (the model's world)"
        f" {100 * coef[0]:+.2f} +- {100 * se[0]:.2f} %"
    )
    shape_part = d_shape @ coef[1 + 2 * k :]
    print(
        f"  the peak shape's part of the error: mean {100 * shape_part.mean():+.2f} %,"
        f" SD {100 * shape_part.std():.2f} % (not in the stated budget)"
    )
    print(
        f"  residual SD {100 * np.std(resid, ddof=x.shape[1]):.2f} % "
        f"against a median counting u of {100 * np.median(uc):.2f} %"
    )
    if args.observed is not None:
        obs, m = args.observed
        p = chance_of_sd_at_most(obs, sd, m)
        olo, ohi = sd_interval(obs, m)
        print(
            f"observed {obs:.2f} on {m} spectra (95 % CI {olo:.2f}-{ohi:.2f}): an SD that low or "
            f"lower has a chance of {100 * p:.1f} % from {m} pulls of SD {sd:.2f} (chi^2, "
            f"{m - 1} dof; {100 * chance_of_sd_at_most(obs, 1.0, m):.1f} % if the SD were 1)"
        )
        if m <= n:
            s = subset_sd_spread(pulls, m, seed=args.seed)
            q = np.percentile(s, [2.5, 50, 97.5])
            print(
                f"  {SUBSETS} random subsets of {m} of these {n} spectra: pull SD {q[0]:.2f}-"
                f"{q[2]:.2f} (2.5-97.5 %, median {q[1]:.2f}); {100 * np.mean(s <= obs):.1f} % "
                f"at or below {obs:.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
