"""The Dashboard (`/dashboard`, the page after login): data availability per station and
day (spectra, SOH and ATS received of expected, colour-coded; a cell links to the
Received page filtered to that station, day and type), the last file and the last SOH of
each station, and the open alerts (stations' and the central's). The queries are in
central/availability.py and central/alert_list.py, under the access rule."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from dash import Dash, Input, Output, dcc, html

from central.alert_list import open_alerts
from central.availability import (
    EXPECTED,
    PRODUCT_NAMES,
    Availability,
    availability,
    days_until,
    latest_files,
)
from central.web.auth import current_account
from central.web.clock import now
from central.web.db import get_store
from central.web.queries import display_time

PATH = "/dashboard"
TITLE = "Dashboard"
DAY_CHOICES = (7, 14, 31)
DEFAULT_DAYS = 14
# cell colours by level (central/availability.py `level`), with the legend's words
COLOURS = {
    "full": ("#b7e1b0", "all expected"),
    "partial": ("#f7e08a", "half or more"),
    "low": ("#f6b26b", "less than half"),
    "none": ("#e88b8b", "none"),
}


def received_link(station: str, day: date, product: str) -> str:
    """The Received page filtered to a station's files of one day and type (the ATS
    counted is the station's own, not the central's)."""
    query = {"station": station, "day": day.isoformat(), "type": product}
    if product == "ATS":
        query["analysis"] = "STATION"
    return "/received?" + urlencode(query)


def cell_id(station: str, product: str, day: date) -> str:
    return f"avail-{station}-{product}-{day.isoformat()}"


def availability_table(data: Availability) -> html.Table | html.P:
    """Rows: station x product; columns: days; each cell `received/expected`."""
    if not data.stations:
        return html.P("No stations to show.", className="hint")
    header = html.Tr(
        [html.Th("Station"), html.Th("Data")]
        + [html.Th(d.strftime("%m/%d"), title=d.isoformat()) for d in data.days]
    )
    body = []
    for station in data.stations:
        for n, product in enumerate(EXPECTED):
            cells: list[Any] = [html.Th(station, rowSpan=len(EXPECTED))] if n == 0 else []
            cells.append(html.Td(PRODUCT_NAMES[product], className="product"))
            for day in data.days:
                cell = data.cell(station, day, product)
                colour, words = COLOURS[cell.level]
                cells.append(
                    html.Td(
                        dcc.Link(
                            f"{cell.received}/{cell.expected}",
                            href=received_link(station, day, product),
                            title=f"{station} {PRODUCT_NAMES[product]} {day}: {words}",
                        ),
                        id=cell_id(station, product, day),
                        className=f"avail {cell.level}",
                        style={"background": colour, "textAlign": "center"},
                    )
                )
            body.append(html.Tr(cells))
    return html.Table(
        [html.Thead(header), html.Tbody(body)], className="grid availability", id="avail-table"
    )


def legend() -> html.Div:
    return html.Div(
        [
            html.Span(
                words,
                className=f"avail-legend {name}",
                style={"background": colour, "padding": "2px 8px", "marginRight": "6px"},
            )
            for name, (colour, words) in COLOURS.items()
        ],
        className="hint",
    )


def stations_table(latest: dict[str, dict[str, Any]]) -> html.Table:
    header = html.Tr(
        [html.Th(t) for t in ("Station", "Last file", "Type", "Received at", "Last SOH", "Of")]
    )
    rows = []
    for station, got in latest.items():
        last, soh = got["file"], got["soh"]
        rows.append(
            html.Tr(
                [
                    html.Td(station, className="station"),
                    html.Td(last["file_name"] if last else "none", className="file_name"),
                    html.Td(last["product"] if last else ""),
                    html.Td(display_time(last["received_at"]) if last else ""),
                    html.Td(soh["file_name"] if soh else "none", className="soh"),
                    html.Td(display_time(soh["start_time"]) if soh else ""),
                ],
                id=f"dashboard-station-{station}",
            )
        )
    if not rows:
        rows = [html.Tr(html.Td("No stations", colSpan=6, className="empty"))]
    return html.Table([html.Thead(header), html.Tbody(rows)], className="grid")


def alerts_table(alerts: list[dict[str, Any]]) -> html.Table:
    header = html.Tr([html.Th(t) for t in ("Raised at", "From", "Station", "Kind", "Alert")])
    rows = [
        html.Tr(
            [
                html.Td(display_time(a["raised_at"])),
                html.Td(a["source"]),
                html.Td(a["station"] or "central", className="station"),
                html.Td(a["kind"]),
                html.Td(a["message"], className="reason"),
            ],
            className="open-alert",
        )
        for a in alerts
    ] or [html.Tr(html.Td("No open alerts", colSpan=5, className="empty"))]
    return html.Table(
        [html.Thead(header), html.Tbody(rows)], className="grid", id="dashboard-alerts"
    )


def content(stations: Any = None, alerts: Any = None, today: date | None = None) -> list:
    """The page; `stations` and `alerts` are the tables (empty in the validation layout)."""
    return [
        html.H1(TITLE),
        html.H2("Data availability"),
        html.P(
            "Files received of those expected per day (UTC): 96 spectra, 12 SOH, 1 ATS; "
            "today counts what its hours so far should have brought. Click a cell for its files.",
            className="hint",
        ),
        html.Div(
            [
                html.Div(
                    [
                        html.Label("Last day"),
                        dcc.DatePickerSingle(
                            id="dashboard-end", date=today, display_format="YYYY/MM/DD"
                        ),
                    ],
                    className="filter",
                ),
                html.Div(
                    [
                        html.Label("Days"),
                        dcc.Dropdown(
                            id="dashboard-days",
                            options=list(DAY_CHOICES),
                            value=DEFAULT_DAYS,
                            clearable=False,
                        ),
                    ],
                    className="filter",
                ),
            ],
            className="filters",
        ),
        legend(),
        html.Div(id="dashboard-availability", className="grid-scroll"),
        html.H2("Stations"),
        html.Div(stations, id="dashboard-stations"),
        html.H2("Open alerts"),
        html.Div(alerts, id="dashboard-open-alerts"),
    ]


def page(store, account) -> list:
    moment = now()
    return content(
        stations_table(latest_files(store, account, moment)),
        alerts_table(open_alerts(store, account, moment)),
        moment.date(),
    )


def _day(value: Any, default: date) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            pass
    return default


def availability_for(account, end: Any, days: Any, moment: datetime) -> Availability:
    """What the availability callback shows, from what the browser sent (checked here)."""
    count = days if days in DAY_CHOICES else DEFAULT_DAYS
    last = min(_day(end, moment.date()), moment.date())
    return availability(get_store(), account, moment, days_until(last, count))


def register(app: Dash) -> None:
    @app.callback(
        Output("dashboard-availability", "children"),
        Input("dashboard-end", "date"),
        Input("dashboard-days", "value"),
    )
    def _availability(end: Any, days: Any) -> Any:
        return availability_table(availability_for(current_account(), end, days, now()))
