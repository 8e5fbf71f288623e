"""The pages in headless Chromium (dash[testing]): log in, see one's own stations' files
and only those, page, select, log out; and a session that ends while the page is open."""

from __future__ import annotations

import pytest
from dash.testing.wait import until
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.keys import Keys

from .helpers import PASSWORD, free_port

pytestmark = [
    pytest.mark.browser,
    # selenium 4.2, which dash[testing] pins, calls an urllib3 method deprecated since
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),
]


# Content-Security-Policy violations in the page (WebDriver's own scripts are exempt)
WATCH_CSP = """
window.cspViolations = [];
document.addEventListener('securitypolicyviolation',
    (e) => window.cspViolations.push(e.effectiveDirective));
"""
BREAK_CSP = """
const done = arguments[arguments.length - 1];
const probe = document.createElement('button');
probe.setAttribute('onclick', 'window.inlineRan = true');
document.body.appendChild(probe);
probe.click();
setTimeout(() => done(window.cspViolations), 200);
"""


def log_in(dash_duo, app, username: str) -> str:
    dash_duo.start_server(app, navigate=False, port=free_port())
    url = dash_duo.server.url
    dash_duo.driver.get(url + "/received")
    dash_duo.wait_for_element("#login-form")  # sent to the login page first
    dash_duo.find_element("#username").send_keys(username)
    dash_duo.find_element("#password").send_keys(PASSWORD)
    dash_duo.find_element("#login-button").click()
    dash_duo.wait_for_element("#received-body .ag-cell.station")
    return url


def stations_in_table(dash_duo) -> set[str]:
    return {cell.text for cell in dash_duo.find_elements("#received-body .ag-cell.station")}


def comes_to(dash_duo, read, expected, timeout: float = 10):
    """Wait until `read(dash_duo)` gives `expected` (the grid redraws its rows)."""

    def check():
        try:
            return read(dash_duo) == expected
        except WebDriverException:  # a row drawn anew under the reader
            return False

    until(check, timeout, msg=f"never came to {expected!r}")


def first_stations(dash_duo) -> list[str]:
    return [c.text for c in dash_duo.find_elements("#received-body .ag-cell.station")][:3]


def station_options(dash_duo) -> list[str]:
    dash_duo.find_element("#received-station").click()
    options = dash_duo.find_elements(".dash-dropdown-option")
    texts = [option.text for option in options]
    dash_duo.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    return texts


def test_an_administrator_sees_both_stations_pages_and_selects(dash_duo, app):
    log_in(dash_duo, app, "admin")
    dash_duo.wait_for_text_to_equal("#received-displaying", "Displaying 1 - 25 of 36")
    assert stations_in_table(dash_duo) == {"AUS02", "BES01"}
    assert station_options(dash_duo) == ["AUS02", "BES01"]
    assert dash_duo.find_element("#user-name").text == "admin"
    assert dash_duo.find_element("#nav-quarantine").is_displayed()
    dash_duo.driver.execute_script(WATCH_CSP)

    dash_duo.find_element("#received-next").click()
    dash_duo.wait_for_text_to_equal("#received-displaying", "Displaying 26 - 36 of 36")
    dash_duo.wait_for_text_to_equal("#received-pageinfo", "Page 2 of 2")
    dash_duo.find_element("#received-first").click()
    dash_duo.wait_for_text_to_equal("#received-displaying", "Displaying 1 - 25 of 36")

    # a header click sorts on the server: ascending by station, then descending
    header = "#received-body .ag-header-cell[col-id=station] .ag-header-cell-label"
    dash_duo.find_element(header).click()
    comes_to(dash_duo, stations_in_table, {"AUS02"})  # 32 of them: page 1 is AUS02 only
    dash_duo.wait_for_text_to_equal("#received-pageinfo", "Page 1 of 2")
    dash_duo.find_element(header).click()
    comes_to(dash_duo, first_stations, ["BES01"] * 3)
    assert len(dash_duo.find_elements("#received-body .ag-cell.station")) == 25  # one page
    dash_duo.find_element("#received-next").click()
    dash_duo.wait_for_text_to_equal("#received-displaying", "Displaying 26 - 36 of 36")
    comes_to(dash_duo, stations_in_table, {"AUS02"})

    checks = dash_duo.find_elements("#received-body .ag-row .ag-selection-checkbox input")
    checks[0].click()
    checks[1].click()
    dash_duo.wait_for_text_to_equal("#received-selected", "2 files selected")
    href = dash_duo.find_element("#received-download").get_attribute("href")
    assert "/download?ids=" in href
    assert dash_duo.get_logs() == []  # no failed callback, no script error
    # the grid sorted, paged and selected under the CSP: the only violation is the one
    # made on purpose (an inline handler), which shows the policy is enforced
    assert dash_duo.driver.execute_async_script(BREAK_CSP) == ["script-src-attr"]


def test_a_user_sees_only_the_assigned_station_and_logs_out(dash_duo, app):
    url = log_in(dash_duo, app, "alice")
    dash_duo.wait_for_text_to_equal("#received-displaying", "Displaying 1 - 25 of 32")
    assert stations_in_table(dash_duo) == {"AUS02"}
    assert station_options(dash_duo) == ["AUS02"]
    assert [link.text for link in dash_duo.find_elements(".nav-link")] == [
        "Dashboard",
        "Received",
        "Releases",
        "Isotope ratios",
        "Spectrum",
        "SOH Charts",
        "Trends",
        "Impact",
        "Comparison",
        "Alerts",
        "Maintenance",
        "Resources",
        "Facilities",
        "Settings",
    ]

    dash_duo.find_element("#logout").click()
    dash_duo.wait_for_element("#login-form")
    dash_duo.driver.get(url + "/received")
    dash_duo.wait_for_element("#login-form")
    assert "/login?next=/received" in dash_duo.driver.current_url
    assert dash_duo.get_logs() == []


def test_an_open_page_goes_to_the_login_when_the_session_ends(dash_duo, app, clock):
    log_in(dash_duo, app, "alice")
    dash_duo.wait_for_text_to_equal("#received-pageinfo", "Page 1 of 2")
    clock.advance(31)
    dash_duo.find_element("#received-next").click()  # its callback gets 401
    dash_duo.wait_for_text_to_equal(".notice", "Your session has ended: please log in again.")


def test_a_user_sees_the_comparisons_of_the_assigned_station_and_the_disagreement(dash_duo, app):
    log_in(dash_duo, app, "alice")
    dash_duo.find_element("#nav-comparison").click()
    dash_duo.wait_for_text_to_equal("#comparison-displaying", "Displaying 1 - 3 of 3")
    stations = {c.text for c in dash_duo.find_elements("#comparison-body .ag-cell.station")}
    assert stations == {"AUS02"}
    assert len(dash_duo.find_elements("#comparison-body .ag-row.flagged")) == 1

    dash_duo.find_element("#comparison-flagged input").click()
    dash_duo.wait_for_text_to_equal("#comparison-displaying", "Displaying 1 - 1 of 1")
    [row] = dash_duo.find_elements("#comparison-body .ag-row")
    assert "flagged" in row.get_attribute("class")
    cells = [c.text for c in row.find_elements("css selector", ".ag-cell")]
    assert cells[1:5] == ["AUS02", "Xe-133", "release", "9.00E+06"]
    assert cells[8] == "+4.16" and cells[9] == "both detect: |z| > 3"
    assert dash_duo.get_logs() == []


def test_an_owner_sets_the_publish_delay_and_a_user_makes_a_token(dash_duo, app):
    log_in(dash_duo, app, "owen")
    dash_duo.find_element("#nav-facilities").click()
    dash_duo.wait_for_element("#facility-row-BES01")
    dash_duo.select_dcc_dropdown("#facility-code", value="BES01")
    dash_duo.wait_for_element("#facility-history table")
    dash_duo.select_dcc_dropdown("#facility-field-publish_delay", value="3 days")
    dash_duo.find_element("#facility-save").click()
    dash_duo.wait_for_contains_text("#facility-message", "publish_delay immediately → 3d")
    dash_duo.wait_for_contains_text("#facility-row-BES01", "3 days")

    dash_duo.find_element("#nav-settings").click()
    dash_duo.wait_for_element("#token-make")
    dash_duo.find_element("#token-name").send_keys("laptop")
    dash_duo.find_element("#token-make").click()
    dash_duo.wait_for_element("#token-secret")
    token = dash_duo.find_element("#token-secret").text
    assert token.startswith("stax_")
    dash_duo.wait_for_contains_text("#token-list", "laptop")
    dash_duo.find_element("#token-list button").click()  # Revoke
    dash_duo.wait_for_contains_text("#token-list", "revoked")
    assert token not in dash_duo.find_element("#token-list").text
    assert dash_duo.get_logs() == []
