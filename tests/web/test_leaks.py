"""No route and no callback lets an unpublished or another facility's item out: not by
content, not by count, not by a different status code.

The routes come from the app's own URL map and the callbacks from its own callback map;
each must have an entry in ROUTES or CALLBACKS saying how it is exercised, so that a
route or callback added later without an entry here fails this test.

The situation: AUS02 publishes after 1 day, BES01 at once; the clock stands at
2024-05-02 04:00 UTC, so half of AUS02's spectra of 2024-05-01 are published, the rest
(and its SOH and daily ATS) are not. Who should see what is worked out here from the
rows themselves, not with central.access.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from central.accounts import authenticate, create_user
from central.facilities import update_facility
from central.store import Store
from central.tokens import make_token
from central.web.chartkit import graph_id
from central.web.layout import COMPARISON, PAGES, QUARANTINE, RECEIVED
from central.web.pages.soh import MAX_CHARTS as MAX_SOH_CHARTS
from central.web.pages.users import FILTERS as USERS_FILTERS
from central.web.pages.users import USERS

from . import leaks_impact
from . import leaks_pages as pages
from .dash_calls import answer as dash_answer
from .dash_calls import call as dash_call
from .dash_calls import call_changed
from .helpers import NOW, PASSWORD, call_callback, csrf_header, login
from .test_callbacks import route, show_page
from .test_releases_leaks import CALLBACKS as RELEASE_CALLBACKS
from .test_settings_password import password_leak
from .test_soh_limits import LEAK_CALLBACKS as SOH_LIMIT_CALLBACKS
from .test_users_page import leak_pick_row, leak_search

MOMENT = datetime(2024, 5, 2, 4, tzinfo=UTC)
DELAYS = {"AUS02": timedelta(days=1), "BES01": timedelta(0)}
# role -> (user name, how the user is made: role, assigned, owned)
ROLES = {
    "admin": ("admin", None),
    "owner": ("olga", ("owner", [], ["AUS02"])),
    "user": ("alice", None),  # a plain user of AUS02, in the sample
    "other": ("bert", ("user", ["BES01"], [])),  # a user of another facility
}
MISSING_ID = 999_999


@dataclass
class World:
    role: str
    username: str
    client: object
    token: str
    rows: list[dict]  # every message
    visible: set[int]  # ids this role may see now (the oracle)
    comparisons_visible: int
    stations: set[str]  # facility codes this role sees
    other_token_prefixes: list[str]
    quarantine_reason: str

    @property
    def hidden(self) -> list[dict]:
        return [r for r in self.rows if r["id"] not in self.visible]

    def markers(self) -> list[str]:
        """Texts that would show a hidden item: its name and its content's first line."""
        out = []
        for r in self.hidden:
            out += [r["file_name"], f"MSG_ID {r['msg_id']} {r['station']}"]
        out += self.other_token_prefixes
        if self.role != "admin":
            out.append(self.quarantine_reason)
        if "BES01" not in self.stations:
            out += ["Stack building"]  # BES01's site, on the Facilities page
        return out


def oracle(role: str, user_stations: set[str], row: dict) -> bool:
    if role == "admin":
        return True
    if row["station"] not in user_stations:
        return False
    if role == "owner":  # owns every station it sees here
        return True
    end = datetime.fromisoformat(row["data_until"])
    return end + DELAYS[row["station"]] <= MOMENT


@pytest.fixture
def worlds(app, config, clock, sample) -> dict[str, World]:
    clock.now = MOMENT.timestamp()
    tokens: dict[str, str] = {}
    with Store(config.storage.database_path) as store:
        for code, delay in (("AUS02", "1d"), ("BES01", "immediately")):
            update_facility(store, code, {"publish_delay": delay}, changed_by="test", now=NOW)
        for name, how in ROLES.values():
            if how is not None:
                role, assigned, owned = how
                create_user(store, name, PASSWORD, role=role, facilities=assigned, owned=owned)
            account = authenticate(store, name, PASSWORD)
            tokens[name], _ = make_token(store, account.id, "leak test", by=account, now=MOMENT)
        rows = list(store.db.query("select * from messages order by id"))
        comparisons = list(
            store.db.query(
                "select c.message_id, m.station from comparisons c join messages m on m.id = c.message_id"
            )
        )
        reason = store.db["quarantine"].get(sample.quarantine_id)["reason"]
        stations_of = {}
        for name, _ in ROLES.values():
            account = authenticate(store, name, PASSWORD)
            stations_of[name] = (
                {"AUS02", "BES01"} if account.is_admin else set(account.assigned | account.owned)
            )
    result = {}
    for role, (name, _) in ROLES.items():
        client = app.server.test_client()
        assert login(client, name).status_code == 302
        stations = stations_of[name]
        visible = {r["id"] for r in rows if oracle(role, stations, r)}
        result[role] = World(
            role=role,
            username=name,
            client=client,
            token=tokens[name],
            rows=rows,
            visible=visible,
            comparisons_visible=sum(1 for c in comparisons if c["message_id"] in visible),
            stations=stations,
            other_token_prefixes=[
                t[:12] for n, t in tokens.items() if n != name and role != "admin"
            ],
            quarantine_reason=reason,
        )
    # the situation is the one described above
    assert len(result["user"].visible) == 16 and len(result["owner"].visible) == 32
    assert len(result["admin"].visible) == 36 and len(result["other"].visible) == 4
    return result


def no_markers(world: World, *responses) -> None:
    for response in responses:
        text = response.data.decode("utf-8", "replace")
        for marker in world.markers():
            assert marker not in text, (world.role, response.request.path, marker)


def displaying(response, grid) -> str:
    return response.get_json()["response"][grid.id("displaying")]["children"]


def count_text(n: int) -> str:
    return f"of {n}" if n else "Nothing to display"


# ------------------------------------------------------------------ routes
def r_login(w: World):
    no_markers(w, w.client.get("/login"))


def r_logout(w: World):
    # on a client of its own: the world's client stays logged in
    other = w.client.application.test_client()
    login(other, w.username)
    response = other.post("/logout", data={"csrf_token": csrf_header(other)["X-CSRFToken"]})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    no_markers(w, response)


def _probe_status(w: World, url: Callable[[int], str]) -> None:
    """Every hidden id gets the same status as an id that does not exist."""
    missing = w.client.get(url(MISSING_ID), headers=_bearer(w))
    for r in w.hidden:
        response = w.client.get(url(r["id"]), headers=_bearer(w))
        assert response.status_code == missing.status_code, (w.role, r["file_name"])
        assert _without(response, r["id"]) == _without(missing, MISSING_ID), (w.role, r["id"])
        no_markers(w, response)


def _without(response, file_id: int) -> str:
    """The answer with the id asked for taken out (the rest must not differ)."""
    return re.sub(rf"\b{file_id}\b", "ID", response.data.decode("utf-8", "replace"))


def _bearer(w: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {w.token}"}


def r_download(w: World):
    for file_id in w.visible:
        assert w.client.get(f"/download?ids={file_id}").status_code == 200
    if w.role != "admin":
        _probe_status(w, lambda i: f"/download?ids={i}")
    everything = ",".join(str(r["id"]) for r in w.rows)
    response = w.client.get(f"/download?ids={everything}")
    if w.hidden:
        assert response.status_code == 403
        no_markers(w, response)
    visible = ",".join(map(str, sorted(w.visible)))
    zipped = w.client.post("/download", data={"ids": visible, **_form(w)})
    names = zipfile.ZipFile(io.BytesIO(zipped.data)).namelist()
    assert sorted(names) == sorted(r["file_name"] for r in w.rows if r["id"] in w.visible)


def _form(w: World) -> dict[str, str]:
    return {"csrf_token": csrf_header(w.client)["X-CSRFToken"]}


def r_download_quarantined(w: World):
    existing = w.client.get("/download/quarantine/1")
    missing = w.client.get(f"/download/quarantine/{MISSING_ID}")
    if w.role == "admin":
        assert existing.status_code == 200
    else:
        assert existing.status_code == missing.status_code == 403
        assert existing.data == missing.data
        no_markers(w, existing)


def r_api_list(w: World):
    response = w.client.get("/api/v1/files?page_size=1000", headers=_bearer(w))
    body = response.get_json()
    assert body["total"] == len(w.visible), w.role
    assert {f["id"] for f in body["files"]} == w.visible
    no_markers(w, response)
    # a forged station: the same answer for another facility's code and a made-up one
    if w.role != "admin":
        foreign = next(s for s in ("AUS02", "BES01") if s not in w.stations)
        forged = w.client.get(f"/api/v1/files?station={foreign}", headers=_bearer(w))
        made_up = w.client.get("/api/v1/files?station=ZZZ99", headers=_bearer(w))
        assert forged.status_code == made_up.status_code == 403
    for product in ("PHD", "SOH", "ATS"):
        typed = w.client.get(f"/api/v1/files?type={product}", headers=_bearer(w)).get_json()
        expected = sum(1 for r in w.rows if r["id"] in w.visible and r["product"] == product)
        assert typed["total"] == expected, (w.role, product)


def r_api_file(w: World):
    for file_id in w.visible:
        assert w.client.get(f"/api/v1/files/{file_id}", headers=_bearer(w)).status_code == 200
    _probe_status(w, lambda i: f"/api/v1/files/{i}")


def r_api_unknown(w: World):
    for path in ("/api/", "/api/v1/messages"):
        response = w.client.get(path, headers=_bearer(w))
        assert response.status_code == 404
        no_markers(w, response)


def r_plain_get(path: str) -> Callable[[World], None]:
    def exercise(w: World):
        response = w.client.get(path)
        assert response.status_code in (200, 304), (path, response.status_code)
        no_markers(w, response)

    return exercise


def r_component_suite(w: World):
    # any one script: these are Dash's own files, with nothing of the database in them
    layout = w.client.get("/").get_data(as_text=True)
    script = next(s for s in layout.split('"') if s.startswith("/_dash-component-suites/"))
    r_plain_get(script)(w)


def r_dash_update(w: World):
    """Every callback goes through this route: CALLBACKS exercises them all."""


ROUTES: dict[str, Callable[[World], None]] = {
    "login": r_login,
    "logout": r_logout,
    "download": r_download,
    "download_quarantined": r_download_quarantined,
    "api.list_files": r_api_list,
    "api.get_file": r_api_file,
    "api.unknown": r_api_unknown,
    "_dash_assets.static": r_plain_get("/assets/style.css"),
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": r_component_suite,
    "/_dash-layout": r_plain_get("/_dash-layout"),
    "/_dash-dependencies": r_plain_get("/_dash-dependencies"),
    "/_dash-update-component": r_dash_update,
    "/_reload-hash": r_plain_get("/_reload-hash"),
    "/_favicon.ico": r_plain_get("/_favicon.ico"),
    "/": r_plain_get("/"),
    "/<path:path>": r_plain_get("/received"),
    "resource_download": lambda w: pages.r_resource_download(w, MOMENT),
}


# --------------------------------------------------------------- callbacks
def c_route(w: World):
    for path in [*PAGES, "/", "/nowhere"]:
        response = call_callback(
            w.client,
            "page.children",
            [{"id": "page", "property": "children"}, {"id": "nav-links", "property": "children"}],
            [("url", "pathname", path)],
            [("url", "search", None)],
        )
        assert response.status_code == 200
        no_markers(w, response)
    comparison = json.dumps(route(w.client, "/comparison"))
    if w.comparisons_visible == 0:
        assert "Xe-13" not in comparison  # not even the nuclides of hidden comparisons


def _received_filters(stations=None, products=None, analyses=None):
    return [
        ("received-station", "value", stations),
        ("received-type", "value", products),
        ("received-analysis", "value", analyses),
        ("received-start", "start_date", None),
        ("received-start", "end_date", None),
    ]


def c_received_page(w: World):
    for stations in (None, ["AUS02", "BES01"], ["BES01"]):
        for page in (1, 2):
            for sort, desc in (("received_at", True), ("file_name", False)):
                state = {"page": page, "sort": sort, "desc": desc}
                response = show_page(w.client, RECEIVED, state, _received_filters(stations))
                assert response.status_code == 200
                no_markers(w, response)
                wanted = sum(
                    1
                    for r in w.rows
                    if r["id"] in w.visible and (not stations or r["station"] in stations)
                )
                assert count_text(wanted) in displaying(response, RECEIVED), (w.role, stations)
    for product in ("PHD", "SOH", "ATS"):
        response = show_page(
            w.client, RECEIVED, RECEIVED.initial_state(), _received_filters(products=[product])
        )
        wanted = sum(1 for r in w.rows if r["id"] in w.visible and r["product"] == product)
        assert count_text(wanted) in displaying(response, RECEIVED), (w.role, product)


def c_comparison_page(w: World):
    filters = [
        ("comparison-station", "value", ["AUS02", "BES01"]),
        ("comparison-nuclide", "value", None),
        ("comparison-flagged", "value", []),
        ("comparison-start", "start_date", None),
        ("comparison-start", "end_date", None),
    ]
    response = show_page(w.client, COMPARISON, COMPARISON.initial_state(), filters)
    assert response.status_code == 200
    assert count_text(w.comparisons_visible) in displaying(response, COMPARISON), w.role


def c_quarantine_page(w: World):
    response = show_page(w.client, QUARANTINE, QUARANTINE.initial_state())
    assert response.status_code == (200 if w.role == "admin" else 403)
    no_markers(w, response)


def c_state(grid) -> Callable[[World], None]:
    def exercise(w: World):
        dependencies = w.client.get("/_dash-dependencies").get_json()
        dep = next(d for d in dependencies if d["output"] == f"{grid.id('state')}.data")

        def value(item):
            if isinstance(item["id"], dict):
                return []  # a pattern (the column headers): none on the page
            return {"id": item["id"], "property": item["property"], "value": {
                "n_clicks": 1, "data": 1 if item["id"].endswith("pages") else grid.initial_state()
            }.get(item["property"])}  # fmt: skip

        body = {
            "output": dep["output"],
            "outputs": {"id": grid.id("state"), "property": "data"},
            "inputs": [value(i) for i in dep["inputs"]],
            "state": [value(i) for i in dep["state"]],
            "changedPropIds": [f"{grid.id('next')}.n_clicks"],
        }
        response = w.client.post(
            "/_dash-update-component", json=body, headers=csrf_header(w.client)
        )
        # the pager's state: page numbers only, never rows
        assert response.status_code == 200, response.data
        assert response.get_json()["response"][grid.id("state")]["data"]["page"] == 1
        no_markers(w, response)

    return exercise


def c_state_alerts(w: World):
    from central.web.pages.alerts import ALERTS

    c_state(ALERTS)(w)


def c_select_all(w: World):
    ids = [{"type": RECEIVED.select_type, "index": r["id"]} for r in w.hidden[:3]]
    if not ids:
        return
    response = call_callback(
        w.client,
        f"{RECEIVED.select_type}",
        [[{"id": i, "property": "value"} for i in ids]],
        [(RECEIVED.id("select-all"), "value", ["all"])],
        [(ids, "id", ids)],
    )
    no_markers(w, response)  # it echoes the browser's own ids, nothing of their files


def c_selection(w: World):
    rows = [{"id": r["id"], "file_name": r["file_name"]} for r in w.hidden[:3]]
    response = call_callback(
        w.client,
        "received-download.href",
        [
            {"id": "received-download", "property": "href"},
            {"id": "received-download", "property": "className"},
            {"id": "received-selected", "property": "children"},
        ],
        [(RECEIVED.id("body"), "selectedRows", rows)],
    )
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    for r in rows:  # a link of ids only: the download checks each id (r_download)
        assert r["file_name"] not in text


def c_facility_load(w: World):
    from central.facilities import FIELDS
    from central.web.pages.facilities import field_id

    for code in ("AUS02", "BES01", "ZZZ99"):
        response = call_callback(
            w.client,
            f"{field_id('name')}.value",
            [*({"id": field_id(f.key), "property": "value"} for f in FIELDS),
             {"id": "facility-history", "property": "children"}],
            [("facility-code", "value", code)],
        )  # fmt: skip
        assert response.status_code == 200
        no_markers(w, response)


def c_facility_save(w: World):
    from central.facilities import FIELDS
    from central.web.pages.facilities import field_id

    for code in ("AUS02", "BES01"):
        response = call_callback(
            w.client,
            "facility-message.children",
            [{"id": "facility-message", "property": "children"},
             {"id": "facilities-table", "property": "children"},
             {"id": "facility-history", "property": "children"}],
            [("facility-save", "n_clicks", 1)],
            [("facility-code", "value", code),
             *((field_id(f.key), "value", "7d" if f.key == "publish_delay" else None) for f in FIELDS)],
        )  # fmt: skip
        no_markers(w, response)
    # a forged change did not widen anything: the API still lists exactly the visible set
    body = w.client.get("/api/v1/files?page_size=1000", headers=_bearer(w)).get_json()
    assert {f["id"] for f in body["files"]} <= w.visible | (
        w.visible if w.role != "user" else set()
    )


def c_tokens(w: World):
    dependencies = w.client.get("/_dash-dependencies").get_json()
    output = next(d["output"] for d in dependencies if "token-new.children" in d["output"])
    for owner in range(1, 8):  # every user id, forged for all but administrators
        body = {
            "output": output,
            "outputs": [{"id": "token-new", "property": "children"},
                        {"id": "token-list", "property": "children"}],
            "inputs": [{"id": "token-make", "property": "n_clicks", "value": 0}, [],
                       {"id": "token-user", "property": "value", "value": owner}],
            "state": [{"id": "token-name", "property": "value", "value": None}],
            "changedPropIds": ["token-user.value"],
        }  # fmt: skip
        response = w.client.post(
            "/_dash-update-component", json=body, headers=csrf_header(w.client)
        )
        assert response.status_code == 200
        no_markers(w, response)


# ------------------------------------------- spectrum viewer and SOH charts
def _same_as_missing(w: World, part: str, inputs: Callable[[int], list]) -> dict:
    """Each hidden file id answers as an id that does not exist; visible ones answer."""
    missing = dash_call(w.client, part, inputs(MISSING_ID))
    assert missing.status_code == 200
    seen = {}
    for r in w.rows:
        response = dash_call(w.client, part, inputs(r["id"]))
        no_markers(w, response)
        if r["id"] in w.visible:
            seen[r["id"]] = response
        else:
            assert response.data == missing.data, (w.role, r["id"])  # the id is not echoed
    return seen


def c_spectrum(w: World):
    seen = _same_as_missing(w, "spectrum-graph.figure", lambda i: [("url", "search", f"?file={i}")])
    for file_id, response in seen.items():
        row = next(r for r in w.rows if r["id"] == file_id)
        assert (row["file_name"] in response.data.decode()) == (row["product"] == "PHD")


def c_spectrum_csv(prefix: str) -> Callable[[World], None]:
    def exercise(w: World):
        missing = dash_call(
            w.client, f"{prefix}-csv.data", [(f"{prefix}-csv-button", "n_clicks", 1)],
            [("url", "search", f"?file={MISSING_ID}")],
        )  # fmt: skip
        for r in w.rows:
            response = dash_call(
                w.client, f"{prefix}-csv.data", [(f"{prefix}-csv-button", "n_clicks", 1)],
                [("url", "search", f"?file={r['id']}")],
            )  # fmt: skip
            no_markers(w, response)
            if r["id"] not in w.visible or r["product"] != "PHD":
                assert response.data == missing.data, (w.role, r["id"])

    return exercise


# real SOH reports of both stations: (station, msg_id, period start, crystal temperatures)
SOH_REPORTS = (
    ("AUS02", 7001, datetime(2024, 5, 1, 0, tzinfo=UTC), [-185.11, -185.12]),  # published
    ("AUS02", 7002, datetime(2024, 5, 1, 4, tzinfo=UTC), [-171.37, -171.38]),  # not yet
    ("BES01", 7003, datetime(2024, 5, 1, 0, tzinfo=UTC), [-179.71, -179.72]),
)


def _soh_world(w: World) -> dict[str, list[float]]:
    """Adds the reports (once per world); the crystal temperatures `w` may see, by station."""
    from tests.central.test_soh_values import add_soh

    with Store(w.client.application.config["STAX_DATABASE"]) as store:
        if not store.db["soh_values"].count_where(
            "message_id in (select id from messages where msg_id = '7001')"
        ):
            for station, msg_id, start, crystal in SOH_REPORTS:
                add_soh(store, station, msg_id, start, crystal)
        rows = list(
            store.db.query("select * from messages where msg_id in ('7001', '7002', '7003')")
        )
    seen: dict[str, list[float]] = {"AUS02": [], "BES01": []}
    for (station, _msg, _start, crystal), row in zip(SOH_REPORTS, rows, strict=True):
        if oracle(w.role, w.stations, row):
            seen[station] += crystal
    return seen


def _no_soh_leak(w: World, seen: dict[str, list[float]], response) -> None:
    text = response.data.decode()
    for _station, _msg, _start, crystal in SOH_REPORTS:
        for value in crystal:
            if not any(value in v for v in seen.values()):
                assert f"{value}" not in text, (w.role, value)
    no_markers(w, response)


def c_soh_quantities(w: World):
    _soh_world(w)
    made_up = dash_call(w.client, "soh-quantities.options", [("soh-station", "value", "ZZZ99")])
    for station in ("AUS02", "BES01"):
        response = dash_call(
            w.client, "soh-quantities.options", [("soh-station", "value", station)]
        )
        options = dash_answer(response)["soh-quantities"]["options"]
        if station in w.stations:
            assert "crystal_temperature" in options, (w.role, station)
        else:
            assert response.data == made_up.data, (w.role, station)


def _soh_filters(station: str, n: int = 1) -> list:
    return [
        ("soh-station", "value", station),
        ("soh-span", "start_date", None),
        ("soh-span", "end_date", None),
        ("soh-quantities", "value", ["crystal_temperature"] * n),
    ]


def c_soh_charts(w: World):
    seen = _soh_world(w)
    for station in ("AUS02", "BES01", "ZZZ99"):
        response = dash_call(w.client, "soh-summary.children", _soh_filters(station))
        _no_soh_leak(w, seen, response)
        figure = dash_answer(response)[graph_id("soh-0")]["figure"]
        shown = figure.get("data", [{}])[0].get("y", []) if figure else []
        assert shown == seen.get(station, []), (w.role, station)


def c_soh_zoom(w: World):
    """A chart zoomed: read again under the same rule, whatever quantity is sent back."""
    seen = _soh_world(w)
    window = {"xaxis.range[0]": "2024-04-30 00:00:00", "xaxis.range[1]": "2024-05-02 00:00:00"}
    for station in ("AUS02", "BES01", "ZZZ99"):
        for shown in (["crystal_temperature"], ["shield"], None):
            inputs = [(graph_id(f"soh-{k}"), "relayoutData", window if k == 0 else None)
                      for k in range(MAX_SOH_CHARTS)]  # fmt: skip
            response = call_changed(
                w.client, "soh-0-graph.figure@", inputs, f"{graph_id('soh-0')}.relayoutData",
                [*_soh_filters(station), ("soh-shown", "data", shown)],
            )  # fmt: skip
            _no_soh_leak(w, seen, response)
            if response.status_code == 204:  # nothing to draw
                assert not seen.get(station) or shown != ["crystal_temperature"], (w.role, station)
                continue
            figure = dash_answer(response)[graph_id("soh-0")]["figure"]
            assert figure["data"][0]["y"] == seen[station], (w.role, station)


def c_soh_csv(i: int) -> Callable[[World], None]:
    def exercise(w: World):
        seen = _soh_world(w)
        for station in ("AUS02", "BES01"):
            response = dash_call(
                w.client, f"soh-{i}-csv.data", [(f"soh-{i}-csv-button", "n_clicks", 1)],
                [*_soh_filters(station, MAX_SOH_CHARTS), (graph_id(f"soh-{i}"), "relayoutData", None),
                 ("soh-shown", "data", None)],
            )  # fmt: skip
            _no_soh_leak(w, seen, response)
            data = dash_answer(response)[f"soh-{i}-csv"]["data"]
            values = [float(line.split(",")[1]) for line in data["content"].splitlines()[1:]] if data else []  # fmt: skip
            assert values == seen[station], (w.role, station, i)

    return exercise


def c_spectrum_pick(w: World):
    for r in w.hidden[:5]:
        response = dash_call(w.client, "spectrum-goto.href", [("spectrum-pick", "value", r["id"])])
        href = dash_answer(response)["spectrum-goto"]["href"]
        assert href == f"/charts/spectrum?file={r['id']}"  # an echo only
        no_markers(w, response)


def c_soh_save_all(w: World):
    """Client-side only (assets/charts.js): it never reaches the server."""


def _cell_texts(response) -> dict[str, str]:
    """Availability cell id -> its `received/expected` text, from a callback's answer."""
    out: dict[str, str] = {}

    def walk(node):
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            props = node.get("props", {})
            if node.get("type") == "Td" and str(props.get("id", "")).startswith("avail-"):
                out[props["id"]] = props["children"]["props"]["children"]
            walk(props.get("children"))

    walk(response.get_json()["response"]["dashboard-availability"]["children"])
    return out


def c_dashboard(w: World):
    for end in (None, "2024-05-01", "2030-01-01"):
        response = call_callback(
            w.client,
            "dashboard-availability.children",
            {"id": "dashboard-availability", "property": "children"},
            [("dashboard-end", "date", end), ("dashboard-days", "value", 7)],
        )
        assert response.status_code == 200
        no_markers(w, response)
        cells = _cell_texts(response)
        assert {key.split("-")[1] for key in cells} == w.stations, w.role
        for station in w.stations:
            for product, data_type in (("PHD", "SAMPLEPHD"), ("SOH", None), ("ATS", None)):
                wanted = sum(
                    1
                    for r in w.rows
                    if r["id"] in w.visible
                    and r["station"] == station
                    and r["product"] == product
                    and (data_type is None or r["data_type"] == data_type)
                    and r["start_time"].startswith("2024-05-01")
                    and (product != "ATS" or r["analysis"] == "STATION")
                )
                text = cells[f"avail-{station}-{product}-2024-05-01"]
                assert text.split("/")[0] == str(wanted), (w.role, station, product, text)


def _alert_filters(stations=None, states=None):
    return [
        ("alerts-station", "value", stations),
        ("alerts-kind", "value", None),
        ("alerts-episode", "value", states),
        ("alerts-source", "value", None),
        ("alerts-days", "start_date", None),
        ("alerts-days", "end_date", None),
    ]


def c_alerts_page(w: World):
    from central.web.pages.alerts import ALERTS

    wanted = sum(1 for r in w.rows if r["id"] in w.visible and r["product"] == "ALERT")
    for stations in (None, ["AUS02", "BES01"], ["AUS02"]):
        response = show_page(w.client, ALERTS, ALERTS.initial_state(), _alert_filters(stations))
        assert response.status_code == 200
        no_markers(w, response)
        n = wanted if stations != ["AUS02"] else 0  # the sample's one alert is BES01's
        assert count_text(n) in displaying(response, ALERTS), (w.role, stations)
        shown = json.dumps(response.get_json())
        for r in w.rows:  # the visible alert is there by its row id, the hidden ones not
            if r["product"] == "ALERT" and r["id"] in w.visible and stations != ["AUS02"]:
                assert f'"id": "s{r["id"]}"' in shown
        for r in w.hidden:
            if r["product"] == "ALERT":
                assert f'"id": "s{r["id"]}"' not in shown  # the grid's row id


def _users_state(w: World) -> tuple:
    """What the users callbacks could change: users, their facilities, their sessions."""
    with Store(w.client.application.config["STAX_DATABASE"]) as store:
        return tuple(
            list(store.conn.execute(sql).fetchall())
            for sql in (
                "select * from users order by id",
                "select * from user_facilities order by user_id, facility",
                "select id from web_sessions order by id",
            )
        )


USERS_FIELDS = ("username", "first_name", "last_name", "email", "role", "assigned", "owned")


def _users_act(w: World, action: str, picked, **values):
    from central.web.pages.users import ACTIONS, field_id

    dependencies = w.client.get("/_dash-dependencies").get_json()
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
                    for k in USERS_FIELDS),
                  {"id": "users-version", "property": "data", "value": 0}],
        "changedPropIds": [f"users-{action}.n_clicks"],
    }  # fmt: skip
    return w.client.post("/_dash-update-component", json=body, headers=csrf_header(w.client))


def c_users_load(w: World):
    from central.web.pages.users import field_id

    for picked in (1, 2, 3, MISSING_ID, None):
        response = call_callback(
            w.client,
            f"{field_id('username')}.value",
            [{"id": field_id(k), "property": "value"} for k in USERS_FIELDS],
            [("users-pick", "value", picked)],
        )
        assert response.status_code == 200
        got = response.get_json()["response"]
        if w.role != "admin" or picked in (None, MISSING_ID):
            assert got[field_id("username")]["value"] is None
            assert got[field_id("email")]["value"] is None
        else:
            assert got[field_id("username")]["value"]


def c_users_page(w: World):
    for wanted in (None, "alice", "%"):
        filters = [(f"users-filter-{k}", "value", wanted if k == "username" else None)
                   for k in USERS_FILTERS] + [("users-version", "data", 0)]  # fmt: skip
        response = show_page(w.client, USERS, USERS.initial_state(), filters)
        if w.role == "admin":
            assert response.status_code == 200
            assert ("alice" in response.data.decode()) == (wanted != "%")  # % is no wildcard
        else:  # the same refusal whatever is asked: no user, no count
            assert response.status_code == 403, (w.role, wanted)
            text = response.data.decode()
            assert "Displaying" not in text and '"olga"' not in text and '"bert"' not in text
        assert "password_hash" not in response.data.decode() and "$argon2" not in str(response.data)


def c_users_act(w: World):
    before = _users_state(w)
    actions = [
        ("create", None, {"username": f"new{w.role}", "role": "admin", "owned": ["AUS02"]}),
        ("save", 2, {"role": "admin", "email": "x@example.org", "assigned": ["BES01"]}),
        ("disable", 2, {}),
        ("enable", 4, {}),
        ("reset", 1, {}),
    ]
    for action, picked, values in actions:
        response = _users_act(w, action, picked, **values)
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        if w.role != "admin":
            assert "Not allowed" in text, (w.role, action)
            assert "users-secret" not in text
            for other in ("admin", "alice", "olga", "bert", "owen"):
                if other != w.username:
                    assert f'"{other}"' not in text, (w.role, action, other)
        else:
            assert "Not done" not in text, (action, text)
    if w.role != "admin":
        assert _users_state(w) == before, w.role  # nothing changed
    else:
        assert _users_state(w) != before


def _post(w: World, output_part: str, body: dict):
    dependencies = w.client.get("/_dash-dependencies").get_json()
    body["output"] = next(d["output"] for d in dependencies if output_part in d["output"])
    return w.client.post("/_dash-update-component", json=body, headers=csrf_header(w.client))


def _store_of(w: World) -> Store:
    return Store(w.client.application.config["STAX_DATABASE"])


def c_subscriptions(w: World):
    from central.subscriptions import subscriptions_of

    codes = ["AUS02", "BES01", "ZZZ99"]  # forged: every facility and a made-up one
    boxes = [{"type": "sub-products", "facility": c} for c in codes]
    response = _post(w, "sub-message.children", {
        "outputs": {"id": "sub-message", "property": "children"},
        "inputs": [{"id": "sub-save", "property": "n_clicks", "value": 1}],
        "state": [[{"id": b, "property": "value", "value": ["PHD", "ALERT"]} for b in boxes],
                  [{"id": b, "property": "id", "value": b} for b in boxes]],
        "changedPropIds": ["sub-save.n_clicks"],
    })  # fmt: skip
    assert response.status_code == 200, response.data
    no_markers(w, response)
    text = response.data.decode()
    # another facility's code and a made-up one get the same words
    for code in codes:
        if code not in w.stations:
            assert f"{code}: not one of your facilities" in text, (w.role, code)
    with _store_of(w) as store:
        user_id = store.conn.execute(
            "select id from users where username = ?", [w.username]
        ).fetchone()[0]
        subscribed = {r["facility"] for r in subscriptions_of(store, user_id)}
    assert subscribed == w.stations, w.role
    # the page offers the facilities the user sees, no other
    page = json.dumps(route(w.client, "/settings"))
    for code in ("AUS02", "BES01"):
        assert (f'"facility": "{code}"' in page) == (code in w.stations), (w.role, code)


def c_certificate(w: World):
    from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

    from central.usercerts import certificate_of, make_certificate

    with _store_of(w) as store:
        user_id = store.conn.execute(
            "select id from users where username = ?", [w.username]
        ).fetchone()[0]
        with store.conn:
            store.conn.execute(
                "update users set email = ? where id = ?", [f"{w.username}@users.test", user_id]
            )
        others = {r[0] for r in store.conn.execute("select user_id from user_certificates")}

    def click(trigger: str, upload=None, password="a good password"):
        return _post(w, "cert-download.data", {
            "outputs": [{"id": "cert-download", "property": "data"},
                        {"id": "cert-message", "property": "children"},
                        {"id": "cert-info", "property": "children"}],
            "inputs": [{"id": "cert-make", "property": "n_clicks",
                        "value": 1 if trigger == "cert-make" else 0},
                       {"id": "cert-remove", "property": "n_clicks",
                        "value": 1 if trigger == "cert-remove" else 0},
                       {"id": "cert-upload", "property": "contents", "value": upload}],
            "state": [{"id": "cert-password", "property": "value", "value": password},
                      {"id": "cert-password2", "property": "value", "value": password}],
            "changedPropIds": [f"{trigger}.{'contents' if upload else 'n_clicks'}"],
        })  # fmt: skip

    made = click("cert-make")
    assert made.status_code == 200, made.data
    no_markers(w, made)
    data = made.get_json()["response"]["cert-download"]["data"]
    key, cert, _ = pkcs12.load_key_and_certificates(
        base64.b64decode(data["content"]), b"a good password"
    )
    assert key is not None and f"{w.username}@users.test" in cert.subject.rfc4514_string()
    with _store_of(w) as store:
        assert certificate_of(store, user_id).cert == cert  # kept for this user alone
        mine = {r[0] for r in store.conn.execute("select user_id from user_certificates")}
        assert mine == others | {user_id}
    own, _ = make_certificate(f"{w.username}@users.test", w.username, MOMENT)
    pem = base64.b64encode(own.public_bytes(Encoding.PEM)).decode()
    uploaded = click("cert-upload", upload=f"data:application/x-pem-file;base64,{pem}")
    assert (
        "uploaded" in uploaded.data.decode()
        and uploaded.get_json()["response"].get("cert-download", {}).get("data") is None
    )
    no_markers(w, uploaded)
    assert "removed" in click("cert-remove").data.decode()
    assert "at least 8" in click("cert-make", password="short").data.decode()


CALLBACKS: dict[str, Callable[[World], None]] = {
    "page.children": c_route,
    "received-body.rowData": c_received_page,
    "comparison-body.rowData": c_comparison_page,
    "quarantine-body.rowData": c_quarantine_page,
    "received-state.data": c_state(RECEIVED),
    "comparison-state.data": c_state(COMPARISON),
    "quarantine-state.data": c_state(QUARANTINE),
    "received-download.href": c_selection,
    "facility-field-name.value": c_facility_load,
    "facility-message.children": c_facility_save,
    "token-new.children": c_tokens,
    **{
        name: functools.partial(f, no_markers=no_markers)
        for name, f in (
            ("impact-notes.children", leaks_impact.c_impact_draw),
            ("impact-total-csv.data", leaks_impact.c_impact_total_csv),
            ("impact-emitters-csv.data", leaks_impact.c_impact_emitters_csv),
            ("impact-measured.data", leaks_impact.c_impact_measured),
            ("impact-atm-result.children", leaks_impact.c_impact_atm_upload),
            ("impact-save-all-done.children", leaks_impact.c_impact_save_all),
            ("impact-ims-message.children", leaks_impact.c_impact_ims_edit),
        )
    },
    "maintenance-body.rowData": lambda w: pages.c_annotations_page(w, MOMENT),
    "maintenance-state.data": c_state(pages.ANNOTATIONS),
    "notices-body.rowData": lambda w: pages.c_notices_page(w, MOMENT),
    "notices-state.data": c_state(pages.NOTICES),
    "maintenance-field-station.value": lambda w: pages.c_annotation_load(w, MOMENT),
    "maintenance-message.children": lambda w: pages.c_annotation_save(w, MOMENT),
    "resources-body.rowData": lambda w: pages.c_resources_page(w, MOMENT),
    "resources-state.data": c_state(pages.RESOURCES),
    "resource-message.children": lambda w: pages.c_resource_change(w, MOMENT),
    **RELEASE_CALLBACKS,  # the charts: tests/web/test_releases_leaks.py
    "spectrum-graph.figure": c_spectrum,
    "spectrum-goto.href": c_spectrum_pick,
    "spectrum-csv.data": c_spectrum_csv("spectrum"),
    "spectrum-results-csv.data": c_spectrum_csv("spectrum-results"),
    "soh-quantities.options": c_soh_quantities,
    "soh-summary.children": c_soh_charts,
    "soh-0-graph.figure": c_soh_zoom,
    **{f"soh-{i}-csv.data": c_soh_csv(i) for i in range(MAX_SOH_CHARTS)},
    "soh-save-all-done.children": c_soh_save_all,
    **{
        name: functools.partial(f, no_markers=no_markers)
        for name, f in SOH_LIMIT_CALLBACKS.items()  # tests/web/test_soh_limits.py
    },
    "dashboard-availability.children": c_dashboard,
    "alerts-body.rowData": c_alerts_page,
    "alerts-state.data": c_state_alerts,
    "users-field-username.value": c_users_load,
    "users-message.children": c_users_act,
    "users-body.rowData": c_users_page,
    "users-state.data": c_state(USERS),
    "users-pick.value": functools.partial(leak_pick_row, no_markers=no_markers),
    "users-pick.options": functools.partial(leak_search, no_markers=no_markers),
    "sub-message.children": c_subscriptions,
    "cert-download.data": c_certificate,
    "pw-message.children": functools.partial(password_leak, no_markers=no_markers),
}


def callback_name(key: str) -> str:
    """A callback's first output, e.g. `page.children`, from its key in callback_map."""
    return key.removeprefix("..").split("...")[0].split("@")[0].removesuffix("..")


def test_every_route_and_callback_of_the_app_has_an_entry_here(app):
    endpoints = {rule.endpoint for rule in app.server.url_map.iter_rules()}
    assert endpoints == set(ROUTES), "give each new route an entry in ROUTES"
    names = {callback_name(key) for key in app.callback_map}
    assert names == set(CALLBACKS), "give each new callback an entry in CALLBACKS"
    assert len(names) == len(app.callback_map)  # one entry is one callback


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("endpoint", list(ROUTES))
def test_no_route_lets_a_hidden_item_out(worlds, role, endpoint):
    ROUTES[endpoint](worlds[role])


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("callback", list(CALLBACKS))
def test_no_callback_lets_a_hidden_item_out(worlds, role, callback):
    CALLBACKS[callback](worlds[role])
