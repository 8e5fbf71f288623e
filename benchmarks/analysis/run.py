"""Benchmark of the spectrum analyses on simulated spectra with known answers.

    python benchmarks/analysis/run.py --method station|central|both [--n N] [--jobs J]
        [--json out.json] [--summary-markdown summary.md]

The suite (spectra.py) is designed so that each (nuclide, level) cell it targets holds
about 200 spectra at the default size (`--design` prints the cells without analysing).
Per method and nuclide it prints: for each activity level (expected net counts of the
nuclide's strongest line), the mean relative bias of the activity and the mean and
standard deviation of the pull (estimate - truth)/u, u the counting uncertainty the
method states (the simulation's calibration is exact), with the 95 % confidence interval
of the pull SD (its standard error SD/sqrt(2(n-1)) for normal pulls) and a verdict: met
(SD within 0.9-1.1), not met, or not enough data (fewer than 100 spectra); the
false-detection rate on the spectra without the nuclide; the detection probability of
spectra whose true activity is the detection limit the method stated on a blank (the same
background, a new draw); the median time per spectrum on one core and the peak memory
(tracemalloc). With --method both, the agreement of the two methods (central/compare.py)
on every spectrum both analysed.

Spectra are cached (spectra.py); so are each method's results, keyed by the suite and the
source of the method and of shared/ (`--fresh` analyses again, `--no-cache` neither reads
nor writes). The analyses run in `--jobs` processes (default 2), each timed on its own core.
Targets: |bias| < 1 % above 1000 counts, pull SD 0.9-1.1, false detections 5 % +- 2 %,
detection at the limit ~95 %, < 50 ms per spectrum.

`--category mismatch` adds `--mismatch-n` spectra (default 1400) of the model-mismatch
category (spectra.py's world: a steeper efficiency curve, other peak tails and
resolution, drawn intensities, noisy calibration points; mismatch_design.py's cases:
each reported nuclide driven by one mixture to >= 1000 counts, about 200 spectra per
nuclide above 1000 counts): reported apart, per nuclide for lines above 1000 counts, bias
against the stated total uncertainty and the pull SD with the total uncertainty
(targets: bias within the stated total uncertainty, pull SD 0.9-1.1, a warning on every
file whose curve misses its points). `--category` keeps only the categories named and
the suite's blanks (6 % of --n: the false detections and the bases of the at-limit test,
whose spectra are clean), so `--category mismatch` alone is a mismatch-only run: the
clean suite's other spectra are neither simulated nor analysed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import hashlib
import importlib
import inspect
import json
import math
import multiprocessing
import os
import pickle
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

# one core per process: no BLAS threads (set before numpy is imported)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(ROOT))

from benchmarks.analysis.mismatch_design import (  # noqa: E402
    MISMATCH_DEFAULT_N,
    MISMATCH_MIN_COUNTS,
    mismatch_cases,
    strong_spectra,
)
from benchmarks.analysis.spectra import (  # noqa: E402
    CACHE_DIR,
    DEFAULT_N,
    DESIGNED_LEVELS,
    LEVELS,
    REPORTED,
    Simulated,
    benchmark_cases,
    level_label,
    level_of,
    load_suite,
    suite_key,
    with_added,
)

MIN_CELL = 100  # fewer spectra in a cell: not enough data to judge its pull SD
PULL_SD_TARGET = (0.9, 1.1)
BIAS_TARGET = 0.01  # above BIAS_MIN_COUNTS
BIAS_MIN_COUNTS = 1000.0
FALSE_DETECTION_TARGET = (0.03, 0.07)
DETECTION_TARGET = 0.95
TIME_TARGET_MS = 50.0
Z95 = 1.959963984540054
TARGETS = (
    "targets: |bias| < 1 % (>1000 counts), pull SD 0.9-1.1 in every cell of >= 100 spectra,"
    " false det. 5+-2 %, det. at DL ~95 %, < 50 ms per spectrum"
)
METHOD_MODULES = {"station": "edge_agent.analysis", "central": "central.reanalysis"}
METHOD_SOURCES = {"station": ("edge_agent/analysis",), "central": ("central/reanalysis",)}


def method_function(name: str):
    """The analyze function of a method, or None with the reason when it is not there."""
    module = METHOD_MODULES[name]
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # a method mid-change may fail in any way on import
        return None, f"{module} cannot be imported ({type(exc).__name__}: {exc})"
    fn = getattr(mod, "analyze", None)
    if fn is None:
        return None, f"{module} has no analyze()"
    return fn, ""


def method_fingerprint(name: str, settings: dict) -> str:
    """Hash of the method's source, shared/, the settings and the code here that extracts
    the outcome: what the cached outcomes depend on."""
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    h.update(inspect.getsource(analyse_one).encode())
    for folder in (*METHOD_SOURCES[name], "shared"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in (".py", ".json", ".csv", ".toml", ".yaml"):
                h.update(str(path.relative_to(ROOT)).encode())
                h.update(path.read_bytes())
    return h.hexdigest()[:16]


@dataclass
class Outcome:
    """One method's results on one spectrum."""

    sim: Simulated | None
    results: dict  # nuclide -> (activity, counting unc, detected, activity detection limit)
    seconds: float
    error: str = ""
    cpu_seconds: float = 0.0  # process CPU time: what time-sharing a core does not inflate
    gain: float = 1.0  # the gain correction the method applied
    # (label, region) -> [(line keV, net area, net area unc, share of the component)]
    components: dict = field(default_factory=dict)
    mdr: dict = field(default_factory=dict)  # nuclide -> MDR (Bq per interval) or None
    result: object = None  # the AnalysisResult without its peaks (for the comparison)
    total_unc: dict = field(default_factory=dict)  # nuclide -> total standard uncertainty
    # the efficiency points the curve misses by > 2 u, and the curve's form
    efficiency_misses: int = 0
    efficiency_model: str = ""


def analyse_one(fn, sim: Simulated) -> Outcome:
    t0 = time.perf_counter()
    c0 = time.process_time()
    try:
        res = fn(sim.phd, source=f"case-{sim.case.index}")
    except Exception as exc:  # a method that fails on a spectrum is a result too
        return Outcome(None, {}, time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}")
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
    return Outcome(
        None,
        results,
        dt,
        components=components,
        mdr={n: r.mdr_bq for n, r in res.nuclides.items()},
        cpu_seconds=cpu,
        gain=float(getattr(res, "gain_correction", 1.0) or 1.0),
        result=dataclasses.replace(res, peaks=[]) if dataclasses.is_dataclass(res) else None,
        total_unc={n: r.activity_unc_bq for n, r in res.nuclides.items()},
        efficiency_misses=sum(
            c.block == "#g_Efficiency" for c in getattr(res, "calibration_misses", [])
        ),
        efficiency_model=str(getattr(res, "efficiency_model", "") or ""),
    )


# the method and the spectra of a pool's workers (inherited by fork)
_WORKER: dict = {}


def _work(k: int) -> Outcome:
    return analyse_one(_WORKER["fn"], _WORKER["sims"][k])


def run_method(fn, sims: list[Simulated], label: str, jobs: int = 1) -> list[Outcome]:
    """Every spectrum analysed, in `jobs` processes; outcomes in the order of sims."""
    t_start = time.perf_counter()
    step = max(len(sims) // 5, 200)

    def progress(k: int) -> None:
        if (k + 1) % step == 0:
            elapsed = time.perf_counter() - t_start
            print(f"  {label}: {k + 1}/{len(sims)} spectra, {elapsed:.0f} s", flush=True)

    out: list[Outcome] = []
    if jobs > 1 and len(sims) > 1 and "fork" in multiprocessing.get_all_start_methods():
        _WORKER.update(fn=fn, sims=sims)
        try:
            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                for k, o in enumerate(pool.imap(_work, range(len(sims)), chunksize=8)):
                    out.append(o)
                    progress(k)
        finally:
            _WORKER.clear()
    else:
        for k, sim in enumerate(sims):
            out.append(analyse_one(fn, sim))
            progress(k)
    for o, sim in zip(out, sims):
        o.sim = sim
    return out


def cached_run(fn, sims, label, args, fingerprint: str | None) -> list[Outcome]:
    """run_method, or its outcomes from the results cache (same spectra, same method source)."""
    path = None
    if fingerprint is not None and not args.no_cache and sims:
        key = hashlib.sha256((suite_key([s.case for s in sims]) + fingerprint).encode())
        path = CACHE_DIR / f"analysis-results-{label}-{key.hexdigest()[:20]}.pkl"
        if path.exists() and not args.fresh:
            with path.open("rb") as f:
                stored = [Outcome(sim=sim, **d) for d, sim in zip(pickle.load(f), sims)]
            print(f"  {label}: {len(sims)} results from the cache ({path.name})", flush=True)
            return stored
    out = run_method(fn, sims, label, args.jobs)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            # plain dicts: the class is __main__.Outcome when this file runs as a script
            fields = [f.name for f in dataclasses.fields(Outcome) if f.name != "sim"]
            pickle.dump([{k: getattr(o, k) for k in fields} for o in out], f)
        tmp.replace(path)
    return out


def peak_memory(fn, sims: list[Simulated]) -> float:
    """Largest tracemalloc peak (MiB) over the spectra, after one analysis untraced: when the
    timed results come from the cache this is the process's first analysis, and its lazy
    set-up (imports, the nuclide library, numba loading its kernels) is not the method's
    memory per spectrum."""
    if sims:
        with contextlib.suppress(Exception):
            fn(sims[0].phd, source="memory")
    peak = 0
    for sim in sims:
        tracemalloc.start()
        with contextlib.suppress(Exception):
            fn(sim.phd, source="memory")
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return peak / 2**20


# ------------------------------------------------------------------- statistics
def sd_interval(sd: float, n: int) -> tuple[float, float]:
    """95 % confidence interval of a standard deviation from n values (normal values: the
    standard error of an SD is SD/sqrt(2(n-1)))."""
    if n < 2 or not math.isfinite(sd):
        return math.nan, math.nan
    se = sd / math.sqrt(2.0 * (n - 1))
    return sd - Z95 * se, sd + Z95 * se


def pull_verdict(sd: float, n: int) -> str:
    """met / not met / not enough data, for the pull SD of a cell of n spectra."""
    if n < MIN_CELL or not math.isfinite(sd):
        return "not enough data"
    lo, hi = PULL_SD_TARGET
    return "met" if lo <= sd <= hi else "not met"


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
            rows.append((level_of(o.sim.main_line_area(nuc)), a, u, truth))
        per_level = {}
        for k in range(len(LEVELS)):
            sel = [r for r in rows if r[0] == k and r[2] > 0]
            if not sel:
                continue
            rel = np.array([a / t - 1.0 for _, a, _, t in sel])
            pull = np.array([(a - t) / u for _, a, u, t in sel])
            n = len(sel)
            sd = float(pull.std(ddof=1)) if n > 1 else math.nan
            lo, hi = sd_interval(sd, n)
            per_level[level_label(k)] = {
                "level": k,
                "designed": k in DESIGNED_LEVELS.get(nuc, ()),
                "n": n,
                "bias": float(rel.mean()),
                "bias_se": float(rel.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
                "pull_mean": float(pull.mean()),
                "pull_sd": sd,
                "pull_sd_ci": [lo, hi],
                "verdict": pull_verdict(sd, n),
            }
        table[nuc] = per_level
    return table


def mismatch_accuracy(outcomes: list[Outcome]) -> dict:
    """Where the world differs from the model: per nuclide, the spectra whose strongest
    line has more than MISMATCH_MIN_COUNTS expected counts: bias against the stated total
    uncertainty, the pull SD with the total uncertainty (and, for contrast, with the
    counting one); and how often the calibration check warned."""
    if not outcomes:
        return {}
    table: dict = {}
    for nuc in REPORTED:
        rows = []
        for o in outcomes:
            t = o.sim.case.truth(nuc)
            if t <= 0 or nuc not in o.results or o.sim.main_line_area(nuc) < MISMATCH_MIN_COUNTS:
                continue
            a, u, _, _ = o.results[nuc]
            ut = o.total_unc.get(nuc, math.nan)
            if u > 0 and ut > 0:
                rows.append((a, u, ut, t))
        if len(rows) < 2:
            continue
        a, u, ut, t = (np.array(x) for x in zip(*rows))
        rel = a / t - 1.0
        pull = (a - t) / ut
        sd = float(pull.std(ddof=1))
        lo, hi = sd_interval(sd, len(rows))
        table[nuc] = {
            "n": len(rows),
            "bias": float(rel.mean()),
            "bias_se": float(rel.std(ddof=1) / math.sqrt(len(rows))),
            "stated_rel_unc": float(np.median(ut / t)),
            "pull_mean": float(pull.mean()),
            "pull_sd": sd,
            "pull_sd_ci": [lo, hi],
            "counting_pull_sd": float(((a - t) / u).std(ddof=1)),
            "verdict": pull_verdict(sd, len(rows)),
        }
    models: dict[str, int] = {}
    for o in outcomes:
        models[o.efficiency_model] = models.get(o.efficiency_model, 0) + 1
    missing = [o for o in outcomes if o.efficiency_misses == 0 and efficiency_missed(o.sim.phd)]
    return {
        "spectra": len(outcomes),
        "nuclides": table,
        "efficiency_warned": sum(o.efficiency_misses > 0 for o in outcomes),
        "efficiency_missed": sum(efficiency_missed(o.sim.phd) for o in outcomes),
        "efficiency_unwarned": [o.sim.case.index for o in missing],
        "efficiency_models": models,
    }


def efficiency_missed(phd) -> bool:
    """Does the smooth efficiency curve of the file's #g_Efficiency points miss one of them
    by more than 2 of its uncertainties (shared.calibration's check, made here again: the
    file that needs a warning, whether or not the method's result carries it)?"""
    from shared.calibration import calibrations_of

    return any(c.block == "#g_Efficiency" for c in calibrations_of(phd).missed())


def print_mismatch(rep: dict) -> None:
    mm = rep.get("mismatch") or {}
    if not mm:
        return
    print(
        f"\nmodel mismatch ({mm['spectra']} spectra; lines > {MISMATCH_MIN_COUNTS:g} counts;"
        " pulls with the total uncertainty):"
    )
    print(
        f"{'nuclide':9s} {'n':>5s} {'bias %':>7s} {'+-se':>6s} {'u_tot %':>7s} {'pull':>6s}"
        f" {'pull SD':>7s} {'95 % CI':>11s} {'count.':>6s}  verdict"
    )
    for nuc, v in mm["nuclides"].items():
        lo, hi = v["pull_sd_ci"]
        print(
            f"{nuc:9s} {v['n']:5d} {_pct(v['bias'])} {100 * v['bias_se']:6.2f}"
            f" {100 * v['stated_rel_unc']:7.2f} {v['pull_mean']:+6.2f} {v['pull_sd']:7.2f}"
            f" {lo:5.2f}-{hi:4.2f} {v['counting_pull_sd']:6.2f}  {v['verdict']}"
        )
    models = ", ".join(f"{k or '?'} {v}" for k, v in mm["efficiency_models"].items())
    print(
        f"efficiency curve: {models}; a warning of missed efficiency points on"
        f" {mm['efficiency_warned']} of {mm['spectra']} spectra, whose curve misses a point on"
        f" {mm['efficiency_missed']}; missed without a warning: {len(mm['efficiency_unwarned'])}"
        + (f" (cases {mm['efficiency_unwarned'][:10]})" if mm["efficiency_unwarned"] else "")
    )


def line_bias(outcomes: list[Outcome], min_counts: float = 1000.0) -> dict:
    """Bias and pulls of the fitted areas of lines (and x-ray groups) with more than
    min_counts expected counts, against the simulator's full-energy areas.

    A fitted component (a line, a nuclide's lines in one region, an x-ray group shared by
    several nuclides) is compared as a whole with the sum of the true areas of its lines.
    """
    acc: dict = {}
    for o in outcomes:
        areas = o.sim.line_areas
        for (label, region), peaks in o.components.items():
            if label not in REPORTED and label not in ("Xe-K", "Cs-K"):
                continue  # interferers also come from outside the chamber
            energies = [round(p[0], 2) for p in peaks]
            if label in REPORTED:  # a nuclide's lines (or its tied x-rays)
                owners = [label]
            else:  # an x-ray group: the nuclides without a component of their own here
                apart = {n for (n, r) in o.components if r == region and n in REPORTED}
                owners = [n for n in areas if n not in apart]
            truth = sum(
                a for n in owners for e, a in areas.get(n, {}).items() if round(e, 2) in energies
            )
            area = sum(p[1] for p in peaks)
            unc = peaks[0][2] / max(peaks[0][3], 1e-12)  # the component's, not the peak's
            if truth < min_counts or unc <= 0:
                continue
            main = max(peaks, key=lambda p: p[3])[0]
            acc.setdefault(f"{label} {main:.1f}", []).append(
                (area / truth - 1.0, (area - truth) / unc)
            )
    out = {}
    for key, v in sorted(acc.items()):
        rel = np.array([x[0] for x in v])
        pull = np.array([x[1] for x in v])
        n = len(v)
        sd = float(pull.std(ddof=1)) if n > 1 else math.nan
        out[key] = {
            "n": n,
            "bias": float(rel.mean()),
            "bias_se": float(rel.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
            "pull_sd": sd,
            "pull_sd_ci": list(sd_interval(sd, n)),
        }
    return out


def _binomial(flags: list[bool]) -> dict:
    n = len(flags)
    p = float(np.mean(flags)) if n else math.nan
    return {"n": n, "rate": p, "se": math.sqrt(p * (1 - p) / n) if n else math.nan}


def false_detections(outcomes: list[Outcome]) -> dict:
    out = {}
    for nuc in REPORTED:
        absent = [o for o in outcomes if o.sim.case.truth(nuc) <= 0 and nuc in o.results]
        if not absent:
            continue
        by_category: dict[str, list[bool]] = {}
        for o in absent:
            by_category.setdefault(o.sim.case.category, []).append(o.results[nuc][2])
        out[nuc] = _binomial([o.results[nuc][2] for o in absent])
        out[nuc]["by_category"] = {c: float(np.mean(v)) for c, v in sorted(by_category.items())}
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
            d = _binomial(flags)
            out[nuc] = {"n": d["n"], "probability": d["rate"], "se": d["se"]}
    return out


def evaluate(name: str, fn, sims: list[Simulated], args, fingerprint: str | None) -> dict:
    print(f"\n== {name}: {len(sims)} spectra", flush=True)
    outcomes = cached_run(fn, sims, name, args, fingerprint)
    errors = [o for o in outcomes if o.error]
    mismatched = [o for o in outcomes if not o.error and o.sim.case.category == "mismatch"]
    good = [o for o in outcomes if not o.error and o.sim.case.category != "mismatch"]
    blanks = [o for o in good if o.sim.case.category == "blank"]
    limit_sims = load_suite(
        at_limit_cases(blanks, args.at_limit), None if args.no_cache else CACHE_DIR
    )
    print(f"  {name}: {len(limit_sims)} spectra at the blanks' detection limits", flush=True)
    limit_outcomes = [o for o in cached_run(fn, limit_sims, name, args, fingerprint) if not o.error]
    times = [o.seconds for o in good]
    cpu = [o.cpu_seconds for o in good]
    rep = {
        "method": name,
        "available": True,
        "spectra": len(sims),
        "errors": len(errors),
        "first_errors": [o.error for o in errors[:5]],
        "accuracy": accuracy(good),
        "mismatch": mismatch_accuracy(mismatched),
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
    rep["detection_at_limit_pooled"] = _binomial(
        [
            o.results[nuc][2]
            for o in limit_outcomes
            if (nuc := o.sim.case.category.split()[-1]) in o.results
        ]
    )
    rep["false_detection_pooled"] = _binomial(
        [o.results[n][2] for o in good for n in REPORTED if o.sim.case.truth(n) <= 0]
    )
    return rep, outcomes


# -------------------------------------------------------------------- agreement
def agreement(station: list[Outcome], central: list[Outcome]) -> dict:
    """How often central/compare.py flags a nuclide-interval (spectra both analysed)."""
    from central.compare import BOTH, CENTRAL_ONLY, NEITHER, STATION_ONLY, compare

    by_kind: dict[str, list[bool]] = {}
    by_nuclide: dict[str, list[bool]] = {}
    skipped = 0
    for s, c in zip(station, central):
        if s.error or c.error or s.result is None or c.result is None:
            skipped += 1
            continue
        for comp in compare(s.result, c.result):
            if comp.nuclide not in REPORTED:
                continue
            kind = next(
                (
                    k
                    for k in (BOTH, NEITHER, STATION_ONLY, CENTRAL_ONLY)
                    if comp.reason.startswith(k)
                ),
                "reported by one method only",
            )
            by_kind.setdefault(kind, []).append(comp.flagged)
            by_nuclide.setdefault(comp.nuclide, []).append(comp.flagged)
    flags = [f for v in by_nuclide.values() for f in v]
    return {
        "spectra": len(station) - skipped,
        "skipped": skipped,
        "intervals": len(flags),
        "flagged": int(sum(flags)),
        "agreement": 1.0 - float(np.mean(flags)) if flags else math.nan,
        "by_kind": {k: _binomial(v) for k, v in by_kind.items()},
        "by_nuclide": {k: _binomial(v) for k, v in by_nuclide.items()},
    }


def print_agreement(agr: dict) -> None:
    print(
        f"\n#### agreement (central/compare.py, |z| > 3 flags) on {agr['spectra']} spectra:"
        f" {100 * agr['agreement']:.2f} % of {agr['intervals']} nuclide-intervals agree,"
        f" {agr['flagged']} flagged"
        + (f" ({agr['skipped']} spectra without both results)" if agr["skipped"] else "")
    )
    for kind, v in agr["by_kind"].items():
        print(f"  {kind:40s} flagged {100 * v['rate']:6.2f} % of {v['n']}")
    print(
        "  by nuclide (flagged): "
        + ", ".join(f"{n} {100 * v['rate']:.1f} %" for n, v in agr["by_nuclide"].items())
    )


# ------------------------------------------------------------------------ report
def _pct(x: float) -> str:
    return "   -  " if x is None or not math.isfinite(x) else f"{100 * x:+6.2f}"


def print_report(rep: dict) -> None:
    print(f"\n#### {rep['method']}: {rep['spectra']} spectra, {rep['errors']} errors")
    print_mismatch(rep)
    for e in rep["first_errors"]:
        print(f"   error: {e}")
    print(
        f"time per spectrum (one core): median {rep['time_median_ms']:.1f} ms wall,"
        f" {rep['cpu_median_ms']:.1f} ms CPU; 90 % {rep['time_p90_ms']:.1f} ms wall;"
        f" peak memory {rep['peak_memory_mib']:.1f} MiB"
    )
    print(
        "\nactivity by level (expected counts of the strongest line; bias from 100 counts up;"
        " pull SD with its 95 % interval; * a cell the suite is designed to fill):"
    )
    print(
        f"{'nuclide':9s} {'counts':>14s} {'n':>5s} {'bias %':>7s} {'+-se':>6s} {'pull':>6s}"
        f" {'pull SD':>7s} {'95 % CI':>11s}  verdict"
    )
    for nuc, levels in rep["accuracy"].items():
        for lvl, v in levels.items():
            low = lvl.startswith("0-")  # relative bias of near-zero truths says nothing
            bias = "      -" if low else _pct(v["bias"])
            se = (
                "     -" if low or not math.isfinite(v["bias_se"]) else f"{100 * v['bias_se']:6.2f}"
            )
            lo, hi = v["pull_sd_ci"]
            mark = "*" if v["designed"] else " "
            print(
                f"{nuc:9s} {lvl:>13s}{mark} {v['n']:5d} {bias} {se} {v['pull_mean']:+6.2f}"
                f" {v['pull_sd']:7.2f} {lo:5.2f}-{hi:4.2f}  {v['verdict']}"
            )
    cells = [v for levels in rep["accuracy"].values() for v in levels.values()]
    judged = [v for v in cells if v["verdict"] != "not enough data"]
    outside = [v for v in judged if v["verdict"] == "not met"]
    clear = [
        v
        for v in outside
        if v["pull_sd_ci"][0] > PULL_SD_TARGET[1] or v["pull_sd_ci"][1] < PULL_SD_TARGET[0]
    ]
    print(
        f"pull SD: {len(judged) - len(outside)} of {len(judged)} cells with >= {MIN_CELL} spectra"
        f" met, {len(outside)} not met ({len(clear)} with the whole 95 % interval outside"
        f" 0.9-1.1); {len(cells) - len(judged)} cells with too few spectra"
    )
    print("\nfitted areas of lines (x-ray groups) with > 1000 expected counts:")
    for key, v in rep["lines"].items():
        se = v["bias_se"]
        print(
            f"  {key:18s} n={v['n']:5d} bias {_pct(v['bias'])} % "
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
    fp, dp = rep["false_detection_pooled"], rep["detection_at_limit_pooled"]
    print(
        f"{'pooled':9s} {100 * fp['rate']:9.1f}% {fp['n']:6d} {100 * dp['rate']:9.1f}% {dp['n']:5d}"
        f"   (+- {100 * fp['se']:.1f} and {100 * dp['se']:.1f} %)"
    )
    g = rep["gain"]
    print(
        f"gain drift: corrected in {g['applied']} of {g['drifted']} drifted spectra"
        f" (residual SD {g['error_sd']:.1e}, max {g['error_max']:.1e});"
        f" corrected without drift: {g['applied_without_drift']}"
    )
    print(TARGETS)


def summary_rows(rep: dict) -> list[list[str]]:
    """The compact summary of one method: a row per nuclide and one for all of them."""
    name = rep["method"]
    if not rep.get("available", True):
        return [["all", name, f"not available: {rep.get('reason', '')}"] + [""] * 6]
    rows = []
    for nuc in REPORTED:
        levels = rep["accuracy"].get(nuc, {})
        strong = [v for v in levels.values() if LEVELS[v["level"]][0] >= BIAS_MIN_COUNTS]
        n_strong = sum(v["n"] for v in strong)
        if strong:
            bias = sum(v["bias"] * v["n"] for v in strong) / n_strong
            se = math.sqrt(sum((v["bias_se"] * v["n"]) ** 2 for v in strong if v["n"] > 1))
            bias_txt = f"{100 * bias:+.2f} +- {100 * se / n_strong:.2f} % ({n_strong})"
        else:
            bias_txt = "-"
        judged = [v for v in levels.values() if v["verdict"] != "not enough data"]
        if judged:
            lo = min(judged, key=lambda v: v["pull_sd"])
            hi = max(judged, key=lambda v: v["pull_sd"])
            sd_txt = (
                f"{lo['pull_sd']:.2f}-{hi['pull_sd']:.2f}"
                f" (CI {lo['pull_sd_ci'][0]:.2f}-{hi['pull_sd_ci'][1]:.2f})"
            )
            met = sum(v["verdict"] == "met" for v in judged)
            sd_txt += f"; {met}/{len(judged)} met"
            for lvl, v in levels.items():
                if v["verdict"] == "not met":
                    lo_ci, hi_ci = v["pull_sd_ci"]
                    sd_txt += f"; not met: {lvl} {v['pull_sd']:.2f} ({lo_ci:.2f}-{hi_ci:.2f})"
        else:
            sd_txt = "not enough data"
        thin = len(levels) - len(judged)
        if thin:
            sd_txt += f" (+{thin} thin)"
        fd = rep["false_detection"].get(nuc)
        dl = rep["detection_at_limit"].get(nuc)
        rows.append(
            [
                nuc,
                name,
                bias_txt,
                sd_txt,
                f"{100 * fd['rate']:.1f} % ({fd['n']})" if fd else "-",
                f"{100 * dl['probability']:.1f} % ({dl['n']})" if dl else "-",
                "",
                "",
            ]
        )
    fp, dp = rep["false_detection_pooled"], rep["detection_at_limit_pooled"]
    cells = [v for levels in rep["accuracy"].values() for v in levels.values()]
    judged = [v for v in cells if v["verdict"] != "not enough data"]
    met = sum(v["verdict"] == "met" for v in judged)
    rows.append(
        [
            "all",
            name,
            f"{rep['spectra']} spectra, {rep['errors']} errors",
            f"{met}/{len(judged)} cells met",
            f"{100 * fp['rate']:.1f} % ({fp['n']})",
            f"{100 * dp['rate']:.1f} % ({dp['n']})",
            f"{rep['cpu_median_ms']:.1f} CPU, {rep['time_median_ms']:.1f} wall",
            f"{rep['peak_memory_mib']:.1f}",
        ]
    )
    return rows


def summary_markdown(reports: list[dict], agr: dict | None, suite: dict) -> str:
    head = [
        "nuclide",
        "method",
        "bias, > 1000 counts",
        "pull SD over levels (>= 100 spectra)",
        "false det.",
        "det. at DL",
        "median ms",
        "peak MiB",
    ]
    lines = [
        f"Simulated suite: {suite['n']} spectra (seed {suite['seed']}), at-limit"
        f" {suite['at_limit']} blanks per nuclide; targets: bias < 1 %, pull SD 0.9-1.1"
        " in every cell, false det. 5 +- 2 %, det. at DL ~95 %, < 50 ms.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    rows = [r for rep in reports for r in summary_rows(rep)]
    order = {n: k for k, n in enumerate((*REPORTED, "all"))}
    rows.sort(key=lambda r: order.get(r[0], len(order)))  # stable: methods stay in order
    for r in rows:
        lines.append("| " + " | ".join(r) + " |")
    mismatch = mismatch_markdown(reports)
    if mismatch:
        lines += ["", "Model mismatch (lines > 1000 counts; pulls with the total uncertainty):", ""]
        lines.append(mismatch.rstrip("\n"))
    if agr is not None:
        lines.append("")
        if "error" in agr:
            lines.append(f"Agreement: not measured ({agr['error']}).")
        else:
            lines.append(
                f"Agreement (central/compare.py): {100 * agr['agreement']:.2f} % of"
                f" {agr['intervals']} nuclide-intervals on {agr['spectra']} spectra"
                f" ({agr['flagged']} flagged)."
            )
    return "\n".join(lines) + "\n"


def mismatch_markdown(reports: list[dict]) -> str:
    """The mismatch rows (--category mismatch): per nuclide and method, lines > 1000 counts."""
    head = [
        "nuclide",
        "method",
        "spectra",
        "bias",
        "stated total u (median)",
        "pull SD, total u (95 % CI)",
        "pull SD, counting u",
    ]
    rows = []
    for nuc in REPORTED:
        for rep in reports:
            v = (rep.get("mismatch") or {}).get("nuclides", {}).get(nuc)
            if v is None:
                continue
            lo, hi = v["pull_sd_ci"]
            rows.append(
                [
                    nuc,
                    rep["method"],
                    str(v["n"]),
                    f"{100 * v['bias']:+.2f} +- {100 * v['bias_se']:.2f} %",
                    f"{100 * v['stated_rel_unc']:.2f} %",
                    f"{v['pull_sd']:.2f} ({lo:.2f}-{hi:.2f})",
                    f"{v['counting_pull_sd']:.2f}",
                ]
            )
    if not rows:
        return ""
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    for rep in reports:
        mm = rep.get("mismatch") or {}
        if mm:
            models = ", ".join(f"{k} {v}" for k, v in mm["efficiency_models"].items())
            out.append("")
            out.append(
                f"{rep['method']}: efficiency curve {models}; missed efficiency points"
                f" warned on {mm['efficiency_warned']} of {mm['spectra']} spectra"
                f" ({mm['efficiency_missed']} files whose curve misses a point,"
                f" {len(mm['efficiency_unwarned'])} of them without a warning)."
            )
    return "\n".join(out) + "\n"


def print_design(cases) -> None:
    """The cells of the suite: spectra per nuclide and level (from the expected counts)."""
    sims = load_suite(cases, CACHE_DIR)
    print(f"{'nuclide':9s}" + "".join(f"{level_label(k):>14s}" for k in range(len(LEVELS))))
    for nuc in REPORTED:
        n = [0] * len(LEVELS)
        for s in sims:
            if s.case.truth(nuc) > 0:
                n[level_of(s.main_line_area(nuc))] += 1
        cells = [
            f"{m:>13d}{'*' if k in DESIGNED_LEVELS.get(nuc, ()) else ' '}" for k, m in enumerate(n)
        ]
        print(f"{nuc:9s}" + "".join(cells))
    cats: dict[str, int] = {}
    for c in cases:
        cats[c.category] = cats.get(c.category, 0) + 1
    print("categories: " + ", ".join(f"{k} {v}" for k, v in cats.items()))
    print("* designed cells")
    mismatched = [s for s in sims if s.case.category == "mismatch"]
    if mismatched:
        strong = strong_spectra(mismatched)
        print(
            f"mismatch spectra with the nuclide's strongest line >= {MISMATCH_MIN_COUNTS:g}"
            " counts: " + ", ".join(f"{n} {m}" for n, m in strong.items())
        )


def suite_cases(n: int, seed: int, categories=None, mismatch_n: int = MISMATCH_DEFAULT_N):
    """The cases of a run: the clean suite of n, or only its blanks and the categories
    named (None: all clean ones), with mismatch_n mismatch cases when "mismatch" is named."""
    cases = benchmark_cases(n, seed)
    if categories:
        cases = [c for c in cases if c.category in categories or c.category == "blank"]
        if "mismatch" in categories:
            cases += mismatch_cases(mismatch_n, seed, start=len(cases))
    return cases


def _count(text: str) -> int:
    """An argument that counts spectra: an integer >= 0."""
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return n


def _settings(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        out[key] = json.loads(value)  # true, 3.0, "text"
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", choices=("station", "central", "both"), default="station")
    ap.add_argument("--n", type=int, default=DEFAULT_N, help=f"spectra (default {DEFAULT_N})")
    ap.add_argument("--seed", type=int, default=20261)
    ap.add_argument(
        "--at-limit", type=int, default=100, help="blanks per nuclide for the at-limit test"
    )
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--memory-spectra", type=int, default=10)
    ap.add_argument("--category", action="append", help="only these categories (repeatable)")
    ap.add_argument(
        "--mismatch-n",
        type=_count,
        default=MISMATCH_DEFAULT_N,
        help=f"mismatch spectra with --category mismatch (default {MISMATCH_DEFAULT_N})",
    )
    ap.add_argument("--cpu", type=int, default=-1, help="pin to this core (implies --jobs 1)")
    ap.add_argument("--no-cache", action="store_true", help="neither read nor write caches")
    ap.add_argument("--fresh", action="store_true", help="analyse again (spectra from the cache)")
    ap.add_argument("--design", action="store_true", help="print the suite's cells and stop")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="station setting for an experiment (e.g. use_xrays=true); repeatable",
    )
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    ap.add_argument("--summary-markdown", type=Path, help="write the summary table (markdown)")
    args = ap.parse_args(argv)
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
        args.jobs = 1
    cases = suite_cases(args.n, args.seed, args.category, args.mismatch_n)
    if args.design:
        print_design(cases)
        return 0
    t0 = time.perf_counter()
    sims = load_suite(cases, None if args.no_cache else CACHE_DIR)
    print(f"{len(sims)} spectra ready in {time.perf_counter() - t0:.0f} s", flush=True)
    methods = ("station", "central") if args.method == "both" else (args.method,)
    reports, outcomes = [], {}
    for name in methods:
        fn, why = method_function(name)
        settings = _settings(args.set) if name == "station" else {}
        if fn is not None and settings:
            fn = functools.partial(fn, config=settings)
        if fn is None:
            print(f"\n#### {name}: not available: {why}")
            reports.append({"method": name, "available": False, "reason": why})
            continue
        try:
            fingerprint = method_fingerprint(name, settings)
        except OSError:
            fingerprint = None
        rep, outcomes[name] = evaluate(name, fn, sims, args, fingerprint)
        print_report(rep)
        reports.append(rep)
    agr = None
    if args.method == "both":
        if len(outcomes) < 2:
            missing = [r for r in reports if not r.get("available", True)]
            agr = {"error": "; ".join(f"{r['method']}: {r['reason']}" for r in missing)}
            print(f"\n#### agreement: not measured ({agr['error']})")
        else:
            try:
                agr = agreement(outcomes["station"], outcomes["central"])
                print_agreement(agr)
            except Exception as exc:  # the comparison may be mid-change too
                agr = {"error": f"central/compare.py failed: {type(exc).__name__}: {exc}"}
                print(f"\n#### agreement: not measured ({agr['error']})")
    suite = {"n": len(sims), "seed": args.seed, "at_limit": args.at_limit}
    if args.summary_markdown:
        args.summary_markdown.parent.mkdir(parents=True, exist_ok=True)
        args.summary_markdown.write_text(summary_markdown(reports, agr, suite))
        print(f"\nwrote {args.summary_markdown}")
    if args.json:
        args.json.write_text(
            json.dumps({"suite": suite, "methods": reports, "agreement": agr}, indent=1)
        )
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
