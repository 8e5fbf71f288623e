"""The Alerts page (`/alerts`): the alerts stations sent (ALERT messages) and the ones the
central raised, one row per episode with its state (open, cleared, or an alert of its
own), when it was raised and cleared; filters by station, kind, state, source and day; a
paged table (central/web/grid.py). The list is central/alert_list.py's, under the rule."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from dash import Dash, Input, dcc, html

from central.access import visible_stations
from central.alert_list import SOURCES, STATES, AlertFilter, alert_kinds, alert_page
from central.web.auth import current_account
from central.web.clock import now
from central.web.db import get_store
from central.web.grid import Column, Grid, register_grid
from central.web.inputs import day
from central.web.inputs import strings as _strings

PATH = "/alerts"
TITLE = "Alerts"
STATE_NAMES = {"open": "open", "cleared": "cleared", "single": "alert of its own"}

ALERTS = Grid(
    name="alerts",
    columns=(
        Column("time", "Raised at", time=True),
        Column("source", "From"),
        Column("station", "Station", format=lambda s: s or "central"),
        Column("kind", "Kind"),
        Column("state", "State", format=lambda s: STATE_NAMES.get(s, s)),
        Column("cleared_at", "Cleared at", time=True),
        Column("message", "Alert", sortable=False),
        Column("cleared_message", "Cleared by", sortable=False),
    ),
    default_sort="time",
    row_class=lambda row: "flagged" if row.get("state") == "open" else "",
)

FILTERS = (
    Input("alerts-station", "value"),
    Input("alerts-kind", "value"),
    Input("alerts-episode", "value"),
    Input("alerts-source", "value"),
    Input("alerts-days", "start_date"),
    Input("alerts-days", "end_date"),
)


def _filter(label: str, control: Any) -> html.Div:
    return html.Div([html.Label(label), control], className="filter")


def content(stations: list[str], kinds: list[str]) -> list:
    return [
        html.H1(TITLE),
        html.P(
            "Alerts the stations sent (ALERT messages: flows, temperatures, power, the "
            "system) and those the central raised (silent stations, gaps, disagreements, "
            "SOH limits, certificates). An episode is open from its alert until the alert "
            "that clears it.",
            className="hint",
        ),
        html.Div(
            [
                _filter("Station", dcc.Dropdown(id="alerts-station", options=stations, multi=True)),
                _filter("Kind", dcc.Dropdown(id="alerts-kind", options=kinds, multi=True)),
                _filter(
                    "State",
                    dcc.Dropdown(
                        id="alerts-episode",
                        options=[{"label": STATE_NAMES[s], "value": s} for s in STATES],
                        multi=True,
                    ),
                ),
                _filter(
                    "From", dcc.Dropdown(id="alerts-source", options=list(SOURCES), multi=True)
                ),
                _filter(
                    "Raised (UTC)",
                    dcc.DatePickerRange(
                        id="alerts-days",
                        display_format="YYYY/MM/DD",
                        start_date_placeholder_text="from",
                        end_date_placeholder_text="to",
                        clearable=True,
                    ),
                ),
            ],
            className="filters",
        ),
        ALERTS.layout(),
    ]


def page(store, account) -> list:
    return content(visible_stations(store, account), alert_kinds(store, account, now()))


def _day(value: Any) -> datetime | None:
    d = day(value)
    return None if d is None else datetime(d.year, d.month, d.day, tzinfo=UTC)


def alert_filter(values: Sequence[Any]) -> AlertFilter:
    """The filter from what the browser sent (anything unexpected ignored)."""
    stations, kinds, states, sources, first, last = values
    until = _day(last)
    return AlertFilter(
        stations=_strings(stations),
        kinds=_strings(kinds),
        states=_strings(states, STATES),
        sources=_strings(sources, SOURCES),
        since=_day(first),
        until=until + timedelta(days=1) if until is not None else None,
    )


def register(app: Dash, page_size: int) -> None:
    def fetch(state: dict[str, Any], values: Sequence[Any]):
        return alert_page(
            get_store(),
            current_account(),
            alert_filter(values),
            now=now(),
            sort=state["sort"],
            descending=state["desc"],
            page=state["page"],
            page_size=page_size,
        )

    register_grid(app, ALERTS, fetch, FILTERS)
