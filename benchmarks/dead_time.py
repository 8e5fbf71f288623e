"""Dead time between two acquisitions with every MCA driver, against the emulators.

Each emulator runs as its own process (`stax emulate`), as a device would be another
machine; the driver then does the boundary roll-over of the engine (edge_agent/cycle.py:
stop, read spectrum, read times, clear, start) `--cycles` times. The dead time of one
roll-over is the wall time from sending STOP to START acknowledged: the device counts
nothing in between. vendor-files: the vendor software's own dead time is not ours; what
is measured is how long the engine's roll-over waits to take an already settled file.

    .venv/bin/python benchmarks/dead_time.py [--cycles 30]

Target (issue 9): under 1 s with every driver.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge_agent.clock import SteppingClock, SystemClock, cycle_start  # noqa: E402
from edge_agent.cycle import arm, rollover  # noqa: E402
from edge_agent.drivers.base import open_transport  # noqa: E402


class TimedMca:
    """Records when STOP was sent and when START returned, around a real driver."""

    def __init__(self, mca):
        self.mca = mca
        self.stopped_at = self.started_at = 0.0

    def __getattr__(self, name):
        return getattr(self.mca, name)

    def stop(self):
        self.stopped_at = time.perf_counter()
        self.mca.stop()

    def start(self):
        self.mca.start()
        self.started_at = time.perf_counter()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def emulator(device: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "stax", "emulate", device, "--listen", f"127.0.0.1:{port}"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    proc.stdout.readline()  # listening
    return proc, port


def measure(mca, clock, cycles: int, between: float) -> list[float]:
    timed = TimedMca(mca)
    arm(timed, clock)
    dead = []
    for _ in range(cycles):
        time.sleep(between)
        rollover(timed, clock)
        dead.append(timed.started_at - timed.stopped_at)
    timed.stop()
    return dead


def report(name: str, channels: int, dead: list[float]) -> None:
    ms = sorted(1000 * d for d in dead)
    print(
        f"| {name} | {channels} | {len(ms)} | {statistics.median(ms):.1f} | "
        f"{ms[int(0.95 * (len(ms) - 1))]:.1f} | {ms[-1]:.1f} | {'yes' if ms[-1] < 1000 else 'NO'} |"
    )


def vendor_files(cycles: int) -> tuple[int, list[float]]:
    from datetime import timedelta

    from edge_agent.clock import CYCLE
    from edge_agent.drivers.vendor_files import VendorFilesMca
    from tests.drivers.vendor_helpers import CHANNELS, write_vendor_file

    t0 = cycle_start(datetime.now(UTC)) - CYCLE * (cycles + 2)
    clock = SteppingClock(t0)
    with tempfile.TemporaryDirectory() as folder:
        mca = VendorFilesMca(Path(folder), clock, channels=CHANNELS, settle_seconds=1.0)
        for i in range(cycles):
            start = (t0 + i * CYCLE + timedelta(seconds=1)).replace(tzinfo=None)
            write_vendor_file(Path(folder) / f"c{i:03d}.Chn", start)
        timed = TimedMca(mca)
        arm(timed, clock)
        dead = []
        for _ in range(cycles):
            clock.advance(CYCLE)
            rollover(timed, clock)
            dead.append(timed.started_at - timed.stopped_at)
    return CHANNELS, dead


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--between", type=float, default=0.2, help="s acquired per cycle")
    args = parser.parse_args()
    print("| driver | channels | roll-overs | median ms | 95 % ms | max ms | under 1 s |")
    print("|---|---|---|---|---|---|---|")
    from edge_agent.drivers.amptek import AmptekDp5
    from edge_agent.drivers.ortec import OrtecMcb

    for device, driver, scheme in (
        ("ortec-mcb", OrtecMcb, "socket"),
        ("amptek-dp5", AmptekDp5, "udp"),
    ):
        proc, port = emulator(device)
        try:
            mca = driver(open_transport(f"{scheme}://127.0.0.1:{port}", timeout=5))
            report(device, mca.channels, measure(mca, SystemClock(), args.cycles, args.between))
            mca.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    from edge_agent.drivers.emulators._mca import simulated_mca

    mca = simulated_mca()
    report(
        "simulated (in process)",
        mca.channels,
        measure(mca, SystemClock(), args.cycles, args.between),
    )
    channels, dead = vendor_files(args.cycles)
    report("vendor-files (taking a settled file)", channels, dead)


if __name__ == "__main__":
    main()
