"""Instructions per spectrum of an analysis method, counted by valgrind (free of the load).

    python benchmarks/analysis/instructions.py --method station|central N
        [--seed 20261] [--suite-n 4000] [--keep]

Runs this script twice under `valgrind --tool=callgrind`, once analysing N spectra and once
none, and prints the difference of the two processes' instruction totals divided by N.
Both processes do everything else alike: start Python, import, read the spectra, and
analyse a warm-up of 3 spectra (imports, library and shape caches). The spectra are
profile.py's: N taken evenly over the benchmark suite (its `spread` of spectra.py's
`load_suite`), the warm-up the first 3 of them; this process picks them and hands them to
the counted ones in a pickle (reading the whole suite under valgrind takes ten minutes).
CPU time depends on the machine's load; the instruction count does not (to a few parts in
10^4 between runs: PYTHONHASHSEED is fixed, the BLAS runs one thread).

`--inner K --spectra FILE` (used by the re-exec) analyses the first K of the pickled
spectra after the warm-up.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: the repository importable, and this
    # file's folder off the path (its profile.py would stand in for the stdlib's)
    sys.path[0] = str(Path(__file__).resolve().parents[2])

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import pickle  # noqa: E402
import tempfile  # noqa: E402

from benchmarks.analysis.spectra import DEFAULT_N  # noqa: E402

WARM_UP = 3
OUT_PATTERN = "/tmp/cg.%p"


def totals(path: Path) -> int:
    """The instruction total of a callgrind out-file ("summary:" or "totals:" line)."""
    found = None
    for line in path.read_text().splitlines():
        m = re.match(r"(summary|totals):\s+(\d+)", line)
        if m:
            found = int(m.group(2))
            if m.group(1) == "summary":
                return found
    if found is None:
        raise ValueError(f"{path}: no summary or totals line (not a callgrind out-file?)")
    return found


def chosen(n: int, seed: int, suite_n: int) -> list[tuple[int, object]]:
    """(case index, PHD) of profile.py's n spectra."""
    from benchmarks.analysis.profile import spread
    from benchmarks.analysis.spectra import CACHE_DIR, benchmark_cases, load_suite

    sims = spread(load_suite(benchmark_cases(suite_n, seed), CACHE_DIR), n)
    return [(sim.case.index, sim.phd) for sim in sims]


def analyse(method: str, spectra: Path, k: int) -> None:
    """The inner run: the warm-up, then the first k of the pickled spectra."""
    from benchmarks.analysis.run import method_function

    fn, why = method_function(method)
    if fn is None:
        raise SystemExit(f"{method}: not available: {why}")
    sims = pickle.loads(spectra.read_bytes())
    for _, phd in sims[:WARM_UP]:
        fn(phd, source="warm-up")
    for index, phd in sims[:k]:
        fn(phd, source=f"case-{index}")


def counted(method: str, spectra: Path, k: int, keep: bool) -> int:
    """Instructions of one run of this script with --inner k under callgrind."""
    before = set(Path("/tmp").glob("cg.*"))
    env = dict(os.environ, PYTHONHASHSEED="0")
    cmd = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={OUT_PATTERN}",
        sys.executable,
        str(Path(__file__).resolve()),
        "--method",
        method,
        str(k),
        "--inner",
        str(k),
        "--spectra",
        str(spectra),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"valgrind run failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    m = re.search(r"==(\d+)== Callgrind", proc.stderr)
    new = sorted(set(Path("/tmp").glob("cg.*")) - before)
    path = Path(OUT_PATTERN.replace("%p", m.group(1))) if m else (new[-1] if new else None)
    if path is None or not path.exists():
        raise SystemExit(f"no callgrind out-file found:\n{proc.stderr[-2000:]}")
    total = totals(path)
    print(f"  --inner {k}: {total:,} instructions ({path}{'' if keep else ', removed'})")
    if not keep:
        path.unlink()
    return total


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--method", choices=("station", "central"), required=True)
    ap.add_argument("n", type=int, help="spectra counted (after the warm-up)")
    ap.add_argument("--seed", type=int, default=20261)
    ap.add_argument("--suite-n", type=int, default=DEFAULT_N, help="size of the suite drawn from")
    ap.add_argument("--keep", action="store_true", help="keep the callgrind out-files")
    ap.add_argument("--inner", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--spectra", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.inner is not None:
        analyse(args.method, args.spectra, args.inner)
        return 0
    if args.n < WARM_UP:
        ap.error(f"N must be at least {WARM_UP} (the warm-up is the first {WARM_UP} of them)")
    print(f"{args.method}: {args.n} spectra under valgrind callgrind (and 0, the difference)")
    with tempfile.TemporaryDirectory() as tmp:
        spectra = Path(tmp) / "spectra.pickle"
        spectra.write_bytes(pickle.dumps(chosen(args.n, args.seed, args.suite_n)))
        with_n = counted(args.method, spectra, args.n, args.keep)
        without = counted(args.method, spectra, 0, args.keep)
    per = (with_n - without) / args.n
    print(f"{args.method}: {per / 1e6:.1f} M instructions per spectrum")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
