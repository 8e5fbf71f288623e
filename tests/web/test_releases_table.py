"""The flat release table (central/releases.py): filled when a central analysis or a
station ATS is stored, linked when the spectrum comes after its ATS, backfilled for a
database made before it, and read under the access and publish rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from central.accounts import authenticate, create_user
from central.releases import (
    BACKFILL_KEY,
    TABLE,
    backfill,
    fill_phd,
    nuclides_of,
    rebuild_overview,
    release_series,
    rows_from_result,
)
from central.store import StationResultRow, Store
from shared.timeutil import iso_z

from .helpers import PASSWORD

START = datetime(2024, 5, 1, tzinfo=UTC)


def nuclide(name: str, release: float, detected: bool = True) -> dict:
    return {
        "nuclide": name,
        "detected": detected,
        "release_bq": release,
        "release_unc_bq": 0.1 * release,
        "mdr_bq": 1e5,
        "activity_bq": release / 1e4,
        "activity_unc_bq": release / 1e5,
    }


def result(start: datetime, **releases: float) -> dict:
    return {
        "acquisition_start": iso_z(start),
        "real_time_s": 900.0,
        "interval_s": 900.0,
        "nuclides": {
            name.replace("_", "-"): nuclide(name.replace("_", "-"), v)
            for name, v in releases.items()
        },
    }


def add_phd(store: Store, station: str, n: int) -> tuple[int, str]:
    start = START + timedelta(minutes=15 * n)
    name = f"{station}_{n}_PHD_{start:%Y_%m_%dT%H_%M_%S}.TXT"
    stored = store.add_message(
        file_name=name,
        station=station,
        data_type="SAMPLEPHD",
        product="PHD",
        msg_id=str(n),
        content=f"PHD {station} {n}".encode(),
        start_time=iso_z(start),
        summary={"acquisition": {"start": iso_z(start), "real_time": 900.0}},
        received_at=iso_z(start + timedelta(minutes=20)),
    )
    return int(stored.message_id), name


def add_ats(store: Store, station: str, day: int, results: list[tuple[str, dict]]) -> int:
    stored = store.add_message(
        file_name=f"{station}_A{day}_ATS.TXT",
        station=station,
        data_type="ATS",
        product="ATS",
        msg_id=f"A{day}",
        content=f"ATS {station} {day}".encode(),
        start_time=iso_z(START),
        summary={},
        station_results=[
            StationResultRow(name, "SM", r["acquisition_start"], "t", r) for name, r in results
        ],
    )
    return int(stored.message_id)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "central.sqlite") as s:
        s.ensure_facility("AUS02", publish_delay="1d")
        s.ensure_facility("BES01")
        yield s


def table(store: Store) -> list[dict]:
    return list(store.db.query(f"select * from {TABLE} order by file_name, method, nuclide"))


def test_a_central_analysis_and_a_station_ats_fill_the_rows_of_their_spectrum(store):
    phd, name = add_phd(store, "AUS02", 0)
    assert table(store) == []
    store.add_analysis(phd, "central", result=result(START, Xe_133=6.0e6, Xe_135=2e5))
    assert [(r["method"], r["nuclide"]) for r in table(store)] == [
        ("central", "Xe-133"),
        ("central", "Xe-135"),
    ]
    add_ats(store, "AUS02", 1, [(name, result(START, Xe_133=6.2e6))])
    rows = table(store)
    assert [(r["method"], r["nuclide"], r["release_bq"]) for r in rows] == [
        ("central", "Xe-133", 6.0e6),
        ("central", "Xe-135", 2e5),
        ("station", "Xe-133", 6.2e6),
    ]
    message = store.message(phd)
    for r in rows:
        assert r["message_id"] == phd and r["data_until"] == message["data_until"]
        assert r["start_time"] == message["start_time"] and r["interval_s"] == 900.0
        assert r["start_s"] == int(START.timestamp())
    assert rows[0]["release_unc_bq"] == 6.0e5 and rows[0]["mdr_bq"] == 1e5
    assert rows[0]["activity_bq"] == 600.0 and rows[0]["detected"] == 1


def test_a_station_result_before_its_spectrum_is_kept_and_linked_when_it_comes(store):
    start = START + timedelta(minutes=15 * 3)
    name = f"AUS02_3_PHD_{start:%Y_%m_%dT%H_%M_%S}.TXT"
    add_ats(store, "AUS02", 1, [(name, result(start, Xe_133=1e6))])
    [early] = table(store)
    assert early["message_id"] is None and early["file_name"] == name
    assert early["data_until"] == iso_z(start + timedelta(seconds=900))
    phd, _ = add_phd(store, "AUS02", 3)
    [linked] = table(store)
    assert linked["message_id"] == phd and linked["release_bq"] == 1e6


def test_the_backfill_fills_an_old_database_once_and_again_the_same(store):
    phd, name = add_phd(store, "AUS02", 0)
    store.add_analysis(phd, "central", result=result(START, Xe_133=6.0e6))
    add_ats(store, "AUS02", 1, [(name, result(START, Xe_133=6.2e6))])
    orphan_start = START + timedelta(hours=5)
    add_ats(store, "AUS02", 2, [("AUS02_X_PHD.TXT", result(orphan_start, Xe_135=3e5))])
    before = table(store)
    with store.conn:  # as a database made before the table
        store.conn.execute(f"delete from {TABLE}")
        store.conn.execute("delete from meta where key = ?", [BACKFILL_KEY])
    assert backfill(store.conn, batch=1) == 3
    assert table(store) == before
    assert backfill(store.conn) == 3  # idempotent
    assert table(store) == before
    with store.conn:
        store.conn.execute(f"delete from {TABLE}")
        store.conn.execute("delete from meta where key = ?", [BACKFILL_KEY])
    with Store(store.path) as again:  # opening the database (another process) backfills it
        assert table(again) == before


def test_release_series_applies_the_access_and_publish_rule(store):
    for n in range(4):
        phd, _ = add_phd(store, "AUS02", n)
        store.add_analysis(phd, "central", result=result(START, Xe_133=1e6 * (n + 1)))
    phd, _ = add_phd(store, "BES01", 0)
    store.add_analysis(phd, "central", result=result(START, Xe_133=5e6))
    create_user(store, "alice", PASSWORD, facilities=["AUS02"])
    create_user(store, "olga", PASSWORD, role="owner", owned=["AUS02"])
    alice = authenticate(store, "alice", PASSWORD)
    olga = authenticate(store, "olga", PASSWORD)
    # one day after the second spectrum's end: the first two are published
    now = START + timedelta(days=1, minutes=30)
    span = (START, START + timedelta(days=1))
    seen = release_series(store, alice, now, "AUS02", *span, ["Xe-133"])
    assert [r["release_bq"] for r in seen] == [1e6, 2e6]
    assert len(release_series(store, olga, now, "AUS02", *span)) == 4
    assert release_series(store, alice, now, "BES01", *span) == []
    assert nuclides_of(store, alice, now, "AUS02") == ["Xe-133"]
    assert nuclides_of(store, alice, START, "AUS02") == []
    with pytest.raises(ValueError, match="method"):
        release_series(store, olga, now, "AUS02", *span, methods=["autosaint"])


def test_rows_from_a_result_without_numbers():
    assert rows_from_result(
        {}, method="central", station="X", file_name="f", message_id=1,
        start_time="2024-05-01T00:00:00Z", data_until="2024-05-01T00:15:00.000Z",
    ) == []  # fmt: skip
    [row] = rows_from_result(
        {"interval_s": float("nan"), "nuclides": {"Xe-133": {"detected": False,
                                                              "release_bq": None}}},
        method="station", station="X", file_name="f", message_id=None,
        start_time="2024-05-01T00:00:00Z", data_until="2024-05-01T00:15:00.000Z",
    )  # fmt: skip
    assert row[8] is None and row[13] == 0 and row[14] is None


def overview(store: Store) -> list[tuple]:
    return [tuple(r) for r in store.conn.execute(
        "select station, nuclide, method, start_s, release_bq from release_overview "
        "order by station, nuclide, method, start_s")]  # fmt: skip


def test_the_overview_keeps_each_bucket_s_highest_and_lowest_and_follows_refills(store):
    ids = []
    for n in range(20):  # 5 hours: the 4-hour buckets 00:00 and 04:00
        phd, _ = add_phd(store, "AUS02", n)
        ids.append(phd)
        value = 9e9 if n == 7 else 1e6 * (n + 1)
        store.add_analysis(phd, "central", result=result(START, Xe_133=value))
    rows = overview(store)
    assert [r[4] for r in rows] == [1e6, 9e9, 1.7e7, 2e7]  # lowest, highest of each bucket
    # the spectrum of the peak analysed again (as a refill does): the bucket follows
    with store.conn:
        store.conn.execute("update analyses set result = ? where message_id = ?",
                           [json.dumps(result(START, Xe_133=5.0)), ids[7]])  # fmt: skip
        fill_phd(store.conn, ids[7])
    assert [r[4] for r in overview(store)] == [5.0, 1.6e7, 1.7e7, 2e7]
    incremental = overview(store)
    with store.conn:
        store.conn.execute("delete from release_overview")
        rebuild_overview(store.conn)
    assert overview(store) == incremental


def test_a_large_database_is_left_to_the_backfill_command(
    store, tmp_path, monkeypatch, caplog, capsys
):
    from central import releases
    from central.release_daily import BUILT_KEY, DAILY
    from stax.cli import main

    for n in range(3):
        phd, _ = add_phd(store, "AUS02", n)
        store.add_analysis(phd, "central", result=result(START, Xe_133=1e6 * (n + 1)))
    add_ats(store, "AUS02", 1, [("AUS02_X_PHD.TXT", result(START, Xe_135=3e5))])  # no spectrum
    before = table(store)
    daily = list(store.conn.execute(f"select * from {DAILY} order by 1, 2, 3, 4"))
    assert len(before) == 4 and daily
    with store.conn:  # as a database made before the tables
        for t in (TABLE, "release_overview", DAILY):
            store.conn.execute(f"delete from {t}")
        store.conn.execute("delete from meta where key in (?, ?, ?)",
                           [BACKFILL_KEY, releases.OVERVIEW_KEY, BUILT_KEY])  # fmt: skip
    monkeypatch.setattr(releases, "AUTO_SPECTRA", 2)  # three spectra: "large"
    monkeypatch.setattr(releases, "_warned", set())
    with Store(store.path) as again:  # the server's start: nothing filled, a warning
        assert table(again) == [] and releases.pending(again.conn) == [
            BACKFILL_KEY, releases.OVERVIEW_KEY, BUILT_KEY]  # fmt: skip
    assert "stax central backfill --config FILE" in caplog.text
    config = tmp_path / "central.toml"
    config.write_text(
        '[intake]\nserver_cert = "s.pem"\nserver_key = "s.key"\nca_cert = "ca.pem"\n'
        f'[storage]\ndata_dir = "{store.path.parent}"\n[web]\nsecret_key_file = "w.key"\n'
    )
    assert main(["central", "backfill", "--config", str(config), "--batch", "2"]) == 0
    out = capsys.readouterr()
    assert "release rows written: 4" in out.out
    assert "release_values: 3 of 3 (100 %)" in out.err and "release_daily: 1 of 1" in out.err
    assert table(store) == before
    assert list(store.conn.execute(f"select * from {DAILY} order by 1, 2, 3, 4")) == daily
    assert releases.pending(store.conn) == []
    assert main(["central", "backfill", "--config", str(config)]) == 0  # nothing pending
    assert "filled already" in capsys.readouterr().out
    with store.conn:  # only the daily sums missing: only they are made
        store.conn.execute(f"delete from {DAILY}")
        store.conn.execute("delete from meta where key = ?", [BUILT_KEY])
    assert main(["central", "backfill", "--config", str(config)]) == 0
    out = capsys.readouterr()
    assert "release_values" not in out.err and "release_daily: 1 of 1" in out.err
    assert list(store.conn.execute(f"select * from {DAILY} order by 1, 2, 3, 4")) == daily
    assert main(["central", "backfill", "--config", str(config), "--all"]) == 0
    assert "release_values: 3 of 3" in capsys.readouterr().err
    assert main(["central", "backfill", "--config", str(config), "--batch", "0"]) == 2
    missing = tmp_path / "none.toml"
    missing.write_text(config.read_text().replace(str(store.path.parent), str(tmp_path / "x")))
    assert main(["central", "backfill", "--config", str(missing)]) == 2
    assert "no database" in capsys.readouterr().err
