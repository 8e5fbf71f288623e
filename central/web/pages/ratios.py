"""The isotope ratio chart (`/charts/ratios`): any two ratios of the detected nuclides of
one station over a span, by one method, with error bars, coloured by time or by the
release of a chosen nuclide. Read through `central.releases` (the access and publish
rule); figures by `central.web.figures.ratios`."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, dcc, html

from central.access import visible_stations
from central.releases import METHODS, nuclides_of, ratio_rows
from central.web.auth import current_account
from central.web.chartkit import ChartTable, chart_block, graph_id, register_csv
from central.web.clock import now
from central.web.db import get_store
from central.web.figures.ratios import (
    COLOUR_BY_TIME,
    Ratio,
    needed,
    ratio_set,
    ratios_figure,
    ratios_table,
)
from central.web.pages.releases import day_span, default_span, webgl

PATH = "/charts/ratios"
TITLE = "Isotope ratios"
PREFIX = "ratios"
GRAPH = graph_id(PREFIX)
DEFAULTS = {"x-num": "Xe-133m", "x-den": "Xe-131m", "y-num": "Xe-135", "y-den": "Xe-133"}


def ids(name: str) -> str:
    return f"{PREFIX}-{name}"


def content(stations: list[str]) -> list:
    def nuclide(key: str, label: str) -> html.Div:
        return _filter(label, dcc.Dropdown(id=ids(key), value=DEFAULTS[key], clearable=False))

    return [
        html.H1(TITLE),
        html.P(
            "Ratios of released activities per interval, only where every nuclide of both "
            "ratios is detected; error bars: propagated standard uncertainties.",
            className="hint",
        ),
        html.Div(
            [
                _filter(
                    "Station",
                    dcc.Dropdown(
                        id=ids("station"),
                        options=stations,
                        value=stations[0] if stations else None,
                        clearable=False,
                    ),
                ),
                _filter(
                    "Span (UTC)", dcc.DatePickerRange(id=ids("span"), display_format="YYYY/MM/DD")
                ),
                nuclide("x-num", "x: numerator"),
                nuclide("x-den", "x: denominator"),
                nuclide("y-num", "y: numerator"),
                nuclide("y-den", "y: denominator"),
                _filter(
                    "Analysis",
                    dcc.RadioItems(
                        id=ids("method"), options=list(METHODS), value="central", inline=True
                    ),
                ),
                _filter(
                    "Colour by",
                    dcc.Dropdown(
                        id=ids("colour"),
                        value=COLOUR_BY_TIME,
                        clearable=False,
                        options=[{"label": "time", "value": COLOUR_BY_TIME}],
                    ),
                ),
            ],
            className="filters",
        ),
        chart_block(PREFIX, title="Isotope ratios", height="520px"),
    ]


def page(store, account) -> list:
    return content(visible_stations(store, account))


def _filter(label: str, control) -> html.Div:
    return html.Div([html.Label(label), control], className="filter")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def points_for(store, account, moment, station, start_date, end_date, xn, xd, yn, yd, method,
               colour):  # fmt: skip
    """(points, x, y, method, colour) for these inputs; None when they make no chart."""
    span = day_span(start_date, end_date)
    names = [_text(v) for v in (xn, xd, yn, yd)]
    if (
        span is None
        or not isinstance(station, str)
        or station not in visible_stations(store, account)
        or None in names
        or names[0] == names[1]
        or names[2] == names[3]
        or method not in METHODS
    ):
        return None
    x, y = Ratio(names[0], names[1]), Ratio(names[2], names[3])
    colour = colour if isinstance(colour, str) else COLOUR_BY_TIME
    nuclide = None if colour == COLOUR_BY_TIME else colour
    rows = ratio_rows(store, account, moment, station, *span, needed(x, y), method, nuclide)
    return ratio_set(rows, x, y), x, y, method, colour


def figure(store, account, moment, station, *values) -> dict[str, Any]:
    found = points_for(store, account, moment, station, *values)
    if found is None:
        a, b = Ratio("a", "b"), Ratio("c", "d")
        return ratios_figure(ratio_set([], a, b), a, b, method="",
                             title="Choose a station, a span and two ratios")  # fmt: skip
    points, x, y, method, colour = found
    return ratios_figure(points, x, y, method=method, colour_by=colour,
                         title=f"{station}: {y.label} against {x.label}", webgl=webgl())  # fmt: skip


def csv_table(store, account, moment, station, *values) -> ChartTable | None:
    found = points_for(store, account, moment, station, *values)
    if found is None:
        return None
    points, x, y, method, colour = found
    name = f"{station}_ratios_{x.label}_{y.label}_{method}.csv".replace("/", "-")
    return ratios_table(points, x, y, method=method, colour_by=colour, file_name=name)


INPUTS = (
    Input(ids("station"), "value"),
    Input(ids("span"), "start_date"),
    Input(ids("span"), "end_date"),
    *(Input(ids(k), "value") for k in DEFAULTS),
    Input(ids("method"), "value"),
    Input(ids("colour"), "value"),
)


def register(app: Dash) -> None:
    @app.callback(
        *(Output(ids(k), "options") for k in DEFAULTS),
        *(Output(ids(k), "value") for k in DEFAULTS),
        Output(ids("colour"), "options"),
        Output(ids("span"), "start_date"),
        Output(ids("span"), "end_date"),
        Input(ids("station"), "value"),
        *(State(ids(k), "value") for k in DEFAULTS),
    )
    def _station(station: Any, *chosen: Any) -> tuple:
        account, store, moment = current_account(), get_store(), now()
        time_option = [{"label": "time", "value": COLOUR_BY_TIME}]
        if not isinstance(station, str) or station not in visible_stations(store, account):
            return [], [], [], [], *DEFAULTS.values(), time_option, None, None
        names = nuclides_of(store, account, moment, station)
        span = default_span(store, account, moment, station) or (None, None)
        colours = time_option + [{"label": f"release of {n}", "value": n} for n in names]
        # what was chosen, where the station has it; else the usual pair of ratios
        values = [
            value if value in names else default
            for value, default in zip(chosen, DEFAULTS.values(), strict=True)
        ]
        return names, names, names, names, *values, colours, *span

    @app.callback(Output(GRAPH, "figure"), *INPUTS)
    def _chart(station, *values) -> dict:
        return figure(get_store(), current_account(), now(), station, *values)

    register_csv(
        app,
        PREFIX,
        [State(i.component_id, i.component_property) for i in INPUTS],
        lambda station, *values: csv_table(get_store(), current_account(), now(), station,
                                           *values),
    )  # fmt: skip
