"""The central's daily products (central/products.py) on a real SQLite store: made once a
day has ended and its spectra are analysed, valid against the schema, listed on the
Received page, and made again as a new version when a late file changes the day."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from central.accounts import User
from central.products import NATURAL, make_products, note_new_inputs
from central.store import StationResultRow, Store
from central.verify import summary
from central.web.queries import ReceivedFilter, received_page
from edge_agent.analysis import analyze
from shared.formats import read_ats, read_emission_csv, read_message, write_ats, write_message
from shared.formats.sample_phd import sample_message
from shared.timeseries import AtsStation, SampleRecord, daily_ats, station_samples
from shared.timeutil import iso_z
from tests.analysis_central.simulated import simulate

DAY = date(2026, 3, 2)
STATION = "TST01"
ADMIN = User(1, "admin", "admin", True, frozenset(), frozenset())
BEFORE_END = datetime(2026, 3, 2, 23, 59, tzinfo=UTC)
AFTER_END = datetime(2026, 3, 3, 0, 5, tzinfo=UTC)
SETTLED = datetime(2026, 3, 3, 1, 5, tzinfo=UTC)  # TST02 sent nothing later: an hour on


@pytest.fixture(scope="module")
def spectrum():
    """One simulated spectrum with Xe-133 and Xe-135 in the chamber, and its analysis."""
    sim = simulate({"Xe-133": 4000.0, "Xe-135": 300.0}, seed=3)
    return sim.phd, analyze(sim.phd, source="sim")


def _phd_at(phd, start: datetime, n: int):
    header = replace(phd.header, srid=f"SM{n:014d}")
    length = phd.collection.stop - phd.collection.start
    collection = replace(phd.collection, start=start, stop=start + length)
    acquisition = replace(phd.acquisition, start=start)
    return replace(phd, header=header, collection=collection, acquisition=acquisition)


def _name(n: int, start: datetime) -> str:
    return f"{STATION}_{n}_PHD_{start:%Y_%m_%dT%H_%M_%S}.TXT"


def add_spectrum(store: Store, spectrum, n: int, start: datetime, *, analysed: bool = True):
    """Store a PHD as the intake does (and the worker's central analysis of it)."""
    phd, result = spectrum
    phd = _phd_at(phd, start, n)
    message = sample_message(phd, n)
    stored = store.add_message(
        file_name=_name(n, start),
        station=STATION,
        data_type="SAMPLEPHD",
        product="PHD",
        msg_id=str(n),
        content=write_message(message).encode("ascii"),
        start_time=iso_z(start),
        summary=summary(read_message(write_message(message))),
    )
    if analysed:
        store.add_analysis(
            stored.message_id, "central", method_version="test", result=result.to_json()
        )
    return phd, stored.message_id


def add_station_ats(store: Store, spectrum, samples, n: int) -> None:
    """The station's daily ATS of DAY, stored with its samples' results as the intake does."""
    _, result = spectrum
    records = [SampleRecord(phd, name, result) for phd, name in samples]
    doc = daily_ats(
        station=AtsStation(STATION, "Test site"),
        day=DAY,
        samples=records,
        analysis="STATION",
        generated_by="test agent",
        generated_at=AFTER_END,
    )
    rows = [
        StationResultRow(s.file_name, s.srid, s.acquisition_start, "test", s.result.to_json())
        for s in station_samples(doc)
    ]
    store.add_message(
        file_name=f"{STATION}_{n}_ATS_2026_03_02T00_00_00.TXT",
        station=STATION,
        data_type="ATS",
        product="ATS",
        msg_id=str(n),
        content=write_ats(doc).encode("ascii"),
        start_time="2026-03-02T00:00:00.000Z",
        summary={},
        station_results=rows,
    )


@pytest.fixture
def store(tmp_path, spectrum):
    """Three spectra of DAY (06:00-06:30) with their analyses and the station's ATS, and one
    spectrum of the next day, collected just after midnight."""
    with Store(tmp_path / "central.sqlite") as s:
        s.ensure_facility(STATION, name="Test facility", site="Test site", country="NOWHERE")
        samples = []
        for n in range(1, 4):
            start = datetime(2026, 3, 2, 6, 0, tzinfo=UTC) + timedelta(minutes=15 * (n - 1))
            phd, _ = add_spectrum(s, spectrum, n, start)
            samples.append((phd, _name(n, start)))
        add_spectrum(s, spectrum, 4, datetime(2026, 3, 3, 0, 0, tzinfo=UTC))
        add_station_ats(s, spectrum, samples, 5)
        yield s


def _products(store: Store) -> list[dict]:
    return list(
        store.db.query(
            "select * from messages where product in ('ATS', 'CSV') "
            "and msg_id glob '[CS][AC][TS][SV]*' order by id"
        )
    )


def test_nothing_is_made_before_the_day_has_ended(store):
    assert make_products(store, BEFORE_END) == 0
    assert _products(store) == []


def test_the_three_products_of_an_ended_day(store, spectrum):
    assert make_products(store, AFTER_END) == 1  # 2026-03-02; 03-03 has not ended
    rows = {(r["analysis"], r["product"]): r for r in _products(store)}
    assert sorted(r["file_name"] for r in rows.values()) == [
        "TST01_CATS20260302V1_ATS_2026_03_02T00_00_00.AS",
        "TST01_CCSV20260302V1_CSV_2026_03_02T00_00_00.CSV",
        "TST01_SCSV20260302V1_CSV_2026_03_02T00_00_00.CSV",
    ]
    for row in rows.values():
        assert row["station"] == STATION and row["signer"] is None
        assert row["start_time"] == "2026-03-02T00:00:00.000Z"
        assert row["data_type"] == row["product"]
        assert json.loads(row["summary"])["Version"] == 1

    ats = read_ats(store.content(rows[("CENTRAL", "ATS")]["id"]))  # validates the schema
    assert ats["MetaData"]["Analysis"] == "CENTRAL" and ats["MetaData"]["Day"] == "2026-03-02"
    assert ats["Station"]["Site"] == "Test site"
    assert [s["FileName"] for s in ats["Detectors"][0]["Samples"]] == [
        _name(n, datetime(2026, 3, 2, 6, 0, tzinfo=UTC) + timedelta(minutes=15 * (n - 1)))
        for n in range(1, 4)
    ]

    _, result = spectrum
    xe133 = result.nuclides["Xe-133"]
    assert xe133.detected
    for key in (("CENTRAL", "CSV"), ("STATION", "CSV")):
        csv_rows = read_emission_csv(store.content(rows[key]["id"]))
        assert [r.time.isoformat() for r in csv_rows] == [
            "2026-03-02T06:00:00+00:00",
            "2026-03-02T06:15:00+00:00",
            "2026-03-02T06:30:00+00:00",
        ]
        first = csv_rows[0]
        assert first.station == STATION and first.unit == "kBq/900s"
        assert first.values["XE-133"].val == pytest.approx(xe133.release_bq / 1e3, rel=1e-3)
        assert first.values["XE-133"].unc == pytest.approx(xe133.release_unc_bq / 1e3, rel=1e-3)
        assert not any(n in first.values for n in NATURAL)
    text = store.content(rows[("CENTRAL", "CSV")]["id"]).decode()
    assert text.startswith("Station,Time,I-131 val,I-131 mdr,I-131 unc,KR-85M val,")


def test_made_once_and_shown_on_the_received_page(store):
    make_products(store, AFTER_END)
    assert make_products(store, AFTER_END) == 0  # no input changed: no new version
    assert len(_products(store)) == 3
    page = received_page(
        store, ADMIN, ReceivedFilter(products=("CSV",), analyses=("STATION",)), now=AFTER_END
    )
    assert [r["file_name"] for r in page.rows] == [
        "TST01_SCSV20260302V1_CSV_2026_03_02T00_00_00.CSV"
    ]
    central = received_page(store, ADMIN, ReceivedFilter(analyses=("CENTRAL",)), now=AFTER_END)
    assert {r["product"] for r in central.rows} == {"ATS", "CSV"}


def test_a_late_spectrum_makes_a_new_version_once_analysed(store, spectrum):
    make_products(store, AFTER_END)
    later = AFTER_END + timedelta(hours=1)
    late_start = datetime(2026, 3, 2, 6, 45, tzinfo=UTC)
    _, message_id = add_spectrum(store, spectrum, 6, late_start, analysed=False)
    assert make_products(store, later) == 0  # waits for its central analysis
    assert len(_products(store)) == 3
    _, result = spectrum
    store.add_analysis(message_id, "central", method_version="test", result=result.to_json())
    assert make_products(store, later) == 1
    names = [r["file_name"] for r in _products(store)]
    assert names[3:] == [
        "TST01_CATS20260302V2_ATS_2026_03_02T00_00_00.AS",
        "TST01_CCSV20260302V2_CSV_2026_03_02T00_00_00.CSV",
    ]  # the station's CSV has not changed: no new version of it
    v1, v2 = (r for r in _products(store) if r["analysis"] == "CENTRAL" and r["product"] == "CSV")
    assert json.loads(v2["summary"])["Replaces"] == v1["file_name"]
    assert len(read_emission_csv(store.content(v2["id"]))) == 4
    assert len(read_emission_csv(store.content(v1["id"]))) == 3  # kept as it was


def test_a_day_that_cannot_be_made_does_not_stop_the_others(store, spectrum):
    other = "TST02"
    store.add_message(
        file_name=f"{other}_1_PHD_2026_03_02T06_00_00.TXT", station=other,
        data_type="SAMPLEPHD", product="PHD", msg_id="1", content=b"BEGIN IMS2.0\nbroken",
        start_time="2026-03-02T06:00:00.000Z", summary={},
    )  # fmt: skip
    bad = store.conn.execute("select max(id) from messages").fetchone()[0]
    store.add_analysis(bad, "central", error="not a message")
    failed: set = set()
    assert make_products(store, SETTLED, limit=4, failed=failed) == 1  # TST01's day
    assert failed == {(other, "2026-03-02")}
    assert {r["station"] for r in _products(store)} == {STATION}
    assert make_products(store, SETTLED, limit=4, failed=failed) == 0  # not retried


def test_new_inputs_are_noted_once(store):
    assert note_new_inputs(store) == 4 + 4 + 3  # spectra, analyses, station results
    assert note_new_inputs(store) == 0
    days = store.conn.execute("select station, day from product_days order by day").fetchall()
    assert days == [(STATION, "2026-03-02"), (STATION, "2026-03-03")]


def test_a_late_station_ats_brings_the_station_csv(tmp_path, spectrum):
    with Store(tmp_path / "late.sqlite") as s:
        start = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
        phd, _ = add_spectrum(s, spectrum, 1, start)
        assert make_products(s, SETTLED) == 1
        assert [r["file_name"][6:10] for r in _products(s)] == ["CATS", "CCSV"]
        add_station_ats(s, spectrum, [(phd, _name(1, start))], 2)  # days late
        assert make_products(s, AFTER_END + timedelta(days=4)) == 1
        names = [r["file_name"] for r in _products(s)]
        assert names[2:] == ["TST01_SCSV20260302V1_CSV_2026_03_02T00_00_00.CSV"]
        # the central's products have not changed: no new version
        assert len(names) == 3


def test_a_station_catching_up_gets_one_version_not_one_per_spectrum(tmp_path, spectrum):
    """A past day arriving spectrum by spectrum (after an outage, or a release delay) is
    made once the station has moved on to a later day, not after each spectrum."""
    with Store(tmp_path / "central.sqlite") as s:
        s.ensure_facility(STATION, name="Test facility", site="Test site", country="NOWHERE")
        now = AFTER_END  # the day has ended a few minutes ago
        for n in range(1, 4):
            start = datetime(2026, 3, 2, 6, 0, tzinfo=UTC) + timedelta(minutes=15 * (n - 1))
            add_spectrum(s, spectrum, n, start)
            assert make_products(s, now) == 0  # the station is still sending that day
        add_spectrum(s, spectrum, 4, datetime(2026, 3, 3, 0, 0, tzinfo=UTC))
        assert make_products(s, now) == 1
        assert {r["msg_id"][-2:] for r in _products(s)} == {"V1"}


def test_a_silent_station_gets_its_products_an_hour_after_the_day(tmp_path, spectrum):
    with Store(tmp_path / "central.sqlite") as s:
        s.ensure_facility(STATION, name="Test facility", site="Test site", country="NOWHERE")
        add_spectrum(s, spectrum, 1, datetime(2026, 3, 2, 23, 45, tzinfo=UTC))
        day_end = datetime(2026, 3, 3, tzinfo=UTC)
        assert make_products(s, day_end + timedelta(minutes=59)) == 0
        assert make_products(s, day_end + timedelta(minutes=61)) == 1
