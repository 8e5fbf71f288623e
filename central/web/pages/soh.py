"""The SOH charts (`/charts/soh`): one station, a time span, each state-of-health quantity
over time in a small chart of its own (all of them, or a chosen set), its alert limits
drawn as lines and the readings outside them marked; a CSV per chart and "save all
charts". Readings come from `soh_values` under the access rule (central/soh.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from dash import Dash, Input, Output, State, dcc, html

from central.access import visible_stations
from central.soh import latest_visible_time, limits_for, soh_quantities, soh_series
from central.web.auth import current_account
from central.web.chartkit import (
    GRAPH_CONFIG,
    ChartTable,
    chart_block,
    graph_id,
    register_csv,
    register_save_all,
    save_all_button,
)
from central.web.clock import now
from central.web.db import get_store
from central.web.figures.soh import Series, series_of, soh_figure, soh_table
from central.web.pages import soh_limits
from central.web.queries import display_time

PATH = "/charts/soh"
TITLE = "State of health"
PREFIX = "soh"
MAX_CHARTS = 10  # charts on the page at once (the STAXSOH quantities); choose others
DEFAULT_DAYS = 7  # without dates: the week up to the station's latest reading
HIDDEN = {"display": "none"}

FILTERS = (
    State("soh-station", "value"),
    State("soh-span", "start_date"),
    State("soh-span", "end_date"),
    State("soh-quantities", "value"),
)


def slot(i: int) -> str:
    return f"{PREFIX}-{i}"


def content(stations: list[str]) -> list:
    return [
        html.H1(TITLE),
        html.P(
            "Each quantity the station reports in its SOH messages, one reading per 15 "
            "minutes; dashed lines are the alert limits (central configuration [soh.limits] "
            "or the station's own), crosses the readings outside them.",
            className="hint",
        ),
        html.Div(
            [
                html.Div(
                    [
                        html.Label("Station"),
                        dcc.Dropdown(
                            id="soh-station",
                            options=stations,
                            value=stations[0] if stations else None,
                            clearable=False,
                        ),
                    ],
                    className="filter",
                ),
                html.Div(
                    [
                        html.Label("Time span (UTC)"),
                        dcc.DatePickerRange(
                            id="soh-span",
                            display_format="YYYY/MM/DD",
                            start_date_placeholder_text="from",
                            end_date_placeholder_text="to",
                            clearable=True,
                        ),
                    ],
                    className="filter",
                ),
                html.Div(
                    [
                        html.Label("Quantities"),
                        dcc.Dropdown(id="soh-quantities", options=[], value=[], multi=True),
                    ],
                    className="filter wide",
                ),
            ],
            className="filters",
        ),
        save_all_button(PREFIX),
        html.Div(id="soh-summary", className="hint"),
        html.Div(
            [
                html.Div(
                    chart_block(slot(i), title=slot(i), height="260px"),
                    id=f"{slot(i)}-slot",
                    style=HIDDEN,
                )
                for i in range(MAX_CHARTS)
            ],
            className="soh-charts",
        ),
    ]


def page(store, account) -> list:
    return [*content(visible_stations(store, account)), *soh_limits.section(store, account)]


def _day(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        d = date.fromisoformat(value[:10])
    except ValueError:
        return None
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def span(store, account, station: str, start: Any, end: Any) -> tuple[datetime, datetime]:
    """[start, end) of the chosen days (the end day included); without them the
    DEFAULT_DAYS up to the latest reading the user may see (or up to now)."""
    first, last = _day(start), _day(end)
    if last is not None:
        last += timedelta(days=1)
    if first is None or last is None:
        found = latest_visible_time(store, account, now(), station)
        latest = datetime.fromisoformat(found) + timedelta(minutes=15) if found else now()
        if last is None:
            last = latest if first is None else first + timedelta(days=DEFAULT_DAYS)
        if first is None:
            first = last - timedelta(days=DEFAULT_DAYS)
    return first, last


def chosen_series(
    store, account, station: Any, start: Any, end: Any, quantities: Any
) -> list[Series]:
    """The charts' data: at most MAX_CHARTS quantities of `station` the user may see."""
    if not isinstance(station, str) or station not in visible_stations(store, account):
        return []
    wanted = (
        [q for q in quantities or [] if isinstance(q, str)][:MAX_CHARTS]
        if isinstance(quantities, list)
        else []
    )
    if not wanted:
        return []
    first, last = span(store, account, station, start, end)
    rows = soh_series(store, account, now(), station, wanted, first, last)
    found = {s.quantity: s for s in series_of(station, rows, limits_for(store, station))}
    return [found[q] for q in wanted if q in found]


def register(app: Dash) -> None:
    @app.callback(
        Output("soh-quantities", "options"),
        Output("soh-quantities", "value"),
        Input("soh-station", "value"),
    )
    def _quantities(station: Any) -> tuple[list, list]:
        store, account = get_store(), current_account()
        if not isinstance(station, str) or station not in visible_stations(store, account):
            return [], []
        quantities = soh_quantities(store, account, now(), station)
        return quantities, quantities[:MAX_CHARTS]

    outputs = []
    for i in range(MAX_CHARTS):
        outputs += [
            Output(graph_id(slot(i)), "figure"),
            Output(graph_id(slot(i)), "config"),
            Output(f"{slot(i)}-slot", "style"),
        ]

    @app.callback(
        Output("soh-summary", "children"),
        *outputs,
        Input("soh-station", "value"),
        Input("soh-span", "start_date"),
        Input("soh-span", "end_date"),
        Input("soh-quantities", "value"),
    )
    def _charts(station: Any, start: Any, end: Any, quantities: Any) -> tuple:
        store, account = get_store(), current_account()
        series = chosen_series(store, account, station, start, end, quantities)
        values: list = []
        for i in range(MAX_CHARTS):
            if i < len(series):
                s = series[i]
                config = {
                    **GRAPH_CONFIG,
                    "toImageButtonOptions": {
                        **GRAPH_CONFIG["toImageButtonOptions"],
                        "filename": f"{s.station}_SOH_{s.quantity}",
                    },
                }
                values += [soh_figure(s), config, {}]
            else:
                values += [{}, GRAPH_CONFIG, HIDDEN]
        if not series:
            summary = "No SOH readings to show."
        else:
            first, last = span(store, account, station, start, end)
            outside = sum(sum(s.outside) for s in series)
            summary = (
                f"{station}: {len(series)} quantities from {display_time(first.isoformat())} "
                f"to {display_time(last.isoformat())} UTC; {outside} reading{'' if outside == 1 else 's'} outside limits."
            )
        return (summary, *values)

    for i in range(MAX_CHARTS):
        register_csv(app, slot(i), FILTERS, _csv_builder(i))
    register_save_all(app, PREFIX)
    soh_limits.register(app)


def _csv_builder(i: int):
    def build(station: Any, start: Any, end: Any, quantities: Any) -> ChartTable | None:
        series = chosen_series(get_store(), current_account(), station, start, end, quantities)
        return soh_table(series[i]) if i < len(series) else None

    return build
