"""Central alerts: the table, who sees which episode (the access and publish rule), and
episodes raised once and cleared once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from central.accounts import User
from central.alerts import (
    Observation,
    alert_episodes,
    apply_observations,
    get_cursor,
    open_alerts,
    set_cursor,
)
from central.store import Store

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ADMIN = User(1, "root", "admin", True, frozenset(), frozenset())
OWNER = User(2, "olga", "owner", True, frozenset(), frozenset({"AUS02"}))
VIEWER = User(3, "ulla", "user", True, frozenset({"AUS02", "USX01"}), frozenset())


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "central.sqlite") as store:
        store.ensure_facility("AUS02", publish_delay="1d")
        store.ensure_facility("USX01", publish_delay="immediately")
        yield store


def silent(station: str, active: bool = True, message: str = "silent", at=None, **kw):
    return Observation("silent", station, "", active, message, at=at, **kw)


def test_the_schema_is_made_once_and_again_without_harm(tmp_path):
    path = tmp_path / "central.sqlite"
    Store(path).close()
    with Store(path) as store:  # a second process opening it
        assert {"central_alerts", "alert_cursors"} <= set(store.db.table_names())


def test_raised_once_per_episode_and_cleared_once_with_its_message(store):
    assert [e["state"] for e in apply_observations(store, [silent("USX01")], NOW)] == ["open"]
    later = NOW + timedelta(minutes=5)
    again = apply_observations(store, [silent("USX01", value=20.0)], later)
    assert again == []  # still the same episode: not raised twice
    (row,) = open_alerts(store, ADMIN, later)
    assert row["value"] == 20.0 and row["raised_at"] == "2026-03-02T12:00:00.000Z"
    (cleared,) = apply_observations(store, [silent("USX01", False, "back")], later)
    assert cleared["state"] == "cleared" and cleared["clear_message"] == "back"
    assert cleared["cleared_at"] == "2026-03-02T12:05:00.000Z"
    assert apply_observations(store, [silent("USX01", False, "back")], later) == []
    assert open_alerts(store, ADMIN, later) == []
    # it comes back: a new episode
    (new,) = apply_observations(store, [silent("USX01")], later + timedelta(hours=1))
    assert new["id"] != cleared["id"] and new["seq"] > cleared["seq"]
    assert len(alert_episodes(store, ADMIN, later, stations=["USX01"])) == 2


def test_older_data_does_not_clear_an_episode_that_newer_data_raised(store):
    apply_observations(store, [silent("USX01", at="2026-03-02T10:00:00.000Z")], NOW)
    assert (
        apply_observations(store, [silent("USX01", False, at="2026-03-01T00:00:00.000Z")], NOW)
        == []
    )
    assert len(open_alerts(store, ADMIN, NOW)) == 1
    (cleared,) = apply_observations(
        store, [silent("USX01", False, at="2026-03-02T10:15:00.000Z")], NOW
    )
    assert cleared["state"] == "cleared"


def test_who_sees_which_episode_facility_publish_delay_and_central_wide(store):
    raised = "2026-03-02T11:00:00.000Z"
    apply_observations(
        store,
        [
            silent("AUS02", data_until=raised),  # 1 d publish delay
            silent("USX01", data_until=raised),  # published at once
            silent("ZZZ99", data_until=raised),  # not a registered facility
            Observation("quarantine", "", "", True, "quarantine grows", value=40.0),
        ],
        NOW,
    )

    def stations(user, now):
        return sorted(e["station"] for e in alert_episodes(store, user, now))

    assert stations(ADMIN, NOW) == ["", "AUS02", "USX01", "ZZZ99"]
    assert stations(OWNER, NOW) == ["AUS02"]  # an owner sees its facility's at once
    assert stations(VIEWER, NOW) == ["USX01"]  # AUS02's is not published yet
    assert stations(VIEWER, NOW + timedelta(days=1)) == ["AUS02", "USX01"]
    assert [e["kind"] for e in open_alerts(store, ADMIN, NOW) if e["station"] == ""] == [
        "quarantine"
    ]


def test_filters_kinds_state_and_the_span(store):
    apply_observations(store, [silent("USX01")], NOW)
    apply_observations(store, [silent("USX01", False)], NOW + timedelta(hours=2))
    apply_observations(
        store, [Observation("gap", "USX01", "2026-03-03", True, "gap")], NOW + timedelta(days=1)
    )
    assert [e["kind"] for e in alert_episodes(store, ADMIN, NOW, kinds=["silent"])] == ["silent"]
    assert [e["kind"] for e in alert_episodes(store, ADMIN, NOW, state="open")] == ["gap"]
    span = alert_episodes(
        store, ADMIN, NOW, since=NOW + timedelta(hours=3), until=NOW + timedelta(days=2)
    )
    assert [e["kind"] for e in span] == ["gap"]  # the silent episode ended before
    assert len(alert_episodes(store, ADMIN, NOW, until=NOW + timedelta(hours=1))) == 1
    with pytest.raises(ValueError, match="alert kinds"):
        alert_episodes(store, ADMIN, NOW, kinds=["nonsense"])
    with pytest.raises(ValueError, match="state"):
        alert_episodes(store, ADMIN, NOW, state="closed")


def test_cursors_are_durable(tmp_path):
    with Store(tmp_path / "c.sqlite") as store:
        assert get_cursor(store, "x", "0") == "0"
        set_cursor(store, "x", "41", NOW)
        set_cursor(store, "x", "42", NOW)
    with Store(tmp_path / "c.sqlite") as store:
        assert get_cursor(store, "x") == "42"
