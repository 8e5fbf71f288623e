"""The SOH limits editor in headless Chromium: an owner changes its station's limit and
the chart's limit line moves to it; a plain user sees the charts and no editor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from selenium.webdriver.common.keys import Keys

from central.store import Store
from tests.central.test_soh_values import add_soh

from .test_browser import comes_to, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),
]

# the limit lines of the chart of `quantity`, as Plotly holds them in the page
LIMIT_LINES = """
const quantity = arguments[0];
for (const plot of document.querySelectorAll('.soh-charts .js-plotly-plot')) {
    const traces = plot.data || [];
    if (traces.length && traces[0].name === quantity) {
        return traces.filter((t) => / limit /.test(t.name + ' ')).map((t) => [t.name, t.y[0]]);
    }
}
return null;
"""


@pytest.fixture
def charted(config):
    with Store(config.storage.database_path) as store:
        for station, n in (("BES01", 9101), ("AUS02", 9102)):
            add_soh(store, station, n, datetime(2024, 5, 25, tzinfo=UTC), [-185.0, -168.0])


def open_soh(dash_duo, app, username) -> None:
    url = log_in(dash_duo, app, username)
    dash_duo.driver.get(url + "/charts/soh")
    dash_duo.wait_for_contains_text("#soh-summary", "outside limits", timeout=20)


def limit_lines(dash_duo, quantity="crystal_temperature"):
    return dash_duo.driver.execute_script(LIMIT_LINES, quantity)


def test_an_owner_edits_a_limit_and_the_charts_line_moves(dash_duo, app, charted):
    open_soh(dash_duo, app, "owen")  # owns BES01, the station shown first
    comes_to(dash_duo, limit_lines, [["high limit -163.15", -163.15]], timeout=20)
    assert "0 readings outside limits" in dash_duo.find_element("#soh-summary").text
    dash_duo.wait_for_element("#soh-limits")
    assert dash_duo.find_element("#soh-limits").is_displayed()
    dash_duo.wait_for_contains_text("#soh-limit-row-crystal_temperature", "-163.15")
    assert "default" in dash_duo.find_element("#soh-limit-row-crystal_temperature").text

    dash_duo.select_dcc_dropdown("#soh-limit-quantity", value="crystal_temperature")
    comes_to(
        dash_duo, lambda d: d.find_element("#soh-limit-high").get_attribute("value"), "-163.15"
    )
    high = dash_duo.find_element("#soh-limit-high")
    high.send_keys(Keys.CONTROL, "a")
    high.send_keys("-170")
    dash_duo.find_element("#soh-limit-save").click()
    dash_duo.wait_for_contains_text("#soh-limit-message", "BES01 crystal_temperature: limits")
    # the chart is drawn again with the line where the new limit is
    comes_to(dash_duo, limit_lines, [["high limit -170", -170]], timeout=20)
    dash_duo.wait_for_contains_text("#soh-summary", "1 reading outside limits")
    dash_duo.wait_for_contains_text("#soh-limit-row-crystal_temperature", "station")
    dash_duo.wait_for_contains_text("#soh-limit-history", "owen")

    dash_duo.find_element("#soh-limit-default").click()
    dash_duo.wait_for_contains_text("#soh-limit-message", "→ -∞ to -163.15")
    comes_to(dash_duo, limit_lines, [["high limit -163.15", -163.15]], timeout=20)
    assert dash_duo.get_logs() == []


def test_a_user_sees_the_limits_drawn_and_no_editor(dash_duo, app, charted):
    open_soh(dash_duo, app, "alice")  # a user of AUS02
    comes_to(dash_duo, limit_lines, [["high limit -163.15", -163.15]], timeout=20)
    assert dash_duo.find_elements("#soh-limits") == []
    assert dash_duo.find_elements("#soh-limit-save") == []
    assert dash_duo.get_logs() == []
