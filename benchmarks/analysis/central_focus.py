"""Focused measurements of the central method with enough spectra per figure.

    python benchmarks/analysis/central_focus.py false --nuclide Xe-133 --nuclide I-133 --n 1000
    python benchmarks/analysis/central_focus.py pulls --nuclide I-131 --nuclide Kr-88 --per-level 100
    python benchmarks/analysis/central_focus.py at-limit --n 200

`false`: the false-detection rate of each nuclide on n spectra of the benchmark suite's
cases (`spectra.benchmark_cases`, same mixture of categories) that do not contain it,
with its binomial standard error, by category and by the expected background counts
under the nuclide's strongest line (within +-1.5 FWHM).
`pulls`: bias and pull SD per level of the strongest line's expected counts, drawing
cases that contain the nuclide until every level has at least --per-level spectra (the
suite's own distribution of activities, so the upper levels fill slowest).
`at-limit`: detection probability at the detection limit stated on n blanks (the same
background, a new draw), per nuclide.
`--dump FILE` writes one JSON row per spectrum and nuclide for further study. One core.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.analysis.spectra import (  # noqa: E402  # noqa: E402
    LEVELS,
    REAL_TIME_S,
    REPORTED,
    benchmark_cases,
    level_of,
    simulate,
    with_added,
)
from central.reanalysis import analyze  # noqa: E402
from shared.nuclear import load_library  # noqa: E402
from shared.simulation.detector import default_detector  # noqa: E402
from shared.simulation.spectrum import expected_spectrum  # noqa: E402

LIB = load_library()
DET = default_detector()


def _main_line(nuclide: str) -> float:
    lines = [g for g in LIB[nuclide].gammas() if 30.0 < g.energy < 3000.0]
    best = max(lines, key=lambda g: g.intensity * float(DET.efficiency(g.energy)))
    return best.energy


def _expected(case):
    return expected_spectrum(DET, case.sources, real_time=REAL_TIME_S, gain_drift=case.gain_drift)


def _background_under(exp, energy: float) -> float:
    """Expected counts within +-1.5 FWHM of `energy` in an expected spectrum."""
    fwhm = float(DET.fwhm(energy))
    lo, hi = (float(DET.channel(energy + s * 1.5 * fwhm)) for s in (-1, 1))
    return float(exp.counts[math.ceil(lo) : math.floor(hi) + 1].sum())


def _row(case, res, nuclide, sim=None, expected=None) -> dict:
    r = res.nuclides[nuclide]
    row = {
        "case": case.index,
        "category": case.category,
        "nuclide": nuclide,
        "truth": case.truth(nuclide),
        "activity": r.activity_bq,
        "u": r.activity_counting_unc_bq,
        "detected": bool(r.detected),
        "y_star": r.activity_decision_threshold_bq,
        "y_hash": r.activity_detection_limit_bq,
        "seconds": res.elapsed_s,
    }
    if sim is not None:
        row["main_counts"] = sim.main_line_area(nuclide)
    if expected is not None:
        row["background"] = _background_under(expected, _main_line(nuclide))
    return row


def _pool(args) -> list:
    """The cases of a suite of --pool spectra in a fixed random order (the suite lists them
    by category), so that any first n have the suite's mixture of categories."""
    cases = benchmark_cases(args.pool, args.seed)
    order = np.random.default_rng(args.seed).permutation(len(cases))
    return [cases[i] for i in order]


def _binomial(k: int, n: int) -> str:
    p = k / n if n else math.nan
    se = math.sqrt(p * (1 - p) / n) if n else math.nan
    return f"{100 * p:5.2f} % +- {100 * se:4.2f} ({k}/{n})"


def run_false(args) -> list[dict]:
    """Each case is analysed once; it counts for every nuclide it does not contain."""
    nuclides = args.nuclide or list(REPORTED)
    chosen = []
    need = dict.fromkeys(nuclides, args.n)
    for c in _pool(args):
        absent = [n for n in nuclides if c.truth(n) <= 0 and need[n] > 0]
        if absent:
            chosen.append(c)
            for n in absent:
                need[n] -= 1
        if not any(need.values()):
            break
    t0 = time.perf_counter()
    rows = []
    for i, c in enumerate(chosen):
        res = analyze(simulate(c).phd)
        exp = _expected(c)
        rows += [_row(c, res, n, expected=exp) for n in nuclides if c.truth(n) <= 0]
        if (i + 1) % 500 == 0:
            print(f"  {i + 1}/{len(chosen)} spectra, {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"{len(chosen)} spectra in {time.perf_counter() - t0:.0f} s")
    for nuc in nuclides:
        mine = [r for r in rows if r["nuclide"] == nuc][: args.n]
        det = [r["detected"] for r in mine]
        print(f"\n{nuc}: false detections {_binomial(sum(det), len(det))}")
        for cat in sorted({r["category"] for r in mine}):
            d = [r["detected"] for r in mine if r["category"] == cat]
            print(f"  {cat:11s} {_binomial(sum(d), len(d))}")
        for lo, hi in ((0, 1), (1, 3), (3, 10), (10, 30), (30, 100), (100, math.inf)):
            d = [r["detected"] for r in mine if lo <= r["background"] < hi]
            if d:
                print(f"  background {lo:g}-{hi:g} counts: {_binomial(sum(d), len(d))}")
    return rows


def run_pulls(args) -> list[dict]:
    rows = []
    for nuc in args.nuclide:
        per_level: dict[int, list[dict]] = {}
        pool = [c for c in _pool(args) if c.truth(nuc) > 0]
        t0 = time.perf_counter()
        for c in pool:
            sim = simulate(c)
            k = level_of(sim.main_line_area(nuc))
            if k is None or len(per_level.get(k, [])) >= args.per_level:
                continue
            per_level.setdefault(k, []).append(_row(c, analyze(sim.phd), nuc, sim))
            if all(len(per_level.get(j, [])) >= args.per_level for j in range(len(LEVELS) - 1)):
                break
        print(
            f"\n{nuc}: pulls by level of the strongest line's counts "
            f"[{time.perf_counter() - t0:.0f} s]"
        )
        print(
            f"  {'counts':>14s} {'n':>4s} {'bias %':>7s} {'+-se':>5s} {'pull':>6s} {'SD':>5s}"
            f" {'95 % range of SD':>17s}"
        )
        for k in sorted(per_level):
            sel = [r for r in per_level[k] if r["u"] > 0]
            rows += sel
            if len(sel) < 2:
                continue
            rel = np.array([r["activity"] / r["truth"] - 1 for r in sel])
            pull = np.array([(r["activity"] - r["truth"]) / r["u"] for r in sel])
            sd = pull.std(ddof=1)
            half = 1.96 / math.sqrt(2 * (len(sel) - 1))  # normal theory
            lo, hi = LEVELS[k]
            print(
                f"  {f'{lo:g}-{hi:g}':>14s} {len(sel):4d} {100 * rel.mean():+7.2f}"
                f" {100 * rel.std(ddof=1) / math.sqrt(len(sel)):5.2f} {pull.mean():+6.2f}"
                f" {sd:5.2f}   {sd * (1 - half):.2f}-{sd * (1 + half):.2f}"
            )
    return rows


def run_at_limit(args) -> list[dict]:
    blanks = [c for c in _pool(args) if c.category == "blank"]
    blanks = blanks[: args.n]
    results = [analyze(simulate(c).phd) for c in blanks]
    rows = []
    index = 200_000
    for nuc in args.nuclide or REPORTED:
        flags = []
        for c, res in zip(blanks, results):
            y = res.nuclides[nuc].activity_detection_limit_bq
            if not math.isfinite(y):
                continue
            case = with_added(c, nuc, y, index)
            index += 1
            r = _row(case, analyze(simulate(case).phd), nuc)
            rows.append(r)
            flags.append(r["detected"])
        print(f"{nuc:8s} detection at the limit {_binomial(sum(flags), len(flags))}", flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("false", "pulls", "at-limit"))
    ap.add_argument("--nuclide", action="append", default=[])
    ap.add_argument(
        "--n", type=int, default=1000, help="false: spectra per nuclide; at-limit: blanks"
    )
    ap.add_argument("--per-level", type=int, default=100)
    ap.add_argument("--pool", type=int, default=20000, help="cases drawn from a suite of this size")
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--cpu", type=int, default=-1)
    ap.add_argument("--dump", type=Path)
    args = ap.parse_args(argv)
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    if args.what == "pulls" and not args.nuclide:
        ap.error("--nuclide is required")
    run = {"false": run_false, "pulls": run_pulls, "at-limit": run_at_limit}[args.what]
    rows = run(args)
    if args.dump:
        args.dump.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
