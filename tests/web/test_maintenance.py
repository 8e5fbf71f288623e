"""Maintenance annotations (central/maintenance.py): who adds, changes and deletes them,
who sees them (the access rule with the publish delay), and the notifications queued."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from central.access import AccessDenied
from central.accounts import create_user
from central.facilities import update_facility
from central.maintenance import (
    MaintenanceError,
    add_annotation,
    annotation,
    annotations,
    delete_annotation,
    notifications,
    update_annotation,
)
from central.store import Store

NOW = datetime(2024, 5, 10, 12, tzinfo=UTC)
PASSWORD = "correct horse battery"


@pytest.fixture
def world(tmp_path):
    store = Store(tmp_path / "central.sqlite")
    store.ensure_facility("AUS02", name="ANSTO")
    store.ensure_facility("BES01", name="IRE")
    update_facility(store, "AUS02", {"publish_delay": "1d"}, changed_by="t", now=NOW)
    users = {
        "admin": create_user(store, "admin", PASSWORD, role="admin"),
        "olga": create_user(store, "olga", PASSWORD, role="owner", owned=["AUS02"]),
        "owen": create_user(store, "owen", PASSWORD, role="owner", owned=["BES01"]),
        "alice": create_user(store, "alice", PASSWORD, facilities=["AUS02"]),
        "bert": create_user(store, "bert", PASSWORD, facilities=["BES01"]),
    }
    yield store, users
    store.close()


def _add(store, user, station="AUS02", start=NOW - timedelta(days=3), **more):
    return add_annotation(
        store, user, NOW, station=station, name="Power outage", start=start, **more
    )


def test_an_owner_adds_changes_and_deletes_annotations_of_its_own_station(world):
    store, u = world
    row = _add(store, u["olga"], end="2024-05-08 10:00", text="UPS failed")
    assert row["created_by"] == "olga" and row["end"] == "2024-05-08T10:00:00.000Z"
    assert row["data_until"] == row["start"] == "2024-05-07T12:00:00.000Z"
    changed = update_annotation(
        store, u["olga"], NOW + timedelta(hours=1), row["id"], name="Outage", end=None
    )
    assert changed["name"] == "Outage" and changed["end"] is None
    stored = annotation(store, u["olga"], NOW, row["id"])
    assert stored["name"] == "Outage" and stored["updated_at"] == "2024-05-10T13:00:00.000Z"
    assert stored["created_at"] == "2024-05-10T12:00:00.000Z"
    delete_annotation(store, u["olga"], NOW, row["id"])
    assert annotation(store, u["admin"], NOW, row["id"]) is None


def test_an_administrator_edits_any_station(world):
    store, u = world
    row = _add(store, u["admin"], station="BES01")
    moved = update_annotation(store, u["admin"], NOW, row["id"], station="AUS02")
    assert moved["station"] == "AUS02"
    delete_annotation(store, u["admin"], NOW, row["id"])


def test_a_user_cannot_add_and_an_owner_of_another_station_cannot_edit(world):
    store, u = world
    with pytest.raises(AccessDenied):
        _add(store, u["alice"])  # a user of AUS02, not an owner
    with pytest.raises(AccessDenied):
        _add(store, u["owen"])  # owns BES01, not AUS02
    row = _add(store, u["olga"])
    for who in ("owen", "alice", "bert"):
        with pytest.raises(AccessDenied):
            update_annotation(store, u[who], NOW, row["id"], name="mine now")
        with pytest.raises(AccessDenied):
            delete_annotation(store, u[who], NOW, row["id"])
    # nor move one's own annotation to a station one does not own
    with pytest.raises(AccessDenied):
        update_annotation(store, u["olga"], NOW, row["id"], station="BES01")
    assert annotation(store, u["admin"], NOW, row["id"])["name"] == "Power outage"
    assert store.db["notifications"].count == 1  # nothing queued by the refused changes


def test_a_foreign_annotation_and_a_missing_one_get_the_same_answer(world):
    store, u = world
    row = _add(store, u["olga"])
    answers = []
    for annotation_id in (row["id"], 999):
        with pytest.raises(AccessDenied) as refused:
            update_annotation(store, u["owen"], NOW, annotation_id, name="x")
        answers.append(re.sub(r"\d+", "N", str(refused.value)))
    assert answers[0] == answers[1]


def test_who_sees_which_annotation_under_the_publish_delay(world):
    store, u = world
    old = _add(store, u["olga"], start=NOW - timedelta(days=2))  # published (1d delay)
    recent = _add(store, u["olga"], start=NOW - timedelta(hours=3))  # not yet
    bes = _add(store, u["owen"], station="BES01", start=NOW - timedelta(hours=1))

    def seen(who, **span):
        return {r["id"] for r in annotations(store, u[who], NOW, **span)}

    assert seen("admin") == {old["id"], recent["id"], bes["id"]}
    assert seen("olga") == {old["id"], recent["id"]}
    assert seen("alice") == {old["id"]}  # the recent one once its start is a day old
    assert {r["id"] for r in annotations(store, u["alice"], NOW + timedelta(days=1))} == {
        old["id"],
        recent["id"],
    }
    assert seen("bert") == {bes["id"]}
    assert annotation(store, u["alice"], NOW, recent["id"]) is None
    assert seen("admin", station="BES01") == {bes["id"]}
    # a span: the open-ended ones last until now
    assert seen("admin", start=NOW - timedelta(hours=2), end=NOW) == {old["id"], bes["id"]} | {
        recent["id"]
    }
    assert seen("admin", start=NOW - timedelta(days=5), end=NOW - timedelta(days=1)) == {old["id"]}
    closed = _add(store, u["olga"], start=NOW - timedelta(days=4), end=NOW - timedelta(days=3))
    assert closed["id"] not in seen("admin", start=NOW - timedelta(days=2), end=NOW)


def test_adding_and_changing_queue_a_notification_under_the_same_rule(world):
    store, u = world
    row = _add(store, u["olga"], start=NOW - timedelta(hours=2), text="Detector swap")
    update_annotation(store, u["olga"], NOW, row["id"], end=NOW)
    queued = list(store.db.query("select * from notifications order by id"))
    assert [q["kind"] for q in queued] == ["maintenance", "maintenance"]
    assert all(q["station"] == "AUS02" and q["sent_at"] is None for q in queued)
    assert queued[0]["subject"] == "STAX maintenance at AUS02: Power outage"
    assert queued[1]["subject"].endswith("(changed)")
    assert "Detector swap" in queued[0]["text"] and "not yet known" in queued[0]["text"]
    assert "End: 2024/05/10 12:00 UTC" in queued[1]["text"]
    assert all(q["data_until"] == row["start"] for q in queued)
    assert len(notifications(store, u["olga"], NOW)) == 2
    assert notifications(store, u["alice"], NOW) == []  # not published yet
    assert len(notifications(store, u["alice"], NOW + timedelta(days=1))) == 2
    assert notifications(store, u["bert"], NOW + timedelta(days=9)) == []
    delete_annotation(store, u["olga"], NOW, row["id"])
    assert store.db["notifications"].count == 2  # what was queued stays


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": " "}, "name: give the annotation a name"),
        ({"start": "yesterday"}, "start: 'yesterday' is not a date and time"),
        ({"end": "2024-05-01 00:00"}, "end: the annotation ends before it starts"),
        ({"station": ""}, "station: choose the station"),
    ],
)
def test_bad_fields_are_refused_with_the_field_named(world, fields, message):
    store, u = world
    values = {"station": "AUS02", "name": "n", "start": "2024-05-02 00:00", **fields}
    with pytest.raises(MaintenanceError, match=re.escape(message)):
        add_annotation(store, u["admin"], NOW, **values)
    assert store.db["maintenance"].count == 0


def test_the_tables_are_made_once(tmp_path):
    path = tmp_path / "c.sqlite"
    with Store(path) as store:
        store.ensure_facility("AUS02")
        admin = create_user(store, "admin", PASSWORD, role="admin")
        _add(store, admin)
    with Store(path) as store:  # opening again keeps the rows
        assert store.db["maintenance"].count == 1
        assert {"station", "data_until"} <= set(store.db["notifications"].columns_dict)
