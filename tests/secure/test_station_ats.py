"""The station's daily ATS at the central: verified like any file, its results stored, and
compared with the central re-analysis of the same spectrum (worker), disagreements flagged."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from central.reanalysis import analyze as central_analyze
from central.store import Store
from central.worker import analyse_pending, compare_pending
from edge_agent.analysis import analyze as station_analyze
from shared.formats import write_ats, write_message
from shared.formats.sample_phd import sample_message
from shared.timeseries import AtsStation, SampleRecord, daily_ats
from tests.analysis_central.simulated import simulate

from .intake_harness import ThreadedIntake, free_port, put, write_config

DAY = date(2026, 3, 2)
NOW = datetime(2026, 3, 3, 0, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def intake(network, tmp_path_factory):
    server = ThreadedIntake(write_config(tmp_path_factory.mktemp("central"), network, free_port()))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def spectrum():
    """One AUS02 spectrum with Xe-133 and Xe-135, analysed by the station."""
    sim = simulate({"Xe-133": 3000.0, "Xe-135": 400.0}, seed=11)
    phd = replace(sim.phd, header=replace(sim.phd.header, station="AUS02", detector="AUS02_001"))
    name = "AUS02_5001_PHD_2026_03_02T06_00_00.TXT"
    return phd, name, station_analyze(phd, source=name)


def ats_of(phd, name, result, **meta) -> bytes:
    doc = daily_ats(
        station=AtsStation("AUS02", "ANSTO", "AUSTRALIA", -34.05, 150.98),
        day=DAY,
        samples=[SampleRecord(phd, name, result)],
        analysis="STATION",
        generated_by="test",
        generated_at=NOW,
    )
    doc["MetaData"].update(meta)
    return write_ats(doc).encode()


def send(intake, network, station, name, content):
    body = network.stations[station].seal(content, network.central.cert)
    return put(intake.port, network, network.stations[station], name, body)


def rows(intake, sql, *params):
    with intake.db() as db:
        return [dict(r) for r in db.execute(sql, params).fetchall()]


def test_station_results_are_compared_with_the_central_reanalysis(intake, network, spectrum):
    phd, name, result = spectrum
    content = write_message(sample_message(phd, 5001, "IMS2.0")).encode()
    code, data = send(intake, network, "AUS02", name, content)
    assert code == 201, data
    ats_name = "AUS02_5002_ATS_2026_03_02T00_00_00.TXT"
    code, data = send(intake, network, "AUS02", ats_name, ats_of(phd, name, result))
    assert code == 201, data

    [ats] = rows(intake, "select * from messages where file_name = ?", ats_name)
    assert (ats["product"], ats["data_type"], ats["analysis"]) == ("ATS", "ATS", "STATION")
    assert ats["start_time"] == "2026-03-02T00:00:00.000Z"
    assert json.loads(ats["summary"])["Samples"] == 1
    [stored] = rows(intake, "select * from station_results where file_name = ?", name)
    assert stored["ats_message_id"] == ats["id"] and stored["srid"] == phd.header.srid
    station_xe133 = json.loads(stored["result"])["nuclides"]["Xe-133"]
    assert station_xe133["activity_bq"] == pytest.approx(result.nuclides["Xe-133"].activity_bq)

    with Store(intake.config.storage.database_path) as store:
        assert compare_pending(store) == 0  # no central result yet
        assert analyse_pending(store, central_analyze) == 1
        assert compare_pending(store) == 1
        assert compare_pending(store) == 0  # once
    [phd_row] = rows(intake, "select id from messages where file_name = ?", name)
    [run] = rows(intake, "select * from comparison_runs where message_id = ?", phd_row["id"])
    compared = {
        r["nuclide"]: r
        for r in rows(intake, "select * from comparisons where message_id = ?", phd_row["id"])
    }
    assert run["error"] is None and run["nuclides"] == len(compared)
    assert set(compared) == set(result.nuclides)  # not the central's background nuclides
    xe133 = compared["Xe-133"]
    assert xe133["station_detected"] == 1 and xe133["central_detected"] == 1
    assert xe133["quantity"] == "release"
    assert abs(xe133["z"]) < 3 and xe133["flagged"] == 0
    assert xe133["station_value"] == pytest.approx(result.nuclides["Xe-133"].release_bq)
    assert run["flagged"] == sum(r["flagged"] for r in compared.values()) == 0
    [view] = rows(
        intake, "select * from comparison_view where file_name = ? and nuclide = 'Xe-133'", name
    )
    assert view["station"] == "AUS02" and view["start_time"] == "2026-03-02T06:00:00.000Z"


def test_a_station_result_far_from_the_central_one_is_flagged(intake, network, spectrum):
    phd, _, result = spectrum
    phd = replace(phd, header=replace(phd.header, srid="SM02202603020615"))
    name = "AUS02_5011_PHD_2026_03_02T06_15_00.TXT"
    content = write_message(sample_message(phd, 5011, "IMS2.0")).encode()
    assert send(intake, network, "AUS02", name, content)[0] == 201
    wrong = replace(result, srid=phd.header.srid, nuclides=dict(result.nuclides))
    xe133 = wrong.nuclides["Xe-133"]
    wrong.nuclides["Xe-133"] = replace(
        xe133, activity_bq=2 * xe133.activity_bq, release_bq=2 * xe133.release_bq
    )
    ats = ats_of(phd, name, wrong)
    assert send(intake, network, "AUS02", "AUS02_5012_ATS_2026_03_02T00_00_00.TXT", ats)[0] == 201
    with Store(intake.config.storage.database_path) as store:
        analyse_pending(store, central_analyze)
        assert compare_pending(store) == 1
    [flag] = rows(intake, "select * from comparison_view where file_name = ? and flagged = 1", name)
    assert flag["nuclide"] == "Xe-133" and flag["z"] > 3
    assert flag["reason"] == "both detect: |z| > 3"


@pytest.mark.parametrize(
    ("name", "meta", "status", "reason"),
    [
        (
            "AUS02_5021_ATS_2026_03_02T00_00_00.TXT",
            {"Analysis": "CENTRAL"},
            400,
            "a station sends the ATS of its own analysis",
        ),
        (
            "AUS02_5022_ATS_2026_03_01T00_00_00.TXT",
            {},
            400,
            "the ATS is of day 2026-03-02, so its name must end 2026_03_02T00_00_00.TXT",
        ),
        (
            "AUS02_5023_ATS_2026_03_02T00_00_00.TXT",
            {"Version": "one"},
            400,
            "MetaData/Version: 'one' does not match",
        ),
    ],
)
def test_a_bad_ats_is_refused_and_quarantined(
    intake, network, spectrum, name, meta, status, reason
):
    phd, phd_name, result = spectrum
    doc = json.loads(ats_of(phd, phd_name, result))
    doc["MetaData"].update(meta)
    content = json.dumps(doc).encode()  # not through write_ats: it would refuse the bad ones
    code, data = send(intake, network, "AUS02", name, content)
    assert code == status and reason in data["reason"], data
    [kept] = rows(intake, "select * from quarantine where file_name = ?", name)
    assert kept["reason"] == data["reason"]
    assert not rows(intake, "select id from messages where file_name = ?", name)


def test_a_station_cannot_send_another_stations_ats(intake, network, spectrum):
    phd, phd_name, result = spectrum
    name = "AUS02_5031_ATS_2026_03_02T00_00_00.TXT"
    code, data = send(intake, network, "BES01", name, ats_of(phd, phd_name, result))
    assert code == 403 and data["reason"] == "signed by BES01 but the file is from AUS02"
    assert rows(intake, "select id from quarantine where file_name = ?", name)
