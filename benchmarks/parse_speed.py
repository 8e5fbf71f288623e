"""How fast one PHD message is read: `read_message` of a 16384-channel SAMPLEPHD.

Run: .venv/bin/python -m benchmarks.parse_speed [--repeat 300]  (from the repository root)
Prints, with the counts read in bulk (numpy, the normal path) and line by line only (the
path that words the errors, and what every file took before the bulk path): the median
and 10th/90th percentiles of CPU time (time.process_time, ms: the figure to quote, as the
machine is shared), files per second on one core from it, the median wall time beside it,
and the load average before and after the run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import shared.formats.phd as phd_module
from shared.formats import read_message

FILE = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "data"
    / "AUS02_856022299609035337_PHD_2023_11_17T14_15_00.TXT"
)


def timings(data: bytes, repeat: int) -> tuple[list[float], list[float]]:
    """CPU and wall milliseconds of each of `repeat` reads."""
    read_message(data, lenient=True)  # warm up
    cpu, wall = [], []
    for _ in range(repeat):
        w, t = time.perf_counter(), time.process_time()  # CPU time: the machine is shared
        read_message(data, source=FILE.name, lenient=True)
        cpu.append((time.process_time() - t) * 1e3)
        wall.append((time.perf_counter() - w) * 1e3)
    return cpu, wall


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    data = FILE.read_bytes()
    channels = read_message(data, lenient=True).phd.g_spectrum.channels
    print(f"{FILE.name}: {len(data)} bytes, {channels} channels, {args.repeat} reads")
    print(f"load average before: {load()}")
    for label, bulk in (("bulk counts", True), ("line by line", False)):
        phd_module._BULK = bulk
        cpu, wall = timings(data, args.repeat)
        ms = sorted(cpu)
        median = statistics.median(ms)
        p10, p90 = ms[len(ms) // 10], ms[len(ms) * 9 // 10]
        print(
            f"{label:>13}: CPU median {median:.2f} ms (p10 {p10:.2f}, p90 {p90:.2f}), "
            f"{1000 / median:.0f} files/s on one core; wall median {statistics.median(wall):.2f} ms"
        )
    phd_module._BULK = True
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
