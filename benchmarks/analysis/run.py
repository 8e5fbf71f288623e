"""Benchmark of the spectrum analyses on simulated spectra with known answers.

    python benchmarks/analysis/run.py --method station|central|both [--n N] [--json out.json]

Per method and nuclide it prints: for each activity level (expected net counts of the
nuclide's strongest line), the mean relative bias of the activity and the mean and
standard deviation of the pull (estimate - truth)/u, u the counting uncertainty the
method states (the simulation's calibration is exact); the false-detection rate on the
spectra without the nuclide; the detection probability of spectra whose true activity is
the detection limit the method stated on a blank (the same background, a new draw); the
median time per spectrum on one core and the peak memory (tracemalloc).
Targets: |bias| < 1 % above 1000 counts, pull SD 0.9-1.1, false detections 5 % +- 2 %,
detection at the limit ~95 %.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import json
import math
import os
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

# one core: no BLAS threads (set before numpy is imported)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.analysis.spectra import (  # noqa: E402
    CACHE_DIR,
    REPORTED,
    Simulated,
    benchmark_cases,
    load_suite,
    with_added,
)

LEVELS = ((0, 100), (100, 1_000), (1_000, 10_000), (10_000, 100_000), (100_000, math.inf))
TARGETS = (
    "targets: |bias| < 1 % (>1000 counts), pull SD 0.9-1.1, false det. 5+-2 %, det. at DL ~95 %"
)


def method_function(name: str):
    """The analyze function of a method, or None with the reason when it is not there."""
    module = {"station": "edge_agent.analysis", "central": "central.reanalysis"}[name]
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        return None, f"{module} cannot be imported ({exc})"
    fn = getattr(mod, "analyze", None)
    if fn is None:
        return None, f"{module} has no analyze()"
    return fn, ""


@dataclass
class Outcome:
    """One method's results on one spectrum."""

    sim: Simulated
    results: dict  # nuclide -> (activity, counting unc, detected, activity detection limit)
    seconds: float
    error: str = ""
    cpu_seconds: float = 0.0  # process CPU time: what time-sharing a core does not inflate
    gain: float = 1.0  # the gain correction the method applied
    # (label, region) -> [(line keV, net area, net area unc, share of the component)]
    components: dict = field(default_factory=dict)
    mdr: dict = field(default_factory=dict)  # nuclide -> MDR (Bq per interval) or None


def run_method(fn, sims: list[Simulated], label: str) -> list[Outcome]:
    out = []
    t_start = time.perf_counter()
    for k, sim in enumerate(sims):
        t0 = time.perf_counter()
        c0 = time.process_time()
        try:
            res = fn(sim.phd, source=f"case-{sim.case.index}")
        except Exception as exc:  # a method that fails on a spectrum is a result too
            out.append(
                Outcome(sim, {}, time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}")
            )
            continue
        dt = time.perf_counter() - t0
        cpu = time.process_time() - c0
        results = {
            n: (
                r.activity_bq,
                r.activity_counting_unc_bq,
                bool(r.detected),
                r.activity_detection_limit_bq,
            )
            for n, r in res.nuclides.items()
        }
        components: dict = {}
        for p in res.peaks:
            if p.line_kev is not None and p.nuclide is not None:
                # (line, net area, net area uncertainty, share of the component)
                components.setdefault((p.nuclide, p.region), []).append(
                    [p.line_kev, p.net_area, p.net_area_unc, 1.0]
                )
        for peaks in components.values():
            total = sum(q[2] for q in peaks)
            for q in peaks:
                q[3] = q[2] / total if total > 0 else 1.0
        mdr = {n: r.mdr_bq for n, r in res.nuclides.items()}
        out.append(
            Outcome(
                sim,
                results,
                dt,
                components=components,
                mdr=mdr,
                cpu_seconds=cpu,
                gain=float(getattr(res, "gain_correction", 1.0) or 1.0),
            )
        )
        if (k + 1) % 200 == 0:
            print(
                f"  {label}: {k + 1}/{len(sims)} spectra, {time.perf_counter() - t_start:.0f} s",
                flush=True,
            )
    return out


def peak_memory(fn, sims: list[Simulated]) -> float:
    """Largest tracemalloc peak (MiB) over the spectra."""
    peak = 0
    for sim in sims:
        tracemalloc.start()
        with contextlib.suppress(Exception):
            fn(sim.phd, source="memory")
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return peak / 2**20


def _level(counts: float) -> int | None:
    for k, (lo, hi) in enumerate(LEVELS):
        if lo <= counts < hi:
            return k
    return None


def accuracy(outcomes: list[Outcome]) -> dict:
    """Bias and pulls per nuclide and level (spectra that contain the nuclide)."""
    table: dict = {}
    for nuc in REPORTED:
        rows = []
        for o in outcomes:
            truth = o.sim.case.truth(nuc)
            if truth <= 0 or nuc not in o.results:
                continue
            a, u, _, _ = o.results[nuc]
            rows.append((_level(o.sim.main_line_area(nuc)), a, u, truth))
        per_level = {}
        for k, (lo, hi) in enumerate(LEVELS):
            sel = [r for r in rows if r[0] == k and r[2] > 0]
            if not sel:
                continue
            rel = np.array([a / t - 1.0 for _, a, _, t in sel])
            pull = np.array([(a - t) / u for _, a, u, t in sel])
            per_level[f"{lo:g}-{hi:g}"] = {
                "n": len(sel),
                "bias": float(rel.mean()),
                "bias_se": float(rel.std(ddof=1) / math.sqrt(len(sel)))
                if len(sel) > 1
                else math.nan,
                "pull_mean": float(pull.mean()),
                "pull_sd": float(pull.std(ddof=1)) if len(sel) > 1 else math.nan,
            }
        table[nuc] = per_level
    return table


def line_bias(outcomes: list[Outcome], min_counts: float = 1000.0) -> dict:
    """Bias and pulls of the fitted areas of lines (and x-ray groups) with more than
    min_counts expected counts, against the simulator's full-energy areas.

    A fitted component (a line, a nuclide's lines in one region, an x-ray group shared by
    several nuclides) is compared as a whole with the sum of the true areas of its lines.
    """
    acc: dict = {}
    for o in outcomes:
        truth_at: dict[float, float] = {}
        for areas in o.sim.line_areas.values():
            for e, a in areas.items():
                truth_at[round(e, 2)] = truth_at.get(round(e, 2), 0.0) + a
        for (label, _), peaks in o.components.items():
            if label not in REPORTED and label not in ("Xe-K", "Cs-K"):
                continue  # interferers also come from outside the chamber
            truth = sum(truth_at.get(round(p[0], 2), 0.0) for p in peaks)
            area = sum(p[1] for p in peaks)
            unc = peaks[0][2] / max(peaks[0][3], 1e-12)  # the component's, not the peak's
            if truth < min_counts or unc <= 0:
                continue
            main = max(peaks, key=lambda p: p[1])[0]
            acc.setdefault(f"{label} {main:.1f}", []).append(
                (area / truth - 1.0, (area - truth) / unc)
            )
    out = {}
    for key, v in sorted(acc.items()):
        rel = np.array([x[0] for x in v])
        pull = np.array([x[1] for x in v])
        out[key] = {
            "n": len(v),
            "bias": float(rel.mean()),
            "bias_se": float(rel.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else math.nan,
            "pull_sd": float(pull.std(ddof=1)) if len(v) > 1 else math.nan,
        }
    return out


def false_detections(outcomes: list[Outcome]) -> dict:
    out = {}
    for nuc in REPORTED:
        absent = [o for o in outcomes if o.sim.case.truth(nuc) <= 0 and nuc in o.results]
        if not absent:
            continue
        by_category: dict[str, list[bool]] = {}
        for o in absent:
            by_category.setdefault(o.sim.case.category, []).append(o.results[nuc][2])
        out[nuc] = {
            "n": len(absent),
            "rate": float(np.mean([o.results[nuc][2] for o in absent])),
            "by_category": {c: float(np.mean(v)) for c, v in sorted(by_category.items())},
        }
    return out


def gain_corrections(outcomes: list[Outcome]) -> dict:
    """How well the gain drift of the drifted spectra was found (applied corrections)."""
    drifted = [o for o in outcomes if o.sim.case.gain_drift != 0.0]
    applied = [o for o in drifted if o.gain != 1.0]
    err = np.array([o.gain - (1.0 + o.sim.case.gain_drift) for o in applied])
    false = [o for o in outcomes if o.sim.case.gain_drift == 0.0 and o.gain != 1.0]
    return {
        "drifted": len(drifted),
        "applied": len(applied),
        "error_sd": float(err.std()) if err.size > 1 else math.nan,
        "error_max": float(np.abs(err).max()) if err.size else math.nan,
        "applied_without_drift": len(false),
    }


def blank_limits(blanks: list[Outcome]) -> dict:
    """Median detection limit (activity, Bq) and MDR (Bq per interval) on the blanks."""
    out = {}
    for nuc in REPORTED:
        rows = [o.results[nuc] for o in blanks if nuc in o.results]
        mdr = [o.mdr[nuc] for o in blanks if o.mdr.get(nuc) is not None]
        if rows:
            out[nuc] = {
                "detection_limit_bq": float(np.median([r[3] for r in rows])),
                "mdr_bq": float(np.median(mdr)) if mdr else None,
            }
    return out


def at_limit_cases(blanks: list[Outcome], per_nuclide: int) -> list:
    """Cases with each nuclide at the detection limit the method stated on a blank."""
    cases = []
    index = 100_000
    for nuc in REPORTED:
        for o in blanks[:per_nuclide]:
            if nuc not in o.results or not math.isfinite(o.results[nuc][3]):
                continue
            cases.append(with_added(o.sim.case, nuc, float(o.results[nuc][3]), index))
            index += 1
    return cases


def detection_at_limit(outcomes: list[Outcome]) -> dict:
    out = {}
    for nuc in REPORTED:
        flags = [
            o.results[nuc][2]
            for o in outcomes
            if o.sim.case.category == f"at-limit {nuc}" and nuc in o.results
        ]
        if flags:
            out[nuc] = {"n": len(flags), "probability": float(np.mean(flags))}
    return out


def evaluate(name: str, fn, sims: list[Simulated], args) -> dict:
    print(f"\n== {name}: {len(sims)} spectra", flush=True)
    outcomes = run_method(fn, sims, name)
    errors = [o for o in outcomes if o.error]
    good = [o for o in outcomes if not o.error]
    blanks = [o for o in good if o.sim.case.category == "blank"]
    limit_sims = load_suite(
        at_limit_cases(blanks, args.at_limit), None if args.no_cache else CACHE_DIR
    )
    print(f"  {name}: {len(limit_sims)} spectra at the blanks' detection limits", flush=True)
    limit_outcomes = [o for o in run_method(fn, limit_sims, name) if not o.error]
    times = [o.seconds for o in good]
    cpu = [o.cpu_seconds for o in good]
    return {
        "method": name,
        "spectra": len(sims),
        "errors": len(errors),
        "first_errors": [o.error for o in errors[:5]],
        "accuracy": accuracy(good),
        "lines": line_bias(good),
        "false_detection": false_detections(good),
        "detection_at_limit": detection_at_limit(limit_outcomes),
        "blank_limits": blank_limits(blanks),
        "gain": gain_corrections(good),
        "time_median_ms": 1e3 * statistics.median(times) if times else math.nan,
        "time_p90_ms": 1e3 * float(np.percentile(times, 90)) if times else math.nan,
        "cpu_median_ms": 1e3 * statistics.median(cpu) if cpu else math.nan,
        "peak_memory_mib": peak_memory(
            fn, sims[:: max(len(sims) // max(args.memory_spectra, 1), 1)]
        ),
    }


# ------------------------------------------------------------------------ report
def _pct(x: float) -> str:
    return "   -  " if x is None or not math.isfinite(x) else f"{100 * x:+6.2f}"


def print_report(rep: dict) -> None:
    print(f"\n#### {rep['method']}: {rep['spectra']} spectra, {rep['errors']} errors")
    for e in rep["first_errors"]:
        print(f"   error: {e}")
    print(
        f"time per spectrum (one core): median {rep['time_median_ms']:.1f} ms wall,"
        f" {rep['cpu_median_ms']:.1f} ms CPU; 90 % {rep['time_p90_ms']:.1f} ms wall;"
        f" peak memory {rep['peak_memory_mib']:.1f} MiB"
    )
    print("\nactivity by level (expected counts of the strongest line; bias from 100 counts up):")
    print(
        f"{'nuclide':9s} {'counts':>14s} {'n':>4s} {'bias %':>7s} {'+-se':>6s} {'pull':>6s} {'pull SD':>7s}"
    )
    for nuc, levels in rep["accuracy"].items():
        for lvl, v in levels.items():
            low = lvl.startswith("0-")  # relative bias of near-zero truths says nothing
            bias = "      -" if low else _pct(v["bias"])
            se = (
                "     -" if low or not math.isfinite(v["bias_se"]) else f"{100 * v['bias_se']:6.2f}"
            )
            print(
                f"{nuc:9s} {lvl:>14s} {v['n']:4d} {bias} {se} {v['pull_mean']:+6.2f} {v['pull_sd']:7.2f}"
            )
    print("\nfitted areas of lines (x-ray groups) with > 1000 expected counts:")
    for key, v in rep["lines"].items():
        se = v["bias_se"]
        print(
            f"  {key:18s} n={v['n']:4d} bias {_pct(v['bias'])} % "
            f"+- {100 * se if math.isfinite(se) else float('nan'):.2f}  pull SD {v['pull_sd']:.2f}"
        )
    print(
        f"\n{'nuclide':9s} {'false det.':>10s} {'(n)':>6s} {'det. at DL':>10s} {'(n)':>5s}"
        f" {'DL on blanks':>13s} {'MDR on blanks':>14s}"
    )
    for nuc in REPORTED:
        fd = rep["false_detection"].get(nuc)
        dl = rep["detection_at_limit"].get(nuc)
        bl = rep["blank_limits"].get(nuc) or {}
        mdr = bl.get("mdr_bq")
        print(
            f"{nuc:9s} {100 * fd['rate'] if fd else float('nan'):9.1f}% {fd['n'] if fd else 0:6d}"
            f" {100 * dl['probability'] if dl else float('nan'):9.1f}% {dl['n'] if dl else 0:5d}"
            f" {bl.get('detection_limit_bq', float('nan')):10.3g} Bq"
            f" {mdr if mdr is not None else float('nan'):10.3g} Bq"
        )
    g = rep["gain"]
    print(
        f"gain drift: corrected in {g['applied']} of {g['drifted']} drifted spectra"
        f" (residual SD {g['error_sd']:.1e}, max {g['error_max']:.1e});"
        f" corrected without drift: {g['applied_without_drift']}"
    )
    print(TARGETS)


def _settings(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        out[key] = json.loads(value)  # true, 3.0, "text"
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", choices=("station", "central", "both"), default="station")
    ap.add_argument("--n", type=int, default=1000, help="spectra in the suite (default 1000)")
    ap.add_argument("--seed", type=int, default=20261)
    ap.add_argument(
        "--at-limit", type=int, default=60, help="blanks per nuclide for the at-limit test"
    )
    ap.add_argument("--memory-spectra", type=int, default=10)
    ap.add_argument("--category", action="append", help="only these categories (repeatable)")
    ap.add_argument(
        "--cpu", type=int, default=-1, help="pin to this core (default: any one core at a time)"
    )
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="station setting for an experiment (e.g. use_xrays=true); repeatable",
    )
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    args = ap.parse_args(argv)
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    cases = benchmark_cases(args.n, args.seed)
    if args.category:
        cases = [c for c in cases if c.category in args.category or c.category == "blank"]
    t0 = time.perf_counter()
    sims = load_suite(cases, None if args.no_cache else CACHE_DIR)
    print(f"{len(sims)} spectra ready in {time.perf_counter() - t0:.0f} s", flush=True)
    methods = ("station", "central") if args.method == "both" else (args.method,)
    reports = []
    for name in methods:
        fn, why = method_function(name)
        if fn is not None and name == "station" and args.set:
            fn = functools.partial(fn, config=_settings(args.set))
        if fn is None:
            print(f"\n#### {name}: not available: {why}")
            reports.append({"method": name, "available": False, "reason": why})
            continue
        rep = evaluate(name, fn, sims, args)
        print_report(rep)
        reports.append(rep)
    if args.json:
        args.json.write_text(
            json.dumps({"suite": {"n": len(sims), "seed": args.seed}, "methods": reports}, indent=1)
        )
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
