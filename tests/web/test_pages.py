"""The Facilities and Settings pages, through their callbacks as the browser calls them,
also with requests the page would never send."""

from __future__ import annotations

import json

from central.facilities import FIELDS
from central.store import Store
from central.tokens import user_for_token
from central.web.pages.facilities import field_id

from .helpers import NOW, call_callback, csrf_header, login
from .test_callbacks import find, route


def facility_table(client):
    page = route(client, "/facilities")["page"]["children"]
    return page, json.dumps(find(page, "facilities-table"))


def save(client, code, **values):
    state = [("facility-code", "value", code)]
    state += [(field_id(f.key), "value", values.get(f.key)) for f in FIELDS]
    return call_callback(
        client,
        "facility-message.children",
        [
            {"id": "facility-message", "property": "children"},
            {"id": "facilities-table", "property": "children"},
            {"id": "facility-history", "property": "children"},
        ],
        [("facility-save", "n_clicks", 1)],
        state,
    )


def test_a_user_sees_the_assigned_facility_read_only(client):
    login(client, "alice")
    page, table = facility_table(client)
    assert "AUS02" in table and "BES01" not in table
    assert find(page, "facility-code")["props"]["options"] == []
    assert "their owners change them" in json.dumps(page)


def test_an_owner_changes_the_publish_delay_and_the_change_is_recorded(client, config):
    login(client, "owen")
    page, table = facility_table(client)
    assert "BES01" in table and "AUS02" not in table
    assert find(page, "facility-code")["props"]["options"] == ["BES01"]
    response = save(client, "BES01", name="IRE", site="Stack building", country="BELGIUM",
                    publish_delay="3d", stack_height="60")  # fmt: skip
    result = response.get_json()["response"]
    message = result["facility-message"]["children"]
    assert "publish_delay immediately → 3d" in message and "stack_height None → 60.0" in message
    assert "3 days" in json.dumps(result["facilities-table"])
    assert "owen" in json.dumps(result["facility-history"])
    with Store(config.storage.database_path) as store:
        assert store.db["facilities"].get("BES01")["publish_delay"] == "3d"


def test_a_forged_save_of_another_facility_changes_nothing(app, client, config):
    login(client, "alice")
    response = save(client, "AUS02", publish_delay="immediately", name="mine now")
    assert "You do not manage facility AUS02" in json.dumps(response.get_json())
    owner_of_another = app.server.test_client()
    login(owner_of_another, "owen")
    save(owner_of_another, "AUS02", publish_delay="never")
    with Store(config.storage.database_path) as store:
        row = store.db["facilities"].get("AUS02")
        assert (row["publish_delay"], row["name"]) == ("immediately", "ANSTO")
        assert store.db["facility_changes"].count == 0


def test_a_bad_value_is_refused_with_the_field_named(client):
    login(client, "admin")
    response = save(client, "AUS02", publish_delay="3d", latitude="north")
    assert "Not saved: Latitude: expected a number, got 'north'" in json.dumps(response.get_json())


def make_token_on_page(client, owner, name):
    dependencies = client.get("/_dash-dependencies").get_json()
    output = next(d["output"] for d in dependencies if "token-new.children" in d["output"])
    body = {
        "output": output,
        "outputs": [{"id": "token-new", "property": "children"},
                    {"id": "token-list", "property": "children"}],
        "inputs": [{"id": "token-make", "property": "n_clicks", "value": 1},
                   [], {"id": "token-user", "property": "value", "value": owner}],
        "state": [{"id": "token-name", "property": "value", "value": name}],
        "changedPropIds": ["token-make.n_clicks"],
    }  # fmt: skip
    return client.post("/_dash-update-component", json=body, headers=csrf_header(client))


def test_a_token_is_shown_once_and_listed_without_itself(client, config):
    login(client, "alice")
    page = route(client, "/settings")["page"]["children"]
    alice_id = find(page, "token-user")["props"]["value"]
    made = make_token_on_page(client, alice_id, "laptop").get_json()["response"]
    token = find(made["token-new"]["children"], "token-secret")["props"]["children"]
    assert token.startswith("stax_")
    assert token not in json.dumps(made["token-list"]) and "laptop" in json.dumps(
        made["token-list"]
    )
    again = json.dumps(route(client, "/settings")["page"]["children"])
    assert token[:12] in again and token not in again
    with Store(config.storage.database_path) as store:
        assert user_for_token(store, token, NOW)[0].username == "alice"


def test_a_forged_user_id_makes_a_token_for_oneself_only(client, config):
    login(client, "alice")
    with Store(config.storage.database_path) as store:
        owen_id = store.conn.execute("select id from users where username='owen'").fetchone()[0]
    made = make_token_on_page(client, owen_id, "stolen").get_json()["response"]
    token = find(made["token-new"]["children"], "token-secret")["props"]["children"]
    with Store(config.storage.database_path) as store:
        assert user_for_token(store, token, NOW)[0].username == "alice"


def test_an_administrator_picks_any_users_tokens(client):
    login(client, "admin")
    page = route(client, "/settings")["page"]["children"]
    names = [o["label"] for o in find(page, "token-user")["props"]["options"]]
    assert names == ["admin", "alice", "dave", "owen"]
