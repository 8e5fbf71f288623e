"""The agent killed with SIGKILL at random moments during a simulated week, the central
down for part of it: every interval must end as exactly one stored file or one recorded
gap, nothing lost, nothing stored twice, every state-of-health report present.

    python benchmarks/agent_crash.py [--kills 100] [--speed 2000] [--days 7] [--seed 1]

Real parts: the agent (edge_agent.service.Agent: engine, outbox, sealing, sender, alerts,
state of health) runs as its own process and is SIGKILLed; the central's intake
(central/intake.py: verification, storage in SQLite) runs as its own process over
mutual TLS, stopped for `--down` days of station time and started again. The MCA is the
simulated driver over a small flat spectrum (1024 channels) and one simulated flow
meter: the bookkeeping is under test, not the physics, so the station analysis (and so
the daily ATS) is off to keep the run short (~8 minutes wall at the defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CYCLE = timedelta(minutes=15)


# ------------------------------------------------------------------ the agent's process
def _hardware(clock):
    import numpy as np

    from edge_agent.calibration import CalibrationPoints
    from edge_agent.drivers.base import Hardware, Sensor
    from edge_agent.drivers.simulated import SimulatedMca, SimulatedSample
    from shared.formats import EfficiencyPoint, EnergyPoint, ResolutionPoint, StackConditions

    class FlatSource:
        channels = 1024

        def sample(self, interval_start):
            rates = np.full(self.channels, 0.05)
            rates[400:405] += 0.2 * (1 + interval_start.hour)
            stack = StackConditions(stack_flow_m3_s=50.0, sample_flow_m3_s=1e-4)
            return SimulatedSample(rates=rates, dead_fraction=0.01, stack=stack)

        def calibration(self):
            return CalibrationPoints(
                energy=(EnergyPoint(100.0, 34.0, 0.1), EnergyPoint(1000.0, 334.0, 0.1)),
                resolution=(ResolutionPoint(100.0, 1.0, 0.01), ResolutionPoint(1000.0, 1.8, 0.02)),
                efficiency=(
                    EfficiencyPoint(100.0, 0.05, 0.002),
                    EfficiencyPoint(1000.0, 0.01, 3e-4),
                ),
                time=datetime(2023, 1, 10, tzinfo=UTC),
            )

    class FlowMeter(Sensor):
        name = "simulated flow meter"

        def read(self):
            return {"sample_flow_slpm": 56.7 + random.gauss(0, 0.3), "sample_pressure_kpa": 99.1}

    source = FlatSource()
    mca = SimulatedMca(source, clock, seed=3)
    return Hardware(mca, mca.stack_conditions, source.calibration(), [FlowMeter()])


def run_agent(config_path: str) -> int:
    import logging
    import threading

    from edge_agent.config import load_agent_config
    from edge_agent.outbox import Outbox
    from edge_agent.service import Agent, station_clock

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from edge_agent.service import station_method

    config = load_agent_config(config_path)
    station_method()  # the imports the Agent makes, before the clock starts (service.py)
    with Outbox(config.outbox.path) as box:
        until = box.acquired_until(config.station.code)
    clock = station_clock(config.clock, until)
    agent = Agent(config, hardware=_hardware(clock), clock=clock)
    agent.engine.analysis = None  # the physics is not under test here (module docstring)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return agent.run(stop)


def run_central(config_path: str) -> int:
    import logging

    from central.config import load_central_config
    from central.intake import start_intake

    logging.basicConfig(level=logging.WARNING)

    async def main():
        server = await start_intake(load_central_config(config_path))
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await server.close()

    asyncio.run(main())
    return 0


# ------------------------------------------------------------------ the bench
def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _setup(folder: Path, speed: float, start: datetime) -> tuple[Path, Path, Path]:
    from shared.crypto.pki import NetworkCA

    now = datetime.now(UTC)
    ca = NetworkCA.create(folder / "pki", now=now, ca_key_bits=2048)
    ca.issue_station("AUS02", now=now, facility="ANSTO")
    port = _free_port()
    central = folder / "central" / "central.toml"
    central.parent.mkdir(parents=True)
    central.write_text(
        f'[intake]\nserver_cert = "{ca.central_cert_path}"\nserver_key = "{ca.central_key_path}"\n'
        f'ca_cert = "{ca.ca_cert_path}"\ncrl = "{ca.crl_path}"\nhost = "127.0.0.1"\n'
        f'port = {port}\n\n[storage]\ndata_dir = "data"\n'
    )
    agent = folder / "station" / "agent.toml"
    agent.parent.mkdir(parents=True)
    agent.write_text(
        f"""[station]
code = "AUS02"
facility = "ANSTO"
detector = "AUS02_001"
number = 2

[clock]
speed = {speed}
start = "{start:%Y-%m-%dT%H:%M:%SZ}"

[outbox]
path = "outbox.sqlite"

[central]
url = "https://127.0.0.1:{port}"
ca_cert = "{ca.ca_cert_path}"
encryption_cert = "{ca.central_cert_path}"
retry_initial_seconds = 0.05
retry_max_seconds = 1.0

[identity]
cert = "{ca.station_cert_path("AUS02")}"
key = "{ca.station_key_path("AUS02")}"
"""
    )
    return central, agent, central.parent / "data" / "central.sqlite"


def _acquired_until(outbox: Path) -> datetime | None:
    if not outbox.exists():
        return None
    try:
        with sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=5) as db:
            row = db.execute("select acquired_until from progress").fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else datetime.fromisoformat(row[0])


def _spawn(mode: str, config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, mode, str(config)],
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )


def _drain(agent_config: Path, seconds: float = 120) -> int:
    """Deliver what the last agent left in its outbox, with the agent's own sender."""
    from edge_agent.clock import SystemClock
    from edge_agent.config import load_agent_config
    from edge_agent.outbox import Outbox
    from edge_agent.sender import HttpsClient, RetryPolicy, Sender

    config = load_agent_config(agent_config)
    c = config.central
    client = HttpsClient(c.url, c.ca_cert, config.identity.cert, config.identity.key, timeout=10)
    with Outbox(config.outbox.path) as box:
        sender = Sender(box, client, SystemClock(), RetryPolicy(0.05, 1.0))
        deadline = time.monotonic() + seconds
        while box.counts()["ready"] and time.monotonic() < deadline:
            sender.send_due()
            time.sleep(0.05)
        client.close()
        return box.counts()["ready"]


def _check(outbox: Path, database: Path, start: datetime, end: datetime) -> dict:
    """Every interval one file or one gap; every file stored once, byte for byte."""
    out = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True)
    central = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    files = out.execute(
        "select file_name, data_type, interval_start, content, state from files"
    ).fetchall()
    gaps = out.execute("select start, end, reason from gaps").fetchall()
    stored = {
        r[0]: (r[1], r[2])
        for r in central.execute("select file_name, content, data_type from messages")
    }
    quarantined = central.execute("select count(*) from quarantine").fetchone()[0]

    def t(text):
        return datetime.fromisoformat(text)

    phd = Counter(t(f[2]) for f in files if f[1] == "SAMPLEPHD")
    intervals, covered = [], Counter()
    i = start
    while i < end:
        intervals.append(i)
        i += CYCLE
    for g_start, g_end, _ in gaps:
        i = t(g_start)
        while i < t(g_end):
            covered[i] += 1
            i += CYCLE
    outcomes = Counter(phd[i] + covered[i] for i in intervals)
    lost = [f[0] for f in files if f[0] not in stored or stored[f[0]][0] != f[3]]
    periods = []
    i = start
    while i + timedelta(hours=2) <= end:
        periods.append(i)
        i += timedelta(hours=2)
    soh = Counter(t(f[2]) for f in files if f[1] == "STAXSOH" and f[0] in stored)
    srids = Counter()
    for content, data_type in stored.values():
        if data_type == "SAMPLEPHD":
            srids[content.split(b"\n")[6]] += 1  # the #Header's second line: the SRID
    return {
        "intervals": len(intervals),
        "intervals_with_exactly_one_outcome": outcomes[1],
        "intervals_with_none": outcomes[0],
        "intervals_with_two_or_more": sum(n for k, n in outcomes.items() if k > 1),
        "spectra_files": sum(phd[i] for i in intervals),
        "gap_intervals": sum(covered[i] for i in intervals),
        "gap_reasons": dict(Counter(r for *_, r in gaps)),
        "files_made": len(files),
        "files_stored": len(stored),
        "lost": len(lost),
        "stored_twice": sum(n - 1 for n in srids.values() if n > 1)
        + sum(n - 1 for n in soh.values() if n > 1),
        "quarantined": quarantined,
        "soh_periods": len(periods),
        "soh_present": sum(1 for p in periods if soh[p] == 1),
        "alerts_stored": sum(1 for _, d in stored.values() if d.startswith("ALERT_")),
        "by_type": dict(Counter(d for _, d in stored.values())),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--speed", type=float, default=2000.0)
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument(
        "--down",
        type=float,
        nargs=2,
        default=(2.0, 3.5),
        metavar=("FROM", "TO"),
        help="days of station time during which the central is stopped",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", help="folder to work in (kept); default: a temporary one")
    args = parser.parse_args()
    rnd = random.Random(args.seed)
    folder = Path(args.keep or tempfile.mkdtemp(prefix="agent-crash-"))
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    start = (now - timedelta(days=args.days + 3)).replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=args.days)
    central_config, agent_config, database = _setup(
        folder, args.speed, start - timedelta(minutes=5)
    )
    outbox = agent_config.parent / "outbox.sqlite"
    logs = folder / "logs"
    logs.mkdir(exist_ok=True)
    began = time.monotonic()

    central = _spawn("--central", central_config, logs / "central.log")
    time.sleep(2)
    down_from, down_to = (start + timedelta(days=d) for d in args.down)
    central_down = False
    kills = 0
    # the kills fall at random station times over the whole week, each at a random moment
    # of its interval (real time)
    week = (end - start).total_seconds()
    kill_at = sorted(start + timedelta(seconds=rnd.uniform(0, week)) for _ in range(args.kills))
    cycle_real = CYCLE.total_seconds() / args.speed
    agent = _spawn("--agent", agent_config, logs / "agent.log")
    while True:
        time.sleep(0.02)
        until = _acquired_until(outbox)
        if until is not None and until >= end:
            break
        if until is not None and not central_down and down_from <= until < down_to:
            central.send_signal(signal.SIGTERM)
            central.wait(30)
            central_down = True
            print(f"central stopped at station time {until}", flush=True)
        if until is not None and central_down and until >= down_to and central.poll() is not None:
            central = _spawn("--central", central_config, logs / "central.log")
            print(f"central started again at station time {until}", flush=True)
        if kills < len(kill_at) and until is not None and until >= kill_at[kills]:
            time.sleep(rnd.uniform(0, cycle_real))
            agent.send_signal(signal.SIGKILL)
            agent.wait()
            kills += 1
            agent = _spawn("--agent", agent_config, logs / "agent.log")
            if kills % 10 == 0:
                print(f"{kills} kills; station time {until}", flush=True)
        if agent.poll() is not None:
            print(f"the agent exited by itself (code {agent.returncode}); see {logs}", flush=True)
            return 1
    agent.send_signal(signal.SIGTERM)
    agent.wait(60)
    if central.poll() is not None:
        central = _spawn("--central", central_config, logs / "central.log")
        time.sleep(2)
    waiting = _drain(agent_config)
    central.send_signal(signal.SIGTERM)
    central.wait(30)
    wall = time.monotonic() - began
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = _check(outbox, database, start, end)
    result.update(
        kills=kills,
        speed=args.speed,
        days=args.days,
        central_down=f"station days {args.down[0]} to {args.down[1]}",
        left_unsent=waiting,
        wall_seconds=round(wall, 1),
        cpu_seconds_children=round(usage.ru_utime + usage.ru_stime, 1),
        folder=str(folder),
    )
    print(json.dumps(result, indent=1))
    ok = (
        result["intervals_with_exactly_one_outcome"] == result["intervals"]
        and result["lost"] == 0
        and result["stored_twice"] == 0
        and result["soh_present"] == result["soh_periods"]
        and result["quarantined"] == 0
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--agent":
        sys.exit(run_agent(sys.argv[2]))
    if len(sys.argv) == 3 and sys.argv[1] == "--central":
        sys.exit(run_central(sys.argv[2]))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
