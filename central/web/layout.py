"""What the pages look like: the STAX frame (navigation on the left, a table on the right)
and the contents of each page. Functions of plain values, so that the same builders make
the real pages and the layout Dash validates callbacks against."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs

from dash import dcc, html

import shared

from .auth import CSRF_FIELD
from .grid import Column, Grid
from .pages import (
    alerts,
    dashboard,
    facilities,
    impact,
    maintenance,
    ratios,
    releases,
    resources,
    settings,
    soh,
    soh_limits,
    spectrum,
    trends,
    users,
)
from .queries import ANALYSES, PRODUCTS

APP_NAME = "STAX monitor"

RECEIVED = Grid(
    name="received",
    columns=(
        Column("station", "Station"),
        Column("file_name", "Name"),
        Column("product", "Type"),
        Column("msg_id", "Message ID"),
        Column("analysis", "Analysis"),
        Column("start_time", "Starts at", time=True),
        Column("received_at", "Received at", time=True),
        # owners and administrators see a facility's files before they are published
        Column("publication", "Published", sortable=False),
    ),
    default_sort="received_at",
    selectable=True,
)

QUARANTINE = Grid(
    name="quarantine",
    columns=(
        Column("id", "Id"),
        Column("received_at", "Received at", time=True),
        Column("file_name", "File name"),
        Column("station", "Station"),
        Column("status", "Status"),
        Column("reason", "Reason"),
        Column("size", "Bytes"),
        Column(
            "raw",
            "Raw",
            sortable=False,
            href=lambda row: f"/download/quarantine/{row['id']}",
            text="Download",
        ),
    ),
    default_sort="received_at",
)


def _scientific(value: float) -> str:
    return f"{value:.2E}"  # as the STAX products write numbers: 6.21E+06


COMPARISON = Grid(
    name="comparison",
    columns=(
        Column("start_time", "Starts at", time=True),
        Column("station", "Station"),
        Column("nuclide", "Nuclide"),
        Column("quantity", "Quantity"),
        Column("station_value", "Station analysis", format=_scientific),
        Column("station_unc", "±", sortable=False, format=_scientific),
        Column("central_value", "Central re-analysis", format=_scientific),
        Column("central_unc", "±", sortable=False, format=_scientific),
        Column("z", "z", format=lambda z: f"{z:+.2f}"),
        Column("reason", "Verdict"),
    ),
    default_sort="start_time",
    row_class=lambda row: "flagged" if row.get("flagged") else "",
)

# path -> (title, link text in the navigation, administrators only)
PAGES = {
    dashboard.PATH: (dashboard.TITLE, "Dashboard", False),
    "/received": ("Received files", "Received", False),
    releases.PATH: (releases.TITLE, "Releases", False),
    ratios.PATH: (ratios.TITLE, "Isotope ratios", False),
    spectrum.PATH: (spectrum.TITLE, "Spectrum", False),
    soh.PATH: (soh.TITLE, "SOH Charts", False),
    trends.PATH: (trends.TITLE, "Trends", False),
    impact.PATH: (impact.TITLE, "Impact", False),
    "/comparison": ("Station analysis against central re-analysis", "Comparison", False),
    alerts.PATH: (alerts.TITLE, "Alerts", False),
    maintenance.PATH: (maintenance.TITLE, "Maintenance", False),
    resources.PATH: (resources.TITLE, "Resources", False),
    facilities.PATH: (facilities.TITLE, "Facilities", False),
    users.PATH: (users.TITLE, "Users", True),
    "/quarantine": ("Quarantine", "Quarantine", True),
    settings.PATH: (settings.TITLE, "Settings", False),
}
HOME = dashboard.PATH


def frame(username: str, role: str, is_admin: bool, csrf_token: str) -> html.Div:
    """The page around every page: navigation, user and logout, and a slot for the page."""
    return html.Div(
        [
            dcc.Location(id="url"),
            html.Nav(
                [
                    html.Div(APP_NAME, className="brand"),
                    html.Div(f"v. {shared.__version__}", className="version"),
                    html.Div(nav_links(is_admin, ""), id="nav-links", className="nav-links"),
                    html.Div(
                        [
                            html.Div(username, id="user-name", className="user-name"),
                            html.Div(role, className="user-role"),
                            html.Form(
                                [
                                    dcc.Input(type="hidden", name=CSRF_FIELD, value=csrf_token),
                                    html.Button("Logout", type="submit", id="logout"),
                                ],
                                action="/logout",
                                method="post",
                            ),
                        ],
                        className="user",
                    ),
                ],
                className="sidebar",
            ),
            html.Main(id="page", className="content"),
        ],
        className="app",
    )


def nav_links(is_admin: bool, active: str) -> list:
    return [
        dcc.Link(
            text,
            href=path,
            id=f"nav-{path.strip('/')}",
            className="nav-link active" if path == active else "nav-link",
        )
        for path, (_, text, admin_only) in PAGES.items()
        if is_admin or not admin_only
    ]


def received_preset(search: str | None, stations: list[str]) -> dict:
    """The Received page's filters from the address's query (`?station=AUS02&day=2024-05-01
    &type=PHD`; also `analysis`, `from` and `to`, several values separated by commas).
    Anything not offered to the user (another facility's station, a bad day) is left out."""
    query = parse_qs((search or "").lstrip("?"))

    def values(key: str, allowed) -> list[str] | None:
        got = [v for item in query.get(key, []) for v in item.split(",") if v in allowed]
        return got or None

    def day(key: str) -> str | None:
        try:
            return date.fromisoformat(query.get(key, [""])[0]).isoformat()
        except ValueError:
            return None

    first, last = day("from"), day("to")
    if day("day"):
        first = last = day("day")
    return {
        "station": values("station", stations),
        "type": values("type", PRODUCTS),
        "analysis": values("analysis", ANALYSES),
        "start_date": first,
        "end_date": last,
    }


def received_content(stations: list[str], preset: dict | None = None) -> list:
    """The Received page; `stations` are the ones the user may see, the only ones offered;
    `preset` (from `received_preset`) sets the filters."""
    preset = preset or {}
    return [
        html.H1(PAGES["/received"][0]),
        html.Div(
            [
                _filter(
                    "Station",
                    dcc.Dropdown(
                        id="received-station",
                        options=stations,
                        multi=True,
                        value=preset.get("station"),
                    ),
                ),
                _filter(
                    "Type",
                    dcc.Dropdown(
                        id="received-type",
                        options=list(PRODUCTS),
                        multi=True,
                        value=preset.get("type"),
                    ),
                ),
                _filter(
                    "Analysis",
                    dcc.Dropdown(
                        id="received-analysis",
                        options=list(ANALYSES),
                        multi=True,
                        value=preset.get("analysis"),
                    ),
                ),
                _start_days("received-start", preset.get("start_date"), preset.get("end_date")),
            ],
            className="filters",
        ),
        html.Div(
            [
                html.A(
                    "Download",
                    id="received-download",
                    className="button disabled",
                    role="button",
                ),
                html.Span(id="received-selected", className="selected"),
            ],
            className="toolbar",
        ),
        RECEIVED.layout(),
    ]


def comparison_content(stations: list[str], nuclides: list[str]) -> list:
    """The Comparison page: per spectrum and nuclide, the station's result against the
    central re-analysis of the same spectrum, disagreements marked."""
    return [
        html.H1(PAGES["/comparison"][0]),
        html.P(
            "Releases in Bq per interval (activities in Bq where the spectrum has no stack "
            "data), with their counting uncertainties. Both detect: z = (station - central) / "
            "sqrt(u_station² + u_central²), a disagreement when |z| > 3. One detects: its value "
            "against the other's detection limit. The station's results arrive with its daily "
            "ATS.",
            className="hint",
        ),
        html.Div(
            [
                _filter(
                    "Station",
                    dcc.Dropdown(id="comparison-station", options=stations, multi=True),
                ),
                _filter(
                    "Nuclide",
                    dcc.Dropdown(id="comparison-nuclide", options=nuclides, multi=True),
                ),
                _start_days("comparison-start"),
                _filter(
                    "Show",
                    dcc.Checklist(
                        id="comparison-flagged",
                        options=[{"label": " disagreements only", "value": "flagged"}],
                        value=[],
                    ),
                ),
            ],
            className="filters",
        ),
        COMPARISON.layout(),
    ]


def quarantine_content() -> list:
    return [
        html.H1(PAGES["/quarantine"][0]),
        html.P(
            "Messages that were refused (unreadable, bad signature, unknown station, "
            "conflicting duplicate). Nothing is dropped: the raw bytes are kept here.",
            className="hint",
        ),
        QUARANTINE.layout(),
    ]


def message_content(title: str, text: str) -> list:
    return [html.H1(title), html.P(text, className="hint")]


def validation_layout() -> html.Div:
    """Every component any page can show, for Dash to check the callbacks against."""
    return html.Div(
        [
            frame("", "", True, ""),
            html.Div(received_content([])),
            html.Div(comparison_content([], [])),
            html.Div(quarantine_content()),
            html.Div(facilities.content([], [])),
            html.Div(impact.content([], [], True, date(2000, 1, 1))),
            html.Div(releases.content([])),
            html.Div(ratios.content([])),
            html.Div(trends.content([])),
            html.Div(settings.content([], 0, [])),
            html.Div(maintenance.content([], [], [])),
            html.Div(resources.content([], [], 0)),
            html.Div(spectrum.content()),
            html.Div(soh.content([])),
            soh_limits.layout(),
            html.Div(dashboard.content()),
            html.Div(alerts.content([], [])),
            html.Div(users.content([], [])),
        ]
    )


def _start_days(component_id: str, start: str | None = None, end: str | None = None) -> html.Div:
    return _filter(
        "Starts (UTC)",
        dcc.DatePickerRange(
            id=component_id,
            start_date=start,
            end_date=end,
            display_format="YYYY/MM/DD",
            start_date_placeholder_text="from",
            end_date_placeholder_text="to",
            clearable=True,
        ),
    )


def _filter(label: str, control) -> html.Div:
    return html.Div([html.Label(label), control], className="filter")
