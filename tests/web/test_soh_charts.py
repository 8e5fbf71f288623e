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
from central.web.figures.soh import Series, is_outside, series_of, soh_figure, soh_table
from central.web.pages.soh import MAX_CHARTS
from tests.central.test_soh_values import add_soh

from .dash_calls import answer, call
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
    fig = soh_figure(s)
    assert [t.name for t in fig.data] == ["crystal_temperature", "high limit -163.15", "outside limits"]  # fmt: skip
    assert list(fig.data[1].y) == [-163.15, -163.15]
    assert list(fig.data[2].x) == [times[1]] and list(fig.data[2].y) == [-150.0]
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
                _filters("AUS02", chosen),
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
    none = answer(call(client, "soh-5-csv.data", [("soh-5-csv-button", "n_clicks", 1)], _filters("AUS02", chosen)))  # fmt: skip
    assert none["soh-5-csv"]["data"] is None
