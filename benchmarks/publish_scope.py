"""What the facility and publish-delay rule costs on a year of 10 stations (336,000 PHD
rows): one page of the API's list (100 rows, oldest first, with the total) per role.

Run: .venv/bin/python benchmarks/publish_scope.py
Rows are inserted with SQL (no file bytes): this measures the query, not the storage.
Prints the best of 3 in ms for the first page and page 500, all stations and one.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from central.accounts import User
from central.store import PUBLISH_DELAYS, Store
from central.web.queries import FILE_FIELDS, ReceivedFilter, received_page
from shared.timeutil import iso_z

STATIONS = [f"ST{i:03d}" for i in range(10)]
PER_STATION = 33_600  # a year of 15-minute spectra, rounded as the issue does


def fill(store: Store) -> None:
    for i, code in enumerate(STATIONS):
        store.ensure_facility(code, publish_delay=PUBLISH_DELAYS[i % len(PUBLISH_DELAYS)])
    start = datetime(2023, 1, 1, tzinfo=UTC)
    rows = []
    for code in STATIONS:
        for n in range(PER_STATION):
            t = start + timedelta(minutes=15 * n)
            rows.append((f"{code}_{n}_PHD.TXT", code, "SAMPLEPHD", "PHD", "STATION", str(n),
                         "0" * 64, 100, iso_z(t), iso_z(t), "{}", b"",
                         iso_z(t + timedelta(minutes=15))))  # fmt: skip
    with store.conn:
        store.conn.executemany(
            "insert into messages (file_name, station, data_type, product, analysis, msg_id, "
            "sha256, size, start_time, received_at, summary, content, data_until) "
            "values (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
    store.conn.execute("analyze")


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    with Store(folder / "central.sqlite") as store:
        fill(store)
        now = datetime(2024, 1, 1, tzinfo=UTC)
        roles = {
            "administrator": User(1, "a", "admin", True, frozenset(), frozenset()),
            "user of all 10": User(2, "u", "user", True, frozenset(STATIONS), frozenset()),
            "owner of 5, user of 5": User(
                3, "o", "owner", True, frozenset(STATIONS[5:]), frozenset(STATIONS[:5])
            ),
        }
        queries = {"all stations": ReceivedFilter(), "one station": ReceivedFilter(("ST001",))}
        for role, user in roles.items():
            for label, filters in queries.items():
                for page in (1, 500):
                    best = float("inf")
                    for _ in range(3):
                        t = time.perf_counter()
                        result = received_page(store, user, filters, now=now, sort="start_time",
                                               descending=False, page=page, page_size=100,
                                               fields=FILE_FIELDS)  # fmt: skip
                        best = min(best, time.perf_counter() - t)
                    print(f"{role:22} {label:13} page {page:3}: {best * 1000:6.1f} ms "
                          f"({result.total} files visible)")  # fmt: skip


if __name__ == "__main__":
    main()
