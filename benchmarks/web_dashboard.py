"""The Dashboard's and the Alerts page's queries on a year of 10 stations (405,150 rows:
96 spectra, 12 SOH and 1 ATS a day each, and a flow alert raised and cleared each day),
as an administrator and as a user of 3 stations.

Run: .venv/bin/python benchmarks/web_dashboard.py
Rows are inserted with SQL (no file bytes): this measures the queries, not the storage.
Prints the best of 3 in ms.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from central.accounts import create_user
from central.alert_list import AlertFilter, alert_page, open_alerts
from central.availability import availability, days_until, latest_files
from central.store import Store
from shared.timeutil import iso_z

STATIONS = [f"ST{n:03d}" for n in range(10)]
START = datetime(2024, 1, 1, tzinfo=UTC)
RAISE = "flow = 0.2, below its limit 0.5 (0.5 to 2)"
CLEAR = "flow = 1, back within its limits (0.5 to 2)"


def fill(store: Store) -> int:
    rows = []

    def add(station, i, kind, product, t, until, text=None):
        name = f"{station}_{product}{i}.TXT"
        summary = json.dumps({"text": text} if text else {})
        rows.append((name, station, kind, product, name, "x", 1, iso_z(t), iso_z(t), iso_z(until),
                     summary, "STATION"))  # fmt: skip

    for station in STATIONS:
        store.ensure_facility(station)
        for i in range(35040):
            t = START + timedelta(minutes=15 * i)
            add(station, i, "SAMPLEPHD", "PHD", t, t + timedelta(minutes=15))
            if i % 8 == 0:
                add(station, i, "RMSSOH", "SOH", t, t + timedelta(hours=2))
            if i % 96 == 0:
                add(station, i, "ATS", "ATS", t, t + timedelta(days=1))
            if i % 48 == 0:
                add(station, i, "ALERT_FLOW", "ALERT", t, t, RAISE if i % 96 == 0 else CLEAR)
    with store.conn:
        store.conn.executemany(
            "insert into messages (file_name, station, data_type, product, msg_id, sha256, "
            "size, start_time, received_at, data_until, summary, analysis) "
            "values (?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
    store.conn.execute("ANALYZE")
    return len(rows)


def best(f) -> float:
    times = []
    for _ in range(3):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "central.sqlite") as store:
        print(f"{fill(store)} rows")
        admin = create_user(store, "admin", "a long password", role="admin")
        user = create_user(store, "user", "a long password", facilities=STATIONS[:3])
        now = START + timedelta(days=365)
        for who in (admin, user):
            queries = {
                "availability, 14 days": lambda u: availability(
                    store, u, now, days_until(now.date(), 14)
                ),
                "availability, 31 days": lambda u: availability(
                    store, u, now, days_until(now.date(), 31)
                ),
                "last file and SOH": lambda u: latest_files(store, u, now),
                "open alerts": lambda u: open_alerts(store, u, now),
                "alerts page 1": lambda u: alert_page(store, u, AlertFilter(), now=now),
            }
            for name, query in queries.items():
                print(f"{who.username:6s} {name:24s} {best(lambda q=query, u=who: q(u)):7.1f} ms")


if __name__ == "__main__":
    main()
