"""How fast the spectrum simulator is: expected spectrum + Poisson sample of 16384 channels.

Run: .venv/bin/python benchmarks/simulator_speed.py [--repeat 200]
Prints the median and the 10th/90th percentiles (ms) for a few source mixes, and the
cost of one whole simulated sample (spec, spectrum, PHD text, truth JSON).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from shared.nuclear import load_library
from shared.simulation.detector import default_detector
from shared.simulation.series import interval_spec, simulate_sample, write_sample
from shared.simulation.spectrum import expected_spectrum, sample

MIXES = {
    "ambient only (blank chamber)": {},
    "typical: Xe-133 1 kBq, Xe isotopes, radon progeny": {
        "Xe-133": 1000.0,
        "Xe-133m": 20.0,
        "Xe-135": 300.0,
        "Xe-131m": 3.0,
        "Pb-214": 1.0,
        "Bi-214": 0.9,
    },
    "every released nuclide (~75 lines)": {
        "Xe-133": 1000.0,
        "Xe-133m": 20.0,
        "Xe-135": 300.0,
        "Xe-131m": 3.0,
        "I-131": 0.5,
        "I-133": 0.5,
        "Kr-85m": 3.0,
        "Kr-88": 3.0,
        "Pb-214": 1.0,
        "Bi-214": 0.9,
    },
}


def timed(fn, repeat: int) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock and CPU times (ms) of `repeat` calls; CPU time shows less of other work."""
    fn()  # warm caches
    wall, cpu = np.empty(repeat), np.empty(repeat)
    for i in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall[i], cpu[i] = time.perf_counter() - t, time.process_time() - c
    return wall * 1e3, cpu * 1e3


def report(name: str, times: tuple[np.ndarray, np.ndarray]) -> None:
    wall, cpu = times
    p10, p50, p90 = np.percentile(wall, [10, 50, 90])
    print(
        f"  {name:<52} median {p50:6.2f} ms (p10 {p10:5.2f}, p90 {p90:5.2f}), "
        f"CPU median {np.median(cpu):6.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    detector, library = default_detector(), load_library()
    rng = np.random.default_rng(1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs, load average {load:.1f} (other work inflates the figures)")
    print(f"expected_spectrum + sample, {detector.channels} channels, {args.repeat} runs each:")
    for name, sources in MIXES.items():
        lines = len(expected_spectrum(detector, sources, library=library).lines)

        def run(sources=sources):
            sample(expected_spectrum(detector, sources, library=library), rng)

        report(f"{name} [{lines} lines]", timed(run, args.repeat))
    expected = expected_spectrum(detector, MIXES["every released nuclide (~75 lines)"])
    report("  of which sample() alone", timed(lambda: sample(expected, rng), args.repeat))

    start = datetime(2026, 11, 2, 11, 30, tzinfo=UTC)
    n = max(args.repeat // 10, 5)
    print(f"one simulated sample of the series ({n} runs each):")
    report(
        "interval_spec (releases, stack, radon, drift)",
        timed(lambda: interval_spec("AUS02", start, 3), n),
    )
    spec = interval_spec("AUS02", start, 3)
    report(
        "simulate_sample (spectrum, counts, PHD record)", timed(lambda: simulate_sample(spec), n)
    )
    sim = simulate_sample(spec)
    with tempfile.TemporaryDirectory() as tmp:
        report(
            "write_sample (PHD text + truth JSON on disk)",
            timed(lambda: write_sample(sim, Path(tmp)), n),
        )


if __name__ == "__main__":
    main()
