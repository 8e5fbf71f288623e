"""The spectrum viewer and the SOH charts in headless Chromium, as an administrator, an
owner and a user of AUS02 (another facility's user gets "not found": test_leaks.py and
test_spectrum_page.py check that answer, callback by callback)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from central.accounts import create_user
from central.store import Store
from tests.central.test_soh_values import add_soh

from .helpers import PASSWORD
from .test_browser import log_in
from .test_spectrum_page import PHD_FILE, analysed, store_spectrum  # noqa: F401 (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),
]


@pytest.fixture
def charted(app, config, analysed):  # noqa: F811
    path = config.storage.database_path
    message_id = store_spectrum(path, analysed)
    with Store(path) as store:
        create_user(store, "olga", PASSWORD, role="owner", owned=["AUS02"])
        add_soh(store, "AUS02", 9001, datetime(2024, 5, 25, tzinfo=UTC), [-185.0, -150.0])
    return app, message_id


@pytest.mark.parametrize("username", ["admin", "olga", "alice"])
def test_spectrum_and_soh_pages(dash_duo, charted, username):
    app, message_id = charted
    url = log_in(dash_duo, app, username)

    dash_duo.driver.get(f"{url}/charts/spectrum?file={message_id}")
    # the central fit (~1 s here) and drawing 16384 channels in a GPU-less Chromium
    dash_duo.wait_for_element("#spectrum-download", timeout=40)
    assert (
        dash_duo.find_element("#spectrum-download")
        .get_attribute("href")
        .endswith(f"/download?ids={message_id}")
    )
    dash_duo.wait_for_contains_text("#spectrum-results", "Xe-133", timeout=20)
    dash_duo.wait_for_element("#spectrum-graph .scatterlayer", timeout=20)
    assert "Xe-133 81.0" in dash_duo.find_element("#spectrum-graph").text  # a line's label

    dash_duo.find_element("a[href='/charts/soh']").click()  # the navigation
    dash_duo.wait_for_contains_text("#soh-summary", "outside limits", timeout=20)
    dash_duo.wait_for_element("#soh-0-slot .js-plotly-plot")
    assert "1 reading outside limits" in dash_duo.find_element("#soh-summary").text
    if username == "admin":  # a PNG of each chart (assets/charts.js)
        dash_duo.find_element("#soh-save-all").click()
        dash_duo.wait_for_contains_text("#soh-save-all-done", "6 charts saved")
    assert dash_duo.get_logs() == []
