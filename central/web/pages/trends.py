"""The long-term trends chart (`/charts/trends`): daily cumulative releases per nuclide
(Xe-133, Xe-131m, Xe-133m, Xe-135 by default) from both analyses, for one station or
all the stations the user sees (summed). Read through `central.releases` (the access
and publish rule); figures by `central.web.figures.trends`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dash import Dash, Input, Output, State, dcc, html

from central.access import message_scope, visible_stations
from central.releases import METHODS, TABLE, daily_releases
from central.web.auth import current_account
from central.web.chartkit import ChartTable, chart_block, graph_id, register_csv
from central.web.clock import now
from central.web.db import get_store
from central.web.figures.releases import parse_time
from central.web.figures.trends import TREND_NUCLIDES, daily_series, trends_figure, trends_table
from central.web.pages.releases import day_span, webgl

PATH = "/charts/trends"
TITLE = "Long-term trends"
PREFIX = "trends"
GRAPH = graph_id(PREFIX)
ALL = "*"
DEFAULT_DAYS = 365


def ids(name: str) -> str:
    return f"{PREFIX}-{name}"


def content(stations: list[str]) -> list:
    options = [{"label": "All my stations", "value": ALL}] + [
        {"label": s, "value": s} for s in stations
    ]
    return [
        html.H1(TITLE),
        html.P(
            "Daily cumulative release: the sum of the day's detected releases (a "
            "non-detect adds nothing), from the station analysis and the central "
            "re-analysis; for all stations, their sum.",
            className="hint",
        ),
        html.Div(
            [
                html.Div(
                    [
                        html.Label("Station"),
                        dcc.Dropdown(
                            id=ids("station"), options=options, value=ALL, clearable=False
                        ),
                    ],
                    className="filter",
                ),
                html.Div(
                    [
                        html.Label("Span (UTC)"),
                        dcc.DatePickerRange(id=ids("span"), display_format="YYYY/MM/DD"),
                    ],
                    className="filter",
                ),
                html.Div(
                    [
                        html.Label("Nuclides"),
                        dcc.Dropdown(
                            id=ids("nuclides"),
                            options=list(TREND_NUCLIDES),
                            value=list(TREND_NUCLIDES),
                            multi=True,
                        ),
                    ],
                    className="filter",
                ),
            ],
            className="filters",
        ),
        chart_block(PREFIX, title="Long-term trends", height="480px"),
    ]


def page(store, account) -> list:
    return content(visible_stations(store, account))


def stations_for(store, account, station: Any) -> list[str]:
    """The stations the choice stands for, among those the user sees."""
    visible = visible_stations(store, account)
    if station == ALL:
        return visible
    return [station] if isinstance(station, str) and station in visible else []


def default_span(store, account, moment, stations: list[str]) -> tuple[str, str] | None:
    if not stations:
        return None
    scope, params = message_scope(store, account, moment)
    row = store.conn.execute(
        f"select max(start_time) from {TABLE} where station in "
        f"({', '.join('?' * len(stations))}) and {scope}",
        [*stations, *params],
    ).fetchone()
    last = parse_time(row[0]) if row else None
    if last is None:
        return None
    return (last - timedelta(days=DEFAULT_DAYS - 1)).date().isoformat(), last.date().isoformat()


def daily_for(store, account, moment, station, start_date, end_date, nuclides):
    span = day_span(start_date, end_date)
    stations = stations_for(store, account, station)
    if span is None or not stations:
        return None
    chosen = [n for n in nuclides if isinstance(n, str)] if isinstance(nuclides, list) else []
    rows = daily_releases(store, account, moment, stations, *span, chosen or TREND_NUCLIDES)
    return daily_series(rows), chosen or list(TREND_NUCLIDES), span


def figure(store, account, moment, station, start_date, end_date, nuclides) -> dict[str, Any]:
    found = daily_for(store, account, moment, station, start_date, end_date, nuclides)
    if found is None:
        return trends_figure({}, title="Choose a station and a span")
    daily, _, (start, end) = found
    who = "all my stations" if station == ALL else station
    title = (
        f"Daily cumulative releases, {who}, {start:%Y-%m-%d} – {end - timedelta(days=1):%Y-%m-%d}"
    )
    return trends_figure(daily, title=title, webgl=webgl())


def csv_table(store, account, moment, station, start_date, end_date, nuclides) -> ChartTable | None:
    found = daily_for(store, account, moment, station, start_date, end_date, nuclides)
    if found is None:
        return None
    daily, names, (start, end) = found
    who = "all" if station == ALL else station
    return trends_table(daily, nuclides=names, methods=METHODS,
                        file_name=f"{who}_daily_releases_{start:%Y%m%d}_{end:%Y%m%d}.csv")  # fmt: skip


INPUTS = (
    Input(ids("station"), "value"),
    Input(ids("span"), "start_date"),
    Input(ids("span"), "end_date"),
    Input(ids("nuclides"), "value"),
)


def register(app: Dash) -> None:
    @app.callback(
        Output(ids("span"), "start_date"),
        Output(ids("span"), "end_date"),
        Input(ids("station"), "value"),
    )
    def _station(station: Any) -> tuple:
        account, store = current_account(), get_store()
        stations = stations_for(store, account, station)
        return default_span(store, account, now(), stations) or (None, None)

    @app.callback(Output(GRAPH, "figure"), *INPUTS)
    def _chart(station, start_date, end_date, nuclides) -> dict:
        return figure(get_store(), current_account(), now(), station, start_date, end_date,
                      nuclides)  # fmt: skip

    register_csv(
        app,
        PREFIX,
        [State(i.component_id, i.component_property) for i in INPUTS],
        lambda *values: csv_table(get_store(), current_account(), now(), *values),
    )
