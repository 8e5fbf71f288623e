"""The intake at scale: an outage of 10 stations delivered at once to a running central.

Run: .venv/bin/python -m benchmarks.intake [--stations 10] [--days 2]  (from the repository root)

A network CA with `--stations` stations is made, and `stax central serve` started on
loopback ports (the intake over mutual TLS, the web UI, the re-analysis worker: the real
thing, as systemd runs it). Each station's backlog of `--days` days (96 spectra of 16384
channels and 12 SOH a day) is signed and encrypted beforehand, then all stations PUT
theirs at the same time, each over its own keep-alive TLS connection. Measured:

- messages verified and stored per second (goal: at least 100), and the time until all
  are stored (goal for 7 days of 10 stations, 7,560 messages: within 2 minutes; a
  shorter outage is extrapolated at the measured rate);
- the web UI meanwhile: the latency of its login page over HTTP and of the Received
  page's query on the growing database;
- the re-analysis: spectra analysed during the intake and in the `--after` seconds
  after it, and the time the rest would take at that rate.

Spectra are simulated (a few per station; the others are the same counts under their own
MSG_ID and file name, which the central checks and stores as separate messages), so the
preparation costs little CPU; the sealing costs about 7 ms per message.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from benchmarks.traffic import (
    SOH_PER_DAY,
    SPECTRA_PER_DAY,
    network,
    soh,
    spectrum,
    station_codes,
)
from central.accounts import User
from central.store import Store
from central.web.queries import ReceivedFilter, received_page

REPO = Path(__file__).resolve().parents[1]
POOL = 4  # distinct simulated spectra per station


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backlog(station: str, days: int) -> list[tuple[str, bytes]]:
    """(file name, plain bytes) of the station's messages of `days` days, in order."""
    pool = [spectrum(station, i) for i in range(POOL)]
    out = []
    for i in range(SPECTRA_PER_DAY * days):
        base = pool[i % POOL]
        msg_id = f"{i + 1:07d}"
        old_id = base.file_name.split("_")[1]
        content = base.content.replace(
            f"MSG_ID {old_id} {station}".encode(), f"MSG_ID {msg_id} {station}".encode(), 1
        )
        out.append((base.file_name.replace(f"_{old_id}_", f"_{msg_id}_", 1), content))
        if i % (SPECTRA_PER_DAY // SOH_PER_DAY) == 0:
            report = soh(station, i // (SPECTRA_PER_DAY // SOH_PER_DAY))
            out.append((report.file_name, report.content))
    return out


def write_config(folder: Path, net, intake_port: int, web_port: int) -> Path:
    ca = net.ca
    text = f"""[intake]
server_cert = "{ca.central_cert_path}"
server_key = "{ca.central_key_path}"
ca_cert = "{ca.ca_cert_path}"
crl = "{ca.crl_path}"
host = "127.0.0.1"
port = {intake_port}
[storage]
data_dir = "data"
[web]
host = "127.0.0.1"
port = {web_port}
secret_key_file = "web-secret.key"
"""
    path = folder / "central.toml"
    path.write_text(text)
    return path


def tls_context(net, station: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(net.ca.ca_cert_path))
    folder = net.stations[station].folder
    context.load_cert_chain(folder / "station.pem", folder / "station.key")
    return context


def send_all(port: int, context: ssl.SSLContext, messages, answers: list) -> None:
    """PUT each message in order over one keep-alive connection (as an agent drains its
    outbox); reconnect when the server closes it."""
    conn = None
    for name, body in messages:
        for attempt in range(3):
            if conn is None:
                conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=120)
            try:
                conn.request(
                    "PUT",
                    f"/api/v1/messages/{quote(name)}",
                    body=body,
                    headers={"Content-Type": "application/pkcs7-mime"},
                )
                response = conn.getresponse()
                answers.append((response.status, json.loads(response.read())))
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = None
                if attempt == 2:
                    answers.append((0, {"reason": "connection failed"}))
    if conn is not None:
        conn.close()


def wait_healthy(port: int, context: ssl.SSLContext, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the central did not answer its health check")


def wait_web(port: int, timeout: float = 120) -> None:
    """Until the web UI's login page answers (its start is not part of the burst)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as r:
                r.read()
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the web UI did not answer")


class Watch(threading.Thread):
    """Every second: the web UI's login page, the Received query, the analyses so far."""

    def __init__(self, web_port: int, database: Path):
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{web_port}/login"
        self.database = database
        self.stop = threading.Event()
        self.web_ms: list[float] = []
        self.web_failures = 0
        self.failure_reasons: set[str] = set()
        self.query_ms: list[float] = []

    def run(self) -> None:
        admin = User(1, "admin", "admin", True, frozenset(), frozenset())
        while not self.stop.wait(1.0):
            t = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=30) as r:
                    r.read()
                self.web_ms.append((time.perf_counter() - t) * 1e3)
            except OSError as exc:
                self.web_failures += 1
                self.failure_reasons.add(f"{type(exc).__name__}: {exc}")
            if self.database.exists():
                t = time.perf_counter()
                with Store(self.database) as store:
                    received_page(store, admin, ReceivedFilter(), now=datetime.now(UTC))
                self.query_ms.append((time.perf_counter() - t) * 1e3)


def analysed(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as db:
        return db.execute("select count(*) from analyses where method = 'central'").fetchone()[0]


def children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def role(pid: int) -> str:
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    if b"central.worker" in cmd:
        return "re-analysis worker"
    if b"central.web" in cmd:
        return "web UI"
    return f"checking process {pid}" if b"multiprocessing" in cmd else str(pid)


def cpu_seconds(pid: int) -> float:
    return sum(cpu_split(pid))


def cpu_split(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def percentile(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=10)
    parser.add_argument("--days", type=int, default=2, help="outage length (the goal: 7)")
    parser.add_argument("--after", type=float, default=20, help="seconds of re-analysis watched")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} before the run")
    with tempfile.TemporaryDirectory(dir=os.environ.get("STAX_BENCH_TMP")) as tmp:
        root = Path(tmp)
        stations = station_codes(args.stations)
        net = network(root / "pki", stations)
        t = time.process_time()
        sealed = {
            code: [
                (name, net.stations[code].seal(content, net.central.cert))
                for name, content in backlog(code, args.days)
            ]
            for code in stations
        }
        total = sum(len(v) for v in sealed.values())
        spectra = args.stations * args.days * SPECTRA_PER_DAY
        print(
            f"{args.stations} stations, {args.days}-day outage: {total} messages "
            f"({spectra} spectra, {total - spectra} SOH), sealed in "
            f"{time.process_time() - t:.0f} s CPU"
        )
        intake_port, web_port = free_port(), free_port()
        config = write_config(root, net, intake_port, web_port)
        log = (root / "central.log").open("w")
        central = subprocess.Popen(
            [sys.executable, "-m", "stax", "central", "serve", "--config", str(config)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            contexts = {code: tls_context(net, code) for code in stations}
            wait_healthy(intake_port, contexts[stations[0]])
            wait_web(web_port)  # the web UI imports Dash: seconds on a loaded machine
            database = root / "data" / "central.sqlite"
            watch = Watch(web_port, database)
            watch.start()
            processes = [central.pid, *children_of(central.pid)]  # the pool started with it
            names = {pid: role(pid) for pid in processes}
            names[central.pid] = "serve (intake)"
            cpu_before = {p: cpu_seconds(p) for p in processes}
            system_before = {p: cpu_split(p)[1] for p in processes}
            analysed_before = analysed(database)
            answers: list = []
            threads = [
                threading.Thread(
                    target=send_all, args=(intake_port, contexts[c], sealed[c], answers)
                )
                for c in stations
            ]
            t0 = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            elapsed = time.perf_counter() - t0
            analysed_at_end = analysed(database)
            cpu_intake = {p: cpu_seconds(p) - cpu_before[p] for p in processes}
            system_intake = {p: cpu_split(p)[1] - system_before[p] for p in processes}
            time.sleep(args.after)
            analysed_after = analysed(database)
            watch.stop.set()
            watch.join()
        finally:
            central.send_signal(signal.SIGTERM)
            central.wait(60)
            log.close()

        codes: dict[int, int] = {}
        for status, _ in answers:
            codes[status] = codes.get(status, 0) + 1
        with Store(database) as store:
            stored = store.db["messages"].count
            quarantined = store.db["quarantine"].count
        rate = total / elapsed
        print(f"answers: {dict(sorted(codes.items()))}; stored {stored}, quarantined {quarantined}")
        print(
            f"intake: {total} messages in {elapsed:.1f} s = {rate:.0f} messages/s verified "
            f"and stored (goal: >= 100)"
        )
        week = 7 * args.stations * (SPECTRA_PER_DAY + SOH_PER_DAY)
        print(
            f"  a 7-day outage of {args.stations} stations ({week} messages) at this rate: "
            f"{week / rate:.0f} s (goal: within 120 s)"
        )
        intake_cpu = sum(
            v for p, v in cpu_intake.items() if names[p].startswith(("serve", "checking"))
        )
        per_message = intake_cpu / total
        cores = os.cpu_count() or 1
        print(
            f"  intake CPU {per_message * 1e3:.1f} ms per message (serve + checking processes): "
            f"at most {cores / per_message:.0f} messages/s on {cores} free cores, a 7-day outage "
            f"in {week * per_message / cores:.0f} s (the machine's other load slows the wall time)"
        )
        print(
            "  CPU during the intake: "
            + ", ".join(
                f"{names[p]} {s:.1f} s ({system_intake[p]:.1f} s system)"
                for p, s in cpu_intake.items()
                if s >= 0.05
            )
        )
        during = analysed_at_end - analysed_before
        after = analysed_after - analysed_at_end
        per_s = after / args.after if args.after else float("nan")
        left = spectra - analysed_after
        print(
            f"re-analysis: {during} spectra during the intake, {after} in the {args.after:.0f} s "
            f"after ({per_s:.1f}/s); the other {left} in about "
            f"{left / per_s / 60 if per_s else float('inf'):.0f} min at that rate"
        )
        print(
            f"web UI meanwhile: login page median {statistics.median(watch.web_ms):.0f} ms, "
            f"p90 {percentile(watch.web_ms, 0.9):.0f} ms, max {max(watch.web_ms):.0f} ms "
            f"({len(watch.web_ms)} requests, {watch.web_failures} failed); Received query "
            f"median {statistics.median(watch.query_ms):.0f} ms, "
            f"max {max(watch.query_ms):.0f} ms"
        )
        for reason in sorted(watch.failure_reasons):
            print(f"  web UI failure: {reason}")


if __name__ == "__main__":
    main()
