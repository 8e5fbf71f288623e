"""Editing a station's SOH limits (central/soh.py): who may, what is recorded, what bad
input gets, and that the central alerts judge the next report by the edited limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from central.access import AccessDenied
from central.accounts import User
from central.alerts import run_checks
from central.config import AlertsConfig
from central.soh import SohLimitError, change_limit, limit_changes, limits_for, station_limits
from central.store import Store

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ADMIN = User(1, "ada", "admin", True, frozenset(), frozenset())
OWNER = User(2, "olga", "owner", True, frozenset(), frozenset({"USX01"}))
USER = User(3, "ulf", "user", True, frozenset({"USX01"}), frozenset())


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "central.sqlite") as s:
        s.ensure_facility("USX01", publish_delay="immediately")
        s.ensure_facility("AUS02")
        yield s


def limit(store, station, quantity):
    return next((r for r in station_limits(store, station) if r["quantity"] == quantity), None)


def test_an_owner_changes_a_limit_recorded_with_the_old_and_new(store):
    default = limit(store, "USX01", "room_temperature")
    assert (default["low"], default["high"], default["unit"], default["own"]) == (5.0, 40.0, "C", False)  # fmt: skip
    change = change_limit(
        store, "USX01", "room_temperature", 10.0, 35.0, changed_by="olga", now=NOW, user=OWNER
    )
    assert (change["old_low"], change["old_high"], change["new_low"], change["new_high"]) == (5.0, 40.0, 10.0, 35.0)  # fmt: skip
    assert change["unit"] == "C"  # kept from the default
    assert limits_for(store, "USX01")["room_temperature"] == (10.0, 35.0)
    assert limits_for(store, "AUS02")["room_temperature"] == (5.0, 40.0)  # another station
    assert limit(store, "USX01", "room_temperature")["own"] is True

    later = NOW + timedelta(hours=1)
    change_limit(store, "USX01", "room_temperature", None, 30.0, changed_by="ada", now=later, user=ADMIN)  # fmt: skip
    assert limits_for(store, "USX01")["room_temperature"] == (None, 30.0)
    # the same limits again: nothing to record
    assert change_limit(store, "USX01", "room_temperature", None, 30.0, changed_by="ada", now=later) is None  # fmt: skip
    back = change_limit(store, "USX01", "room_temperature", None, None, changed_by="ada", now=later)
    assert (back["new_low"], back["new_high"]) == (5.0, 40.0)  # the default again
    history = limit_changes(store, "USX01")
    assert [(h["changed_by"], h["old_high"], h["new_high"]) for h in history] == [
        ("ada", 30.0, 40.0),
        ("ada", 35.0, 30.0),
        ("olga", 40.0, 35.0),
    ]
    assert history[-1]["changed_at"] == "2026-03-01T12:00:00.000Z"
    assert limit_changes(store, "AUS02") == []
    assert len(limit_changes(store, "USX01", "room_temperature", limit=1)) == 1


def test_a_new_quantity_gets_its_own_limit_and_unit(store):
    change_limit(store, "USX01", "Temp.Compressor", None, 60.0, unit="C", changed_by="cli", now=NOW)
    row = limit(store, "USX01", "Temp.Compressor")
    assert (row["low"], row["high"], row["unit"], row["own"]) == (None, 60.0, "C", True)
    (change,) = limit_changes(store, "USX01")
    assert (change["old_low"], change["old_high"]) == (None, None)


@pytest.mark.parametrize(
    ("station", "quantity", "low", "high", "message"),
    [
        ("USX01", "humidity", 80.0, 10.0, "must be below"),
        ("USX01", "humidity", 10.0, 10.0, "must be below"),
        ("USX01", "humidity", float("nan"), None, "finite"),
        ("USX01", "humidity", "ten", None, "is a number"),
        ("USX01", "humidity", True, None, "is a number"),
        ("USX01", "", 1.0, None, "quantity is required"),
        ("USX01", "two words", 1.0, None, "not a quantity"),
        ("ZZZ99", "humidity", 1.0, None, "no facility ZZZ99"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(store, station, quantity, low, high, message):
    before = station_limits(store, "USX01")
    with pytest.raises(SohLimitError, match=message):
        change_limit(store, station, quantity, low, high, changed_by="x", now=NOW, user=ADMIN)
    assert station_limits(store, "USX01") == before and limit_changes(store, "USX01") == []


def test_only_owners_and_administrators_change_limits(store):
    for who, station in ((USER, "USX01"), (OWNER, "AUS02")):
        with pytest.raises(AccessDenied):
            change_limit(store, station, "humidity", 1.0, 2.0, changed_by=who.username, now=NOW, user=who)  # fmt: skip
    assert limit_changes(store, "USX01") == limit_changes(store, "AUS02") == []


def test_the_central_alerts_judge_by_the_edited_limits(store):
    from tests.mqtt.data import add_soh

    config = AlertsConfig(silent_intervals=8, quarantine_per_hour=3)
    day = datetime(2026, 3, 1, tzinfo=UTC)
    add_soh(store, "USX01", day + timedelta(hours=10), 38.0)  # room_temperature, in 5..40 C
    checked = day + timedelta(hours=12)
    assert [e for e in run_checks(store, config, checked) if e["kind"] == "soh_limit"] == []
    change_limit(store, "USX01", "room_temperature", 5.0, 35.0, changed_by="olga", now=NOW, user=OWNER)  # fmt: skip
    (raised,) = [e for e in run_checks(store, config, checked) if e["kind"] == "soh_limit"]
    assert "room_temperature 38 C outside its limits (5 to 35 C)" in raised["message"]
    change_limit(store, "USX01", "room_temperature", None, None, changed_by="olga", now=NOW, user=OWNER)  # fmt: skip
    (cleared,) = [e for e in run_checks(store, config, checked) if e["kind"] == "soh_limit"]
    assert cleared["state"] == "cleared"
