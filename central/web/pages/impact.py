"""The Impact page (`/impact`): what the monitored stacks add at an IMS noble-gas station.

The user chooses an IMS station, a time span, nuclides, the mode (backward SRS, forward at
IMS sampling, forward raw values) and the analysis (central re-analysis or the station's
own); the page draws the total impact and the emitters impact in the station's sample
intervals (central/impact_view.py computes them from the releases this user may see), and
the IMS station's own results beside them when the user uploads them (CSV: sample start,
stop, nuclide, concentration, uncertainty; kept in the browser, never stored). Each chart
has its CSV and PNG. Administrators add ATM data here: SRS files (many, or a zip), or a
forward cdump with the emitter and the release it was run with.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html

from central.impact import (
    ForwardRelease,
    NotAdministrator,
    add_atm_upload,
    atm_files,
    ims_stations,
    put_ims_station,
    remove_ims_station,
)
from central.impact_view import MODES, ImpactRequest, ImpactView, impact_view
from central.web.auth import current_account
from central.web.chartkit import (
    chart_block,
    graph_id,
    register_csv,
    register_save_all,
    save_all_button,
)
from central.web.clock import now
from central.web.db import get_store
from central.web.figures.impact import (
    emitters_figure,
    emitters_table,
    nuclide_label,
    total_figure,
    total_table,
)
from central.web.inputs import day as _day
from shared.atm.impact import XENON
from shared.atm.ims_results import MeasuredConcentration, read_ims_results
from shared.atm.ims_stations import ImsStation
from shared.formats.errors import FormatError

PATH = "/impact"
TITLE = "Impact at IMS stations"
ANALYSES = {"central": "Central re-analysis", "station": "Station analysis"}
# what the browser may send as the uploaded IMS results (they are the user's own data)
MAX_MEASURED_BYTES = 5 << 20
MAX_ATM_BYTES = 200 << 20
DEFAULT_DAYS = 7


IMS_FIELDS = (
    ("code", "Code", "text"),
    ("name", "Name", "text"),
    ("latitude", "Latitude", "number"),
    ("longitude", "Longitude", "number"),
    ("system", "System", "text"),
    ("sample_hours", "Sample (h)", "number"),
    ("stop_hour", "Stop hour (UTC)", "number"),
    ("source", "Source", "text"),
)


def ims_table(stations: list[ImsStation]) -> html.Table:
    header = html.Tr([html.Th(label) for _, label, _ in IMS_FIELDS])
    body = [
        html.Tr([html.Td(str(getattr(s, key))) for key, _, _ in IMS_FIELDS]) for s in stations
    ] or [html.Tr(html.Td("No IMS stations", colSpan=len(IMS_FIELDS), className="empty"))]
    return html.Table([html.Thead(header), html.Tbody(body)], className="grid")


def ims_options(stations: list[ImsStation]) -> list[dict]:
    return [{"label": f"{s.code} — {s.name}", "value": s.code} for s in stations]


def content(
    options: list[dict],
    emitter_codes: list[str],
    is_admin: bool,
    today: date,
    stations: list[ImsStation] | None = None,
) -> list:
    stations = stations if is_admin and stations else []
    controls = html.Div(
        [
            _filter(
                "IMS station",
                dcc.Dropdown(
                    id="impact-ims",
                    options=options,
                    value=options[0]["value"] if options else None,
                    clearable=False,
                ),
            ),
            _filter(
                "Samples (UTC)",
                dcc.DatePickerRange(
                    id="impact-span",
                    display_format="YYYY/MM/DD",
                    start_date=(today - timedelta(days=DEFAULT_DAYS)).isoformat(),
                    end_date=today.isoformat(),
                ),
            ),
            _filter(
                "Nuclides",
                dcc.Dropdown(
                    id="impact-nuclides",
                    options=[{"label": nuclide_label(n), "value": n} for n in XENON],
                    value=["XE-133"],
                    multi=True,
                ),
            ),
            _filter(
                "Mode",
                dcc.Dropdown(
                    id="impact-mode",
                    options=[{"label": t, "value": v} for v, t in MODES.items()],
                    value="backward",
                    clearable=False,
                ),
            ),
            _filter(
                "Analysis",
                dcc.Dropdown(
                    id="impact-method",
                    options=[{"label": t, "value": v} for v, t in ANALYSES.items()],
                    value="central",
                    clearable=False,
                ),
            ),
            _filter(
                "Decay",
                dcc.Checklist(
                    id="impact-decay",
                    options=[{"label": " radioactive decay in transit", "value": "decay"}],
                    value=["decay"],
                ),
            ),
        ],
        className="filters",
    )
    measured = html.Div(
        [
            dcc.Upload(
                html.Button("Compare with the IMS station's results (CSV)", className="button"),
                id="impact-measured-upload",
                max_size=MAX_MEASURED_BYTES,
            ),
            html.Span(id="impact-measured-status", className="hint", role="status"),
            dcc.Store(id="impact-measured"),
        ],
        className="chart-tools",
    )
    parts = [
        html.H1(TITLE),
        html.P(
            "C = Σk Q(e,k) · TC(e,s,k) · exp(−λτk) for each emitter e and IMS sample s, from "
            f"the published releases of the facilities you see ({', '.join(emitter_codes) or 'none with a place'}). "
            "Time without release data counts as nothing and is reported: such a sample's "
            "impact is a lower bound; the dashed line counts every non-detect at its MDR.",
            className="hint",
        ),
        controls,
        measured,
        html.Div(id="impact-notes", className="notes", role="status"),
        save_all_button("impact"),
        chart_block("impact-total", title="Total impact"),
        _filter(
            "Emitters chart nuclide",
            dcc.Dropdown(
                id="impact-emitters-nuclide",
                options=[{"label": nuclide_label(n), "value": n} for n in XENON],
                value="XE-133",
                clearable=False,
            ),
        ),
        chart_block("impact-emitters", title="Emitters impact"),
    ]
    admin = html.Div(
        [
            html.H2("ATM data"),
            html.P(
                "SRS files (.txt, .txt.gz, .srm; many at once or a zip): one per IMS sample. "
                "A forward HYSPLIT cdump needs the emitter and the release it was run with. "
                "A file that does not read is refused with the reason (and kept in "
                "Quarantine).",
                className="hint",
            ),
            html.Div(
                [
                    _filter(
                        "Forward run: emitter",
                        dcc.Dropdown(id="impact-fwd-emitter", options=emitter_codes),
                    ),
                    _filter("Release rate (Bq/h)", dcc.Input(id="impact-fwd-rate", type="number")),
                    _filter("Duration (h)", dcc.Input(id="impact-fwd-hours", type="number")),
                    _filter(
                        "Run with decay",
                        dcc.Checklist(
                            id="impact-fwd-decayed",
                            options=[{"label": " yes", "value": "yes"}],
                            value=[],
                        ),
                    ),
                ],
                className="filters",
            ),
            dcc.Upload(
                html.Button("Add ATM files", className="button"),
                id="impact-atm-upload",
                multiple=True,
                max_size=MAX_ATM_BYTES,
            ),
            html.Div(id="impact-atm-result", role="status"),
            html.Div(id="impact-atm-list"),
            html.H2("IMS stations"),
            html.P(
                "Code, place, sampling system, sample length and the UTC hour a sample stops; "
                "say where the figures come from. Saving a code that exists replaces it.",
                className="hint",
            ),
            html.Div(
                [
                    _filter(label, dcc.Input(id=f"impact-ims-{key}", type=kind))
                    for key, label, kind in IMS_FIELDS
                ],
                className="filters",
            ),
            html.Button("Save station", id="impact-ims-save", n_clicks=0, className="button"),
            html.Button("Remove station", id="impact-ims-remove", n_clicks=0, className="button"),
            html.Div(id="impact-ims-message", role="status"),
            html.Div(ims_table(stations), id="impact-ims-table"),
        ],
        className="editor",
        style=None if is_admin else {"display": "none"},
    )
    parts.append(admin)
    return parts


def page(store, account) -> list:
    stations = ims_stations(store)
    options = ims_options(stations)
    emitters = [
        r["code"]
        for r in store.db.query("select code, latitude, longitude from facilities order by code")
        if r["latitude"] is not None and account.can_see(r["code"])
    ]
    today = now().date()
    return content(options, emitters, account.is_admin, today, stations)


def _filter(label: str, control) -> html.Div:
    return html.Div([html.Label(label), control], className="filter")


def request_from(
    ims: Any, start: Any, end: Any, nuclides: Any, mode: Any, method: Any, decay: Any
) -> ImpactRequest | str:
    """The request the controls make, or why they make none. Nothing the browser sends is
    taken as it is."""
    if not isinstance(ims, str):
        return "Choose an IMS station."
    a, b = _day(start), _day(end)
    if a is None or b is None:
        return "Choose the days of the samples."
    chosen = tuple(n for n in (nuclides or []) if isinstance(n, str) and n in XENON)
    if not chosen:
        return "Choose at least one nuclide."
    try:
        return ImpactRequest(
            ims=ims,
            start=datetime(a.year, a.month, a.day, tzinfo=UTC),
            end=datetime(b.year, b.month, b.day, tzinfo=UTC) + timedelta(days=1),
            nuclides=chosen,
            mode=mode if isinstance(mode, str) else "backward",
            method=method if isinstance(method, str) else "central",
            decay="decay" in (decay or []),
        )
    except ValueError as exc:
        return str(exc)


def _measured(data: Any) -> list[MeasuredConcentration]:
    out = []
    for row in data if isinstance(data, list) else []:
        try:
            out.append(
                MeasuredConcentration(
                    datetime.fromisoformat(row["sample_start"]),
                    datetime.fromisoformat(row["sample_stop"]),
                    str(row["nuclide"]),
                    float(row["concentration_bq_m3"]),
                    None
                    if row.get("uncertainty_bq_m3") is None
                    else float(row["uncertainty_bq_m3"]),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return out


def compute(values: tuple) -> ImpactView | str:
    """The view for the current user, or the reason there is none."""
    request = request_from(*values)
    if isinstance(request, str):
        return request
    try:
        return impact_view(get_store(), current_account(), now(), request)
    except KeyError:
        return f"There is no IMS station {request.ims}."


def _notes(view: ImpactView | str, measured_count: int) -> list:
    if isinstance(view, str):
        return [html.P(view)]
    lines = list(view.notes)
    s = view.station
    lines.insert(
        0,
        f"{s.code} {s.name} ({s.latitude:.2f}, {s.longitude:.2f}), {s.system or 'system unknown'}, "
        f"{s.sample_hours:g} h samples; {len(view.totals)} sample results"
        + (f", {measured_count} measured values" if measured_count else "")
        + ".",
    )
    return [html.P(line) for line in lines]


CONTROLS = (
    "impact-ims",
    ("impact-span", "start_date"),
    ("impact-span", "end_date"),
    "impact-nuclides",
    "impact-mode",
    "impact-method",
    "impact-decay",
)


def _props(kind):
    out = []
    for c in CONTROLS:
        cid, prop = (c, "value") if isinstance(c, str) else c
        out.append(kind(cid, prop))
    return out


def register(app: Dash) -> None:
    @app.callback(
        Output("impact-notes", "children"),
        Output(graph_id("impact-total"), "figure"),
        Output(graph_id("impact-emitters"), "figure"),
        *_props(Input),
        Input("impact-emitters-nuclide", "value"),
        Input("impact-measured", "data"),
    )
    def _draw(*values: Any) -> tuple:
        *controls, emitters_nuclide, measured_data = values
        view = compute(tuple(controls))
        measured = _measured(measured_data)
        if isinstance(view, str):
            empty = {"data": [], "layout": {"title": {"text": view}}}
            return _notes(view, 0), empty, empty
        nuclide = emitters_nuclide if emitters_nuclide in XENON else None
        return (
            _notes(view, len(measured)),
            total_figure(view, measured),
            emitters_figure(view, nuclide),
        )

    def _total_csv(*values: Any):
        *controls, measured_data = values
        view = compute(tuple(controls))
        return None if isinstance(view, str) else total_table(view, _measured(measured_data))

    def _emitters_csv(*values: Any):
        view = compute(tuple(values))
        return None if isinstance(view, str) else emitters_table(view)

    register_csv(
        app, "impact-total", [*_props(State), State("impact-measured", "data")], _total_csv
    )
    register_csv(app, "impact-emitters", _props(State), _emitters_csv)
    register_save_all(app, "impact")

    @app.callback(
        Output("impact-measured", "data"),
        Output("impact-measured-status", "children"),
        Input("impact-measured-upload", "contents"),
        State("impact-measured-upload", "filename"),
        prevent_initial_call=True,
    )
    def _upload_measured(contents: Any, name: Any) -> tuple:
        data = _decode(contents)
        if data is None:
            return None, "Not a file the browser could send."
        try:
            rows = read_ims_results(data, source=name if isinstance(name, str) else "upload")
        except FormatError as exc:
            return None, f"Not read: {exc}"
        return [
            {
                "sample_start": r.sample_start.isoformat(),
                "sample_stop": r.sample_stop.isoformat(),
                "nuclide": r.nuclide,
                "concentration_bq_m3": r.concentration_bq_m3,
                "uncertainty_bq_m3": r.uncertainty_bq_m3,
            }
            for r in rows
        ], f"{len(rows)} measured values from {name}."

    @app.callback(
        Output("impact-atm-result", "children"),
        Output("impact-atm-list", "children"),
        Input("impact-atm-upload", "contents"),
        State("impact-atm-upload", "filename"),
        State("impact-fwd-emitter", "value"),
        State("impact-fwd-rate", "value"),
        State("impact-fwd-hours", "value"),
        State("impact-fwd-decayed", "value"),
        prevent_initial_call=True,
    )
    def _upload_atm(contents, names, emitter, rate, hours, decayed) -> tuple:
        account, store = current_account(), get_store()
        if not account.is_admin:
            return "Administrators add ATM data.", ""
        contents = contents if isinstance(contents, list) else [contents]
        names = names if isinstance(names, list) else [names]
        lines = []
        for body, name in zip(contents, names):
            data = _decode(body)
            name = name if isinstance(name, str) else "upload"
            if data is None:
                lines.append(f"{name}: not a file the browser could send")
                continue
            forward = None
            if not name.lower().endswith((".txt", ".txt.gz", ".srm", ".srm.gz", ".zip", ".gz")):
                try:
                    forward = ForwardRelease(
                        emitter=str(emitter),
                        bq_per_h=float(rate),
                        hours=float(hours),
                        decayed="yes" in (decayed or []),
                    )
                except (TypeError, ValueError) as exc:
                    lines.append(
                        f"{name}: a forward run needs its emitter, rate and duration ({exc})"
                    )
                    continue
            try:
                outcomes = add_atm_upload(store, name, data, by=account, forward=forward)
            except NotAdministrator as exc:
                return str(exc), ""
            for o in outcomes:
                lines.append(f"{o.name}: {o.outcome}" + (f" — {o.reason}" if o.reason else ""))
        return html.Ul([html.Li(line) for line in lines]), _atm_list(store)

    @app.callback(
        Output("impact-ims-message", "children"),
        Output("impact-ims-table", "children"),
        Output("impact-ims", "options"),
        Input("impact-ims-save", "n_clicks"),
        Input("impact-ims-remove", "n_clicks"),
        *(State(f"impact-ims-{key}", "value") for key, _, _ in IMS_FIELDS),
        prevent_initial_call=True,
    )
    def _edit_ims(_save, _remove, *values) -> tuple:
        account, store = current_account(), get_store()
        if not account.is_admin:
            return "Administrators change the IMS stations.", "", ims_options(ims_stations(store))
        fields = dict(zip((key for key, _, _ in IMS_FIELDS), values))
        code = fields["code"].strip().upper() if isinstance(fields["code"], str) else ""
        try:
            if ctx.triggered_id == "impact-ims-remove":
                removed = remove_ims_station(store, code, by=account)
                message = f"{code} removed." if removed else f"There is no IMS station {code!r}."
            else:
                station = ImsStation(
                    code=code,
                    name=str(fields["name"] or "").strip(),
                    latitude=float(fields["latitude"]),
                    longitude=float(fields["longitude"]),
                    system=str(fields["system"] or "").strip(),
                    sample_hours=float(fields["sample_hours"]),
                    stop_hour=float(fields["stop_hour"]),
                    source=str(fields["source"] or "").strip(),
                )
                put_ims_station(store, station, by=account)
                message = f"{code} saved."
        except (TypeError, ValueError) as exc:
            message = f"Not saved: {exc}"
        stations = ims_stations(store)
        return message, ims_table(stations), ims_options(stations)


def _atm_list(store) -> html.Table:
    rows = atm_files(store)[-50:]
    header = html.Tr(
        [html.Th(t) for t in ("File", "Kind", "IMS station / emitter", "Sample", "Added")]
    )
    body = [
        html.Tr(
            [
                html.Td(r["file_name"]),
                html.Td(r["kind"]),
                html.Td(r["station"] or r["emitter"] or ""),
                html.Td(f"{r['sample_start']} – {r['sample_stop']}"),
                html.Td(r["received_at"]),
            ]
        )
        for r in rows
    ] or [html.Tr(html.Td("No ATM data yet", colSpan=5, className="empty"))]
    return html.Table([html.Thead(header), html.Tbody(body)], className="grid")


def _decode(contents: Any) -> bytes | None:
    """The bytes of a dcc.Upload's `data:...;base64,...` string."""
    if not isinstance(contents, str) or "," not in contents:
        return None
    try:
        return base64.b64decode(contents.split(",", 1)[1], validate=True)
    except (binascii.Error, ValueError):
        return None
