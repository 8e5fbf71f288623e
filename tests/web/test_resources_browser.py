"""The Resources page in headless Chromium, as an administrator, an owner and a user: who
uploads where, who sees which resource, and the download links the table gives."""

from __future__ import annotations

import pytest

from central.accounts import authenticate
from central.resources import add_resource
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
        owen = authenticate(store, "owen", PASSWORD)
        row = add_resource(
            store,
            owen,
            NOW,
            station="BES01",
            kind="reviewed",
            file_name="BES01_reviewed_may.csv",
            data=b"day,Xe-133\n",
            max_bytes=1000,
            day_from="2024-05-01",
            day_to="2024-05-31",
        )
    return row


def open_resources(dash_duo, app, username):
    log_in(dash_duo, app, username)
    dash_duo.find_element("#nav-resources").click()
    dash_duo.wait_for_element("#resources-displaying")


def names_shown(dash_duo) -> set[str]:
    return {c.text for c in dash_duo.find_elements("#resources-body a")}


def upload(dash_duo, tmp_path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    dash_duo.find_element("#resource-upload input[type=file]").send_keys(str(path))


def test_an_administrator_uploads_a_general_document(dash_duo, app, seeded, tmp_path):
    open_resources(dash_duo, app, "admin")
    dash_duo.wait_for_text_to_equal("#resources-displaying", "Displaying 1 - 1 of 1")
    dash_duo.select_dcc_dropdown("#resource-place", value="STAX (general)")
    dash_duo.find_element("#resource-description").send_keys("How to fetch STAX data")
    upload(dash_duo, tmp_path, "get_STAX_data.sh.txt", b"#!/bin/sh\nstax fetch\n")
    dash_duo.wait_for_contains_text("#resource-message", "Uploaded get_STAX_data.sh.txt")
    dash_duo.wait_for_text_to_equal("#resources-displaying", "Displaying 1 - 2 of 2")
    assert names_shown(dash_duo) == {"get_STAX_data.sh.txt", "BES01_reviewed_may.csv"}
    assert "STAX (general)" in dash_duo.find_element("#resources-body").text
    link = dash_duo.find_element("#resources-body a").get_attribute("href")
    assert link.startswith(dash_duo.server.url + "/resources/")
    # the reviewed data only
    dash_duo.find_element("#resources-kind input[value=reviewed]").click()
    dash_duo.wait_for_text_to_equal("#resources-displaying", "Displaying 1 - 1 of 1")
    assert "2024-05-01 – 2024-05-31" in dash_duo.find_element("#resources-body").text
    assert dash_duo.get_logs() == []


def test_an_owner_uploads_for_its_own_station_only(dash_duo, app, seeded, tmp_path):
    open_resources(dash_duo, app, "owen")
    dash_duo.find_element("#resource-place").click()
    options = [o.text for o in dash_duo.find_elements(".dash-dropdown-option")]
    assert options == ["BES01"]
    dash_duo.find_element(".dash-dropdown-option").click()
    upload(dash_duo, tmp_path, "stack_manual.pdf", b"%PDF-1.7\n")
    dash_duo.wait_for_contains_text("#resource-message", "Uploaded stack_manual.pdf")
    dash_duo.wait_for_text_to_equal("#resources-displaying", "Displaying 1 - 2 of 2")
    # and deleted again
    dash_duo.select_dcc_dropdown("#resource-delete-choice", index=0)
    dash_duo.find_element("#resource-delete").click()
    dash_duo.wait_for_contains_text("#resource-message", "Deleted stack_manual.pdf")
    dash_duo.wait_for_text_to_equal("#resources-displaying", "Displaying 1 - 1 of 1")
    assert dash_duo.get_logs() == []


def test_a_user_sees_what_the_facilities_allow_and_uploads_nothing(dash_duo, app, seeded):
    with Store(app.server.config["STAX_DATABASE"]) as store:
        add_resource(
            store,
            authenticate(store, "admin", PASSWORD),
            NOW,
            station=None,
            kind="document",
            file_name="ATS Format Description.pdf",
            data=b"%PDF",
            max_bytes=100,
        )
    open_resources(dash_duo, app, "alice")  # AUS02 only: not BES01's reviewed data
    dash_duo.wait_for_text_to_equal("#resources-displaying", "Displaying 1 - 1 of 1")
    assert names_shown(dash_duo) == {"ATS Format Description.pdf"}
    assert not dash_duo.find_element("#resource-upload").is_displayed()
    assert "BES01_reviewed_may" not in dash_duo.driver.page_source
    assert dash_duo.get_logs() == []
