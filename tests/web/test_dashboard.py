"""The Dashboard's questions (central/availability.py) on a real database, without a
browser: counts of expected, the publish delay in the counts, the last file and SOH, the
cells' links, and the Received page's filters from the address."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from central.accounts import authenticate, create_user
from central.availability import (
    EXPECTED,
    availability,
    days_until,
    expected_on,
    latest_files,
    level,
    received_counts,
)
from central.facilities import update_facility
from central.store import Store
from central.web.layout import HOME, received_preset
from central.web.pages.dashboard import availability_table, received_link

from .helpers import NOW, PASSWORD, call_callback, login
from .test_callbacks import find, route

DAY = date(2024, 5, 1)  # the sample's day: AUS02 30 spectra, 1 SOH, 1 ATS (CENTRAL)


@pytest.fixture
def store(config):
    with Store(config.storage.database_path) as store:
        yield store


def user(store, name):
    account = authenticate(store, name, PASSWORD)
    assert account is not None
    return account


def test_expected_counts_of_a_past_day_today_and_a_day_to_come():
    now = datetime(2024, 5, 2, 6, 10, tzinfo=UTC)
    assert [expected_on(p, DAY, now) for p in EXPECTED] == [96, 12, 1]
    # 06:10 today: 24 spectra ended (the 25th ends at 06:15), 3 SOH periods, no ATS yet
    assert [expected_on(p, DAY + timedelta(days=1), now) for p in EXPECTED] == [24, 3, 0]
    assert [expected_on(p, DAY + timedelta(days=2), now) for p in EXPECTED] == [0, 0, 0]
    with pytest.raises(ValueError, match="no expected count for 'CSV'"):
        expected_on("CSV", DAY, now)


def test_levels_and_days():
    assert [level(96, 96), level(50, 96), level(47, 96), level(0, 96)] == [
        "full",
        "partial",
        "low",
        "none",
    ]
    assert level(0, 0) == "full"  # nothing due yet is not missing
    assert days_until(DAY, 3) == [date(2024, 4, 29), date(2024, 4, 30), DAY]
    with pytest.raises(ValueError):
        days_until(DAY, 0)


def test_counts_follow_the_facility_rule(store):
    counts = received_counts(store, user(store, "admin"), NOW, DAY, DAY)
    # only sample spectra count as spectra, only the station's ATS as the ATS
    assert counts == {("AUS02", DAY, "PHD"): 30, ("AUS02", DAY, "SOH"): 1, ("BES01", DAY, "PHD"): 3}
    alice = received_counts(store, user(store, "alice"), NOW, DAY, DAY)
    assert set(alice) == {("AUS02", DAY, "PHD"), ("AUS02", DAY, "SOH")}
    owen = availability(store, user(store, "owen"), NOW, [DAY])
    assert owen.stations == ["BES01"] and owen.cell("BES01", DAY, "PHD").received == 3


def test_an_unpublished_file_does_not_count_for_a_user_but_for_the_owner(store, config):
    update_facility(store, "AUS02", {"publish_delay": "1d"}, changed_by="test", now=NOW)
    moment = datetime(2024, 5, 2, 4, tzinfo=UTC)  # spectra of 2024-05-01 before 04:00 published
    create_user(store, "olga", PASSWORD, role="owner", owned=["AUS02"])
    alice = availability(store, user(store, "alice"), moment, [DAY]).cell("AUS02", DAY, "PHD")
    olga = availability(store, user(store, "olga"), moment, [DAY]).cell("AUS02", DAY, "PHD")
    published = store.conn.execute(
        "select count(*) from messages where station = 'AUS02' and data_type = 'SAMPLEPHD' "
        "and data_until <= ?",
        ["2024-05-01T04:00:00.000Z"],
    ).fetchone()[0]
    assert (alice.received, olga.received) == (published, 30)
    assert 0 < published < 30 and alice.expected == 96


def test_the_last_file_and_the_last_soh_of_each_visible_station(store):
    latest = latest_files(store, user(store, "admin"), NOW)
    last_aus = store.conn.execute(
        "select file_name from messages where station = 'AUS02' order by received_at desc limit 1"
    ).fetchone()[0]
    assert latest["AUS02"]["file"]["file_name"] == last_aus
    assert latest["AUS02"]["soh"]["product"] == "SOH"
    assert latest["BES01"]["soh"] is None
    assert list(latest_files(store, user(store, "alice"), NOW)) == ["AUS02"]


def test_a_cell_links_to_the_received_files_of_its_station_day_and_type(store):
    data = availability(store, user(store, "alice"), NOW, [DAY])
    table = json.dumps(
        availability_table(data).to_plotly_json(), default=lambda o: o.to_plotly_json()
    )
    assert "/received?station=AUS02&day=2024-05-01&type=PHD" in table
    assert "BES01" not in table
    assert received_link("AUS02", DAY, "SOH") == "/received?station=AUS02&day=2024-05-01&type=SOH"
    assert received_link("AUS02", DAY, "ATS").endswith("&type=ATS&analysis=STATION")


def test_the_received_filters_come_from_the_address_and_only_what_is_offered():
    preset = received_preset("?station=AUS02,BES01&day=2024-05-01&type=PHD&type=XXX", ["AUS02"])
    assert preset == {
        "station": ["AUS02"],
        "type": ["PHD"],
        "analysis": None,
        "start_date": "2024-05-01",
        "end_date": "2024-05-01",
    }
    assert received_preset("?from=2024-05-01&to=nonsense", ["AUS02"])["start_date"] == "2024-05-01"
    assert received_preset(None, [])["station"] is None


def test_the_dashboard_is_the_home_page_and_the_received_page_takes_its_filters(client):
    login(client, "alice")
    assert HOME == "/dashboard"
    home = route(client, "/")["page"]["children"]
    assert find(home, "dashboard-availability") is not None
    assert "AUS02" in json.dumps(find(home, "dashboard-stations"))
    response = call_callback(
        client,
        "page.children",
        [{"id": "page", "property": "children"}, {"id": "nav-links", "property": "children"}],
        [("url", "pathname", "/received")],
        [("url", "search", "?station=AUS02&day=2024-05-01&type=SOH")],
    )
    page = response.get_json()["response"]["page"]["children"]
    assert find(page, "received-station")["props"]["value"] == ["AUS02"]
    assert find(page, "received-type")["props"]["value"] == ["SOH"]
    assert find(page, "received-start")["props"]["start_date"] == "2024-05-01"
