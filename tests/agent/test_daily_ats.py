"""The station's daily ATS: made by the engine once a UTC day is over (or when it runs again
after missing midnight), one per day, from the day's spectra and their station analysis,
queued like the spectra."""

from dataclasses import replace
from datetime import timedelta

import pytest

from edge_agent.analysis import analyze
from edge_agent.outbox import ReleasePolicy
from shared.formats import read_ats, read_message
from shared.timeseries import station_samples

from .conftest import T0
from .test_engine import Station, seal, simulator_station

DAY = T0.date()  # 2023-11-20
NEXT = T0 + timedelta(days=1)  # its end: the 00:00 boundary of the 21st
ATS_NAME = "AUS02_{}_ATS_2023_11_20T00_00_00.TXT"


def late_evening(minute: int = 8):
    """A station clock at 23:mm on the 20th: a short day to finish."""
    return T0 + timedelta(hours=23, minutes=minute)


def ats_files(s: Station):
    return [f for f in s.files() if f.data_type == "ATS"]


def phd_files(s: Station, day=DAY):
    return [f for f in s.files() if f.data_type == "SAMPLEPHD" and f.interval_start.date() == day]


def test_midnight_queues_the_ats_of_the_day_that_ended(tmp_path, station):
    located = replace(station, country="Australia", latitude=-34.05, longitude=150.98)
    s = simulator_station(tmp_path, located, analysis=analyze, start=late_evening())
    s.boundaries(3)  # armed 23:15; spectra of 23:15 and 23:30
    assert ats_files(s) == []  # the day is not over
    s.boundaries(1)  # 00:00: the spectrum of 23:45, then the ATS
    (ats,) = ats_files(s)
    phds = phd_files(s)
    assert [f.interval_start.strftime("%H:%M") for f in phds] == ["23:15", "23:30", "23:45"]
    assert ats.msg_id == phds[-1].msg_id + 1  # right after the day's last spectrum
    assert ats.file_name == ATS_NAME.format(ats.msg_id)
    assert ats.interval_start == T0 and ats.state == "ready"
    full = s.outbox.get(ats.id)
    assert full.payload == seal(full.content)

    doc = read_ats(full.content, source=ats.file_name)  # strict: schema and all
    assert doc["MetaData"]["Analysis"] == "STATION" and doc["MetaData"]["Day"] == "2023-11-20"
    assert doc["MetaData"]["GeneratedBy"].startswith("stax-monitor edge agent ")
    assert doc["Station"] == {
        "Code": "AUS02", "Site": "ANSTO", "Country": "Australia",
        "Latitude": -34.05, "Longitude": 150.98,
    }  # fmt: skip
    (detector,) = doc["Detectors"]
    assert detector["Code"] == "AUS02_001"
    samples = station_samples(doc)
    assert [x.file_name for x in samples] == [f.file_name for f in phds]
    for sample, item in zip(samples, phds):
        phd = read_message(s.outbox.get(item.id).content).phd
        assert sample.srid == phd.header.srid
        kept = s.outbox.analysis(item.file_name)["result"]
        assert set(sample.result.nuclides) == set(kept["nuclides"])
        for name, got in sample.result.nuclides.items():
            assert got.activity_bq == pytest.approx(kept["nuclides"][name]["activity_bq"])
            assert got.mdr_bq == pytest.approx(kept["nuclides"][name]["mdr_bq"])

    s.boundaries(2)  # 00:15, 00:30: spectra of the 21st, no second ATS
    assert ats_files(s) == [ats] and len(phd_files(s, NEXT.date())) == 2


def test_a_restart_after_midnight_makes_the_missed_ats_once(tmp_path, source, station):
    s = Station(tmp_path, source, station, analysis=analyze, start=late_evening())
    s.boundaries(3)  # spectra of 23:15 and 23:30; stopped at 23:45
    s.outbox.close()

    again = Station(tmp_path, source, station, analysis=analyze, start=NEXT + timedelta(hours=2))
    again.boundaries(1)  # 02:15: armed, and the ATS of the 20th
    (ats,) = ats_files(again)
    assert ats.file_name == ATS_NAME.format(3)
    doc = read_ats(again.outbox.get(ats.id).content)
    assert [x.file_name for x in station_samples(doc)] == [
        "AUS02_1_PHD_2023_11_20T23_15_00.TXT",
        "AUS02_2_PHD_2023_11_20T23_30_00.TXT",
    ]
    again.boundaries(2)
    again.outbox.close()

    third = Station(tmp_path, source, station, analysis=analyze, start=NEXT + timedelta(hours=3))
    third.boundaries(2)  # a second run: the 20th has its ATS, the 21st is not over
    assert ats_files(third) == [ats]
    assert third.alerts == []


def test_missed_days_are_made_oldest_first_and_only_finished_ones(tmp_path, source, station):
    s = Station(tmp_path, source, station, start=late_evening(38))  # no station analysis yet
    s.boundaries(3)  # spectra of 23:45 (the 20th) and 00:00 (the 21st)
    assert ats_files(s) == []  # no station analysis, no ATS
    s.outbox.close()

    # switched on, e.g. by an upgrade, and started again on the 23rd
    later = Station(tmp_path, source, station, analysis=analyze, start=NEXT + timedelta(days=2))
    later.boundaries(1)  # 00:15: the 20th first (one per boundary: no real time to spare here)
    later.boundaries(1)  # 00:30: then the 21st; the 22nd had no spectrum, the 23rd is not over
    later.boundaries(1)
    names = [f.file_name for f in ats_files(later)]
    assert names == [ATS_NAME.format(3), "AUS02_5_ATS_2023_11_21T00_00_00.TXT"]
    # spectra made before the analysis was on are in the ATS, and say so
    doc = read_ats(later.outbox.get(ats_files(later)[0].id).content)
    (sample,) = doc["Detectors"][0]["Samples"]
    assert sample["FileName"] == "AUS02_1_PHD_2023_11_20T23_45_00.TXT"
    assert sample["Analysis"] == {"Method": "not analysed", "Nuclides": []}


def test_the_release_policy_holds_the_ats_like_the_spectra(tmp_path, source, station):
    manual = ReleasePolicy("manual")
    s = Station(tmp_path, source, station, analysis=analyze, release=manual, start=late_evening(38))
    s.boundaries(2)
    (ats,) = ats_files(s)
    assert ats.state == "held" and ats.release_at is None
    assert {f.state for f in s.files()} == {"held"}


def test_a_failed_ats_is_one_alert_and_acquisition_goes_on(tmp_path, source, station, monkeypatch):
    def broken(**kw):
        raise ValueError("ATS of AUS02 for 2023-11-20: Station.Latitude: 95 is too large")

    monkeypatch.setattr("edge_agent.engine.daily_ats", broken)
    s = Station(tmp_path, source, station, analysis=analyze, start=late_evening(38))
    s.boundaries(4)  # 00:00 fails; 00:15 and 00:30 do not try again
    assert ats_files(s) == []
    quarter = timedelta(minutes=15)
    assert [f.interval_start for f in s.files()] == [NEXT - quarter, NEXT, NEXT + quarter]
    assert s.outbox.gaps("AUS02") == []
    ((kind, text),) = s.alerts
    assert kind == "ALERT_SYSTEM"
    assert "Daily ATS of 2023-11-20 not made" in text and "too large" in text
