"""The Alerts page's list (central/station_alerts.py, central/alert_list.py) on a real
database: station ALERT messages as the agent writes them, read back with
shared/formats, paired into episodes, filtered and paged under the access rule; and the
page's callback over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from central.accounts import authenticate
from central.alert_list import AlertFilter, alert_kinds, alert_page, matches, open_alerts
from central.alerts import Observation, apply_observations
from central.facilities import update_facility
from central.station_alerts import Episode, episode_of, episodes, station_episodes
from central.store import Store
from central.verify import summary
from central.web.pages.alerts import ALERTS
from edge_agent.alerts import alert_file_name
from shared.formats import Alert, Message, write_message
from shared.timeutil import iso_z

from .helpers import NOW, PASSWORD, login
from .test_callbacks import show_page

T0 = datetime(2024, 5, 1, 9, tzinfo=UTC)


def add_alert(store, station, n, kind, text, at, with_summary=True) -> int:
    message = Message(sections=[Alert(kind, station, kind, at, text)], msg_id=str(5000 + n))
    content = write_message(message).encode()
    result = store.add_message(
        file_name=alert_file_name(station, 5000 + n, at),
        station=station,
        data_type=kind,
        product="ALERT",
        msg_id=str(5000 + n),
        content=content,
        start_time=iso_z(at),
        summary=summary(message) if with_summary else {},
        received_at=iso_z(at + timedelta(minutes=1)),
    )
    assert result.outcome == "created"
    return int(result.message_id)


@pytest.fixture
def store(config):
    with Store(config.storage.database_path) as store:
        yield store


@pytest.fixture
def alerts(store):
    """AUS02: a flow out of its limits and back, the MCA silent (still open), a one-off;
    BES01: an outbox that grew (open), read from the file (no summary)."""
    ids = {
        "flow": add_alert(
            store, "AUS02", 1, "ALERT_FLOW", "flow = 0.2, below its limit 0.5 (0.5 to 2)", T0
        ),
        "flow back": add_alert(
            store,
            "AUS02",
            2,
            "ALERT_FLOW",
            "flow = 1, back within its limits (0.5 to 2)",
            T0 + timedelta(hours=1),
        ),
        "mca": add_alert(
            store,
            "AUS02",
            3,
            "ALERT_SYSTEM",
            "MCA not answering (timeout)",
            T0 + timedelta(hours=2),
        ),
        "once": add_alert(
            store,
            "AUS02",
            4,
            "ALERT_SYSTEM",
            "Daily ATS of 2024-04-30 not made (disk full)",
            T0 + timedelta(hours=3),
        ),
        "outbox": add_alert(
            store,
            "BES01",
            5,
            "ALERT_SYSTEM",
            "Outbox growing: 900 files wait to be sent (limit 500)",
            T0 + timedelta(hours=4),
            with_summary=False,
        ),
    }
    return ids


def user(store, name):
    return authenticate(store, name, PASSWORD)


def test_the_texts_the_agent_writes_open_and_clear_episodes():
    assert episode_of("flow = 0.2, below its limit 0.5 (0.5 to 2)") == Episode("limit:flow", False)
    assert episode_of("flow = 1, back within its limits (0.5 to 2)") == Episode("limit:flow", True)
    assert episode_of("Outbox back to normal: 3 files wait") == Episode("outbox", True)
    assert episode_of("Station certificate valid again") == Episode("cert", True)
    assert episode_of("station certificate a.pem runs out on ...") == Episode("cert", False)
    assert episode_of("Spectra input data missing") == Episode("spectra", False)  # real STAX
    assert episode_of("Something else") == Episode(None, False)


def test_episodes_pair_a_raise_with_the_next_clear_of_the_same_station_kind_and_key():
    def m(i, station, text, kind="ALERT_SYSTEM"):
        return {"id": i, "station": station, "kind": kind, "time": f"2024-05-01T0{i}", "text": text}

    rows = episodes(
        [
            m(1, "AUS02", "MCA answers again: x"),  # its raise is older than what is seen
            m(2, "AUS02", "MCA not answering (a)"),
            m(3, "BES01", "MCA answers again: y"),  # another station's: clears nothing here
            m(4, "AUS02", "MCA answers again: x"),
            m(5, "AUS02", "MCA not answering (b)"),
        ]
    )
    states = [(r["id"], r["state"], r["raised_at"], r["cleared_at"]) for r in rows]
    assert states == [
        (1, "cleared", None, "2024-05-01T01"),
        (2, "cleared", "2024-05-01T02", "2024-05-01T04"),
        (3, "cleared", None, "2024-05-01T03"),
        (5, "open", "2024-05-01T05", None),
    ]


def test_station_alerts_as_episodes_under_the_rule(store, alerts):
    admin = user(store, "admin")
    rows = {r["id"]: r for r in station_episodes(store, admin, NOW)}
    assert rows[alerts["flow"]]["state"] == "cleared"
    assert rows[alerts["flow"]]["cleared_at"] == iso_z(T0 + timedelta(hours=1))
    assert alerts["flow back"] not in rows  # it is the flow episode's end
    assert rows[alerts["mca"]]["state"] == "open"
    assert rows[alerts["once"]]["state"] == "single"
    # read from the stored file with shared/formats when the summary lacks the text
    assert rows[alerts["outbox"]]["message"].startswith("Outbox growing: 900 files")
    alice = {r["station"] for r in station_episodes(store, user(store, "alice"), NOW)}
    assert alice == {"AUS02"}


def test_a_user_does_not_see_an_unpublished_alert(store, alerts):
    update_facility(store, "AUS02", {"publish_delay": "1d"}, changed_by="test", now=NOW)
    moment = T0 + timedelta(days=1, minutes=30)  # the first alert is published, no other
    seen = [r["id"] for r in station_episodes(store, user(store, "alice"), moment)]
    assert seen == [alerts["flow"]]


def test_the_list_filters_sorts_and_pages(store, alerts):
    admin = user(store, "admin")
    page = alert_page(store, admin, AlertFilter(), now=NOW, page_size=2)
    assert (page.total, page.pages, len(page.rows)) == (5, 3, 2)  # and the sample's BES01 alert
    assert page.rows[0]["id"] == f"s{alerts['outbox']}"  # newest first
    opened = alert_page(store, admin, AlertFilter(states=("open",)), now=NOW)
    assert {r["id"] for r in opened.rows} == {f"s{alerts['mca']}", f"s{alerts['outbox']}"}
    flows = alert_page(store, admin, AlertFilter(kinds=("ALERT_FLOW",)), now=NOW)
    assert [r["id"] for r in flows.rows] == [f"s{alerts['flow']}"]
    day = AlertFilter(since=T0 + timedelta(hours=2), until=T0 + timedelta(hours=4))
    assert alert_page(store, admin, day, now=NOW).total == 2
    assert matches({"station": "AUS02", "kind": "k", "state": "open", "source": "station",
                    "time": "2024"}, AlertFilter(sources=("central",))) is False  # fmt: skip
    assert alert_kinds(store, user(store, "alice"), NOW) == ["ALERT_FLOW", "ALERT_SYSTEM"]
    assert [r["id"] for r in open_alerts(store, user(store, "owen"), NOW)] == [
        f"s{alerts['outbox']}"
    ]
    with pytest.raises(ValueError, match="cannot sort alerts"):
        alert_page(store, admin, AlertFilter(), now=NOW, sort="password")


def test_the_page_callback_shows_the_episodes_of_the_users_stations(client, store, alerts):
    login(client, "alice")
    filters = [
        ("alerts-station", "value", ["AUS02", "BES01"]),  # BES01 forged: not alice's
        ("alerts-kind", "value", None),
        ("alerts-episode", "value", ["open", "bogus"]),
        ("alerts-source", "value", None),
        ("alerts-days", "start_date", None),
        ("alerts-days", "end_date", None),
    ]
    response = show_page(client, ALERTS, ALERTS.initial_state(), filters)
    body = json.dumps(response.get_json()["response"][ALERTS.id("body")])
    assert "MCA not answering (timeout)" in body
    assert "Outbox growing" not in body and "below its limit" not in body
    assert response.get_json()["response"][ALERTS.id("displaying")]["children"].endswith("of 1")


def test_the_centrals_alerts_join_the_list_with_their_state(store, alerts):
    silent = Observation(
        "silent", "AUS02", "spectra", True, "AUS02 silent for 90 minutes", data_until=iso_z(T0)
    )
    crl = Observation("crl", "", "crl", True, "the CRL runs out in 2 days")
    apply_observations(store, [silent, crl], T0 + timedelta(hours=5))
    cleared = Observation("silent", "AUS02", "spectra", False, "AUS02 sends again")
    apply_observations(store, [cleared], T0 + timedelta(hours=6))
    admin = alert_page(store, user(store, "admin"), AlertFilter(sources=("central",)), now=NOW)
    rows = {r["kind"]: r for r in admin.rows}
    assert rows["silent"]["state"] == "cleared"
    assert rows["silent"]["cleared_message"] == "AUS02 sends again"
    assert rows["silent"]["cleared_at"] == iso_z(T0 + timedelta(hours=6))
    assert rows["crl"]["state"] == "open" and rows["crl"]["station"] == ""
    # central-wide alerts are for administrators; a station's for its users
    alice = alert_page(store, user(store, "alice"), AlertFilter(sources=("central",)), now=NOW)
    assert [r["kind"] for r in alice.rows] == ["silent"]
    assert (
        alert_page(store, user(store, "owen"), AlertFilter(sources=("central",)), now=NOW).total
        == 0
    )
    assert "crl" in {r["kind"] for r in open_alerts(store, user(store, "admin"), NOW)}
    assert "crl" not in {r["kind"] for r in open_alerts(store, user(store, "alice"), NOW)}
