"""The Maintenance page in headless Chromium, as an administrator, an owner and a user:
what each sees, and that owners add, change and delete their own stations' annotations
(the notification queued said on the page) while users only read."""

from __future__ import annotations

from datetime import timedelta

import pytest

from central.accounts import authenticate
from central.maintenance import add_annotation
from central.store import Store

from .helpers import NOW, PASSWORD
from .test_browser import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),
]


@pytest.fixture
def seeded(config):
    with Store(config.storage.database_path) as store:
        admin = authenticate(store, "admin", PASSWORD)
        owen = authenticate(store, "owen", PASSWORD)
        add_annotation(
            store, admin, NOW, station="AUS02", name="Server move", start=NOW - timedelta(days=9)
        )
        add_annotation(
            store, owen, NOW, station="BES01", name="Power outage", start=NOW - timedelta(days=2)
        )


def open_maintenance(dash_duo, app, username):
    log_in(dash_duo, app, username)
    dash_duo.find_element("#nav-maintenance").click()
    dash_duo.wait_for_element("#maintenance-body .ag-cell.station")


def stations_shown(dash_duo) -> set[str]:
    return {c.text for c in dash_duo.find_elements("#maintenance-body .ag-cell.station")}


def test_an_owner_adds_changes_and_deletes_an_annotation_of_its_station(dash_duo, app, seeded):
    open_maintenance(dash_duo, app, "owen")
    dash_duo.wait_for_text_to_equal("#maintenance-displaying", "Displaying 1 - 1 of 1")
    assert stations_shown(dash_duo) == {"BES01"}
    dash_duo.select_dcc_dropdown("#maintenance-field-station", value="BES01")
    dash_duo.find_element("#maintenance-field-name").send_keys("Detector swap")
    dash_duo.find_element("#maintenance-field-text").send_keys("HPGe replaced")
    dash_duo.find_element("#maintenance-field-start").send_keys("2024-05-31 08:00")
    dash_duo.find_element("#maintenance-save").click()
    dash_duo.wait_for_contains_text("#maintenance-queued", "notification to the users of BES01")
    dash_duo.wait_for_text_to_equal("#maintenance-displaying", "Displaying 1 - 2 of 2")
    dash_duo.wait_for_text_to_equal("#notices-displaying", "Displaying 1 - 2 of 2")
    assert "in the outbox" in dash_duo.find_element("#notices-body").text

    # the new one is chosen in the form: change it, then delete it
    dash_duo.wait_for_text_to_equal("#maintenance-field-name", "Detector swap")
    dash_duo.find_element("#maintenance-field-end").send_keys("2024-05-31 12:00")
    dash_duo.find_element("#maintenance-save").click()
    dash_duo.wait_for_contains_text("#maintenance-message", "Saved “Detector swap” at BES01")
    dash_duo.wait_for_contains_text("#maintenance-body", "2024/05/31 12:00:00")
    dash_duo.wait_for_text_to_equal("#notices-displaying", "Displaying 1 - 3 of 3")
    dash_duo.find_element("#maintenance-delete").click()
    dash_duo.wait_for_contains_text("#maintenance-message", "Deleted “Detector swap”")
    dash_duo.wait_for_text_to_equal("#maintenance-displaying", "Displaying 1 - 1 of 1")
    assert dash_duo.get_logs() == []


def test_a_user_reads_the_annotations_of_the_assigned_station_only(dash_duo, app, seeded):
    open_maintenance(dash_duo, app, "alice")
    dash_duo.wait_for_text_to_equal("#maintenance-displaying", "Displaying 1 - 1 of 1")
    assert stations_shown(dash_duo) == {"AUS02"}
    assert "Server move" in dash_duo.find_element("#maintenance-body").text
    assert not dash_duo.find_element("#maintenance-save").is_displayed()
    assert "Power outage" not in dash_duo.driver.page_source
    assert dash_duo.get_logs() == []


def test_an_administrator_sees_every_station_and_filters(dash_duo, app, seeded):
    open_maintenance(dash_duo, app, "admin")
    dash_duo.wait_for_text_to_equal("#maintenance-displaying", "Displaying 1 - 2 of 2")
    assert stations_shown(dash_duo) == {"AUS02", "BES01"}
    dash_duo.select_dcc_dropdown("#maintenance-station", value="AUS02")
    dash_duo.wait_for_text_to_equal("#maintenance-displaying", "Displaying 1 - 1 of 1")
    assert dash_duo.find_element("#maintenance-save").is_displayed()
    assert dash_duo.get_logs() == []
