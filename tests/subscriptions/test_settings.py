"""The Settings page's subscription and certificate parts, as laid out for each user
(the callbacks are exercised for every role in tests/web/test_leaks.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import plotly.utils
from flask import Flask

from central.accounts import get_user
from central.subscriptions import set_subscriptions
from central.usercerts import make_and_save
from central.web.clock import init_clock
from central.web.pages.settings import page

from .conftest import PASSWORD, T0, user_id


def layout(store, name: str, at=T0) -> str:
    """The page as the web app lays it out at `at` (its clock)."""
    server = Flask(__name__)
    init_clock(server, lambda: at.timestamp())
    account = get_user(store, user_id(store, name))
    with server.app_context():
        return json.dumps(page(store, account), cls=plotly.utils.PlotlyJSONEncoder)


def test_the_page_offers_the_facilities_the_user_sees_with_their_subscriptions(store):
    bert = get_user(store, user_id(store, "bert"))
    set_subscriptions(store, bert, "BES01", ["SOH", "ALERT"], now=T0)
    text = layout(store, "bert")
    assert '"facility": "BES01"' in text and '"facility": "AUS02"' not in text
    assert '"value": ["SOH", "ALERT"]' in text
    assert "Mail goes to bert@users.test." in text
    assert "not encrypted" in text  # no certificate yet
    admin = layout(store, "root")
    assert '"facility": "BES01"' in admin and '"facility": "AUS02"' in admin


def test_the_page_shows_the_certificate_mail_is_encrypted_to(store):
    make_and_save(store, user_id(store, "alice"), PASSWORD, T0)
    text = layout(store, "alice")
    assert "alice@users.test" in text and "made here" in text
    until = (T0 + timedelta(days=825)).strftime("%Y/%m/%d")
    assert f"Valid until {until}" in text


def test_without_an_address_the_page_says_so(store):
    with store.conn:
        store.conn.execute("update users set email = null where username = 'carl'")
    assert "You have no e-mail address yet" in layout(store, "carl")


def test_an_expired_certificate_is_shown_as_such(store):
    make_and_save(store, user_id(store, "alice"), PASSWORD, T0)
    assert "not valid now" not in layout(store, "alice")
    assert "not valid now" in layout(store, "alice", at=T0 + timedelta(days=900))
