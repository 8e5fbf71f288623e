"""Resident memory and CPU of `stax agent run` (the simulated MCA playing the spectrum
simulator, the station analysis on), read from /proc.

    python benchmarks/agent_resources.py [--window 120] [--busy 90]

Two runs of the real command:
1. real speed (`speed = 1`, the clock started 10 s before a boundary): after that first
   boundary the agent acquires; for `--window` seconds between boundaries we read its
   resident memory (VmRSS) and CPU time (utime + stime) every second. Target: under
   100 MB and under 2 % of one core.
2. busy (`speed = 60`, `--busy` seconds): a spectrum, its analysis, the alerts and the
   state of health every 15 s, to see the peak resident memory (VmHWM) once everything
   the agent uses has been loaded and run.
No central runs: the files wait in the outbox (the sender's retries are included).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TICK = os.sysconf("SC_CLK_TCK")


def _proc(pid: int) -> tuple[float, float, float, float]:
    """(CPU seconds, VmRSS MB, VmHWM MB, RssAnon MB) of a process. RssAnon is the private
    part; the rest of VmRSS is pages of the shared libraries (numpy, scipy, OpenSSL...)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )

    def mb(key: str) -> float:
        return int(status[key].split()[0]) / 1024

    return cpu, mb("VmRSS"), mb("VmHWM"), mb("RssAnon")


def _config(folder: Path, speed: float, start: datetime) -> Path:
    from shared.crypto.pki import NetworkCA

    now = datetime.now(UTC)
    ca = NetworkCA.create(folder / "pki", now=now, ca_key_bits=2048)
    ca.issue_station("AUS02", now=now, facility="ANSTO")
    path = folder / "agent.toml"
    path.write_text(
        f"""[station]
code = "AUS02"
facility = "ANSTO"
detector = "AUS02_001"
number = 2

[clock]
speed = {speed}
start = "{start:%Y-%m-%dT%H:%M:%SZ}"

[central]
url = "https://127.0.0.1:9"
ca_cert = "{ca.ca_cert_path}"
encryption_cert = "{ca.central_cert_path}"

[identity]
cert = "{ca.station_cert_path("AUS02")}"
key = "{ca.station_key_path("AUS02")}"
"""
    )
    return path


def _start(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "stax", "-v", "agent", "run", "--config", str(config)],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(60)


def real_speed(folder: Path, window: float) -> dict:
    # an accelerated clock at speed 1 that starts 10 s before a boundary
    now = datetime.now(UTC).replace(microsecond=0)
    boundary = now.replace(minute=now.minute - now.minute % 15, second=0) + timedelta(minutes=15)
    config = _config(folder, 1.0, boundary - timedelta(seconds=10))
    agent = _start(config, folder / "real.log")
    try:
        time.sleep(15)  # started, and past the first boundary: acquiring
        cpu0, rss0, _, anon0 = _proc(agent.pid)
        t0 = time.monotonic()
        rss, anon = [rss0], [anon0]
        while time.monotonic() - t0 < window:
            time.sleep(1.0)
            _, r, _, a = _proc(agent.pid)
            rss.append(r)
            anon.append(a)
        cpu1, _, hwm, _ = _proc(agent.pid)
        elapsed = time.monotonic() - t0
    finally:
        _stop(agent)
    return {
        "window_seconds": round(elapsed, 1),
        "cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / elapsed, 3),
        "rss_mb_min": round(min(rss), 1),
        "rss_mb_max": round(max(rss), 1),
        "private_rss_mb_max": round(max(anon), 1),
        "peak_rss_mb_since_start": round(hwm, 1),
    }


def busy(folder: Path, seconds: float) -> dict:
    now = datetime.now(UTC).replace(microsecond=0)
    config = _config(folder, 60.0, now - timedelta(hours=1))
    agent = _start(config, folder / "busy.log")
    try:
        time.sleep(seconds)
        cpu, rss, hwm, anon = _proc(agent.pid)
    finally:
        _stop(agent)
    log = (folder / "busy.log").read_text()
    return {
        "seconds": seconds,
        "spectra_queued": len(set(re.findall(r"queued (\S+_PHD_\S+)", log))),
        "analysed": log.count(": analysed in"),
        "rss_mb_at_end": round(rss, 1),
        "private_rss_mb_at_end": round(anon, 1),
        "peak_rss_mb": round(hwm, 1),
        "cpu_seconds": round(cpu, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--window", type=float, default=120.0, help="real seconds measured")
    parser.add_argument("--busy", type=float, default=90.0, help="seconds of the speed-60 run")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="agent-resources-"))
    (folder / "real").mkdir()
    (folder / "busy").mkdir()
    result = {
        "real_speed_between_boundaries": real_speed(folder / "real", args.window),
        "busy_speed_60": busy(folder / "busy", args.busy),
        "folder": str(folder),
    }
    print(json.dumps(result, indent=1))
    real = result["real_speed_between_boundaries"]
    ok = real["cpu_percent_of_one_core"] < 2.0 and real["rss_mb_max"] < 100
    print("PASS" if ok else "FAIL (targets between boundaries: < 2 % of one core, < 100 MB)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
