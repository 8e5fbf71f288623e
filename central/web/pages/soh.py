"""The SOH charts (`/charts/soh`): one station, a time span, each state-of-health quantity
over time in a small chart of its own (all of them, or a chosen set), its alert limits
drawn as lines and the readings outside them marked; a CSV per chart and "save all
charts". Readings come from `soh_values` under the access rule (central/soh.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from central.access import visible_stations
from central.soh import latest_visible_time, limits_for, soh_numbers, soh_quantities
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
from central.web.figures.soh import Series, series_from_numbers, soh_figure, soh_table
from central.web.pages import soh_limits
from central.web.pages.releases import visible_range
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
        dcc.Store(id="soh-shown"),  # the quantity of each chart, for its zoom and CSV
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
    store, account, station: Any, start: Any, end: Any, quantities: Any, relayout: Any = None
) -> list[Series]:
    """The charts' data: at most MAX_CHARTS quantities of `station` the user may see,
    over the span (or the part of it a chart's `relayout` zoomed to)."""
    if not isinstance(station, str) or station not in visible_stations(store, account):
        return []
    wanted = (
        [q for q in quantities or [] if isinstance(q, str)][:MAX_CHARTS]
        if isinstance(quantities, list)
        else []
    )
    if not wanted:
        return []
    first, last = visible_range(relayout, span(store, account, station, start, end))
    numbers = soh_numbers(store, account, now(), station, wanted, first, last)
    found = {
        s.quantity: s for s in series_from_numbers(station, numbers, limits_for(store, station))
    }
    return [found[q] for q in wanted if q in found]


def quantity_of(i: int, shown: Any, quantities: Any) -> str | None:
    """The quantity chart `i` shows (`shown`, the charts' callback's list, as the browser
    sends it back), if it is one of the chosen quantities."""
    if not isinstance(shown, list) or not 0 <= i < len(shown) or not isinstance(quantities, list):
        return None
    return shown[i] if isinstance(shown[i], str) and shown[i] in quantities[:MAX_CHARTS] else None


def zoomed(relayout: Any) -> bool:
    """Whether a chart's relayoutData moves its x axis (a zoom, a pan, a reset), not
    only its size or its y axis."""
    return isinstance(relayout, dict) and any(k.startswith("xaxis.") for k in relayout)


def chart_figure(s: Series, start: Any, end: Any):
    """A chart's figure; a new span resets its zoom, a re-query keeps it."""
    return soh_figure(s, revision=f"{s.station}|{s.quantity}|{start}|{end}")


def chart_config(s: Series) -> dict:
    return {
        **GRAPH_CONFIG,
        "toImageButtonOptions": {
            **GRAPH_CONFIG["toImageButtonOptions"],
            "filename": f"{s.station}_SOH_{s.quantity}",
        },
    }


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
            # new charts: forget the old zoom (its CSV and a re-query would still use it)
            Output(graph_id(slot(i)), "relayoutData"),
        ]

    @app.callback(
        Output("soh-summary", "children"),
        Output("soh-shown", "data"),
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
                values += [chart_figure(series[i], start, end), chart_config(series[i]), {}, None]
            else:
                values += [{}, GRAPH_CONFIG, HIDDEN, None]
        if not series:
            summary = "No SOH readings to show."
        else:
            first, last = span(store, account, station, start, end)
            outside = sum(sum(s.outside) for s in series)
            summary = (
                f"{station}: {len(series)} quantities from {display_time(first.isoformat())} "
                f"to {display_time(last.isoformat())} UTC; {outside} reading{'' if outside == 1 else 's'} outside limits."
            )
        return (summary, [s.quantity for s in series], *values)

    @app.callback(
        *(Output(graph_id(slot(i)), "figure", allow_duplicate=True) for i in range(MAX_CHARTS)),
        *(Input(graph_id(slot(i)), "relayoutData") for i in range(MAX_CHARTS)),
        *FILTERS,
        State("soh-shown", "data"),
        prevent_initial_call=True,
    )
    def _zoom(*values: Any) -> tuple:
        """A chart zoomed or panned: that chart alone read again over its visible span
        (at full resolution once it holds at most POINTS readings)."""
        relayouts, (station, start, end, quantities, shown) = (
            values[:MAX_CHARTS],
            values[MAX_CHARTS:],
        )
        i = next((k for k in range(MAX_CHARTS) if ctx.triggered_id == graph_id(slot(k))), None)
        if i is None or not zoomed(relayouts[i]):
            raise PreventUpdate
        quantity = quantity_of(i, shown, quantities)
        if quantity is None:
            raise PreventUpdate
        series = chosen_series(get_store(), current_account(), station, start, end, [quantity],
                               relayouts[i])  # fmt: skip
        if not series:
            raise PreventUpdate
        out: list = [no_update] * MAX_CHARTS
        out[i] = chart_figure(series[0], start, end)
        return tuple(out)

    for i in range(MAX_CHARTS):
        register_csv(
            app,
            slot(i),
            (*FILTERS, State(graph_id(slot(i)), "relayoutData"), State("soh-shown", "data")),
            _csv_builder(i),
        )
    register_save_all(app, PREFIX)
    soh_limits.register(app)


def _csv_builder(i: int):
    def build(station, start, end, quantities, relayout=None, shown=None) -> ChartTable | None:
        """The readings of chart `i` over its visible span, at full resolution."""
        store, account = get_store(), current_account()
        quantity = quantity_of(i, shown, quantities)
        if quantity is None:  # which chart is which not known: as the charts were made
            series = chosen_series(store, account, station, start, end, quantities)
            return soh_table(series[i]) if i < len(series) else None
        series = chosen_series(store, account, station, start, end, [quantity], relayout)
        return soh_table(series[0]) if series else None

    return build
