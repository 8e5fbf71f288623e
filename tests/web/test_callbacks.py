"""The Dash callbacks, called over HTTP as the browser calls them, with requests the page
would never send: the server must apply the access rule whatever comes in."""

from __future__ import annotations

import json

from central.web.layout import COMPARISON, QUARANTINE, RECEIVED

from .helpers import call_callback, login


def find(tree, component_id):
    """The component with this id in a layout as JSON, or None."""
    if isinstance(tree, dict):
        if tree.get("props", {}).get("id") == component_id:
            return tree
        children = tree.get("props", {}).get("children")
        return find(children, component_id) if children is not None else None
    if isinstance(tree, list):
        for item in tree:
            found = find(item, component_id)
            if found is not None:
                return found
    return None


def route(client, path):
    response = call_callback(
        client,
        "page.children",
        [{"id": "page", "property": "children"}, {"id": "nav-links", "property": "children"}],
        [("url", "pathname", path)],
        [("url", "search", None)],
    )
    assert response.status_code == 200, response.data
    return response.get_json()["response"]


def show_page(client, grid, state, filters=()):
    outputs = [
        {"id": grid.id("body"), "property": "rowData"},
        {"id": grid.id("pageinfo"), "property": "children"},
        {"id": grid.id("displaying"), "property": "children"},
        {"id": grid.id("pages"), "property": "data"},
        {"id": grid.id("body"), "property": "columnSize"},
    ]
    return call_callback(
        client,
        f"{grid.id('body')}.rowData",
        outputs,
        [(grid.id("state"), "data", state), *filters],
    )


def received_filters(stations=None, products=None):
    return [
        ("received-station", "value", stations),
        ("received-type", "value", products),
        ("received-analysis", "value", None),
        ("received-start", "start_date", None),
        ("received-start", "end_date", None),
    ]


def stations_shown(response) -> set[str]:
    body = response.get_json()["response"][RECEIVED.id("body")]["rowData"]
    text = json.dumps(body)
    return {code for code in ("AUS02", "BES01") if f'"{code}"' in text}


def test_a_user_is_offered_only_the_assigned_station(client):
    login(client, "alice")
    page = route(client, "/received")["page"]["children"]
    assert find(page, "received-station")["props"]["options"] == ["AUS02"]


def test_an_administrator_is_offered_every_station(client):
    login(client, "admin")
    page = route(client, "/received")["page"]["children"]
    assert find(page, "received-station")["props"]["options"] == ["AUS02", "BES01"]


def test_a_forged_station_filter_shows_nothing_of_another_facility(client):
    login(client, "alice")
    state = RECEIVED.initial_state()
    forged = show_page(client, RECEIVED, state, received_filters(stations=["BES01"]))
    assert forged.status_code == 200
    assert stations_shown(forged) == set()
    assert (
        forged.get_json()["response"][RECEIVED.id("displaying")]["children"] == "Nothing to display"
    )
    unfiltered = show_page(client, RECEIVED, state, received_filters())
    assert stations_shown(unfiltered) == {"AUS02"}
    shown = unfiltered.get_json()["response"][RECEIVED.id("displaying")]["children"]
    assert shown == "Displaying 1 - 25 of 32"


def test_the_administrator_sees_both_stations_on_the_first_page(client):
    login(client, "admin")
    response = show_page(client, RECEIVED, RECEIVED.initial_state(), received_filters())
    assert stations_shown(response) == {"AUS02", "BES01"}
    result = response.get_json()["response"]
    assert result[RECEIVED.id("displaying")]["children"] == "Displaying 1 - 25 of 36"
    assert result[RECEIVED.id("pageinfo")]["children"] == "Page 1 of 2"


def test_a_page_state_from_the_browser_is_not_trusted(client):
    login(client, "alice")
    state = {"page": 10**9, "sort": "content", "desc": "yes"}
    response = show_page(client, RECEIVED, state, received_filters(products=["PHD", "DROP"]))
    assert response.status_code == 200
    result = response.get_json()["response"]
    # past the end: the last page; an unknown sort column or type: ignored
    assert result[RECEIVED.id("displaying")]["children"] == "Displaying 26 - 30 of 30"
    assert result[RECEIVED.id("pageinfo")]["children"] == "Page 2 of 2"


def test_a_user_sees_no_quarantine_page_link_or_rows(client):
    login(client, "alice")
    routed = route(client, "/quarantine")
    assert "Not allowed" in json.dumps(routed["page"]["children"])
    assert "/quarantine" not in json.dumps(routed["nav-links"]["children"])
    response = show_page(client, QUARANTINE, QUARANTINE.initial_state())
    assert response.status_code == 403
    assert b"signature" not in response.data


def test_an_administrator_sees_the_quarantine(client, sample):
    login(client, "admin")
    routed = route(client, "/quarantine")
    assert find(routed["page"]["children"], QUARANTINE.id("table")) is not None
    response = show_page(client, QUARANTINE, QUARANTINE.initial_state())
    body = json.dumps(response.get_json()["response"][QUARANTINE.id("body")])
    assert "the signer is not a station of the network" in body
    assert f"/download/quarantine/{sample.quarantine_id}" in body


def test_selected_rows_make_the_download_link(client):
    login(client, "alice")
    response = call_callback(
        client,
        "received-download.href",
        [
            {"id": "received-download", "property": "href"},
            {"id": "received-download", "property": "className"},
            {"id": "received-selected", "property": "children"},
        ],
        [(RECEIVED.id("body"), "selectedRows", [{"id": 7}, {"id": 3}, {"id": "7; drop"}])],
    )
    result = response.get_json()["response"]
    assert result["received-download"] == {"href": "/download?ids=3,7", "className": "button"}
    assert result["received-selected"]["children"] == "2 files selected"


def test_the_comparison_page_offers_and_shows_only_the_users_facility(client):
    login(client, "alice")
    page = route(client, "/comparison")["page"]["children"]
    assert find(page, "comparison-station")["props"]["options"] == ["AUS02"]
    assert find(page, "comparison-nuclide")["props"]["options"] == ["Xe-133", "Xe-135"]

    def shown(stations):
        filters = [
            ("comparison-station", "value", stations),
            ("comparison-nuclide", "value", None),
            ("comparison-flagged", "value", []),
            ("comparison-start", "start_date", None),
            ("comparison-start", "end_date", None),
        ]
        response = show_page(client, COMPARISON, COMPARISON.initial_state(), filters)
        assert response.status_code == 200
        return response.get_json()["response"][COMPARISON.id("displaying")]["children"]

    assert shown(None) == "Displaying 1 - 3 of 3"
    assert shown(["BES01"]) == "Nothing to display"  # forged: another facility's
