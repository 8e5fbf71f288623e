"""The Users page: the administration functions of central/accounts.py on a real
database, and the page's callbacks over HTTP (an administrator creates a user who logs
in, disables one whose session ends, resets a password; nobody else can)."""

from __future__ import annotations

import pytest

from central.accounts import (
    AccountError,
    NotAdministrator,
    admin_create_user,
    authenticate,
    list_users,
    reset_password,
    set_user_enabled,
    set_user_facilities,
    update_user,
    user_record,
)
from central.store import Store
from central.subscriptions import set_subscriptions
from central.web.pages.users import ACTIONS, field_id

from .helpers import NOW, PASSWORD, call_callback, csrf_header, login
from .test_callbacks import find, route

FIELDS = ("username", "first_name", "last_name", "email", "role", "assigned", "owned")


@pytest.fixture
def store(config):
    with Store(config.storage.database_path) as store:
        yield store


def user(store, name, password=PASSWORD):
    account = authenticate(store, name, password)
    assert account is not None, name
    return account


def test_an_administrator_creates_edits_and_resets(store):
    admin = user(store, "admin")
    made, password = admin_create_user(
        store,
        "zoe",
        by=admin,
        now=NOW,
        first_name=" Zoe ",
        last_name="Z",
        email="zoe@example.org",
        assigned=["AUS02", "BES01"],
        owned=["BES01"],
    )
    assert len(password) >= 16 and user(store, "zoe", password).id == made.id
    # owning includes seeing: BES01 is owned, not also assigned
    assert (made.assigned, made.owned) == ({"AUS02"}, {"BES01"})
    row = next(u for u in list_users(store, by=admin) if u["username"] == "zoe")
    assert (row["first_name"], row["email"], row["created_at"]) == (
        "Zoe",
        "zoe@example.org",
        "2024-06-01T00:00:00.000Z",
    )
    changed = update_user(
        store, made.id, by=admin, now=NOW, role="owner", first_name="Z", last_name=None, email=None
    )
    assert changed.role == "owner"
    moved = set_user_facilities(store, made.id, by=admin, now=NOW, assigned=[], owned=["AUS02"])
    assert (moved.assigned, moved.owned) == (frozenset(), {"AUS02"})
    new = reset_password(store, made.id, by=admin, now=NOW)
    assert authenticate(store, "zoe", password) is None
    assert user(store, "zoe", new).id == made.id


def test_bad_input_and_self_harm_are_refused(store):
    admin = user(store, "admin")
    with pytest.raises(AccountError, match="no facility ZZZ99"):
        admin_create_user(store, "yan", by=admin, now=NOW, assigned=["ZZZ99"])
    with pytest.raises(AccountError, match="not an e-mail address"):
        admin_create_user(store, "yan", by=admin, now=NOW, email="yan at home")
    with pytest.raises(AccountError, match="exists"):
        admin_create_user(store, "alice", by=admin, now=NOW)
    with pytest.raises(AccountError, match="your own administrator role"):
        update_user(store, admin.id, by=admin, now=NOW, role="user", first_name=None,
                    last_name=None, email=None)  # fmt: skip
    with pytest.raises(AccountError, match="cannot disable yourself"):
        set_user_enabled(store, admin.id, False, by=admin, now=NOW)
    with pytest.raises(AccountError, match="no user"):
        reset_password(store, 999, by=admin, now=NOW)
    assert "yan" not in {u["username"] for u in list_users(store, by=admin)}


def test_only_administrators_manage_users(store):
    alice = user(store, "alice")
    owen = user(store, "owen")
    for by in (alice, owen):
        with pytest.raises(NotAdministrator):
            list_users(store, by=by)
        with pytest.raises(NotAdministrator):
            admin_create_user(store, "mallory", by=by, now=NOW, role="admin")
        with pytest.raises(NotAdministrator):
            reset_password(store, alice.id, by=by, now=NOW)
        with pytest.raises(NotAdministrator):
            set_user_facilities(store, by.id, by=by, now=NOW, assigned=["BES01"], owned=[])
    assert user(store, "alice").assigned == {"AUS02"}


def act(client, action, picked=None, **values):
    dependencies = client.get("/_dash-dependencies").get_json()
    output = next(d["output"] for d in dependencies if "users-message.children" in d["output"])
    body = {
        "output": output,
        "outputs": [{"id": "users-message", "property": "children"},
                    {"id": "users-table", "property": "children"},
                    {"id": "users-pick", "property": "options"},
                    {"id": "users-pick", "property": "value"}],
        "inputs": [{"id": f"users-{a}", "property": "n_clicks", "value": int(a == action)}
                   for a in ACTIONS],
        "state": [{"id": "users-pick", "property": "value", "value": picked},
                  *({"id": field_id(k), "property": "value", "value": values.get(k)}
                    for k in FIELDS)],
        "changedPropIds": [f"users-{action}.n_clicks"],
    }  # fmt: skip
    response = client.post("/_dash-update-component", json=body, headers=csrf_header(client))
    assert response.status_code == 200, response.data
    return response.get_json()["response"]


def secret(response) -> str:
    return find(response["users-message"]["children"], "users-secret")["props"]["children"]


def test_the_page_creates_a_user_who_logs_in_and_a_disabled_one_is_out(app, store):
    admin = app.server.test_client()
    login(admin, "admin")
    page = route(admin, "/users")["page"]["children"]
    assert "alice" in str(find(page, "users-table"))
    made = act(admin, "create", username="yan", role="user", assigned=["BES01"])
    password = secret(made)
    yan_id = made["users-pick"]["value"]
    assert "yan" in str(made["users-table"]["children"])

    yan = app.server.test_client()
    assert login(yan, "yan", password).status_code == 302
    assert route(yan, "/received")["page"]["children"]  # logged in: the page is there
    assert "BES01" in str(find(route(yan, "/received")["page"]["children"], "received-station"))

    done = act(admin, "disable", yan_id)
    assert "disabled" in str(done["users-message"]["children"])
    assert yan.get("/received").status_code == 302  # the session has ended: to the login
    assert login(yan, "yan", password).status_code == 401

    act(admin, "enable", yan_id)
    new = secret(act(admin, "reset", yan_id))
    assert new != password and login(yan, "yan", new).status_code == 302
    saved = act(admin, "save", yan_id, role="owner", email="yan@example.org", owned=["AUS02"])
    assert "saved" in str(saved["users-message"]["children"])
    assert user(store, "yan", new).owned == {"AUS02"}
    refused = act(admin, "save", yan_id, role="king", email="new@example.org")
    assert "Not done: role must be one of" in str(refused["users-message"]["children"])
    refused = act(admin, "save", yan_id, role="user", email="new@example.org", owned=["ZZZ99"])
    assert "Not done: no facility ZZZ99" in str(refused["users-message"]["children"])
    kept = user_record(store, yan_id, by=user(store, "admin"))
    assert (kept["role"], kept["email"], kept["owned"]) == ("owner", "yan@example.org", ["AUS02"])


def test_a_non_administrator_is_not_allowed(app, client):
    login(client, "owen")
    page = route(client, "/users")["page"]["children"]
    assert "Not allowed" in str(page) and find(page, "users-table") is None
    response = act(client, "create", username="mallory", role="admin")
    assert "Not allowed" in str(response["users-message"]["children"])
    loaded = call_callback(
        client,
        f"{field_id('username')}.value",
        [{"id": field_id(k), "property": "value"} for k in FIELDS],
        [("users-pick", "value", 1)],
    ).get_json()["response"]
    assert loaded[field_id("username")]["value"] is None
    admin = app.server.test_client()
    login(admin, "admin")
    assert "mallory" not in str(route(admin, "/users")["page"]["children"])


def test_the_table_shows_each_users_subscriptions(client, store):
    set_subscriptions(store, user(store, "alice"), "AUS02", ["SOH", "ATS"], now=NOW)
    login(client, "admin")
    table = find(route(client, "/users")["page"]["children"], "users-row-alice")
    cells = {c["props"]["className"]: c["props"]["children"] for c in table["props"]["children"]}
    assert cells["subscriptions"] == "AUS02: ATS, SOH"
    assert (cells["role"], cells["enabled"], cells["assigned"]) == ("Simple user", "Yes", "AUS02")
    dave = find(route(client, "/users")["page"]["children"], "users-row-dave")
    assert "No" in str(dave)  # disabled
