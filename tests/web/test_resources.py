"""Resources (central/resources.py and `/resources/<id>`): who uploads where, who sees and
downloads what (a foreign resource gets the same 404 as a missing one), reviewed data
under the publish delay, and the bytes kept once and checked."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest

from central.access import AccessDenied
from central.accounts import authenticate, create_user
from central.facilities import update_facility
from central.resources import (
    ResourceError,
    add_resource,
    clean_file_name,
    delete_resource,
    resource,
    resources_of,
)
from central.store import Store
from central.web.pages.resources import decode_upload

from .helpers import NOW, PASSWORD, login

MAX = 1000


def _user(store, name):
    return authenticate(store, name, PASSWORD)


def _upload(store, who, station, name="a.txt", data=b"abc", kind="document", **more):
    return add_resource(
        store,
        who,
        NOW,
        station=station,
        kind=kind,
        file_name=name,
        data=data,
        max_bytes=MAX,
        **more,
    )


@pytest.fixture
def store(config):
    with Store(config.storage.database_path) as store:
        create_user(store, "bert", PASSWORD, facilities=["BES01"])
        create_user(store, "olga", PASSWORD, role="owner", owned=["AUS02"])
        yield store


def test_who_uploads_where(store):
    admin, owen, alice = _user(store, "admin"), _user(store, "owen"), _user(store, "alice")
    assert _upload(store, admin, None)["station"] is None  # general: administrators only
    assert _upload(store, admin, "AUS02")["station"] == "AUS02"
    assert _upload(store, owen, "BES01")["uploaded_by"] == "owen"
    for who, station in ((owen, None), (owen, "AUS02"), (alice, "AUS02"), (alice, None)):
        with pytest.raises(AccessDenied):
            _upload(store, who, station)
    assert store.db["resources"].count == 3


def test_who_sees_what_and_reviewed_data_wait_for_their_days(store):
    admin, owen = _user(store, "admin"), _user(store, "owen")
    update_facility(store, "AUS02", {"publish_delay": "3d"}, changed_by="t", now=NOW)
    general = _upload(store, admin, None, "manual.pdf")
    reviewed = _upload(
        store,
        admin,
        "AUS02",
        "rev.csv",
        kind="reviewed",
        day_from="2024-05-29",
        day_to="2024-05-30",
    )
    bes = _upload(store, owen, "BES01", "bes.txt")
    assert reviewed["data_until"] == "2024-05-31T00:00:00.000Z"

    def seen(name, when=NOW):
        return {r["file_name"] for r in resources_of(store, _user(store, name), when)}

    assert seen("admin") == {"manual.pdf", "rev.csv", "bes.txt"}
    assert seen("alice") == {"manual.pdf"}  # rev.csv: its last day + 3 days has not passed
    assert seen("alice", NOW + timedelta(days=2)) == {"manual.pdf", "rev.csv"}
    assert seen("bert") == {"manual.pdf", "bes.txt"}
    assert resource(store, _user(store, "alice"), NOW, bes["id"]) is None
    assert resource(store, _user(store, "alice"), NOW, general["id"])["file_name"] == "manual.pdf"
    assert [r["file_name"] for r in resources_of(store, admin, NOW, kind="reviewed")] == ["rev.csv"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "video"}, "kind: one of document, data, reviewed"),
        ({"data": b""}, "file: a.txt is empty"),
        ({"data": b"x" * (MAX + 1)}, f"at most {MAX} are taken"),
        ({"kind": "reviewed"}, "reviewed data give the first and last day"),
        ({"day_from": "2024-05-02", "day_to": "2024-05-01"}, "the last day is before the first"),
        ({"day_from": "2024-05-02"}, "give both the first and the last day"),
        ({"name": "../"}, "the uploaded file has no name"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_kept(store, fields, message):
    with pytest.raises(ResourceError, match=re.escape(message)):
        _upload(store, _user(store, "admin"), "AUS02", **fields)
    assert store.db["resources"].count == store.db["resource_contents"].count == 0


def test_the_same_bytes_are_kept_once_and_go_with_the_last_resource(store):
    admin = _user(store, "admin")
    first = _upload(store, admin, None, "one.txt", b"same")
    second = _upload(store, admin, "AUS02", "two.txt", b"same")
    assert store.db["resource_contents"].count == 1
    delete_resource(store, admin, NOW, first["id"])
    assert store.db["resource_contents"].count == 1
    delete_resource(store, admin, NOW, second["id"])
    assert store.db["resource_contents"].count == 0
    with pytest.raises(AccessDenied):
        delete_resource(store, _user(store, "owen"), NOW, second["id"])


def test_an_owner_deletes_its_own_stations_resources_only(store):
    admin, owen = _user(store, "admin"), _user(store, "owen")
    aus, bes = _upload(store, admin, "AUS02"), _upload(store, owen, "BES01")
    with pytest.raises(AccessDenied) as foreign:
        delete_resource(store, owen, NOW, aus["id"])
    with pytest.raises(AccessDenied) as missing:
        delete_resource(store, owen, NOW, 999)
    assert re.sub(r"\d+", "N", str(foreign.value)) == re.sub(r"\d+", "N", str(missing.value))
    assert delete_resource(store, owen, NOW, bes["id"])["file_name"] == "a.txt"


def test_file_names_lose_their_folders_and_uploads_decode():
    assert clean_file_name("C:\\Users\\me\\ATS Format.pdf") == "ATS Format.pdf"
    assert clean_file_name("/etc/passwd") == "passwd"
    encoded = "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.7").decode()
    assert decode_upload(encoded, 100) == b"%PDF-1.7"
    with pytest.raises(ResourceError, match="larger than 4 bytes"):
        decode_upload(encoded, 4)
    with pytest.raises(ResourceError, match="did not arrive whole"):
        decode_upload("data:x;base64,@@@@", 100)


def test_the_download_route_checks_the_rule_and_answers_a_foreign_id_as_a_missing_one(app, config):
    with Store(config.storage.database_path) as store:
        owen = _user(store, "owen")
        bes = _upload(store, owen, "BES01", "bes<script>.html", b"<script>alert(1)</script>")
        general = _upload(store, _user(store, "admin"), None, "manual.pdf", b"%PDF")
    alice, owner = app.server.test_client(), app.server.test_client()
    login(alice, "alice")
    login(owner, "owen")
    got = owner.get(f"/resources/{bes['id']}")
    assert got.status_code == 200 and got.data == b"<script>alert(1)</script>"
    # never shown as a page: a download, not sniffed
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["Content-Disposition"] == 'attachment; filename="bes_script_.html"'
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert alice.get(f"/resources/{general['id']}").data == b"%PDF"
    foreign, missing = alice.get(f"/resources/{bes['id']}"), alice.get("/resources/424242")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.data.replace(str(bes["id"]).encode(), b"N") == missing.data.replace(
        b"424242", b"N"
    )
    anonymous = app.server.test_client().get(f"/resources/{general['id']}")
    assert anonymous.status_code == 401
