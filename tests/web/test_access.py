"""The access rule (central.access): who sees which station's files."""

from __future__ import annotations

import pytest

from central.access import (
    AccessDenied,
    can_see_message,
    check_message_access,
    message_scope,
    visible_stations,
)
from central.accounts import authenticate, create_user, get_user, unassign_facility
from central.store import Store

from .helpers import PASSWORD


@pytest.fixture
def store(config):
    with Store(config.storage.database_path) as store:
        yield store


def user(store, name):
    account = authenticate(store, name, PASSWORD)
    assert account is not None, name
    return account


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
    scope, params = message_scope(store, nobody)
    assert store.conn.execute(
        f"select count(*) from messages where {scope}", params
    ).fetchone() == (0,)


def test_check_message_access_refuses_another_facilitys_row(store, sample):
    alice = user(store, "alice")
    check_message_access(alice, store.message(sample.aus_ids[0]))
    with pytest.raises(AccessDenied, match="BES01"):
        check_message_access(alice, store.message(sample.bes_ids[0]))


@pytest.mark.parametrize("name", ["admin", "alice", "owen"])
def test_the_sql_scope_and_the_row_check_agree_on_every_row(store, name):
    account = user(store, name)
    scope, params = message_scope(store, account)
    in_scope = {r[0] for r in store.conn.execute(f"select id from messages where {scope}", params)}
    rows = list(store.db.query("select id, station from messages"))
    assert in_scope == {r["id"] for r in rows if can_see_message(account, r)}
    assert in_scope  # each of these users sees something


def test_an_unassigned_facility_disappears_at_once(store):
    alice = user(store, "alice")
    unassign_facility(store, alice.id, "AUS02")
    assert visible_stations(store, get_user(store, alice.id)) == []
