"""How fast an IMS sample's impact is computed: read a ~4 MB gzipped SRS file, then the
impact of 3 emitters (4 xenon nuclides each, 15-minute releases over the whole window).

Run from the repository root: .venv/bin/python -m benchmarks.impact [--repeat 7] [--target-mb 4]
The SRS file is simulated (shared/simulation/srs.py, 5 columns like the CWAO files) and
written once to a temporary folder; the timed part is read + compute, median of --repeat.
The real CWAO file (tests/data/srs, 2.3 MB) is timed too.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from shared.atm.impact import XENON, Emitter, Releases, impact_series, total_impact
from shared.atm.srs import read_srs_file
from shared.simulation.srs import simulate_srs_text, srs_file_name

REAL = (
    Path(__file__).resolve().parents[1] / "tests" / "data" / "srs" / "WHTSH.2019080516.CWAO.txt.gz"
)
# three stacks 100 to 1000 km from the receptor (degrees of latitude, longitude)
OFFSETS = {"FAC01": (0.6, 1.0), "FAC02": (-2.0, 5.0), "FAC03": (3.0, -8.0)}


def emitters_near(srs) -> list[Emitter]:
    h = srs.header
    return [
        Emitter(c, h.latitude + dlat, h.longitude + dlon) for c, (dlat, dlon) in OFFSETS.items()
    ]


def _with_spread(text: str, seed: int) -> str:
    """Add the 5th column (ensemble spread) the real files carry."""
    rng = np.random.default_rng(seed)
    head, *lines = text.rstrip("\n").split("\n")
    spread = rng.lognormal(0.0, 0.3, len(lines))
    out = [head] + [f"{ln} {float(ln.split()[3]) * s:14.5E}" for ln, s in zip(lines, spread)]
    return "\n".join(out) + "\n"


def make_file(folder: Path, target_mb: float) -> Path:
    stop = datetime(2024, 1, 10, 0, tzinfo=UTC)
    text = _with_spread(
        simulate_srs_text("DEX33", 47.92, 7.91, stop, grid_deg=0.25, simulation_hours=114, seed=3),
        3,
    )
    head, *lines = text.rstrip("\n").split("\n")
    data = gzip.compress(text.encode())
    # keep the first cells (every step) until the gzip is about the target size
    if len(data) > target_mb * 1e6:
        keep = int(len(lines) * target_mb * 1e6 / len(data))
        data = gzip.compress(("\n".join([head, *lines[:keep]]) + "\n").encode())
    path = folder / (srs_file_name("DEX33", stop, "SIMU") + ".gz")
    path.write_bytes(data)
    return path


def releases_for(srs, emitters) -> dict:
    """15-minute releases of ~1e13 Bq/day with some scatter, for each emitter and nuclide."""
    start, end = srs.step_windows()
    t = np.arange(start.min(), end.max(), 900.0)
    rng = np.random.default_rng(1)
    out = {}
    for e in emitters:
        for n in XENON:
            bq = 1e13 / 96 * rng.lognormal(0, 0.5, t.size)
            out[(e.code, n)] = Releases.from_intervals(zip(t, t + 900.0, bq, [None] * t.size))
    return out


def time_once(path: Path) -> tuple[float, float, object]:
    t0 = time.perf_counter()
    srs = read_srs_file(path)
    t1 = time.perf_counter()
    emitters = emitters_near(srs)
    releases = releases_for(srs, emitters)  # the releases come from the database: not timed
    t2 = time.perf_counter()
    totals = total_impact(impact_series([srs], emitters, releases))
    t3 = time.perf_counter()
    return t1 - t0, t3 - t2, (srs, totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--target-mb", type=float, default=4.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = make_file(Path(tmp), args.target_mb)
        for label, p in (("simulated", path), ("real CWAO", REAL)):
            runs = [time_once(p) for _ in range(args.repeat)]
            read = statistics.median(r[0] for r in runs)
            comp = statistics.median(r[1] for r in runs)
            total = statistics.median(r[0] + r[1] for r in runs)
            srs, totals = runs[0][2]
            print(
                f"{label}: {p.stat().st_size / 1e6:.2f} MB gzip, {srs.cells} cells, "
                f"{srs.header.steps} steps; median of {args.repeat}: read {read:.3f} s, "
                f"impact of {len(OFFSETS)} emitters x {len(XENON)} nuclides {comp:.3f} s, "
                f"together {total:.3f} s"
            )
            xe133 = next(t for t in totals if t.nuclide == "XE-133")
            print(
                f"  total Xe-133 at {srs.header.station}: {xe133.concentration_bq_m3 * 1e3:.3g} mBq/m3"
            )


if __name__ == "__main__":
    main()
