"""The releases chart (`/charts/releases`): one station, a time span and nuclides; the
release per interval (Bq, or Bq/h) of the station analysis and of the central
re-analysis with their MDRs, detects and non-detects told apart, disagreements and
maintenance marked. Zoom in x, in x and y, or pan; a box (x-range) selection, or the
visible span, gives the integral release per nuclide and method; a click on a point
offers its spectrum and the day's ATS.

Every callback asks who is logged in and reads through `central.releases` (the access
and publish rule); what the browser sends (station, span, a point's id) is checked
again here. The figure is built by `central.web.figures.releases` from the query.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html

from central.access import can_see_message, message_scope, visible_stations
from central.releases import (
    METHODS,
    TABLE,
    nuclides_of,
    release_integrals,
    release_series,
    series_query,
)
from central.web.auth import current_account
from central.web.chartkit import (
    ChartTable,
    chart_block,
    graph_id,
    register_csv,
    register_save_all,
    save_all_button,
)
from central.web.clock import now
from central.web.db import get_store
from central.web.figures.releases import (
    POINTS,
    SERIES_COLUMNS,
    integral_table,
    parse_time,
    releases_figure,
    releases_table,
    series_from_rows,
)

PATH = "/charts/releases"
TITLE = "Releases"
PREFIX = "releases"
GRAPH = graph_id(PREFIX)
DEFAULT_DAYS = 7
FULL_INTERVALS = 2 * POINTS  # longer spans are read from the overview (about 42 days)
MODES = {
    "x": "Zoom X",
    "xy": "Zoom XY",
    "pan": "Pan",
    "select": "Select span (integral)",
}
SHOW = {"mdr": "MDR", "differences": "Differences > 3 uncertainties", "maintenance": "Maintenance"}
SPECTRUM_PATH = "/charts/spectrum"
VENDOR = Path(__file__).resolve().parents[1] / "assets" / "vendor"


@cache
def webgl() -> bool:
    """Whether the browser gets plotly.js's strict bundle (scripts/setup.sh puts it in
    assets/vendor, Dash serves it): the only WebGL that runs under the server's CSP,
    which forbids 'unsafe-eval'. Without it the charts draw in SVG."""
    return any(VENDOR.glob("plotly-strict-*.min.js"))


def ids(name: str) -> str:
    return f"{PREFIX}-{name}"


# ------------------------------------------------------------------ layout
def content(stations: list[str]) -> list:
    """The page for a user who may see `stations` (the only ones offered)."""
    return [
        html.H1(TITLE),
        html.P(
            "Release per interval from the station analysis and the central re-analysis. "
            "Filled markers: detected; hollow markers at the MDR: not detected; dashed: "
            "MDR; red vertical lines: the two differ by more than 3 combined uncertainties; "
            "shaded: maintenance. Select a span (or zoom) for its integral release; click a "
            "point for its spectrum and the day's ATS.",
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
                    "Span (UTC)",
                    dcc.DatePickerRange(id=ids("span"), display_format="YYYY/MM/DD"),
                ),
                _filter("Nuclides", dcc.Dropdown(id=ids("nuclides"), multi=True)),
                _filter(
                    "Unit",
                    dcc.RadioItems(
                        id=ids("unit"),
                        options=[
                            {"label": " Bq per interval", "value": "Bq"},
                            {"label": " Bq/h", "value": "Bq/h"},
                        ],
                        value="Bq",
                        inline=True,
                    ),
                ),
                _filter(
                    "Show",
                    dcc.Checklist(
                        id=ids("show"),
                        options=[{"label": f" {t}", "value": v} for v, t in SHOW.items()],
                        value=list(SHOW),
                        inline=True,
                    ),
                ),
                _filter(
                    "Mouse",
                    dcc.RadioItems(
                        id=ids("mode"),
                        options=[{"label": f" {t}", "value": v} for v, t in MODES.items()],
                        value="x",
                        inline=True,
                    ),
                ),
            ],
            className="filters",
        ),
        save_all_button(PREFIX),
        html.Span(id=ids("mode-done"), style={"display": "none"}),
        chart_block(PREFIX, title="Releases", height="520px"),
        html.Div(id=ids("point"), className="toolbar"),
        html.H2("Integral release over the selected span"),
        html.Div(
            [
                html.Button("CSV", id=ids("integral-csv-button"), n_clicks=0, className="button"),
                dcc.Download(id=ids("integral-csv")),
            ],
            className="chart-tools",
        ),
        html.Div(id=ids("integral")),
    ]


def page(store, account) -> list:
    return content(visible_stations(store, account))


def _filter(label: str, control) -> html.Div:
    return html.Div([html.Label(label), control], className="filter")


# ------------------------------------------------------------------ reading
def day_span(start_date: Any, end_date: Any) -> tuple[datetime, datetime] | None:
    """The DatePickerRange's days as [start 00:00, day after end 00:00) UTC."""
    try:
        first = datetime.fromisoformat(str(start_date)[:10]).replace(tzinfo=UTC)
        last = datetime.fromisoformat(str(end_date)[:10]).replace(tzinfo=UTC)
    except ValueError:
        return None
    if last < first:
        return None
    return first, last + timedelta(days=1)


def visible_range(relayout: Any, span: tuple[datetime, datetime]) -> tuple[datetime, datetime]:
    """The x range the user zoomed or panned to (relayoutData), within `span`."""
    if not isinstance(relayout, dict) or relayout.get("xaxis.autorange"):
        return span
    low = relayout.get("xaxis.range[0]")
    high = relayout.get("xaxis.range[1]")
    if low is None and isinstance(relayout.get("xaxis.range"), list | tuple):
        pair = relayout["xaxis.range"]
        if len(pair) == 2:
            low, high = pair
    start, end = parse_time(low), parse_time(high)
    if start is None or end is None or end <= start:
        return span
    start, end = max(start, span[0]), min(end, span[1])
    return (start, end) if start < end else span  # a zoom outside the span: the span


def selected_range(selected: Any) -> tuple[datetime, datetime] | None:
    """The x range of a box selection (selectedData), if any."""
    if not isinstance(selected, dict):
        return None
    box = selected.get("range")
    if not isinstance(box, dict):
        return None
    pair = box.get("x")
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        return None
    start, end = parse_time(pair[0]), parse_time(pair[1])
    if start is None or end is None:
        return None
    return (start, end) if start <= end else (end, start)


def _allowed(store, account, station: Any) -> bool:
    return isinstance(station, str) and station in visible_stations(store, account)


def _nuclides(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    return [v for v in value if isinstance(v, str)]


def load_series(store, account, moment, station, start, end, nuclides, *, full=False):
    """The series of the span: every row when it holds at most FULL_INTERVALS intervals
    (or `full`), else the overview rows (each 4-hour bucket's highest and lowest point:
    a year of a station is 2 x 2190 points per series instead of 35,040, peaks kept)."""
    overview = not full and (end - start).total_seconds() > FULL_INTERVALS * 900
    sql, params = series_query(
        store, account, moment, station, start, end, nuclides, METHODS, SERIES_COLUMNS,
        overview=overview,
    )  # fmt: skip
    return series_from_rows(store.conn.execute(sql, params))


def differences(store, account, moment, station, start, end, nuclides) -> list[tuple]:
    """(interval start s, nuclide, z) of the flagged comparisons in the span, under the
    rule (on the spectrum's release rows, whose station and data time are the PHD's)."""
    scope, params = message_scope(store, account, moment)
    scope = scope.replace("station", "r.station").replace("data_until", "r.data_until")
    sql = (
        f"select r.start_s, c.nuclide, c.z from comparisons c join {TABLE} r "
        "on r.message_id = c.message_id and r.nuclide = c.nuclide and r.method = 'central' "
        "where c.flagged = 1 and r.station = ? and r.start_s >= ? and r.start_s < ? "
        f"and {scope}"
    )
    args = [station, int(start.timestamp()), int(end.timestamp()), *params]
    if nuclides is not None:
        sql += f" and c.nuclide in ({', '.join('?' * len(nuclides))})"
        args += list(nuclides)
    return [tuple(r) for r in store.conn.execute(sql + " order by r.start_s", args)]


def maintenance(store, account, moment, station, start, end) -> list[dict]:
    """The station's maintenance annotations overlapping the span, under the rule."""
    try:
        from central.maintenance import annotations
    except ImportError:  # pragma: no cover - before the maintenance branch is merged
        return []
    return annotations(store, account, moment, station, start, end)


def default_span(store, account, moment, station) -> tuple[str, str] | None:
    """The last DEFAULT_DAYS days up to the station's latest release the user sees."""
    scope, params = message_scope(store, account, moment)
    row = store.conn.execute(
        f"select max(start_time) from {TABLE} where station = ? and {scope}",
        [station, *params],
    ).fetchone()
    last = parse_time(row[0]) if row else None
    if last is None:
        return None
    first = last - timedelta(days=DEFAULT_DAYS - 1)
    return first.date().isoformat(), last.date().isoformat()


# ------------------------------------------------------------------ building
def figure(
    store, account, moment, station, start_date, end_date, nuclides, unit, show, relayout, mode
) -> dict[str, Any]:
    """The figure for these inputs (what the chart callback returns)."""
    span = day_span(start_date, end_date)
    unit = unit if unit in ("Bq", "Bq/h") else "Bq"
    show = show if isinstance(show, list) else []
    dragmode = "pan" if mode == "pan" else "select" if mode == "select" else "zoom"
    if span is None or not _allowed(store, account, station):
        return releases_figure({}, unit=unit, title="Choose a station and a span")
    chosen = _nuclides(nuclides)
    start, end = visible_range(relayout, span)
    series = load_series(store, account, moment, station, start, end, chosen)
    flagged = (
        differences(store, account, moment, station, start, end, chosen)
        if "differences" in show
        else []
    )
    spans = maintenance(store, account, moment, station, *span) if "maintenance" in show else []
    return releases_figure(
        series,
        unit=unit,
        show_mdr="mdr" in show,
        differences=flagged,
        maintenance=spans,
        dragmode=dragmode,
        fixed_y=mode == "x",
        title=f"{station} releases {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC",
        revision=f"{station}|{start_date}|{end_date}|{unit}",
        points=POINTS,
        webgl=webgl(),
    )


def integral_rows(store, account, moment, station, start_date, end_date, nuclides, selected,
                  relayout) -> tuple[tuple[datetime, datetime], list[tuple]] | None:  # fmt: skip
    """The integral releases over the selection (else the visible span)."""
    span = day_span(start_date, end_date)
    if span is None or not _allowed(store, account, station):
        return None
    chosen = selected_range(selected) or visible_range(relayout, span)
    start, end = max(chosen[0], span[0]), min(chosen[1], span[1])
    rows = release_integrals(store, account, moment, station, start, end, _nuclides(nuclides))
    return (start, end), rows


def integral_view(result) -> html.Div | str:
    if result is None:
        return "Choose a station and a span."
    (start, end), rows = result
    if not rows:
        return f"No releases between {start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC."
    header = html.Tr(
        [html.Th(t) for t in ("Nuclide", "Method", "Intervals", "Detected",
                              "Integral (Bq)", "± (Bq)", "Upper bound with MDRs (Bq)")]
    )  # fmt: skip
    body = [
        html.Tr(
            [
                html.Td(r[0], className="nuclide"),
                html.Td(r[1], className="method"),
                html.Td(str(r[2])),
                html.Td(str(r[3])),
                html.Td(f"{r[4]:.3E}", className="integral"),
                html.Td(f"{r[5]:.2E}", className="integral-unc"),
                html.Td(f"{r[6]:.3E}"),
            ]
        )
        for r in rows
    ]
    return html.Div(
        [
            html.P(
                f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC. The integral is the sum "
                "of the detected releases (a non-detect counts 0); ± is the root sum of "
                "squares of their standard uncertainties; the upper bound adds each "
                "non-detect's MDR.",
                className="hint",
            ),
            html.Table([html.Thead(header), html.Tbody(body)], className="grid"),
        ],
        id=ids("integral-table"),
    )


def point_links(store, account, moment, click: Any) -> list:
    """The clicked point's spectrum and its day's station ATS, if the user may see them."""
    try:
        message_id = int(click["points"][0]["customdata"][0])
    except (TypeError, KeyError, IndexError, ValueError):
        return []
    row = store.message(message_id) if message_id > 0 else None
    if row is None or row["product"] != "PHD" or not can_see_message(store, account, row, moment):
        return []
    links: list = [
        html.Span(row["file_name"], className="selected"),
        html.A(
            "Open spectrum",
            href=f"{SPECTRUM_PATH}?file={message_id}",
            id=ids("open-spectrum"),
            className="button",
        ),
    ]
    day = (row["start_time"] or "")[:10]
    candidates = store.db.query(
        "select id, station, data_until, received_at, file_name from messages "
        "where station = ? and product = 'ATS' and substr(start_time, 1, 10) = ? "
        "order by (analysis = 'STATION') desc, id desc",
        [row["station"], day],
    )
    ats = next((a for a in candidates if can_see_message(store, account, a, moment)), None)
    if ats is not None:
        links.append(
            html.A(
                f"Download the ATS of {day}",
                href=f"/download?ids={ats['id']}",
                id=ids("download-ats"),
                className="button",
            )
        )
    return links


def csv_table(
    store, account, moment, station, start_date, end_date, nuclides, unit, relayout
) -> ChartTable | None:
    """The chart's numbers over the visible span at full resolution."""
    span = day_span(start_date, end_date)
    if span is None or not _allowed(store, account, station):
        return None
    unit = unit if unit in ("Bq", "Bq/h") else "Bq"
    start, end = visible_range(relayout, span)
    chosen = _nuclides(nuclides)
    rows = release_series(store, account, moment, station, start, end, chosen, METHODS)
    names = chosen if chosen else sorted({r["nuclide"] for r in rows})
    return releases_table(
        rows,
        unit=unit,
        nuclides=names,
        methods=METHODS,
        file_name=f"{station}_releases_{start:%Y%m%d%H%M}_{end:%Y%m%d%H%M}.csv",
    )


# ------------------------------------------------------------------ callbacks
CHART_INPUTS = (
    Input(ids("station"), "value"),
    Input(ids("span"), "start_date"),
    Input(ids("span"), "end_date"),
    Input(ids("nuclides"), "value"),
    Input(ids("unit"), "value"),
    Input(ids("show"), "value"),
    Input(GRAPH, "relayoutData"),
)


def register(app: Dash) -> None:
    @app.callback(
        Output(ids("nuclides"), "options"),
        Output(ids("nuclides"), "value"),
        Output(ids("span"), "start_date"),
        Output(ids("span"), "end_date"),
        Input(ids("station"), "value"),
    )
    def _station(station: Any) -> tuple:
        account, store, moment = current_account(), get_store(), now()
        if not _allowed(store, account, station):
            return [], [], None, None
        names = nuclides_of(store, account, moment, station)
        span = default_span(store, account, moment, station) or (None, None)
        xenon = [n for n in names if n.startswith("Xe-")]
        return names, xenon or names, *span

    @app.callback(Output(GRAPH, "figure"), *CHART_INPUTS, State(ids("mode"), "value"))
    def _chart(station, start_date, end_date, nuclides, unit, show, relayout, mode) -> dict:
        return figure(get_store(), current_account(), now(), station, start_date, end_date,
                      nuclides, unit, show, relayout, mode)  # fmt: skip

    app.clientside_callback(
        ClientsideFunction(namespace="staxReleases", function_name="setMode"),
        Output(ids("mode-done"), "children"),
        Input(ids("mode"), "value"),
        State(GRAPH, "id"),
    )

    app.clientside_callback(
        ClientsideFunction(namespace="staxReleases", function_name="forgetZoom"),
        Output(GRAPH, "relayoutData", allow_duplicate=True),
        Input(ids("station"), "value"),
        Input(ids("span"), "start_date"),
        Input(ids("span"), "end_date"),
        Input(ids("nuclides"), "value"),
        Input(ids("unit"), "value"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ids("integral"), "children"),
        Input(GRAPH, "selectedData"),
        Input(GRAPH, "relayoutData"),
        Input(ids("station"), "value"),
        Input(ids("span"), "start_date"),
        Input(ids("span"), "end_date"),
        Input(ids("nuclides"), "value"),
    )
    def _integral(selected, relayout, station, start_date, end_date, nuclides):
        result = integral_rows(get_store(), current_account(), now(), station, start_date,
                               end_date, nuclides, selected, relayout)  # fmt: skip
        return integral_view(result)

    @app.callback(Output(ids("point"), "children"), Input(GRAPH, "clickData"))
    def _point(click: Any) -> list:
        return point_links(get_store(), current_account(), now(), click)

    register_csv(
        app,
        PREFIX,
        [
            State(ids("station"), "value"),
            State(ids("span"), "start_date"),
            State(ids("span"), "end_date"),
            State(ids("nuclides"), "value"),
            State(ids("unit"), "value"),
            State(GRAPH, "relayoutData"),
        ],
        lambda station, s, e, nuclides, unit, relayout: csv_table(
            get_store(), current_account(), now(), station, s, e, nuclides, unit, relayout
        ),
    )

    def _integral_csv(selected, relayout, station, start_date, end_date, nuclides):
        result = integral_rows(get_store(), current_account(), now(), station, start_date,
                               end_date, nuclides, selected, relayout)  # fmt: skip
        if result is None:
            return None
        (start, end), rows = result
        return integral_table(
            rows, f"{station}_integral_releases_{start:%Y%m%d%H%M}_{end:%Y%m%d%H%M}.csv"
        )

    register_csv(
        app,
        f"{PREFIX}-integral",
        [
            State(GRAPH, "selectedData"),
            State(GRAPH, "relayoutData"),
            State(ids("station"), "value"),
            State(ids("span"), "start_date"),
            State(ids("span"), "end_date"),
            State(ids("nuclides"), "value"),
        ],
        _integral_csv,
    )
    register_save_all(app, PREFIX)
