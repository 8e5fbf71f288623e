"""The SOH limits editor of /charts/soh (central/web/pages/soh_limits.py) over HTTP, as
the browser calls it: an owner changes its station's limit and the charts' limit line is
the new one; a plain user gets no editor, and its callbacks refuse anyone who does not
manage the station. LEAK_CALLBACKS are the editor's entries in tests/web/test_leaks.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from central.soh import limit_changes, limits_for
from central.store import Store
from central.web.chartkit import graph_id
from central.web.pages.soh_limits import HIDDEN, NOT_ALLOWED

from .dash_calls import answer, call
from .helpers import login
from .test_callbacks import find, route


def show(client, station: Any) -> dict:
    return answer(
        call(
            client,
            "soh-limits-table.children",
            [("soh-station", "value", station), ("soh-limits-version", "data", 0)],
        )
    )


def load(client, station: Any, quantity: Any) -> dict:
    return answer(
        call(
            client,
            "soh-limit-low.value",
            [("soh-limit-quantity", "value", quantity), ("soh-limits-version", "data", 0)],
            [("soh-station", "value", station)],
        )
    )


def save(client, station, quantity, low=None, high=None, unit=None, button="save"):
    trigger = f"soh-limit-{button}"
    return call(
        client,
        "soh-limit-message.children",
        [(trigger, "n_clicks", 1), ("soh-limit-default" if button == "save" else "soh-limit-save", "n_clicks", 0)],
        [
            ("soh-station", "value", station),
            ("soh-limit-quantity", "value", quantity),
            ("soh-limit-low", "value", low),
            ("soh-limit-high", "value", high),
            ("soh-limit-unit", "value", unit),
            ("soh-limits-version", "data", 2),
            ("soh-quantities", "value", ["high_voltage"]),
        ],
    )  # fmt: skip


def limits(config, station):
    with Store(config.storage.database_path) as store:
        return limits_for(store, station), limit_changes(store, station)


def test_an_owner_changes_its_stations_limit_and_the_chart_draws_it(app, config):
    client = app.server.test_client()
    login(client, "owen")  # owns BES01
    page = route(client, "/charts/soh")["page"]["children"]
    assert find(page, "soh-limits") is not None
    shown = show(client, "BES01")
    assert shown["soh-limits"]["style"] == {}
    assert "room_temperature" in json.dumps(shown["soh-limits-table"]["children"])
    assert "room_temperature" in shown["soh-limit-quantity"]["options"]
    loaded = load(client, "BES01", "room_temperature")
    assert (loaded["soh-limit-low"]["value"], loaded["soh-limit-high"]["value"]) == (5.0, 40.0)
    assert loaded["soh-limit-unit"]["value"] == "C"

    out = answer(save(client, "BES01", "high_voltage", 2800.0, 3200.0, "V"))
    assert "BES01 high_voltage: limits" in out["soh-limit-message"]["children"]
    assert out["soh-limits-version"]["data"] == 3
    assert out["soh-quantities"]["value"] == ["high_voltage"]  # the charts drawn again
    own, history = limits(config, "BES01")
    assert own["high_voltage"] == (2800.0, 3200.0)
    assert (history[0]["changed_by"], history[0]["new_high"]) == ("owen", 3200.0)
    assert "3200" in json.dumps(show(client, "BES01")["soh-limit-history"]["children"])
    # the SOH chart's limit lines are the new ones (figures/soh.py draws limits_for's)
    with Store(config.storage.database_path) as store:
        from tests.central.test_soh_values import add_soh

        add_soh(store, "BES01", 7001, _start(), [-185.0])
    charts = answer(
        call(
            client,
            "soh-summary.children",
            [
                ("soh-station", "value", "BES01"),
                ("soh-span", "start_date", None),
                ("soh-span", "end_date", None),
                ("soh-quantities", "value", ["high_voltage"]),
            ],
        )
    )
    names = [t["name"] for t in charts[graph_id("soh-0")]["figure"]["data"]]
    assert "low limit 2800" in names and "high limit 3200" in names

    bad = answer(save(client, "BES01", "high_voltage", 3200.0, 2800.0))
    assert "Not saved: the low limit 3200 must be below" in bad["soh-limit-message"]["children"]
    empty = answer(save(client, "BES01", "high_voltage"))
    assert "Give a low or a high limit" in empty["soh-limit-message"]["children"]
    back = answer(save(client, "BES01", "high_voltage", button="default"))
    assert "→ none" in back["soh-limit-message"]["children"]
    own, history = limits(config, "BES01")
    assert "high_voltage" not in own and len(history) == 2


def _start():
    from datetime import UTC, datetime

    return datetime(2024, 5, 20, tzinfo=UTC)


def test_a_user_gets_no_editor_and_the_callbacks_refuse(app, config):
    client = app.server.test_client()
    login(client, "alice")  # a user of AUS02
    page = route(client, "/charts/soh")["page"]["children"]
    assert find(page, "soh-limits") is None and find(page, "soh-limit-save") is None
    assert show(client, "AUS02")["soh-limits"]["style"] == HIDDEN
    assert show(client, "AUS02")["soh-limits-table"]["children"] is None
    assert load(client, "AUS02", "room_temperature")["soh-limit-low"]["value"] is None
    refused = answer(save(client, "AUS02", "room_temperature", 1.0, 2.0))
    assert refused["soh-limit-message"]["children"] == NOT_ALLOWED
    assert set(refused) == {"soh-limit-message"}  # nothing else changes on the page
    owner = app.server.test_client()
    login(owner, "owen")  # owns BES01, not AUS02
    forged = answer(save(owner, "AUS02", "room_temperature", 1.0, 2.0))
    assert forged["soh-limit-message"]["children"] == NOT_ALLOWED
    assert limits(config, "AUS02") == (limits(config, "BES01")[0], [])


# ------------------------------------------------------- tests/web/test_leaks.py entries
def _managed(w) -> set[str]:
    return {"admin": {"AUS02", "BES01"}, "owner": {"AUS02"}}.get(w.role, set())


def _database(w) -> Store:
    return Store(w.client.application.config["STAX_DATABASE"])


def leak_show(w, no_markers: Callable) -> None:
    hidden = call(w.client, "soh-limits-table.children", [("soh-station", "value", "ZZZ99"),
                                                          ("soh-limits-version", "data", 0)])  # fmt: skip
    for station in ("AUS02", "BES01", "ZZZ99", None, ["AUS02"]):
        response = call(w.client, "soh-limits-table.children", [("soh-station", "value", station),
                                                                ("soh-limits-version", "data", 0)])  # fmt: skip
        got = answer(response)
        no_markers(w, response)
        if isinstance(station, str) and station in _managed(w):
            assert got["soh-limits"]["style"] == {} and "room_temperature" in response.data.decode()
        else:  # the same answer as for a made-up station
            assert response.data == hidden.data, (w.role, station)


def leak_load(w, no_markers: Callable) -> None:
    for station in ("AUS02", "BES01", "ZZZ99"):
        response = call(
            w.client,
            "soh-limit-low.value",
            [
                ("soh-limit-quantity", "value", "room_temperature"),
                ("soh-limits-version", "data", 0),
            ],
            [("soh-station", "value", station)],
        )
        no_markers(w, response)
        value = answer(response)["soh-limit-low"]["value"]
        assert value == (5.0 if station in _managed(w) else None), (w.role, station)


def leak_save(w, no_markers: Callable) -> None:
    with _database(w) as store:
        before = {s: limits_for(store, s) for s in ("AUS02", "BES01")}
    for station in ("AUS02", "BES01", "ZZZ99"):
        response = save(w.client, station, "humidity", 1.0, 99.0, "%")
        no_markers(w, response)
        message = answer(response)["soh-limit-message"]["children"]
        assert (message == NOT_ALLOWED) == (station not in _managed(w)), (w.role, station, message)
    with _database(w) as store:
        for station in ("AUS02", "BES01"):
            changed = limits_for(store, station)["humidity"] != before[station]["humidity"]
            assert changed == (station in _managed(w)), (w.role, station)
            assert len(limit_changes(store, station)) == int(station in _managed(w))


LEAK_CALLBACKS: dict[str, Callable] = {
    "soh-limits-table.children": leak_show,
    "soh-limit-low.value": leak_load,
    "soh-limit-message.children": leak_save,
}
