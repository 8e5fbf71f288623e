"""The chart callbacks' entries of tests/web/test_leaks.py (its CALLBACKS table imports
them): each callback is called as the renderer would, for every role, on the leak test's
situation with release rows for every spectrum, and what comes back is compared with
the rows the role may see (worked out there from the rows themselves)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import datetime

import numpy as np

from central.releases import insert_rows
from central.store import Store

from .helpers import call_callback, csrf_header
from .test_releases_chart import array

NUCLIDES = ("Xe-133", "Xe-131m", "Xe-133m", "Xe-135")
SPAN = ("2024-05-01", "2024-05-01")


def seed(w) -> None:
    """Release rows of every spectrum of the situation (idempotent): all four xenons
    detected by both methods, value 1e6 + the spectrum's id, so that each is known."""
    rows = []
    for r in w.rows:
        if r["product"] != "PHD":
            continue
        start = datetime.fromisoformat(r["start_time"].replace("Z", "+00:00"))
        for k, nuclide in enumerate(NUCLIDES):
            for method in ("station", "central"):
                value = (1e6 + r["id"]) * (k + 1)
                rows.append((r["station"], nuclide, method, int(start.timestamp()),
                             r["file_name"], r["id"], r["start_time"], r["data_until"],
                             value, 0.1 * value, 1e4, value / 1e4, value / 1e5, 1, 900.0))  # fmt: skip
    with Store(w.client.application.config["STAX_DATABASE"]) as store, store.conn:
        insert_rows(store.conn, rows)


def spectra(w, station: str) -> set[int]:
    """The ids of `station`'s spectra the role may see."""
    return {
        r["id"]
        for r in w.rows
        if r["product"] == "PHD" and r["station"] == station and r["id"] in w.visible
    }


def _response(response, component: str, prop: str):
    assert response.status_code in (200, 204), response.data
    if response.status_code == 204:
        return None
    return response.get_json()["response"][component][prop]


def _ids_in(figure) -> set[int]:
    found: set[int] = set()
    for trace in figure["data"]:
        if "customdata" in trace:
            data = array(trace["customdata"])
            if data.size:
                found |= {int(v) for v in data[:, 0] if np.isfinite(v)}
    return found


def chart_inputs(station, relayout=None):
    return [
        ("releases-station", "value", station),
        ("releases-span", "start_date", SPAN[0]),
        ("releases-span", "end_date", SPAN[1]),
        ("releases-nuclides", "value", None),
        ("releases-unit", "value", "Bq"),
        ("releases-show", "value", ["mdr", "differences", "maintenance"]),
        ("releases-graph", "relayoutData", relayout),
    ]


def c_releases_station(w):
    seed(w)
    for station in ("AUS02", "BES01", "ZZZ99"):
        response = call_callback(
            w.client,
            "releases-nuclides.options",
            [{"id": "releases-nuclides", "property": p} for p in ("options", "value")]
            + [{"id": "releases-span", "property": p} for p in ("start_date", "end_date")],
            [("releases-station", "value", station)],
        )
        options = _response(response, "releases-nuclides", "options")
        start = _response(response, "releases-span", "start_date")
        if spectra(w, station):
            assert sorted(options) == sorted(NUCLIDES) and start is not None, (w.role, station)
        else:  # not even which nuclides, nor when the data end
            assert options == [] and start is None, (w.role, station)


def c_releases_chart(w):
    seed(w)
    for station in ("AUS02", "BES01"):
        for relayout in (None, {"xaxis.range[0]": "2024-05-01 06:00",
                                "xaxis.range[1]": "2024-05-01 08:00"}):  # fmt: skip
            response = call_callback(
                w.client,
                "releases-graph.figure",
                {"id": "releases-graph", "property": "figure"},
                chart_inputs(station, relayout),
                [("releases-mode", "value", "x")],
            )
            figure = _response(response, "releases-graph", "figure")
            wanted = spectra(w, station)
            if relayout:
                wanted = {
                    r["id"] for r in w.rows if r["id"] in wanted
                    and "2024-05-01T06:00" <= r["start_time"] < "2024-05-01T08:00"
                }  # fmt: skip
            assert _ids_in(figure) == wanted, (w.role, station, relayout)
            if not wanted:
                assert "differences" not in json.dumps(figure)


def c_releases_integral(w):
    seed(w)
    for station in ("AUS02", "BES01"):
        response = call_callback(
            w.client,
            "releases-integral.children",
            {"id": "releases-integral", "property": "children"},
            [("releases-graph", "selectedData", {"range": {"x": ["2024-05-01", "2024-05-02"]}}),
             ("releases-graph", "relayoutData", None),
             ("releases-station", "value", station),
             ("releases-span", "start_date", SPAN[0]),
             ("releases-span", "end_date", SPAN[1]),
             ("releases-nuclides", "value", ["Xe-133"])],
        )  # fmt: skip
        text = json.dumps(_response(response, "releases-integral", "children"))
        wanted = spectra(w, station)
        if wanted:
            total = sum(1e6 + i for i in wanted)
            assert f"{total:.3E}" in text, (w.role, station)
        else:
            assert "E+" not in text, (w.role, station)


def c_releases_point(w):
    seed(w)
    headers = csrf_header(w.client)
    for r in w.rows:
        if r["product"] != "PHD":
            continue
        click = {"points": [{"customdata": [r["id"], 0]}]}
        body = {
            "output": "releases-point.children",
            "outputs": {"id": "releases-point", "property": "children"},
            "inputs": [{"id": "releases-graph", "property": "clickData", "value": click}],
            "changedPropIds": ["releases-graph.clickData"],
        }
        response = w.client.post("/_dash-update-component", json=body, headers=headers)
        text = json.dumps(_response(response, "releases-point", "children"))
        assert (r["file_name"] in text) == (r["id"] in w.visible), (w.role, r["id"])
        ats = [a for a in w.rows if a["product"] == "ATS" and a["station"] == r["station"]]
        for a in ats:  # the day's ATS only when the role may see it
            if a["id"] not in w.visible:
                assert f"/download?ids={a['id']}" not in text, (w.role, a["id"])


def c_releases_csv(w):
    seed(w)
    for station in ("AUS02", "BES01", "ZZZ99"):
        response = call_callback(
            w.client,
            "releases-csv.data",
            {"id": "releases-csv", "property": "data"},
            [("releases-csv-button", "n_clicks", 1)],
            [("releases-station", "value", station),
             ("releases-span", "start_date", SPAN[0]),
             ("releases-span", "end_date", SPAN[1]),
             ("releases-nuclides", "value", None),
             ("releases-unit", "value", "Bq/h"),
             ("releases-graph", "relayoutData", None)],
        )  # fmt: skip
        data = _response(response, "releases-csv", "data")
        wanted = {r["file_name"] for r in w.rows if r["id"] in spectra(w, station)}
        files = set() if data is None else {
            row["file"] for row in csv.DictReader(io.StringIO(data["content"]))
        }  # fmt: skip
        assert files == wanted, (w.role, station)


def c_releases_integral_csv(w):
    seed(w)
    for station in ("AUS02", "BES01"):
        response = call_callback(
            w.client,
            "releases-integral-csv.data",
            {"id": "releases-integral-csv", "property": "data"},
            [("releases-integral-csv-button", "n_clicks", 1)],
            [("releases-graph", "selectedData", None),
             ("releases-graph", "relayoutData", None),
             ("releases-station", "value", station),
             ("releases-span", "start_date", SPAN[0]),
             ("releases-span", "end_date", SPAN[1]),
             ("releases-nuclides", "value", ["Xe-133"])],
        )  # fmt: skip
        data = _response(response, "releases-integral-csv", "data")
        wanted = spectra(w, station)
        if data is None:
            assert not wanted or w.role == "other", (w.role, station)
            continue
        rows = list(csv.DictReader(io.StringIO(data["content"])))
        counts = {int(r["intervals"]) for r in rows}
        assert counts <= {len(wanted)}, (w.role, station)
        assert bool(rows) == bool(wanted)


RATIO_INPUTS = [
    ("ratios-span", "start_date", SPAN[0]),
    ("ratios-span", "end_date", SPAN[1]),
    ("ratios-x-num", "value", "Xe-133m"),
    ("ratios-x-den", "value", "Xe-131m"),
    ("ratios-y-num", "value", "Xe-135"),
    ("ratios-y-den", "value", "Xe-133"),
    ("ratios-method", "value", "central"),
    ("ratios-colour", "value", "Xe-133"),
]


def c_ratios_station(w):
    seed(w)
    for station in ("AUS02", "BES01", "ZZZ99"):
        outputs = [
            {"id": f"ratios-{k}", "property": "options"}
            for k in ("x-num", "x-den", "y-num", "y-den", "colour")
        ]
        outputs += [{"id": "ratios-span", "property": p} for p in ("start_date", "end_date")]  # fmt: skip
        outputs[4:4] = [
            {"id": f"ratios-{k}", "property": "value"} for k in ("x-num", "x-den", "y-num", "y-den")
        ]
        response = call_callback(
            w.client,
            "ratios-x-num.options",
            outputs,
            [("ratios-station", "value", station)],
            [(f"ratios-{k}", "value", None) for k in ("x-num", "x-den", "y-num", "y-den")],
        )
        options = _response(response, "ratios-x-num", "options")
        if spectra(w, station):
            assert sorted(options) == sorted(NUCLIDES), (w.role, station)
        else:
            assert options == [] and _response(response, "ratios-span", "start_date") is None


def c_ratios_chart(w):
    seed(w)
    for station in ("AUS02", "BES01"):
        response = call_callback(
            w.client,
            "ratios-graph.figure",
            {"id": "ratios-graph", "property": "figure"},
            [("ratios-station", "value", station), *RATIO_INPUTS],
        )
        figure = _response(response, "ratios-graph", "figure")
        assert _ids_in(figure) == spectra(w, station), (w.role, station)


def c_ratios_csv(w):
    seed(w)
    for station in ("AUS02", "BES01"):
        response = call_callback(
            w.client,
            "ratios-csv.data",
            {"id": "ratios-csv", "property": "data"},
            [("ratios-csv-button", "n_clicks", 1)],
            [("ratios-station", "value", station), *RATIO_INPUTS],
        )
        data = _response(response, "ratios-csv", "data")
        files = set() if data is None else {
            r["file"] for r in csv.DictReader(io.StringIO(data["content"]))
        }  # fmt: skip
        wanted = {r["file_name"] for r in w.rows if r["id"] in spectra(w, station)}
        assert files == wanted, (w.role, station)


def _daily_xe133(w, stations) -> float:
    return sum(1e6 + i for s in stations for i in spectra(w, s))


def c_trends_span(w):
    seed(w)
    for station in ("*", "AUS02", "BES01", "ZZZ99"):
        response = call_callback(
            w.client,
            "trends-span.start_date",
            [{"id": "trends-span", "property": "start_date"},
             {"id": "trends-span", "property": "end_date"}],
            [("trends-station", "value", station)],
        )  # fmt: skip
        end = _response(response, "trends-span", "end_date")
        visible = w.stations if station == "*" else {station} & w.stations
        assert (end is not None) == any(spectra(w, s) for s in visible), (w.role, station)


def c_trends_chart(w):
    seed(w)
    for station in ("*", "AUS02", "BES01"):
        response = call_callback(
            w.client,
            "trends-graph.figure",
            {"id": "trends-graph", "property": "figure"},
            [("trends-station", "value", station),
             ("trends-span", "start_date", SPAN[0]),
             ("trends-span", "end_date", SPAN[1]),
             ("trends-nuclides", "value", ["Xe-133"])],
        )  # fmt: skip
        figure = _response(response, "trends-graph", "figure")
        visible = w.stations if station == "*" else {station} & w.stations
        want = _daily_xe133(w, visible)
        central = [t for t in figure["data"] if t["name"] == "Xe-133 central"]
        if want:
            assert array(central[0]["y"])[0] == want, (w.role, station)
        else:
            assert central == [], (w.role, station)


def c_trends_csv(w):
    seed(w)
    for station in ("*", "AUS02", "BES01"):
        response = call_callback(
            w.client,
            "trends-csv.data",
            {"id": "trends-csv", "property": "data"},
            [("trends-csv-button", "n_clicks", 1)],
            [("trends-station", "value", station),
             ("trends-span", "start_date", SPAN[0]),
             ("trends-span", "end_date", SPAN[1]),
             ("trends-nuclides", "value", ["Xe-133"])],
        )  # fmt: skip
        data = _response(response, "trends-csv", "data")
        visible = w.stations if station == "*" else {station} & w.stations
        want = _daily_xe133(w, visible)
        rows = [] if data is None else list(csv.DictReader(io.StringIO(data["content"])))
        got = sum(float(r["Xe-133 daily cumulative release central (Bq)"] or 0) for r in rows)
        assert got == want, (w.role, station)


def c_clientside(output: str) -> Callable:
    """A callback that runs in the browser only: the server never answers it."""

    def exercise(w):
        dependencies = w.client.get("/_dash-dependencies").get_json()
        [dep] = [d for d in dependencies if d["output"] == output]
        assert dep["clientside_function"] is not None

    return exercise


def c_forget_zoom(w) -> None:
    """The zoom reset runs in the browser only and returns nothing but null."""
    dependencies = w.client.get("/_dash-dependencies").get_json()
    [dep] = [d for d in dependencies if d["output"].startswith("releases-graph.relayoutData@")]
    assert dep["clientside_function"] == {
        "namespace": "staxReleases",
        "function_name": "forgetZoom",
    }


CALLBACKS: dict[str, Callable] = {
    "releases-graph.relayoutData": c_forget_zoom,
    "releases-nuclides.options": c_releases_station,
    "releases-graph.figure": c_releases_chart,
    "releases-integral.children": c_releases_integral,
    "releases-point.children": c_releases_point,
    "releases-csv.data": c_releases_csv,
    "releases-integral-csv.data": c_releases_integral_csv,
    "ratios-x-num.options": c_ratios_station,
    "ratios-graph.figure": c_ratios_chart,
    "ratios-csv.data": c_ratios_csv,
    "trends-span.start_date": c_trends_span,
    "trends-graph.figure": c_trends_chart,
    "trends-csv.data": c_trends_csv,
    "releases-mode-done.children": c_clientside("releases-mode-done.children"),
    "releases-save-all-done.children": c_clientside("releases-save-all-done.children"),
}
