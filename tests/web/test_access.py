"""The access rule (central.access): who sees which station's files, and from when (the
publish delay), with the clock moved."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from central.access import (
    AccessDenied,
    can_see_message,
    check_message_access,
    is_published,
    message_scope,
    published_scope,
    visible_stations,
)
from central.accounts import authenticate, create_user, get_user, unassign_facility
from central.datatime import data_until
from central.facilities import facility_changes, update_facility
from central.store import Store

from .helpers import NOW, PASSWORD

# the sample's AUS02 data run from 2024-05-01 00:00 to 08:00 (32 files, 15 minutes apart)
SAMPLE_DAY = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture
def store(config):
    with Store(config.storage.database_path) as store:
        yield store


def user(store, name):
    account = authenticate(store, name, PASSWORD)
    assert account is not None, name
    return account


def set_delay(store, code, delay):
    update_facility(store, code, {"publish_delay": delay}, changed_by="test", now=NOW)


def seen(store, account, now):
    scope, params = message_scope(store, account, now)
    return {r[0] for r in store.conn.execute(f"select id from messages where {scope}", params)}


def test_an_administrator_sees_every_station_also_one_not_registered(store):
    store.add_message(
        file_name="XXX99_1_PHD.PHD",
        station="XXX99",
        data_type="SAMPLEPHD",
        product="PHD",
        msg_id="1",
        content=b"x",
        start_time=None,
        summary={},
    )
    assert visible_stations(store, user(store, "admin")) == ["AUS02", "BES01", "XXX99"]


def test_a_user_sees_the_assigned_facility_and_an_owner_the_owned_one(store):
    assert visible_stations(store, user(store, "alice")) == ["AUS02"]
    assert visible_stations(store, user(store, "owen")) == ["BES01"]


def test_a_user_without_facilities_sees_nothing(store):
    nobody = create_user(store, "nobody", PASSWORD)
    assert visible_stations(store, nobody) == []
    assert seen(store, nobody, NOW) == set()


def test_check_message_access_refuses_another_facilitys_row(store, sample):
    alice = user(store, "alice")
    check_message_access(store, alice, store.message(sample.aus_ids[0]), NOW)
    with pytest.raises(AccessDenied, match="BES01"):
        check_message_access(store, alice, store.message(sample.bes_ids[0]), NOW)


def test_an_unassigned_facility_disappears_at_once(store):
    alice = user(store, "alice")
    unassign_facility(store, alice.id, "AUS02")
    assert visible_stations(store, get_user(store, alice.id)) == []


def test_nothing_is_published_before_its_data_end(store, sample):
    """Immediately means when the acquisition ends, not when it starts."""
    alice = user(store, "alice")
    first_phd_end = SAMPLE_DAY + timedelta(minutes=15)
    assert sample.aus_ids[0] not in seen(store, alice, first_phd_end - timedelta(seconds=1))
    assert sample.aus_ids[0] in seen(store, alice, first_phd_end)


def test_a_daily_product_waits_for_its_whole_day(store, sample):
    """The daily ATS covers the day: unpublished while its day is, even immediately."""
    alice = user(store, "alice")
    ats = sample.aus_ids[31]
    assert store.message(ats)["data_until"] == "2024-05-02T00:00:00.000Z"
    evening = SAMPLE_DAY + timedelta(hours=23)
    assert sample.aus_ids[29] in seen(store, alice, evening)
    assert ats not in seen(store, alice, evening)
    assert ats in seen(store, alice, SAMPLE_DAY + timedelta(days=1))


def test_a_delay_hides_files_from_users_but_not_from_owners_and_administrators(store, sample):
    set_delay(store, "AUS02", "3d")
    owner = create_user(store, "olga", PASSWORD, role="owner", owned=["AUS02"])
    alice, admin = user(store, "alice"), user(store, "admin")
    noon = SAMPLE_DAY + timedelta(hours=12)
    aus = set(sample.aus_ids)
    assert seen(store, alice, noon) == set()
    assert seen(store, owner, noon) == aus
    assert seen(store, admin, noon) >= aus
    later = SAMPLE_DAY + timedelta(days=3, hours=12)  # every PHD and SOH, not the ATS
    assert seen(store, alice, later) == aus - {sample.aus_ids[31]}
    assert seen(store, alice, SAMPLE_DAY + timedelta(days=4)) == aus


def test_a_shorter_delay_publishes_at_once_and_a_longer_one_hides_again(store, sample):
    alice = user(store, "alice")
    moment = SAMPLE_DAY + timedelta(days=2)
    set_delay(store, "AUS02", "7d")
    assert seen(store, alice, moment) == set()
    set_delay(store, "AUS02", "1d")
    assert seen(store, alice, moment) == set(sample.aus_ids)
    set_delay(store, "AUS02", "3d")
    assert seen(store, alice, moment) == set()
    assert [(c.old, c.new) for c in facility_changes(store, "AUS02")] == [
        ("immediately", "7d"),
        ("7d", "1d"),
        ("1d", "3d"),
    ]


def test_never_publishes_nothing_ever(store, sample):
    set_delay(store, "AUS02", "never")
    alice = user(store, "alice")
    assert seen(store, alice, datetime(2100, 1, 1, tzinfo=UTC)) == set()
    assert not can_see_message(store, alice, store.message(sample.aus_ids[0]), NOW)
    assert not is_published(store, store.message(sample.aus_ids[0]), NOW)


def test_an_assigned_owner_waits_like_any_user(store, sample):
    """Owning one facility does not lift the delay of another one only assigned."""
    set_delay(store, "AUS02", "7d")
    both = create_user(store, "bo", PASSWORD, role="owner", owned=["BES01"], facilities=["AUS02"])
    assert seen(store, both, SAMPLE_DAY + timedelta(days=1)) == set(sample.bes_ids)


@pytest.mark.parametrize("name", ["admin", "alice", "owen"])
@pytest.mark.parametrize("delay", ["immediately", "1d", "never"])
@pytest.mark.parametrize("hours", [0.2, 6, 30, 24 * 9])
def test_the_sql_scope_and_the_row_check_agree_on_every_row(store, name, delay, hours):
    set_delay(store, "AUS02", delay)
    set_delay(store, "BES01", "3d" if delay == "immediately" else "immediately")
    account = user(store, name)
    now = SAMPLE_DAY + timedelta(hours=hours)
    rows = list(store.db.query("select id, station, data_until from messages"))
    assert seen(store, account, now) == {
        r["id"] for r in rows if can_see_message(store, account, r, now)
    }


@pytest.mark.parametrize("hours", [0.2, 6, 30, 24 * 9])
def test_published_to_the_world_agrees_with_its_row_check(store, hours):
    set_delay(store, "BES01", "1d")
    now = SAMPLE_DAY + timedelta(hours=hours)
    scope, params = published_scope(store, now)
    in_scope = {r[0] for r in store.conn.execute(f"select id from messages where {scope}", params)}
    rows = list(store.db.query("select id, station, data_until from messages"))
    assert in_scope == {r["id"] for r in rows if is_published(store, r, now)}


def test_the_world_sees_nothing_unpublished_and_nothing_of_an_unregistered_station(store):
    store.add_message(
        file_name="XXX99_1_PHD.PHD",
        station="XXX99",
        data_type="SAMPLEPHD",
        product="PHD",
        msg_id="1",
        content=b"x",
        start_time="2024-01-01T00:00:00.000Z",
        summary={},
    )
    scope, params = published_scope(store, NOW)
    stations = {
        r[0] for r in store.conn.execute(f"select station from messages where {scope}", params)
    }
    assert stations == {"AUS02", "BES01"}


@pytest.mark.parametrize(
    ("product", "start", "summary", "expected"),
    [
        (
            "PHD",
            "2023-11-17T14:15:00.000Z",
            {"acquisition": {"start": "2023-11-17T14:15:00.000Z", "real_time": 900.0}},
            "2023-11-17T14:30:00.000Z",
        ),
        (
            "PHD",
            "2023-11-17T14:15:00.000Z",
            {"acquisition": {"start": "2023-11-17T14:15:00.000Z", "real_time": 43200}},
            "2023-11-18T02:15:00.000Z",
        ),
        ("PHD", "2023-11-17T14:15:00.000Z", {}, "2023-11-17T14:30:00.000Z"),
        ("SOH", "2023-11-17T14:00:00.000Z", {"period_end": "2023-11-17T14:10:00.000Z"}, "2023-11-17T14:10:00.000Z"),
        ("ALERT", "2023-11-17T14:03:20.500Z", {}, "2023-11-17T14:03:20.500Z"),
        ("ATS", "2023-11-15T00:00:00.000Z", {}, "2023-11-16T00:00:00.000Z"),
        ("CSV", "2023-11-30T00:00:00Z", {}, "2023-12-01T00:00:00.000Z"),
    ],
)  # fmt: skip
def test_the_data_time_of_each_product(product, start, summary, expected):
    got = data_until(
        product=product, start_time=start, summary=summary, received_at="2024-01-01T00:00:00Z"
    )
    assert got == expected


def test_an_old_database_gets_its_data_times_on_opening(tmp_path):
    path = tmp_path / "old.sqlite"
    with Store(path) as store:
        for n, product in enumerate(("PHD", "ATS")):
            store.add_message(
                file_name=f"AUS02_{n}_{product}.TXT",
                station="AUS02",
                data_type=product,
                product=product,
                msg_id=str(n),
                content=b"x",
                start_time="2023-11-15T00:00:00.000Z",
                summary={"acquisition": {"start": "2023-11-15T00:00:00.000Z", "real_time": 60}},
            )
    # as a database made before the publish delay: no data_until column, the old view
    with sqlite3.connect(path) as conn:
        conn.execute("drop view comparison_view")
        conn.execute("drop index idx_messages_station_data_until")
        conn.execute("alter table messages drop column data_until")
        conn.execute(
            "create view comparison_view as select c.*, m.station, m.file_name, m.start_time "
            "from comparisons c join messages m on m.id = c.message_id"
        )
    with Store(path) as store:
        times = [
            r["data_until"] for r in store.db.query("select data_until from messages order by id")
        ]
        assert times == ["2023-11-15T00:01:00.000Z", "2023-11-16T00:00:00.000Z"]
        assert "data_until" in store.db["comparison_view"].columns_dict
        assert json.loads(store.message(1)["summary"])["acquisition"]["real_time"] == 60
