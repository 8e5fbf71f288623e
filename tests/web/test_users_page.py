"""The Users page: the administration functions of central/accounts.py on a real
database, and the page's callbacks over HTTP (an administrator creates a user who logs
in, disables one whose session ends, resets a password; nobody else can)."""

from __future__ import annotations

import pytest

from central.accounts import (
    AccountError,
    NotAdministrator,
    UserFilter,
    admin_create_user,
    authenticate,
    count_users,
    list_users,
    reset_password,
    set_user_enabled,
    set_user_facilities,
    update_user,
    user_record,
)
from central.store import Store
from central.subscriptions import set_subscriptions
from central.web.pages.users import ACTIONS, FILTERS, PICK_OPTIONS, USERS, field_id

from .dash_calls import call as dash_call
from .helpers import NOW, PASSWORD, call_callback, csrf_header, login
from .test_callbacks import find, route, show_page

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
                    {"id": "users-version", "property": "data"},
                    {"id": "users-pick", "property": "options"},
                    {"id": "users-pick", "property": "value"}],
        "inputs": [{"id": f"users-{a}", "property": "n_clicks", "value": int(a == action)}
                   for a in ACTIONS],
        "state": [{"id": "users-pick", "property": "value", "value": picked},
                  *({"id": field_id(k), "property": "value", "value": values.get(k)}
                    for k in FIELDS),
                  {"id": "users-version", "property": "data", "value": 3}],
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
    assert find(page, USERS.id("body")) is not None
    made = act(admin, "create", username="yan", role="user", assigned=["BES01"])
    password = secret(made)
    yan_id = made["users-pick"]["value"]
    assert made["users-version"]["data"] == 4  # the grid fetches its page again
    assert "yan" in names(grid_page(admin, USERS.initial_state(), username="ya"))

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
    assert "Not allowed" in str(page) and find(page, USERS.id("body")) is None
    refused = show_page(client, USERS, USERS.initial_state(), filters())
    assert refused.status_code == 403 and b"alice" not in refused.data
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


def filters(username=None, roles=None, enabled=None, facilities=None):
    values = (username, roles, enabled, facilities)
    shown = [(f"users-filter-{k}", "value", v) for k, v in zip(FILTERS, values, strict=True)]
    return [*shown, ("users-version", "data", 0)]  # the refresh input comes last


def grid_page(client, state, **wanted):
    response = show_page(client, USERS, state, filters(**wanted))
    assert response.status_code == 200, response.data
    return response.get_json()["response"]


def names(response) -> list[str]:
    return [row["username"] for row in response[USERS.id("body")]["rowData"]]


def test_the_grid_shows_each_users_subscriptions(client, store):
    set_subscriptions(store, user(store, "alice"), "AUS02", ["SOH", "ATS"], now=NOW)
    login(client, "admin")
    rows = grid_page(client, USERS.initial_state())[USERS.id("body")]["rowData"]
    alice = next(r for r in rows if r["username"] == "alice")
    assert alice["subscriptions"] == "AUS02: ATS, SOH"
    assert (alice["role"], alice["enabled"], alice["assigned"]) == ("Simple user", "Yes", "AUS02")
    assert next(r for r in rows if r["username"] == "dave")["enabled"] == "No"  # disabled
    assert "password_hash" not in str(rows)


def test_the_grid_filters_sorts_and_pages_on_the_server(client, store):
    admin = user(store, "admin")
    for n in range(30):
        admin_create_user(store, f"u{n:02d}", by=admin, now=NOW, assigned=["BES01"])
    login(client, "admin")
    first = grid_page(client, USERS.initial_state())
    assert first[USERS.id("displaying")]["children"] == "Displaying 1 - 25 of 34"
    assert first[USERS.id("pageinfo")]["children"] == "Page 1 of 2"
    assert names(first)[:4] == ["admin", "alice", "dave", "owen"]
    second = grid_page(client, {**USERS.initial_state(), "page": 2})
    assert names(second) == [f"u{n:02d}" for n in range(21, 30)]
    down = grid_page(client, {"page": 1, "sort": "username", "desc": True})
    assert names(down)[:2] == ["u29", "u28"]
    assert names(grid_page(client, USERS.initial_state(), roles=["owner"])) == ["owen"]
    assert names(grid_page(client, USERS.initial_state(), enabled="no")) == ["dave"]
    aus = grid_page(client, USERS.initial_state(), facilities=["AUS02"])
    assert names(aus) == ["alice", "dave"]
    assert names(grid_page(client, USERS.initial_state(), username="U2")) == [
        f"u{n}" for n in range(20, 30)
    ]
    # what no control sends is ignored, and LIKE's wildcards are plain characters
    forged = grid_page(client, {"page": 1, "sort": "password_hash"}, roles=["king"], enabled=1)
    assert forged[USERS.id("displaying")]["children"] == "Displaying 1 - 25 of 34"
    assert names(grid_page(client, USERS.initial_state(), username="%")) == []


def test_list_users_pages_and_counts(store):
    admin = user(store, "admin")
    everyone = list_users(store, by=admin)
    assert [u["username"] for u in everyone] == ["admin", "alice", "dave", "owen"]
    assert count_users(store, by=admin) == 4
    wanted = UserFilter(facilities=("AUS02", "BES01"))
    assert count_users(store, wanted, by=admin) == 3
    page = list_users(store, wanted, "username", 1, 1, by=admin)
    assert [u["username"] for u in page] == ["dave"]
    newest = list_users(store, UserFilter(enabled=True), "created_at", 0, 2, descending=True,
                        by=admin)  # fmt: skip
    assert [u["username"] for u in newest] == ["owen", "alice"]
    with pytest.raises(AccountError, match="sorted by one of"):
        list_users(store, sort="password_hash", by=admin)
    with pytest.raises(NotAdministrator):
        count_users(store, by=user(store, "owen"))


def pick_row(client, index, rows):
    return dash_call(
        client,
        "..users-pick.value@",  # allow_duplicate: the output's id carries a hash
        [(USERS.id("body"), "cellClicked", {"rowIndex": index, "colId": "email", "value": ""})],
        [(USERS.id("body"), "rowData", rows)],
    )


def search(client, text, picked=None):
    dependencies = client.get("/_dash-dependencies").get_json()
    (output,) = [d["output"] for d in dependencies if d["output"].startswith("users-pick.options@")]
    body = {
        "output": output,
        "outputs": {"id": "users-pick", "property": output.partition(".")[2]},
        "inputs": [{"id": "users-pick", "property": "search_value", "value": text}],
        "state": [{"id": "users-pick", "property": "value", "value": picked}],
        "changedPropIds": ["users-pick.search_value"],
    }
    return client.post("/_dash-update-component", json=body, headers=csrf_header(client))


def test_a_row_click_picks_its_user_and_the_chooser_searches_on_the_server(client, store):
    admin = user(store, "admin")
    for n in range(60):
        admin_create_user(store, f"u{n:02d}", by=admin, now=NOW)
    login(client, "admin")
    page = route(client, "/users")["page"]["children"]
    offered = find(page, "users-pick")["props"]["options"]
    assert len(offered) == PICK_OPTIONS  # not all 64
    rows = grid_page(client, USERS.initial_state())[USERS.id("body")]["rowData"]
    picked = pick_row(client, 3, rows).get_json()["response"]["users-pick"]
    owen = user(store, "owen").id
    assert rows[3]["username"] == "owen" and picked["value"] == owen
    assert {"label": "owen", "value": owen} in picked["options"]
    found = search(client, "u5", owen).get_json()["response"]["users-pick"]["options"]
    assert [o["label"] for o in found] == [f"u5{n}" for n in range(10)] + ["owen"]
    # a forged row or index picks nothing
    for index, forged in ((99, rows), (0, [{"id": 999_999}]), (0, [{"id": "1"}]), (True, rows)):
        assert pick_row(client, index, forged).status_code == 204


def test_a_non_administrator_picks_and_searches_nothing(client):
    login(client, "owen")
    rows = [{"id": 1, "username": "admin"}]
    assert pick_row(client, 0, rows).status_code == 204
    assert search(client, "a").get_json()["response"]["users-pick"]["options"] == []


# ------------------------------------------------------- tests/web/test_leaks.py entries
def leak_pick_row(w, no_markers) -> None:
    rows = [{"id": n, "username": "x"} for n in (1, 2, 3)]
    for index in (0, 2, 5):
        response = pick_row(w.client, index, rows)
        no_markers(w, response)
        if w.role == "admin" and index < 3:
            assert response.get_json()["response"]["users-pick"]["value"] == rows[index]["id"]
        else:  # nothing picked, no user named
            assert response.status_code == 204, (w.role, index)


def leak_search(w, no_markers) -> None:
    for text in ("", "a", "%"):
        response = search(w.client, text)
        no_markers(w, response)
        options = response.get_json()["response"]["users-pick"]["options"]
        labels = {o["label"] for o in options}
        if w.role == "admin":
            assert ("alice" in labels) == (text != "%"), text
        else:
            assert options == [], (w.role, text)
