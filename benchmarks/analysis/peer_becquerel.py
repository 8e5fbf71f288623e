"""A peer for the station analysis: becquerel's Fitter on the same peak regions of the same spectra.

    python benchmarks/analysis/peer_becquerel.py [--n N] [--json out.json]

becquerel (benchmark-only dependency) fits a Gaussian on a straight line with a Poisson
likelihood (its "iminuit-pml" backend, free centroid and width) in a window of +-3 FWHM
around a line; the station method fits its whole region (fixed or free shape, tail, tied
neighbours). Both turn the area into the line's activity with the same efficiency and
intensity, and both are compared with the simulator's truth. Printed side by side: the
number of spectra, the mean relative bias (+- its standard error), the standard
deviation of the pull (estimate - truth)/u, and the median time to fit one region.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.analysis.spectra import CACHE_DIR, DEFAULT_N, benchmark_cases, load_suite
from shared.calibration import calibrations_of
from shared.nuclear import load_library

# (nuclide, line keV) of the regions compared
REGIONS = (("Xe-133", 80.9979), ("Xe-135", 249.794), ("Xe-133m", 233.219))
MIN_COUNTS = 300.0  # a free-width fit needs a peak to fit


def becquerel_fit(counts, lo: int, hi: int, centre: float, sigma: float):
    """(area, its uncertainty, seconds) of a Gauss + line Poisson fit of channels lo..hi-1."""
    import becquerel as bq

    x = np.arange(lo, hi, dtype=float)
    y = np.asarray(counts[lo:hi], dtype=float)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitter = bq.Fitter(["gauss", "line"], x=x, y=y)
        guess = {
            "gauss_mu": centre,
            "gauss_sigma": sigma,
            "gauss_amp": max(float(y.sum() - np.median(y) * y.size), 1.0),
            "line_m": 0.0,
            "line_b": float(np.median(y)),
        }
        limits = {
            "gauss_mu": (centre - 2 * sigma, centre + 2 * sigma),
            "gauss_sigma": (0.5 * sigma, 2.0 * sigma),
            "gauss_amp": (0.0, None),
        }
        fitter.fit(backend="iminuit-pml", guess=guess, limits=limits)
        area = fitter.param_val("gauss_amp")
        unc = fitter.param_unc("gauss_amp")
    return float(area), float(unc), time.perf_counter() - t0


def station_fit(phd, nuclide: str, energy: float):
    """(line activity, its counting uncertainty, seconds spent fitting the region)."""
    station = importlib.import_module("edge_agent.analysis.analyze")  # the module, not the function

    spent: dict[tuple[int, int], float] = {}
    original = station.fit_region

    def timed(counts, lo, *args, **kwargs):
        t0 = time.perf_counter()
        fit = original(counts, lo, *args, **kwargs)
        key = (lo, lo + len(counts))
        spent[key] = spent.get(key, 0.0) + time.perf_counter() - t0
        return fit

    station.fit_region = timed
    try:
        res = station.analyze(phd)
    finally:
        station.fit_region = original
    nres = res.nuclides[nuclide]
    ln = min(nres.lines, key=lambda line: abs(line.energy_kev - energy))
    peak = min(
        (p for p in res.peaks if p.nuclide == nuclide),
        key=lambda p: abs(p.energy_kev - energy),
    )
    ch = peak.channel
    seconds = sum(t for (lo, hi), t in spent.items() if lo <= ch < hi)
    return ln.activity_bq, ln.activity_unc_bq, seconds


def _summary(rows):
    if not rows:
        return None
    rel = np.array([r[0] for r in rows])
    pull = np.array([r[1] for r in rows])
    return {
        "n": len(rows),
        "bias": float(rel.mean()),
        "bias_se": float(rel.std(ddof=1) / math.sqrt(len(rows))) if len(rows) > 1 else math.nan,
        "pull_sd": float(pull.std(ddof=1)) if len(rows) > 1 else math.nan,
        "time_ms": 1e3 * statistics.median(r[2] for r in rows),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=DEFAULT_N, help="size of the benchmark suite")
    ap.add_argument("--seed", type=int, default=20261)
    ap.add_argument("--max-per-region", type=int, default=150)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    try:
        import becquerel  # noqa: F401
    except ImportError:
        print("becquerel is not installed (pip install becquerel): no peer to compare")
        return 1
    sims = load_suite(benchmark_cases(args.n, args.seed), CACHE_DIR)
    library = load_library()
    report = {}
    failed: dict[str, int] = {}
    for nuclide, energy in REGIONS:
        ours, theirs = [], []
        for sim in sims:
            area = sim.line_areas.get(nuclide, {}).get(energy, 0.0)
            # I-131's 80.2 keV line would sit inside a single-Gauss window at 81 keV
            if area < MIN_COUNTS or sim.case.truth("I-131") > 0:
                continue
            if len(ours) >= args.max_per_region:
                break
            truth = sim.case.truth(nuclide)
            cal = calibrations_of(sim.phd)
            eps = float(cal.efficiency.efficiency(energy))
            intensity = next(ln.intensity for ln in library[nuclide].lines if ln.energy == energy)
            centre = float(cal.energy.channel(energy)) * (1.0 + sim.case.gain_drift)
            fwhm_ch = float(cal.resolution.fwhm(energy)) / float(cal.energy.slope(centre))
            sigma = fwhm_ch / 2.3548200450309493
            lo, hi = int(centre - 3 * fwhm_ch), int(centre + 3 * fwhm_ch) + 1
            a, u, dt = becquerel_fit(sim.phd.g_spectrum.counts, lo, hi, centre, sigma)
            per_bq = eps * intensity * sim.phd.acquisition.live_time
            if not (math.isfinite(a) and math.isfinite(u) and u > 0):
                failed[nuclide] = failed.get(nuclide, 0) + 1  # no usable uncertainty
                continue
            theirs.append((a / per_bq / truth - 1.0, (a / per_bq - truth) / (u / per_bq), dt))
            act, unc, dt_ours = station_fit(sim.phd, nuclide, energy)
            ours.append((act / truth - 1.0, (act - truth) / unc, dt_ours))
        report[f"{nuclide} {energy:.1f} keV"] = {
            "station": _summary(ours),
            "becquerel": _summary(theirs),
            "becquerel_failed": failed.get(nuclide, 0),
        }
    print(
        f"\n{'region':18s} {'method':10s} {'n':>4s} {'bias %':>8s} {'+-se':>6s} {'pull SD':>8s} {'ms/region':>10s}"
    )
    for region, methods in report.items():
        for name in ("station", "becquerel"):
            s = methods[name]
            if s is None:
                print(f"{region:18s} {name:10s}    0")
                continue
            print(
                f"{region:18s} {name:10s} {s['n']:4d} {100 * s['bias']:+8.2f} {100 * s['bias_se']:6.2f}"
                f" {s['pull_sd']:8.2f} {s['time_ms']:10.2f}"
            )
        if methods["becquerel_failed"]:
            print(
                f"{'':18s} becquerel gave no uncertainty on {methods['becquerel_failed']} spectra"
            )
    print(
        "station: the whole region (multiplets, tail, tied lines) by Poisson ML;"
        " becquerel: Gauss + line, iminuit Poisson likelihood, +-3 FWHM"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
