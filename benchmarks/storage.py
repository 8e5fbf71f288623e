"""What the central's storage costs and how fast its lists are.

Run: .venv/bin/python -m benchmarks.storage [--spectra 100] [--rows 336000]  (from the repository root)

1. Bytes per spectrum: simulated 16384-channel PHDs of 10 stations, signed and encrypted
   as the agents send them, checked as the intake checks them, stored
   - before: as schema 1 did (the plain file and the encrypted envelope in the row);
   - after: as now (the SignedData gzip-compressed in blobs/, the row without bytes);
   database plus blobs, in bytes and in disk blocks, divided by the number of spectra.
   Every stored file is then read back through `Store.content` and compared byte for byte.
2. A year of 10 stations (`--rows` files, 96 PHD and 12 SOH per station and day) in a
   database of rows only (the lists never read the bytes): the Received page's query
   (`central.web.queries.received_page`, the API's list asks the same) for an
   administrator and for a user of one facility, first page, a deep page and the last,
   filtered by station, type and day range, sorted by each column; the median of 5 runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks.traffic import FIRST, network, spectrum, station_codes
from central.accounts import User
from central.store import Store, now_iso
from central.verify import Trust, check_message
from central.web.queries import RECEIVED_FIELDS, ReceivedFilter, received_page

NOW = datetime(2100, 1, 1, tzinfo=UTC)  # the publish rule at a time when every file is out


def disk_usage(folder: Path) -> tuple[int, int]:
    """Bytes and bytes of allocated blocks of every file under `folder`."""
    size = blocks = 0
    for path in folder.rglob("*"):
        if path.is_file():
            st = path.stat()
            size += st.st_size
            blocks += st.st_blocks * 512
    return size, blocks


def bytes_per_spectrum(n: int, root: Path) -> None:
    stations = station_codes(10)
    net = network(root / "pki", stations)
    trust = Trust(net.central.cert, net.central.key, (net.ca_cert,), (net.crl(),))
    moment = datetime.now(UTC)
    print(f"simulating, signing and checking {n} spectra of {len(stations)} stations ...")
    accepted = []
    for i in range(n):
        station = stations[i % len(stations)]
        plain = spectrum(station, i // len(stations))
        envelope = net.stations[station].seal(plain.content, net.central.cert)
        accepted.append(
            (
                check_message(envelope, plain.file_name, trust, tls_station=station, moment=moment),
                envelope,
            )
        )
    plain_size = statistics.mean(len(a.content) for a, _ in accepted)
    envelope_size = statistics.mean(len(e) for _, e in accepted)
    print(f"  a PHD is {plain_size / 1e3:.1f} kB, its envelope {envelope_size / 1e3:.1f} kB")

    for label in ("before (schema 1: file + envelope in the row)", "after (SignedData in blobs)"):
        data = root / label.split()[0]
        with Store(data / "central.sqlite") as store:
            for a, envelope in accepted:
                fields = dict(
                    file_name=a.file_name,
                    station=a.station,
                    data_type=a.data_type,
                    product=a.product,
                    msg_id=a.msg_id,
                    content=a.content,
                    start_time=a.start_time,
                    summary=a.summary,
                    signer=a.signer,
                )
                if label.startswith("before"):
                    _insert_schema_1(store, envelope=envelope, **fields)
                else:
                    store.add_message(signed_data=a.signed_data, **fields)
            store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            t = time.process_time()
            for a, _ in accepted:
                [row] = store.db.query("select id from messages where file_name = ?", [a.file_name])
                assert store.content(row["id"]) == a.content, a.file_name
            read_ms = (time.process_time() - t) / n * 1e3
        size, blocks = disk_usage(data)
        print(
            f"  {label}: {size / n / 1e3:.1f} kB per spectrum "
            f"({blocks / n / 1e3:.1f} kB in disk blocks); every file read back byte for byte, "
            f"{read_ms:.2f} ms CPU each"
        )


def _insert_schema_1(store: Store, *, envelope: bytes, **fields) -> None:
    """A row as schema 1 stored it: the plain file and the envelope, uncompressed."""
    import hashlib

    content = fields["content"]
    with store.conn:
        store.db["messages"].insert(
            {
                **{k: v for k, v in fields.items() if k != "summary"},
                "analysis": "STATION",
                "sha256": hashlib.sha256(content).hexdigest(),
                "size": len(content),
                "received_at": now_iso(),
                "summary": json.dumps(fields["summary"]),
                "envelope": envelope,
            }
        )


# ------------------------------------------------------------------------ a year of rows
def fill_year(store: Store, rows: int, stations: list[str]) -> None:
    per_day = 96 + 12
    days = rows // (len(stations) * per_day)
    summary = json.dumps({"header": {"station": "X"}, "note": "x" * 4000})  # a PHD's size
    batch = []
    n = 0
    for day in range(days):
        for station in stations:
            for k in range(per_day):
                phd = k < 96
                start = FIRST + timedelta(days=day, minutes=15 * k if phd else 120 * (k - 96))
                n += 1
                batch.append(
                    (
                        f"{station}_{n}_{'PHD' if phd else 'SOH'}_{start:%Y_%m_%dT%H_%M_%S}.TXT",
                        station,
                        "SAMPLEPHD" if phd else "STAXSOH",
                        "PHD" if phd else "SOH",
                        "STATION",
                        str(n),
                        f"{n:064x}",
                        200000 if phd else 500,
                        start.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                        (start + timedelta(minutes=17)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                        summary if phd else summary[:1000],
                        f"{n:064x}",
                        "cms",
                    )
                )
        if len(batch) > 20000:
            _insert_rows(store, batch)
            batch = []
    _insert_rows(store, batch)
    with store.conn:
        for code in stations:
            store.ensure_facility(code, name=f"Facility {code}")


def _insert_rows(store: Store, batch: list[tuple]) -> None:
    with store.conn:
        store.conn.executemany(
            "insert into messages (file_name, station, data_type, product, analysis, msg_id, "
            "sha256, size, start_time, received_at, summary, blob, blob_kind) "
            "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            batch,
        )


def timed(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def list_speed(rows: int, root: Path) -> None:
    stations = station_codes(10)
    path = root / "year" / "central.sqlite"
    t = time.perf_counter()
    with Store(path) as store:
        fill_year(store, rows, stations)
        total = store.db["messages"].count
    print(
        f"a year of {len(stations)} stations: {total} rows, "
        f"{path.stat().st_size / 1e6:.0f} MB of rows, made in {time.perf_counter() - t:.0f} s"
    )
    admin = User(1, "admin", "admin", True, frozenset(), frozenset())
    alice = User(2, "alice", "user", True, frozenset({stations[3]}), frozenset())
    month = ReceivedFilter(start_from=date(2024, 3, 1), start_to=date(2024, 3, 31))
    cases = [
        ("admin, newest first, page 1", admin, ReceivedFilter(), "received_at", 1),
        ("admin, page 500", admin, ReceivedFilter(), "received_at", 500),
        ("admin, last page", admin, ReceivedFilter(), "received_at", 10**9),
        ("admin, 2 stations, PHD, one month", admin,
         ReceivedFilter(stations=tuple(stations[:2]), products=("PHD",),
                        start_from=month.start_from, start_to=month.start_to),
         "received_at", 1),
        ("admin, one day", admin,
         ReceivedFilter(start_from=date(2024, 3, 5), start_to=date(2024, 3, 5)),
         "received_at", 1),
        ("admin, SOH only, page 100", admin, ReceivedFilter(products=("SOH",)), "received_at", 100),
        ("user of 1 facility, page 1", alice, ReceivedFilter(), "received_at", 1),
        ("user of 1 facility, last page", alice, ReceivedFilter(), "received_at", 10**9),
    ]  # fmt: skip
    cases += [
        (f"admin, sorted by {f}, page 1", admin, ReceivedFilter(), f, 1)
        for f in RECEIVED_FIELDS
        if f != "received_at"
    ]
    worst = 0.0
    with Store(path) as store:
        for label, user, filters, sort, page in cases:
            result = None

            def run(user=user, filters=filters, sort=sort, page=page):
                nonlocal result
                result = received_page(
                    store, user, filters, now=NOW, sort=sort, page=page, page_size=25
                )

            ms = timed(run)
            worst = max(worst, ms)
            print(f"  {label:<40} {ms:7.1f} ms  ({result.total} rows, page {result.page})")
    print(f"  slowest page: {worst:.0f} ms (goal: under 200 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spectra", type=int, default=100)
    parser.add_argument("--rows", type=int, default=336_000)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} CPUs, load average {load:.1f} (other work inflates the times)")
    with tempfile.TemporaryDirectory(dir=os.environ.get("STAX_BENCH_TMP")) as tmp:
        bytes_per_spectrum(args.spectra, Path(tmp))
        list_speed(args.rows, Path(tmp))


if __name__ == "__main__":
    main()
