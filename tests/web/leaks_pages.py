"""test_leaks.py's entries for the Maintenance and Resources pages and the resource
download: each seeds annotations and resources of both stations, some not yet published,
and proves that no role gets what it may not see, nor changes what it may not change.

Who sees what is worked out from the rows, not with central.access: AUS02 publishes after
a day, BES01 at once, the clock stands at test_leaks.MOMENT.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import timedelta

from central.accounts import get_user
from central.maintenance import add_annotation
from central.resources import add_resource
from central.store import Store
from central.web.pages.maintenance import ANNOTATIONS, FORM_FIELDS, NOTICES, field_id
from central.web.pages.resources import RESOURCES

from .helpers import call_callback, csrf_header
from .test_callbacks import show_page

MISSING = 999_999


@dataclass(frozen=True)
class Item:
    id: int
    station: str | None  # None: a general resource
    marker: str  # its name: a text that shows it
    published: bool  # at the clock's time, for the facility's plain users


def _user(store: Store, name: str):
    row = next(store.db.query("select id from users where username = ?", [name]))
    return get_user(store, row["id"])


def seed(w, moment) -> tuple[list[Item], list[Item]]:
    """Annotations and resources of both stations; returns (annotations, resources)."""
    with Store(w.client.application.config["STAX_DATABASE"]) as store:
        admin, olga = _user(store, "admin"), _user(store, "olga")
        notes = []
        for station, who, name, start, published in (
            ("AUS02", olga, "Pump replaced", moment - timedelta(days=3), True),
            ("AUS02", olga, "Detector warming", moment - timedelta(hours=2), False),
            ("BES01", admin, "Stack filter change", moment - timedelta(hours=1), True),
        ):
            row = add_annotation(
                store, who, moment, station=station, name=name, start=start, text=name + " text"
            )
            notes.append(Item(row["id"], station, name, published))
        files = []
        for station, kind, name, days, published in (
            (None, "document", "get_STAX_data.sh.txt", None, True),
            ("AUS02", "reviewed", "AUS02_reviewed_april.csv", ("2024-04-20", "2024-04-21"), True),
            ("AUS02", "data", "AUS02_fresh_data.csv", None, False),  # uploaded now: 1d delay
            ("BES01", "document", "BES01_stack_manual.pdf", None, True),
        ):
            row = add_resource(
                store,
                admin,
                moment,
                station=station,
                kind=kind,
                file_name=name,
                data=f"{name} bytes\n".encode(),
                max_bytes=10_000,
                day_from=days and days[0],
                day_to=days and days[1],
            )
            files.append(Item(row["id"], station, name, published))
    return notes, files


def sees(w, item: Item) -> bool:
    if item.station is None or w.role == "admin":
        return True
    if item.station not in w.stations:
        return False
    return w.role == "owner" or item.published


def hidden_markers(w, items: list[Item]) -> list[str]:
    return [i.marker for i in items if not sees(w, i)]


def no_hidden(w, items: list[Item], response) -> None:
    text = response.data.decode("utf-8", "replace")
    for marker in [*hidden_markers(w, items), *w.markers()]:
        assert marker not in text, (w.role, marker)


def _count(response, grid) -> str:
    return response.get_json()["response"][grid.id("displaying")]["children"]


def _expect(n: int) -> str:
    return f"of {n}" if n else "Nothing to display"


# ------------------------------------------------------------------ routes
def r_resource_download(w, moment):
    _, files = seed(w, moment)
    missing = w.client.get(f"/resources/{MISSING}")
    assert missing.status_code == 404
    for item in files:
        response = w.client.get(f"/resources/{item.id}")
        if sees(w, item):
            assert response.status_code == 200, (w.role, item.marker)
            assert response.data == f"{item.marker} bytes\n".encode()
            assert item.marker in response.headers["Content-Disposition"]
        else:  # the same answer as for a resource that does not exist
            assert response.status_code == 404, (w.role, item.marker)
            assert re.sub(rf"\b{item.id}\b", "N", response.get_data(as_text=True)) == re.sub(
                rf"\b{MISSING}\b", "N", missing.get_data(as_text=True)
            )
            no_hidden(w, files, response)


# --------------------------------------------------------------- callbacks
def c_annotations_page(w, moment):
    notes, _ = seed(w, moment)
    for stations in (None, ["AUS02", "BES01"], ["BES01"]):
        response = show_page(
            w.client,
            ANNOTATIONS,
            ANNOTATIONS.initial_state(),
            [("maintenance-station", "value", stations), ("maintenance-version", "data", 1)],
        )
        assert response.status_code == 200
        no_hidden(w, notes, response)
        wanted = sum(1 for n in notes if sees(w, n) and (not stations or n.station in stations))
        assert _expect(wanted) in _count(response, ANNOTATIONS), (w.role, stations)


def c_notices_page(w, moment):
    notes, _ = seed(w, moment)
    response = show_page(
        w.client, NOTICES, NOTICES.initial_state(), [("maintenance-version", "data", 1)]
    )
    assert response.status_code == 200
    no_hidden(w, notes, response)
    assert _expect(sum(1 for n in notes if sees(w, n))) in _count(response, NOTICES), w.role


def c_annotation_load(w, moment):
    notes, _ = seed(w, moment)
    outputs = [{"id": field_id(k), "property": "value"} for k in FORM_FIELDS]
    for note in notes:
        response = call_callback(
            w.client,
            f"{field_id('station')}.value",
            outputs,
            [("maintenance-choice", "value", note.id)],
        )
        assert response.status_code == 200
        editable = w.role == "admin" or (w.role == "owner" and note.station in w.stations)
        loaded = response.get_json()["response"][field_id("name")]["value"]
        assert loaded == (note.marker if editable else None), (w.role, note.marker)
        no_hidden(w, notes, response)


def c_annotation_save(w, moment):
    notes, _ = seed(w, moment)
    db = w.client.application.config["STAX_DATABASE"]
    with Store(db) as store:
        before = list(store.db.query("select * from maintenance order by id"))
    for choice in (None, *(n.id for n in notes)):
        for trigger in ("maintenance-save", "maintenance-delete"):
            response = post(
                w,
                "maintenance-message.children",
                [
                    {"id": "maintenance-message", "property": "children"},
                    {"id": "maintenance-version", "property": "data"},
                    {"id": "maintenance-choice", "property": "options"},
                    {"id": "maintenance-choice", "property": "value"},
                ],
                [("maintenance-save", "n_clicks", 1), ("maintenance-delete", "n_clicks", 1)],
                [
                    ("maintenance-choice", "value", choice),
                    (field_id("station"), "value", "BES01"),
                    (field_id("name"), "value", "Forged"),
                    (field_id("text"), "value", ""),
                    (field_id("start"), "value", "2024-05-01 00:00"),
                    (field_id("end"), "value", None),
                    ("maintenance-version", "data", 0),
                ],
                f"{trigger}.n_clicks",
            )
            assert response.status_code == 200
            no_hidden(w, notes, response)
    with Store(db) as store:
        after = list(store.db.query("select * from maintenance order by id"))
    if w.role in ("user", "other"):
        assert after == before  # nothing added, changed or deleted
    if w.role == "owner":  # owns AUS02 only: BES01's annotation untouched, none added there
        bes = [r for r in before if r["station"] == "BES01"]
        assert [r for r in after if r["station"] == "BES01"] == bes


def c_resources_page(w, moment):
    _, files = seed(w, moment)
    for kind in ("all", "document", "reviewed"):
        for stations in (None, ["", "AUS02"], ["BES01"]):
            response = show_page(
                w.client,
                RESOURCES,
                RESOURCES.initial_state(),
                [
                    ("resources-kind", "value", kind),
                    ("resources-station", "value", stations),
                    ("resources-version", "data", 1),
                ],
            )
            assert response.status_code == 200
            no_hidden(w, files, response)
    response = show_page(
        w.client,
        RESOURCES,
        RESOURCES.initial_state(),
        [("resources-kind", "value", "all"), ("resources-station", "value", None),
         ("resources-version", "data", 1)],
    )  # fmt: skip
    assert _expect(sum(1 for f in files if sees(w, f))) in _count(response, RESOURCES), w.role


def c_resource_change(w, moment):
    _, files = seed(w, moment)
    db = w.client.application.config["STAX_DATABASE"]
    with Store(db) as store:
        before = store.db["resources"].count
    upload = "data:text/plain;base64," + base64.b64encode(b"forged").decode()
    outputs = [
        {"id": "resource-message", "property": "children"},
        {"id": "resources-version", "property": "data"},
        {"id": "resource-delete-choice", "property": "options"},
    ]
    for place in ("", "AUS02", "BES01"):
        response = post(
            w,
            "resource-message.children",
            outputs,
            [("resource-upload", "contents", upload), ("resource-delete", "n_clicks", 0)],
            [("resource-upload", "filename", "forged.txt"), ("resource-place", "value", place),
             ("resource-kind", "value", "document"), ("resource-description", "value", ""),
             ("resource-days", "start_date", None), ("resource-days", "end_date", None),
             ("resource-delete-choice", "value", None), ("resources-version", "data", 0)],
            "resource-upload.contents",
        )  # fmt: skip
        assert response.status_code == 200
        no_hidden(w, files, response)
    for item in files:
        response = post(
            w,
            "resource-message.children",
            outputs,
            [("resource-upload", "contents", None), ("resource-delete", "n_clicks", 1)],
            [("resource-upload", "filename", None), ("resource-place", "value", None),
             ("resource-kind", "value", None), ("resource-description", "value", None),
             ("resource-days", "start_date", None), ("resource-days", "end_date", None),
             ("resource-delete-choice", "value", item.id), ("resources-version", "data", 0)],
            "resource-delete.n_clicks",
        )  # fmt: skip
        assert response.status_code == 200
        no_hidden(w, files, response)
    with Store(db) as store:
        after = store.db["resources"].count
        stations = [r["station"] for r in store.db.query("select station from resources")]
    if w.role in ("user", "other"):
        assert after == before  # no upload, no delete
    elif w.role == "owner":  # uploaded for AUS02 only, deleted AUS02's two only
        assert sorted(stations, key=str) == ["AUS02", "BES01", None]
    else:
        assert after == 3  # the three uploads, every seeded one deleted


def post(w, output_part, outputs, inputs, state, changed: str):
    """A callback as the renderer sends it, `changed` the input that fired."""
    dependencies = w.client.get("/_dash-dependencies").get_json()
    output = next(d["output"] for d in dependencies if output_part in d["output"])
    body = {
        "output": output,
        "outputs": outputs,
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [changed],
    }
    return w.client.post("/_dash-update-component", json=body, headers=csrf_header(w.client))
