"""The daily sums of the release table (central/release_daily.py): equal to sums of
`release_values` done here after inserts, refills and replacements, and read under the
access and publish rule at every publish edge and after a change of the delay."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from central.accounts import authenticate, create_user
from central.release_daily import DAILY, daily_sums, rebuild
from central.releases import TABLE, daily_releases, fill_phd, insert_rows
from central.store import Store
from shared.timeutil import iso_z

from .helpers import PASSWORD
from .test_releases_table import add_ats, add_phd, result

START = datetime(2024, 5, 1, tzinfo=UTC)
NUCLIDES = ("Xe-133", "Xe-135")


def daily(store: Store) -> list[tuple]:
    return [tuple(r) for r in store.conn.execute(f"select * from {DAILY} order by 1, 2, 3, 4")]


def summed_here(store: Store) -> list[tuple]:
    """The daily table's rows from `release_values`, summed in Python."""
    days: dict[tuple, list] = {}
    for r in store.db.query(f"select * from {TABLE}"):
        day_s = r["start_s"] - r["start_s"] % 86400
        key = (r["station"], r["nuclide"], r["method"], day_s)
        row = days.setdefault(key, [None, None, 0, 0, 0.0, 0.0, 0.0])
        row[0] = max(row[0] or "", r["data_until"])
        row[1] = min(row[1] or "\uffff", r["data_until"])
        row[2] += 1
        if r["detected"]:
            row[3] += 1
            if r["release_bq"] is not None:
                row[4] += r["release_bq"]
                row[5] += (r["release_unc_bq"] or 0.0) ** 2
        else:
            row[6] += r["mdr_bq"] or 0.0
    out = []
    for (station, nuclide, method, day_s), v in sorted(days.items()):
        day = datetime.fromtimestamp(day_s, UTC).strftime("%Y-%m-%d")
        out.append((station, nuclide, method, day_s, day, *v))
    return out


def same(store: Store) -> None:
    got, want = daily(store), summed_here(store)
    assert [g[:9] for g in got] == [w[:9] for w in want]
    for g, w in zip(got, want, strict=True):
        assert g[9:] == pytest.approx(w[9:])


@pytest.fixture
def store(tmp_path, cheap_password_hashing):
    with Store(tmp_path / "central.sqlite") as s:
        s.ensure_facility("AUS02", publish_delay="1d")
        s.ensure_facility("BES01")
        yield s


def test_the_daily_sums_follow_analyses_ats_refills_and_bulk_inserts(store):
    ids = []
    for k, n in enumerate(range(0, 200, 7)):  # two days, a spectrum every 105 minutes
        phd, _ = add_phd(store, "AUS02", n)
        ids.append(phd)
        start = START + timedelta(minutes=15 * n)
        store.add_analysis(phd, "central", result=result(start, Xe_133=1e6 * (k + 1)))
        same(store)
    for k, phd in enumerate(ids):  # analysed again (as a refill does), a nuclide more
        start = START + timedelta(minutes=15 * 7 * k)
        with store.conn:
            store.conn.execute(
                "update analyses set result = ? where message_id = ?",
                [json.dumps(result(start, Xe_133=2e6 * (k + 1), Xe_135=3e4)), phd],
            )
            fill_phd(store.conn, phd)
    same(store)
    assert {r[4] for r in daily(store)} == {"2024-05-01", "2024-05-02", "2024-05-03"}
    # a station ATS for some of the spectra, and a result whose spectrum has not come
    names = [r["file_name"] for r in store.db.query("select file_name from messages")]
    late = START + timedelta(days=2, hours=12)
    add_ats(store, "AUS02", 1, [(names[0], result(START, Xe_133=2e6)),
                                (names[3], result(START, Xe_133=4e6)),
                                ("AUS02_late_PHD.TXT", result(late, Xe_135=9e5))])  # fmt: skip
    same(store)
    # a refill that drops a nuclide (the result replaced): its day follows
    with store.conn:
        store.conn.execute(
            "update analyses set result = ? where message_id = ?",
            [json.dumps(result(START, Xe_133=5.0)), ids[0]],
        )
        fill_phd(store.conn, ids[0])
    same(store)
    # a bulk insert (as the benchmark's and tests' tools do), one replacing a row
    t = int(START.timestamp())
    rows = [("BES01", "Xe-133", "central", t + 900 * i, f"B{i}", None, iso_z(START + timedelta(minutes=15 * i)), iso_z(START + timedelta(minutes=15 * i + 15)), 1e5 * i, 1e4, 2e3, 1.0, 0.1, i % 3 != 0, 900.0) for i in range(300)]  # fmt: skip
    with store.conn:
        insert_rows(store.conn, rows)
        insert_rows(store.conn, [(*rows[5][:8], 7e9, *rows[5][9:])])
    same(store)
    incremental = daily(store)
    with store.conn:
        rebuild(store.conn)
    assert daily(store) == incremental


def visible_sums(store, stations, cutoff_of, start, end) -> dict[tuple, tuple]:
    """(day, nuclide, method) -> (sum, intervals, detected) over the rows each station's
    cutoff lets through (None: all of them), summed here."""
    out: dict[tuple, list] = {}
    for r in store.db.query(f"select * from {TABLE}"):
        if r["station"] not in stations or not start <= r["start_s"] < end:
            continue
        cutoff = cutoff_of(r["station"])
        if cutoff is not None and r["data_until"] > cutoff:
            continue
        row = out.setdefault((r["start_time"][:10], r["nuclide"], r["method"]), [0.0, 0, 0])
        row[0] += r["release_bq"] if r["detected"] and r["release_bq"] is not None else 0.0
        row[1] += 1
        row[2] += r["detected"]
    return {k: tuple(v) for k, v in out.items()}


def agree(rows, want: dict[tuple, tuple]) -> None:
    got = {(d, n, m): (s, c, f) for d, n, m, s, c, f in rows}
    assert [r[:3] for r in rows] == sorted(want)  # ordered by day, nuclide, method
    for key, value in want.items():
        assert got[key] == pytest.approx(value), key


def test_daily_releases_apply_the_publish_rule_at_every_edge(store):
    t0 = int(START.timestamp())
    rows = []
    for station in ("AUS02", "BES01"):
        for i in range(4 * 96):  # four days
            start = START + timedelta(minutes=15 * i)
            for nuclide in NUCLIDES:
                rows.append((station, nuclide, "central", t0 + 900 * i, f"{station}{i}", None,
                             iso_z(start), iso_z(start + timedelta(minutes=15)), 1e3 * (i + 1),
                             10.0, 5.0, 1.0, 0.1, int(i % 5 != 0), 900.0))  # fmt: skip
    with store.conn:
        insert_rows(store.conn, rows)
    create_user(store, "alice", PASSWORD, facilities=["AUS02", "BES01"])
    create_user(store, "olga", PASSWORD, role="owner", owned=["AUS02"])
    alice = authenticate(store, "alice", PASSWORD)
    olga = authenticate(store, "olga", PASSWORD)
    both = ["AUS02", "BES01"]
    # spans: whole days, and one that starts and ends inside days
    spans = [(START, START + timedelta(days=4)),
             (START + timedelta(hours=7), START + timedelta(days=3, hours=5))]  # fmt: skip
    for delay in ("1d", "3d", "never", "immediately"):
        store.ensure_facility("AUS02", publish_delay=delay)
        for hours in (0, 20, 24, 24 + 11, 48 + 23, 24 * 4 + 24 * 3, 24 * 12):
            now = START + timedelta(hours=hours)
            lag = {"1d": 24, "3d": 72, "never": None, "immediately": 0}[delay]
            cutoff = None if lag is None else iso_z(now - timedelta(hours=lag))

            def alice_cutoff(station, cutoff=cutoff, now=now):
                if station == "BES01":
                    return iso_z(now)
                return "" if cutoff is None else cutoff

            for lo, hi in spans:
                args = (lo, hi, list(NUCLIDES))
                s, e = int(lo.timestamp()), int(hi.timestamp())
                agree(daily_releases(store, alice, now, both, *args),
                      visible_sums(store, set(both), alice_cutoff, s, e))  # fmt: skip
                agree(daily_releases(store, olga, now, ["AUS02"], *args),
                      visible_sums(store, {"AUS02"}, lambda _: None, s, e))  # fmt: skip


def test_daily_sums_of_nothing():
    assert daily_sums(None, "0", [], ["A"], ["Xe-133"], ["central"], 0, 86400) == []
    assert daily_sums(None, "1", [], [], ["Xe-133"], ["central"], 0, 86400) == []
