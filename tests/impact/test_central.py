"""The central's impact side on a real SQLite store: stations, ATM intake, releases."""

from __future__ import annotations

import gzip
import io
import json
import math
import zipfile
from datetime import UTC, datetime, timedelta

import pytest

from central import impact
from central.accounts import User
from central.store import Store
from shared.atm.hysplit import write_cdump
from shared.atm.ims_stations import ImsStation, sample_windows

from .synthetic import STOP, srs_text
from .test_hysplit import _run

SRS = srs_text(["10.00 20.00 0 6.0", "10.00 20.00 1 9.0"]).encode()
NAME = "TSX01.2024030206.TEST.txt"
USER = User(7, "reader", "user", True, frozenset({"FAC01"}), frozenset())


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "central.sqlite") as s:
        yield s


def test_the_stations_table_starts_from_the_default_list_and_admins_edit_it(store):
    codes = [s.code for s in impact.ims_stations(store)]
    assert "DEX33" in codes
    dex = impact.ims_station(store, "DEX33")
    assert (dex.latitude, dex.longitude, dex.sample_hours) == (47.92, 7.91, 24)
    new = ImsStation("TSX01", "Test", 10.0, 20.0, "SAUNA III", 6, 0, "test")
    impact.put_ims_station(store, new, by=impact.OPERATOR)
    assert impact.ims_station(store, "TSX01") == new
    assert impact.remove_ims_station(store, "DEX33", by=impact.OPERATOR)
    assert "DEX33" not in [s.code for s in impact.ims_stations(store)]
    with pytest.raises(impact.NotAdministrator):
        impact.put_ims_station(store, new, by=USER)


def test_a_bad_station_entry_is_refused():
    with pytest.raises(ValueError, match=r"latitude must be in -90\.\.90"):
        ImsStation("XXX01", "x", 95.0, 0.0, "", 24, 0, "test")


def test_sample_windows_follow_the_stop_hour():
    st = ImsStation("TSX01", "Test", 10.0, 20.0, "ARSA", 8, 6, "test")
    t0 = datetime(2024, 1, 1, 0, tzinfo=UTC)
    w = sample_windows(st, t0, t0 + timedelta(hours=24))
    assert [(a.hour, b.hour) for a, b in w] == [(22, 6), (6, 14), (14, 22), (22, 6)]


def test_srs_files_are_recorded_with_what_they_cover_and_bad_ones_refused(store, tmp_path):
    good = impact.add_atm_file(store, NAME, SRS, by=impact.OPERATOR)
    assert good.outcome == "stored"
    (row,) = impact.atm_files(store)
    assert (row["kind"], row["station"]) == ("srs", "TSX01")
    assert (row["sample_start"], row["sample_stop"]) == (
        "2024-03-01T06:00:00Z",
        "2024-03-02T06:00:00Z",
    )
    assert (row["window_start"], row["window_end"]) == (
        "2024-03-01T18:00:00Z",
        "2024-03-02T06:00:00Z",
    )
    assert json.loads(row["details"])["step_base"] == 0
    assert impact.add_atm_file(store, "copy.txt", SRS, by=impact.OPERATOR).outcome == "duplicate"
    bad = impact.add_atm_file(store, "bad.txt", SRS.replace(b"9.0", b"x"), by=impact.OPERATOR)
    assert bad.outcome == "refused" and "bad.txt:3: value: not a number: 'x'" in bad.reason
    (q,) = store.db.query("select file_name, reason, body from quarantine")
    assert q["file_name"] == "bad.txt" and q["body"] == SRS.replace(b"9.0", b"x")
    with pytest.raises(impact.NotAdministrator):
        impact.add_atm_file(store, NAME, SRS, by=USER)


def test_a_zip_and_a_folder_are_taken_file_by_file(store, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a/" + NAME + ".gz", gzip.compress(SRS))
        z.writestr("notes.pdf", b"%PDF")
    out = impact.add_atm_upload(store, "batch.zip", buf.getvalue(), by=impact.OPERATOR)
    assert [o.outcome for o in out] == ["stored", "refused"]
    folder = tmp_path / "atm"
    folder.mkdir()
    (folder / NAME).write_bytes(SRS)
    (folder / "other.srm").write_bytes(SRS.replace(b"6.0", b"7.0"))
    first = impact.scan_atm_dir(store, folder)
    assert [o.outcome for o in first] == ["stored", "stored"]  # the zip held the gzip bytes
    again = impact.scan_atm_dir(store, folder)
    assert [o.outcome for o in again] == ["duplicate", "duplicate"]
    fields = impact.srs_fields(store, "TSX01", STOP - timedelta(days=1), STOP)
    assert len(fields) == 3


def test_a_forward_file_needs_its_release_and_a_known_emitter(store):
    data = write_cdump(_run(True))
    refused = impact.add_atm_file(store, "run.bin", data, by=impact.OPERATOR)
    assert refused.outcome == "refused" and "emitter and unit release" in refused.reason
    fwd = impact.ForwardRelease("FAC01", 1e12, 3.0)
    assert (
        impact.add_atm_file(store, "run.bin", data, by=impact.OPERATOR, forward=fwd).outcome
        == "refused"
    )
    store.ensure_facility("FAC01", latitude=10.0, longitude=20.0)
    ok = impact.add_atm_file(store, "run.bin", data, by=impact.OPERATOR, forward=fwd)
    assert ok.outcome == "stored"
    (row,) = impact.atm_files(store, "cdump")
    assert row["emitter"] == "FAC01" and json.loads(row["details"])["hours"] == 3.0
    (run,) = impact.forward_runs(
        store,
        impact.emitters(store, ["FAC01"]),
        datetime(2023, 5, 1, tzinfo=UTC),
        datetime(2023, 5, 2, tzinfo=UTC),
    )
    assert run.bq_per_h == 1e12 and run.release_hours == 3.0 and len(run.cdump.periods) == 2
    assert run.release_start == datetime(2023, 5, 1, 6, 30, tzinfo=UTC).timestamp()


def _result(start: datetime, xe133: dict) -> str:
    return json.dumps(
        {"interval_s": 900.0, "acquisition_start": start.isoformat(), "nuclides": {"Xe-133": xe133}}
    )


def test_releases_come_from_either_analysis_and_feed_the_impact(store):
    store.ensure_facility("FAC01", latitude=10.0, longitude=20.0)
    t0 = STOP - timedelta(hours=1)
    rows = []
    for i, (detected, release) in enumerate([(True, 2000.0), (False, 10.0)]):
        start = t0 + timedelta(minutes=15 * i)
        res = store.add_message(
            file_name=f"FAC01_{i}.PHD",
            station="FAC01",
            data_type="SAMPLEPHD",
            product="PHD",
            msg_id=str(i),
            content=b"x%d" % i,
            start_time=start.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            summary={"collection": {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ")}},
        )
        store.add_analysis(
            res.message_id,
            "central",
            result=json.loads(
                _result(start, {"detected": detected, "release_bq": release, "mdr_bq": 50.0})
            ),
        )
    rows = impact.result_rows(store, "central", ["FAC01"], t0 - timedelta(days=1), STOP)
    assert len(rows) == 2
    releases = impact.releases_from_result_rows(rows, "XE-133")["FAC01"]
    assert releases.bq[0] == 2000.0 and math.isnan(releases.bq[1]) and releases.mdr_bq[1] == 50.0
    srs = impact.read_srs(SRS, NAME)
    series, totals = impact.backward_impact(
        [srs], impact.emitters(store, ["FAC01"]), rows, ["XE-133"], decay=False
    )
    # both intervals lie in step 0 (value 6): 2000 Bq detected, 50 Bq MDR
    assert abs(series[0].concentration_bq_m3 - 2000 * 6.0 / 1e15) < 1e-24
    assert abs(totals[0].upper_bq_m3 - 2050 * 6.0 / 1e15) < 1e-24
    assert impact.result_rows(store, "station", ["FAC01"], t0, STOP) == []
    assert impact.result_rows(store, "central", [], t0, STOP) == []


def test_removed_stations_stay_removed(store):
    for s in impact.ims_stations(store):
        impact.remove_ims_station(store, s.code, by=impact.OPERATOR)
    assert impact.ims_stations(store) == []


def test_the_worker_picks_up_the_atm_folder_and_survives_a_bad_file_or_no_folder(tmp_path):
    from datetime import UTC, datetime

    from central.worker import pick_up_atm
    from shared.simulation.srs import simulate_srs_text, srs_file_name

    folder = tmp_path / "atm"
    with Store(tmp_path / "c.sqlite") as store:
        assert pick_up_atm(store, folder) == 0  # no folder yet: logged, not fatal
        folder.mkdir()
        stop = datetime(2024, 5, 2, tzinfo=UTC)
        (folder / srs_file_name("DEX33", stop)).write_text(
            simulate_srs_text("DEX33", 47.92, 7.91, stop, simulation_hours=24)
        )
        (folder / "DEX33.2024050300.SIMU.txt").write_text("not an SRS file\n")
        assert pick_up_atm(store, folder) == 1
        assert pick_up_atm(store, folder) == 0  # known files are duplicates
        refused = store.db.execute(
            "select count(*) from quarantine where file_name like 'DEX33.20240503%'"
        ).fetchone()[0]
        assert refused == 1
