"""The Dashboard, Alerts and Users pages in headless Chromium (dash[testing]): each role
lands on the dashboard and sees its own facilities only, a cell opens that station's
files of the day, and an administrator makes a user who then logs in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from .helpers import PASSWORD, free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),
]

MOMENT = datetime(2024, 5, 2, 4, tzinfo=UTC)  # the dashboard's last 14 days hold the sample


def log_in(dash_duo, username: str, password: str = PASSWORD) -> None:
    dash_duo.driver.get(dash_duo.server.url + "/")
    dash_duo.wait_for_element("#login-form")
    dash_duo.find_element("#username").send_keys(username)
    dash_duo.find_element("#password").send_keys(password)
    dash_duo.find_element("#login-button").click()


def stations_on_dashboard(dash_duo) -> set[str]:
    dash_duo.wait_for_element("#avail-table")
    dash_duo.wait_for_element("#dashboard-stations td.station")
    cells = dash_duo.find_elements("#avail-table td.avail")
    in_grid = {c.get_attribute("id").split("-")[1] for c in cells}
    listed = {c.text for c in dash_duo.find_elements("#dashboard-stations td.station")}
    assert in_grid == listed
    return in_grid


def log_out(dash_duo) -> None:
    dash_duo.find_element("#logout").click()
    dash_duo.wait_for_element("#login-form")


def test_each_role_lands_on_the_dashboard_with_its_own_facilities(dash_duo, app, clock):
    clock.now = MOMENT.timestamp()
    dash_duo.start_server(app, navigate=False, port=free_port())
    for username, stations in (
        ("admin", {"AUS02", "BES01"}),
        ("owen", {"BES01"}),
        ("alice", {"AUS02"}),
    ):
        log_in(dash_duo, username)
        assert stations_on_dashboard(dash_duo) == stations, username
        assert dash_duo.find_element("#nav-dashboard").get_attribute("class") == "nav-link active"
        if "AUS02" in stations:
            assert dash_duo.find_element("#avail-AUS02-PHD-2024-05-01").text == "30/96"
        dash_duo.find_element("#nav-alerts").click()
        # the sample's one alert is BES01's
        expected = "Displaying 1 - 1 of 1" if "BES01" in stations else "Nothing to display"
        dash_duo.wait_for_text_to_equal("#alerts-displaying", expected)
        if username != "alice":
            log_out(dash_duo)

    # alice: a cell opens the files of its station, day and type
    dash_duo.find_element("#nav-dashboard").click()
    dash_duo.wait_for_element("#avail-AUS02-SOH-2024-05-01 a").click()
    dash_duo.wait_for_text_to_equal("#received-displaying", "Displaying 1 - 1 of 1")
    assert "station=AUS02&day=2024-05-01&type=SOH" in dash_duo.driver.current_url
    script = (
        "return Array.from(document.querySelectorAll('#received-body .ag-cell.product'))"
        ".map(c => c.innerText)"
    )
    WebDriverWait(dash_duo.driver, 30).until(lambda d: d.execute_script(script))
    assert set(dash_duo.driver.execute_script(script)) == {"SOH"}  # the grid's type cells
    assert dash_duo.get_logs() == []


def test_an_administrator_makes_a_user_who_then_logs_in(dash_duo, app, clock):
    clock.now = MOMENT.timestamp()
    dash_duo.start_server(app, navigate=False, port=free_port())
    log_in(dash_duo, "admin")
    dash_duo.wait_for_element("#avail-table")
    dash_duo.find_element("#nav-users").click()
    dash_duo.wait_for_contains_text("#users-body", "alice")  # the Users grid
    dash_duo.find_element("#users-field-username").send_keys("yan")
    dash_duo.find_element("#users-field-email").send_keys("yan@example.org")
    dash_duo.select_dcc_dropdown("#users-field-assigned", value="BES01")
    dash_duo.find_element("#users-create").click()
    dash_duo.wait_for_element("#users-secret")
    password = dash_duo.find_element("#users-secret").text
    dash_duo.wait_for_contains_text("#users-body", "yan@example.org")  # fetched again
    (row,) = [r for r in dash_duo.find_elements("#users-body .ag-row") if "yan@" in r.text]
    assert "BES01" in row.find_element(By.CSS_SELECTOR, ".ag-cell.assigned").text
    log_out(dash_duo)

    log_in(dash_duo, "yan", password)
    assert stations_on_dashboard(dash_duo) == {"BES01"}
    assert dash_duo.find_element("#user-name").text == "yan"
    assert "Users" not in [link.text for link in dash_duo.find_elements(".nav-link")]
    assert dash_duo.get_logs() == []
