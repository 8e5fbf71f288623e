"""Where an analysis method spends its CPU time: cProfile over spectra of the suite.

    python benchmarks/analysis/profile.py --method station|central N [--top 30]
        [--sort cumulative|tottime] [--seed 20261] [--suite-n 4000]

Takes N spectra spread evenly over the benchmark suite (run.py's cases, read from the
suite cache of spectra.py, simulated when not cached), analyses each once untimed (imports,
caches), then again under cProfile, and prints the median and total CPU time per spectrum
(time.process_time, one BLAS thread as run.py uses) and the top functions sorted by
cumulative time, with the share of the whole analysis each takes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the repository importable, and this
    # file's folder off the path, or this file would stand in for the stdlib's `profile`
    sys.path[0] = str(Path(__file__).resolve().parents[2])

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import cProfile  # noqa: E402
import io  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

from benchmarks.analysis.run import method_function  # noqa: E402
from benchmarks.analysis.spectra import CACHE_DIR, DEFAULT_N, benchmark_cases, load_suite  # noqa: E402


def spread(items: list, n: int) -> list:
    """n items taken evenly over the list (all of them when n >= len)."""
    if n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[int(k * step)] for k in range(n)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", choices=("station", "central"), required=True)
    ap.add_argument("n", type=int, help="spectra to profile")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--sort", choices=("cumulative", "tottime"), default="cumulative")
    ap.add_argument("--seed", type=int, default=20261)
    ap.add_argument("--suite-n", type=int, default=DEFAULT_N, help="size of the suite drawn from")
    args = ap.parse_args(argv)
    fn, why = method_function(args.method)
    if fn is None:
        print(f"{args.method}: not available: {why}", file=sys.stderr)
        return 1
    sims = spread(load_suite(benchmark_cases(args.suite_n, args.seed), CACHE_DIR), args.n)
    for sim in sims[:3]:  # warm-up: imports, library and shape caches
        fn(sim.phd, source="warm-up")
    cpu = []
    for sim in sims:  # timed without the profiler's overhead
        c0 = time.process_time()
        fn(sim.phd, source=f"case-{sim.case.index}")
        cpu.append(time.process_time() - c0)
    prof = cProfile.Profile(time.process_time)
    for sim in sims:
        prof.enable()
        fn(sim.phd, source=f"case-{sim.case.index}")
        prof.disable()
    print(
        f"{args.method}: {len(sims)} spectra, CPU per spectrum median {1e3 * statistics.median(cpu):.1f}"
        f" ms, mean {1e3 * statistics.fmean(cpu):.1f} ms; load average {os.getloadavg()[0]:.2f}"
    )
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    total = stats.total_tt
    stats.sort_stats(args.sort).print_stats(args.top)
    print(f"profiled CPU {1e3 * total / len(sims):.1f} ms per spectrum (with cProfile's overhead)")
    text = out.getvalue()
    print(text[text.find("   ncalls") :] if "   ncalls" in text else text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
