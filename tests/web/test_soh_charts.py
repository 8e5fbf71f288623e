"""The SOH charts: figures without a browser, the page's callbacks, each chart's CSV against
the database."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from central.soh import set_limit
from central.store import Store
from central.web.chartkit import graph_id
from central.web.figures.releases import POINTS
from central.web.figures.soh import Series, is_outside, series_of, soh_figure, soh_table
from central.web.pages.soh import MAX_CHARTS
from shared.timeutil import iso_z
from tests.central.test_soh_values import add_soh

from .dash_calls import answer, call, call_changed
from .helpers import login

START = datetime(2024, 5, 20, tzinfo=UTC)
CRYSTAL = [-185.0, -184.0, -150.0, -185.5, -186.0, -160.25, -185.0, -185.0]


def test_series_of_takes_numbers_per_quantity_and_leaves_states_out():
    rows = [
        {"quantity": "a", "time": "t1", "value": 1.0, "unit": "V", "state": None},
        {"quantity": "a", "time": "t2", "value": None, "unit": "V", "state": None},
        {"quantity": "b", "time": "t1", "value": None, "unit": "", "state": "ON"},
        {"quantity": "c", "time": "t1", "value": None, "unit": "", "state": None},
    ]
    (a,) = series_of("X", rows, {"a": (0.5, None)})
    assert (a.quantity, a.unit, a.times, a.values, a.low, a.high) == ("a", "V", ["t1", "t2"], [1.0, None], 0.5, None)  # fmt: skip
    assert is_outside(-1, 0, None) and not is_outside(0, 0, 1) and not is_outside(None, 0, 1)


def test_the_figure_draws_limits_and_marks_what_is_outside():
    times = [f"2024-05-20T00:{15 * i:02d}:00.000Z" for i in range(4)]
    s = Series("AUS02", "crystal_temperature", "C", times, [-185.0, -150.0, None, -186.0], None, -163.15)  # fmt: skip
    data = soh_figure(s)["data"]
    assert [t["name"] for t in data] == ["crystal_temperature", "high limit -163.15", "outside limits"]  # fmt: skip
    assert data[1]["y"] == [-163.15, -163.15]
    assert data[2]["x"] == [times[1]] and data[2]["y"] == [-150.0]
    rows = list(csv.reader(io.StringIO(soh_table(s).csv())))
    assert rows[0] == ["time (UTC)", "crystal_temperature (C)", "low limit (C)", "high limit (C)", "outside limits"]  # fmt: skip
    assert rows[2] == [times[1], "-150.0", "", "-163.15", "1"]
    assert rows[3][1] == ""  # not measured


@pytest.fixture
def soh_app(app, config):
    with Store(config.storage.database_path) as store:
        for i in range(3):  # six hours of AUS02's SOH
            add_soh(store, "AUS02", 8000 + i, START + timedelta(hours=2 * i), CRYSTAL)
        set_limit(store, "AUS02", "high_voltage", 4000.0, 4100.0, "V")  # the seed's 4187 is out
    return app


def _filters(station, quantities, start=None, end=None):
    return [
        ("soh-station", "value", station),
        ("soh-span", "start_date", start),
        ("soh-span", "end_date", end),
        ("soh-quantities", "value", quantities),
    ]


def test_the_page_charts_each_quantity_with_its_limits(soh_app, config):
    client = soh_app.server.test_client()
    login(client, "alice")  # a user of AUS02; everything here is published
    options = answer(call(client, "soh-quantities.options", [("soh-station", "value", "AUS02")]))
    quantities = options["soh-quantities"]["options"]
    assert {"crystal_temperature", "high_voltage", "CoolerPower.CP5Power"} <= set(quantities)
    assert "shield" not in quantities and len(quantities) <= MAX_CHARTS
    out = answer(call(client, "soh-summary.children", _filters("AUS02", ["crystal_temperature", "high_voltage"])))  # fmt: skip
    crystal = out[graph_id("soh-0")]["figure"]
    assert crystal["data"][0]["y"] == CRYSTAL * 3
    assert crystal["data"][-1]["name"] == "outside limits" and crystal["data"][-1]["y"] == [-150.0, -160.25] * 3  # fmt: skip
    voltage = out[graph_id("soh-1")]["figure"]
    assert [t["name"] for t in voltage["data"]][1:3] == ["low limit 4000", "high limit 4100"]
    assert out["soh-1-slot"]["style"] == {} and out["soh-2-slot"]["style"] == {"display": "none"}
    assert "30 readings outside limits" in out["soh-summary"]["children"]
    assert out[graph_id("soh-0")]["config"]["toImageButtonOptions"]["filename"] == "AUS02_SOH_crystal_temperature"  # fmt: skip
    # a chosen span: the day of the three reports, then days without any
    out = answer(call(client, "soh-summary.children", _filters("AUS02", ["crystal_temperature"], "2024-05-20", "2024-05-20")))  # fmt: skip
    assert len(out[graph_id("soh-0")]["figure"]["data"][0]["y"]) == 24
    out = answer(call(client, "soh-summary.children", _filters("AUS02", ["crystal_temperature"], "2024-05-21", "2024-05-22")))  # fmt: skip
    assert out["soh-0-slot"]["style"] == {"display": "none"}


def test_each_chart_csv_is_the_database(soh_app, config):
    client = soh_app.server.test_client()
    login(client, "admin")
    chosen = ["crystal_temperature", "CoolerPower.CP5Power"]
    for i, quantity in enumerate(chosen):
        out = answer(
            call(
                client,
                f"soh-{i}-csv.data",
                [(f"soh-{i}-csv-button", "n_clicks", 1)],
                [
                    *_filters("AUS02", chosen),
                    (graph_id(f"soh-{i}"), "relayoutData", None),
                    ("soh-shown", "data", chosen),
                ],
            )
        )
        data = out[f"soh-{i}-csv"]["data"]
        assert data["filename"] == f"AUS02_SOH_{quantity.replace('.', '_')}.csv"
        rows = list(csv.reader(io.StringIO(data["content"])))[1:]
        with Store(config.storage.database_path) as store:
            stored = list(
                store.conn.execute(
                    "select time, value from soh_values where station = 'AUS02' and quantity = ? order by time, message_id",
                    [quantity],
                )
            )
        assert [(r[0], float(r[1])) for r in rows] == stored
    state = [*_filters("AUS02", chosen), (graph_id("soh-5"), "relayoutData", None), ("soh-shown", "data", chosen)]  # fmt: skip
    none = answer(call(client, "soh-5-csv.data", [("soh-5-csv-button", "n_clicks", 1)], state))
    assert none["soh-5-csv"]["data"] is None


def test_a_long_series_is_drawn_downsampled_its_spike_and_every_outside_reading_kept():
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    times = [iso_z(t0 + timedelta(minutes=15 * i)) for i in range(35_040)]  # a year
    values = [-185.0 + (i % 7) / 10 for i in range(35_040)]
    values[20_000] = -100.0  # one spike, the only reading outside
    values[5] = None  # not measured
    s = Series("AUS02", "crystal_temperature", "C", times, values, None, -163.15)
    line, _, outside = soh_figure(s)["data"]
    assert len(line["y"]) <= POINTS and -100.0 in line["y"] and line["type"] == "scatter"
    assert line["mode"] == "lines" and outside["mode"] == "markers"  # SVG: a year as one path
    x = line["x"]
    assert x == sorted(x) and x[0] == times[0] and x[-1] == times[-1]
    assert outside["x"] == [times[20_000]] and outside["y"] == [-100.0]
    short = Series("AUS02", "x", "", times[:POINTS], values[:POINTS], None, None)
    assert soh_figure(short)["data"][0]["y"] == values[:POINTS]  # full resolution


@pytest.fixture
def long_soh_app(app, config):
    """AUS02: one report of 3000 readings (31 days from LONG), a spike at reading 1234."""
    crystal = [-185.0 - (i % 5) / 10 for i in range(3000)]
    crystal[1234] = -120.0
    with Store(config.storage.database_path) as store:
        add_soh(store, "AUS02", 8100, LONG, crystal)
    return app, crystal


LONG = datetime(2024, 4, 1, tzinfo=UTC)  # published before the tests' now, 2024-06-01


def test_zooming_in_reads_the_chart_again_at_full_resolution(long_soh_app, config):
    app, crystal = long_soh_app
    client = app.server.test_client()
    login(client, "alice")
    chosen = ["CoolerPower.CP5Power", "crystal_temperature"]
    filters = _filters("AUS02", chosen, "2024-04-01", "2024-05-10")
    out = answer(call(client, "soh-summary.children", filters))
    assert out["soh-shown"]["data"] == chosen
    assert all(out[graph_id(f"soh-{i}")]["relayoutData"] is None for i in range(MAX_CHARTS))
    whole = out[graph_id("soh-1")]["figure"]["data"]
    assert len(whole[0]["y"]) <= POINTS < len(crystal) and -120.0 in whole[0]["y"]
    assert whole[-1]["y"] == [-120.0]  # outside the high limit
    # chart 1 zoomed to a day: that chart alone, every reading of the day
    day = {"xaxis.range[0]": "2024-04-10 00:00:00", "xaxis.range[1]": "2024-04-11 00:00:00"}
    state = [*filters, ("soh-shown", "data", chosen)]
    zoomed = answer(zoom(client, 1, day, state))
    assert list(zoomed) == [graph_id("soh-1")]  # the others not sent again
    figure = zoomed[graph_id("soh-1")]["figure"]
    assert figure["data"][0]["y"] == crystal[9 * 96 : 10 * 96]
    assert figure["layout"]["title"]["text"].endswith("crystal_temperature (C)")
    # a resize only (no x range), a made-up quantity for the chart: nothing read
    assert zoom(client, 1, {"autosize": True}, state).status_code == 204
    bad = [*filters, ("soh-shown", "data", ["shield", "secret"])]
    assert zoom(client, 1, day, bad).status_code == 204
    # the chart's CSV: the readings of its visible span
    csv_state = [*filters, (graph_id("soh-1"), "relayoutData", day), ("soh-shown", "data", chosen)]
    data = answer(call(client, "soh-1-csv.data", [("soh-1-csv-button", "n_clicks", 1)], csv_state))
    rows = list(csv.reader(io.StringIO(data["soh-1-csv"]["data"]["content"])))[1:]
    assert [float(r[1]) for r in rows] == crystal[9 * 96 : 10 * 96]


def zoom(client, i: int, relayout, state):
    """The zoom callback as the browser calls it when chart `i` sends `relayout`."""
    inputs = [(graph_id(f"soh-{k}"), "relayoutData", relayout if k == i else None)
              for k in range(MAX_CHARTS)]  # fmt: skip
    changed = f"{graph_id(f'soh-{i}')}.relayoutData"
    return call_changed(client, "soh-0-graph.figure@", inputs, changed, state)
