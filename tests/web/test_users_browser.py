"""The Users page in headless Chromium: an administrator pages, sorts and filters the
users' grid and creates a user who appears in it at once; an owner gets no Users page."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.keys import Keys

from central.accounts import admin_create_user, authenticate
from central.store import Store

from .helpers import NOW, PASSWORD
from .test_browser import comes_to, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),
]


@pytest.fixture
def many_users(config):
    with Store(config.storage.database_path) as store:
        admin = authenticate(store, "admin", PASSWORD)
        for n in range(26):
            admin_create_user(store, f"u{n:02d}", by=admin, now=NOW, assigned=["BES01"])


def usernames(dash_duo) -> list[str]:
    return [c.text for c in dash_duo.find_elements("#users-body .ag-cell.username")]


def test_an_administrator_pages_sorts_filters_and_creates(dash_duo, app, many_users):
    url = log_in(dash_duo, app, "admin")
    dash_duo.find_element("#nav-users").click()
    dash_duo.wait_for_text_to_equal("#users-displaying", "Displaying 1 - 25 of 30")
    dash_duo.wait_for_text_to_equal("#users-pageinfo", "Page 1 of 2")
    comes_to(dash_duo, lambda d: usernames(d)[:4], ["admin", "alice", "dave", "owen"])
    # a click on a row picks its user for the form
    alice = next(
        c for c in dash_duo.find_elements("#users-body .ag-cell.username") if c.text == "alice"
    )
    alice.click()
    comes_to(
        dash_duo, lambda d: d.find_element("#users-field-username").get_attribute("value"), "alice"
    )
    assert dash_duo.find_element("#users-pick").text == "alice"
    dash_duo.find_element("#users-next").click()
    dash_duo.wait_for_text_to_equal("#users-displaying", "Displaying 26 - 30 of 30")
    comes_to(dash_duo, usernames, [f"u{n:02d}" for n in range(21, 26)])

    # a header click sorts on the server, from the first page
    header = "#users-body .ag-header-cell[col-id=username] .ag-header-cell-label"
    dash_duo.find_element(header).click()  # sorted ascending already: now descending
    comes_to(dash_duo, lambda d: usernames(d)[:2], ["u25", "u24"])
    dash_duo.wait_for_text_to_equal("#users-pageinfo", "Page 1 of 2")

    dash_duo.select_dcc_dropdown("#users-filter-role", value="Facility owner")
    dash_duo.wait_for_text_to_equal("#users-displaying", "Displaying 1 - 1 of 1")
    assert usernames(dash_duo) == ["owen"]
    dash_duo.driver.get(url + "/users")  # the filters back to none
    dash_duo.wait_for_text_to_equal("#users-displaying", "Displaying 1 - 25 of 30")
    dash_duo.select_dcc_dropdown("#users-filter-enabled", value="No")
    dash_duo.wait_for_text_to_equal("#users-displaying", "Displaying 1 - 1 of 1")
    assert usernames(dash_duo) == ["dave"]
    dash_duo.driver.get(url + "/users")
    dash_duo.wait_for_text_to_equal("#users-displaying", "Displaying 1 - 25 of 30")
    dash_duo.select_dcc_dropdown("#users-filter-facility", value="AUS02")
    dash_duo.wait_for_text_to_equal("#users-displaying", "Displaying 1 - 2 of 2")
    assert usernames(dash_duo) == ["alice", "dave"]
    dash_duo.driver.get(url + "/users")
    dash_duo.wait_for_text_to_equal("#users-displaying", "Displaying 1 - 25 of 30")
    dash_duo.find_element("#users-filter-username").send_keys("u1", Keys.ENTER)
    dash_duo.wait_for_text_to_equal("#users-displaying", "Displaying 1 - 10 of 10")

    # a new user: the password shown once, the grid fetched again with the user in it
    dash_duo.find_element("#users-field-username").send_keys("u1new")
    dash_duo.find_element("#users-create").click()
    dash_duo.wait_for_contains_text("#users-message", "User u1new created")
    assert len(dash_duo.find_element("#users-secret").text) >= 16
    dash_duo.wait_for_text_to_equal("#users-displaying", "Displaying 1 - 11 of 11")
    assert "u1new" in usernames(dash_duo)
    # disable it: the grid shows it at once
    dash_duo.find_element("#users-disable").click()
    dash_duo.wait_for_contains_text("#users-message", "User u1new disabled")
    comes_to(  # rows in order: u10 ... u19, u1new
        dash_duo,
        lambda d: [c.text for c in d.find_elements("#users-body .ag-cell.enabled")][-1],
        "No",
    )
    assert dash_duo.get_logs() == []


def test_an_owner_gets_no_users_page(dash_duo, app):
    url = log_in(dash_duo, app, "owen")
    assert dash_duo.find_elements("#nav-users") == []
    dash_duo.driver.get(url + "/users")
    dash_duo.wait_for_text_to_equal("#page h1", "Not allowed")
    assert dash_duo.find_elements("#users-body") == []
    assert "alice" not in dash_duo.driver.page_source
    assert dash_duo.get_logs() == []
