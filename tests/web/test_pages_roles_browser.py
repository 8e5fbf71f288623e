"""Every page in headless Chromium as an administrator, an owner and a user: one browser
session per role, the pages in a loop. On each page, once its callbacks have settled:
no other facility's code anywhere in the page, the role's own facilities where the page
lists facilities, the edit controls only for those who may edit, no failed callback.

The sample (tests/web/conftest.py): AUS02 and BES01, `owen` owns BES01, `alice` is a
user of AUS02, `admin` sees both; each has SOH readings here for the SOH page."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from dash.testing.wait import until

from central.store import Store
from tests.central.test_soh_values import add_soh

from .test_browser import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),
]

BOTH = ("AUS02", "BES01")
SEES = {"admin": set(BOTH), "owen": {"BES01"}, "alice": {"AUS02"}}
EDITORS = ("admin", "owen")


@dataclass(frozen=True)
class Check:
    path: str  # {file}: a spectrum of a station the role sees
    title: str  # the page's heading (h1)
    edit: str | None = None  # an edit control's selector
    editors: tuple[str, ...] = EDITORS  # who gets it, shown
    lists_facilities: bool = False  # the role's own codes are on the page


PAGES = (
    Check("/dashboard", "Dashboard", lists_facilities=True),
    Check("/facilities", "Facilities", "#facility-save", lists_facilities=True),
    Check("/charts/releases", "Releases"),
    Check("/charts/ratios", "Isotope ratios"),
    Check("/charts/spectrum?file={file}", "Spectrum"),
    Check("/charts/soh", "State of health", "#soh-limit-save"),
    Check("/charts/trends", "trends"),
    Check("/maintenance", "Maintenance", "#maintenance-save"),
    Check("/resources", "Resources", "#resource-upload"),
    Check("/alerts", "Alerts"),
    Check("/users", "Users", "#users-create", editors=("admin",)),
    Check("/settings", "Settings", "#token-make", editors=("admin", "owen", "alice")),
    Check("/impact", "Impact", "#impact-ims-save", editors=("admin",)),
)

# true while a callback runs: Dash marks the components it is updating
LOADING = "return document.querySelectorAll('[data-dash-is-loading=\"true\"]').length;"


@pytest.fixture
def seeded(config, sample):
    with Store(config.storage.database_path) as store:
        for station, n in (("AUS02", 9201), ("BES01", 9202)):
            add_soh(store, station, n, datetime(2024, 5, 25, tzinfo=UTC), [-185.0, -168.0])
    return {"AUS02": sample.aus_ids[0], "BES01": sample.bes_ids[0]}


def settled(dash_duo, timeout: float = 30) -> None:
    """Wait until no callback has run for a moment (charts fetch after the layout)."""
    quiet_since = [None]

    def quiet() -> bool:
        if dash_duo.driver.execute_script(LOADING):
            quiet_since[0] = None
            return False
        quiet_since[0] = quiet_since[0] or time.monotonic()
        return time.monotonic() - quiet_since[0] > 0.6

    until(quiet, timeout, poll=0.1, msg="the page's callbacks never settled")


def visible(dash_duo, selector: str) -> bool:
    found = dash_duo.find_elements(selector)
    return bool(found) and found[0].is_displayed()


@pytest.mark.parametrize("username", ["admin", "owen", "alice"])
def test_every_page_shows_each_role_what_it_may_see_and_edit(dash_duo, app, seeded, username):
    url = log_in(dash_duo, app, username)
    own = SEES[username]
    others = set(BOTH) - own
    spectrum = seeded[sorted(own)[0]]
    problems = []
    for check in PAGES:
        path = check.path.format(file=spectrum)
        dash_duo.driver.get(url + path)
        refused = check.editors == ("admin",) and check.path == "/users" and username != "admin"
        title = "Not allowed" if refused else check.title
        dash_duo.wait_for_contains_text("#page h1", title, timeout=20)
        settled(dash_duo)
        source = dash_duo.driver.page_source
        for code in others:
            if code in source:
                problems.append(f"{username} {path}: {code} shown")
        if check.lists_facilities:
            text = dash_duo.find_element("#page").text
            problems += [f"{username} {path}: {c} missing" for c in own if c not in text]
        if check.edit is not None:
            may = username in check.editors
            if visible(dash_duo, check.edit) != may:
                problems.append(f"{username} {path}: {check.edit} {'missing' if may else 'shown'}")
        logs = [e for e in dash_duo.get_logs() if e.get("level") == "SEVERE"]
        if logs:
            problems.append(f"{username} {path}: {logs}")
    assert problems == []
