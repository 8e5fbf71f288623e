"""The Settings page in headless Chromium, as a user of AUS02: an API token shown once,
listed afterwards without its value, good for /api/v1/files until revoked; the
subscription form offers the user's facilities only; the S/MIME section is there; and
a change of one's own password (the old one then fails to log in, the new one works)."""

from __future__ import annotations

import pytest
import requests

from .helpers import PASSWORD
from .test_browser import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),
]

NEW = "a new and long password"


def files_status(url: str, token: str) -> int:
    return requests.get(
        url + "/api/v1/files", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).status_code


def log_in_with(dash_duo, url: str, username: str, password: str) -> None:
    dash_duo.driver.get(url + "/received")
    dash_duo.wait_for_element("#login-form")
    dash_duo.find_element("#username").send_keys(username)
    dash_duo.find_element("#password").send_keys(password)
    dash_duo.find_element("#login-button").click()


def test_tokens_subscriptions_certificate_and_the_password(dash_duo, app):
    url = log_in(dash_duo, app, "alice")
    dash_duo.find_element("#nav-settings").click()
    dash_duo.wait_for_element("#token-make")

    # an API token: shown once, then listed by its prefix only
    dash_duo.find_element("#token-name").send_keys("laptop script")
    dash_duo.find_element("#token-make").click()
    dash_duo.wait_for_element("#token-secret")
    token = dash_duo.find_element("#token-secret").text
    assert len(token) >= 32
    listed = dash_duo.find_element("#token-list").text
    assert "laptop script" in listed and "active" in listed
    assert token not in listed and token[:8] in listed
    assert files_status(url, token) == 200
    assert files_status(url, token[:-1] + ("A" if token[-1] != "A" else "B")) == 401
    dash_duo.driver.refresh()  # the page again: the token is listed, its value nowhere
    dash_duo.wait_for_contains_text("#token-list", "laptop script")
    assert token not in dash_duo.driver.page_source
    dash_duo.find_element("#token-list button").click()  # Revoke
    dash_duo.wait_for_contains_text("#token-new", "revoked")
    dash_duo.wait_for_contains_text("#token-list", "revoked")
    assert files_status(url, token) == 401

    # the subscriptions: one row per facility the user sees, AUS02 only
    form = dash_duo.find_element("#sub-form")
    assert "AUS02" in form.text and "BES01" not in dash_duo.driver.page_source
    boxes = dash_duo.find_elements("#sub-form input[type=checkbox]")
    assert len(boxes) == 5  # ATS, CSV, PHD, SOH, ALERT of AUS02
    # the S/MIME certificate section
    assert "Your S/MIME certificate" in dash_duo.find_element("#page").text
    assert "No certificate" in dash_duo.find_element("#cert-info").text
    for control in ("#cert-password", "#cert-password2", "#cert-make", "#cert-upload"):
        assert dash_duo.find_element(control).is_displayed(), control

    # one's own password: wrong current one refused, then changed
    dash_duo.find_element("#pw-current").send_keys("not my password")
    dash_duo.find_element("#pw-new").send_keys(NEW)
    dash_duo.find_element("#pw-again").send_keys(NEW)
    dash_duo.find_element("#pw-change").click()
    dash_duo.wait_for_contains_text("#pw-message", "Not changed: the current password is not right")
    dash_duo.find_element("#pw-current").send_keys(PASSWORD)
    dash_duo.find_element("#pw-new").send_keys(NEW)
    dash_duo.find_element("#pw-again").send_keys(NEW)
    dash_duo.find_element("#pw-change").click()
    dash_duo.wait_for_element("#pw-login")
    assert dash_duo.get_logs() == []

    log_in_with(dash_duo, url, "alice", PASSWORD)  # the old one: refused
    dash_duo.wait_for_contains_text(".error", "Wrong user name or password")
    log_in_with(dash_duo, url, "alice", NEW)
    dash_duo.wait_for_element("#received-body .ag-cell.station")
    assert dash_duo.find_element("#user-name").text == "alice"
