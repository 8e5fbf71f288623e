"""The spectrum viewer (`/charts/spectrum?file=<id>`, id = the PHD's `messages.id`): the
spectrum on its energy calibration (log counts), the central re-analysis's continuum, fit
and peaks (recomputed: central/spectrum_fit.py says why), the lines of the nuclides
found, both analyses' results with the uncertainty budget and the calibration warnings,
a CSV of the spectrum and of the results, and the PHD's download.

A file the user may not see (another facility's, not yet published) gets exactly the
answer of an id that does not exist."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import plotly.graph_objects as go
from dash import Dash, Input, Output, State, dcc, html

from central.access import can_see_message, message_scope
from central.spectrum_fit import FittedCurves, cached_curves
from central.store import StoredFileError
from central.web.auth import current_account
from central.web.chartkit import ChartTable, chart_block, register_csv
from central.web.clock import now
from central.web.db import get_store
from central.web.figures.spectrum import (
    RESULT_COLUMNS,
    Spectrum,
    found_nuclides,
    nuclide_lines,
    result_rows,
    results_table,
    spectrum_figure,
    spectrum_table,
    warnings_of,
)
from central.web.queries import display_time
from shared.calibration import CalibrationError, calibrations_of
from shared.formats import FormatError, read_message
from shared.results import AnalysisError

log = logging.getLogger(__name__)

PATH = "/charts/spectrum"
TITLE = "Spectrum"
PREFIX = "spectrum"
RESULTS = "spectrum-results"
NOT_FOUND = "There is no spectrum with this id that you may see."
RECENT = 200  # spectra offered in the picker, newest first


@dataclass
class Loaded:
    row: dict[str, Any]
    spectrum: Spectrum | None
    results: dict[str, dict[str, Any] | None]  # method -> AnalysisResult JSON
    errors: dict[str, str]  # method -> why there is no result
    curves: FittedCurves | None
    problems: list[str]  # why something is not shown


def file_id(search: Any) -> int | None:
    """The `file` of the address's query string (`?file=12`), or None."""
    if not isinstance(search, str):
        return None
    values = parse_qs(search.lstrip("?")).get("file", [])
    if len(values) != 1 or not values[0].isdigit():
        return None
    return int(values[0])


def load(store, account, search: Any, *, with_curves: bool = True) -> Loaded | None:
    """Everything the page shows of the file in `search`; None when there is no such
    spectrum the user may see (missing, another facility's, unpublished, not a PHD)."""
    message_id = file_id(search)
    if message_id is None:
        return None
    row = store.message(message_id)
    if row is None or not can_see_message(store, account, row, now()) or row["product"] != "PHD":
        return None
    problems: list[str] = []
    spectrum = None
    phd = None
    try:
        phd = read_message(store.content(message_id), source=row["file_name"], lenient=True).phd
        if phd is None or phd.g_spectrum is None:
            problems.append("The file holds no gamma spectrum.")
        else:
            spectrum = _spectrum(phd)
    except (FormatError, StoredFileError, CalibrationError) as exc:
        problems.append(f"The spectrum cannot be shown: {exc}")
    results: dict[str, dict[str, Any] | None] = {"station": None, "central": None}
    errors: dict[str, str] = {}
    station = store.conn.execute(
        "select result from station_results where station = ? and file_name = ?",
        [row["station"], row["file_name"]],
    ).fetchone()
    if station is None:
        errors["station"] = "not received yet (it comes with the station's daily ATS)"
    else:
        results["station"] = _json(station[0])
    central = store.analysis(message_id, "central")
    if central is None:
        errors["central"] = "not made yet"
    elif central["result"] is None:
        errors["central"] = f"failed: {central['error']}"
    else:
        results["central"] = _json(central["result"])
    curves = None
    if with_curves and spectrum is not None and results["central"] is not None:
        try:
            curves = cached_curves(row["sha256"], store.content(message_id), row["file_name"])
        except (AnalysisError, FormatError, ValueError) as exc:
            problems.append(f"The central fit's curves cannot be drawn: {exc}")
    return Loaded(row, spectrum, results, errors, curves, problems)


def _json(text: str | None) -> dict[str, Any] | None:
    try:
        value = json.loads(text or "null")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _spectrum(phd) -> Spectrum:
    counts = np.asarray(phd.g_spectrum.counts, dtype=np.int64)
    channel = np.arange(len(counts)) + int(phd.g_spectrum.first_channel or 0)
    energy = np.asarray(calibrations_of(phd).energy.energy(channel), dtype=float)
    return Spectrum(channel, energy, counts)


# ------------------------------------------------------------------------ layout
def content(recent: list[dict[str, Any]] | None = None) -> list:
    """The page; `recent` are the spectra the user may see, offered in the picker."""
    options = [{"label": r["file_name"], "value": r["id"]} for r in recent or []]
    return [
        html.H1(TITLE),
        html.Div(
            [
                html.Label("Spectrum"),
                dcc.Dropdown(id="spectrum-pick", options=options, placeholder="the latest spectra"),
            ],
            className="filter wide",
        ),
        html.Div(id="spectrum-head", className="hint"),
        chart_block(PREFIX, title="spectrum", height="520px"),
        html.H2("Results of both analyses"),
        html.Div(
            [
                html.Button("CSV", id=f"{RESULTS}-csv-button", n_clicks=0, className="button"),
                dcc.Download(id=f"{RESULTS}-csv"),
            ],
            className="chart-tools",
        ),
        html.Div(id="spectrum-results"),
        html.Div(id="spectrum-warnings"),
    ]


def recent_spectra(store, account, limit: int = RECENT) -> list[dict[str, Any]]:
    scope, params = message_scope(store, account, now())
    return list(
        store.db.query(
            f"select id, file_name from messages where product = 'PHD' and {scope} "
            "order by start_time desc, id desc limit ?",
            [*params, limit],
        )
    )


def page(store, account) -> list:
    return content(recent_spectra(store, account))


def _head(loaded: Loaded) -> list:
    row = loaded.row
    return [
        html.Span(
            f"{row['station']} · {row['file_name']} · starts {display_time(row['start_time'])} UTC"
        ),
        " · ",
        html.A("Download PHD", href=f"/download?ids={row['id']}", id="spectrum-download"),
        *(html.Div(p, className="warning") for p in loaded.problems),
    ]


def _number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3E}"
    return str(value)


def _results(loaded: Loaded) -> list:
    rows = result_rows(loaded.results)
    header = html.Tr(
        [html.Th("Nuclide"), html.Th("Method"), *(html.Th(t) for _, t in RESULT_COLUMNS)]
    )
    body = [
        html.Tr(
            [
                html.Td(r["nuclide"]),
                html.Td(r["method"]),
                *(html.Td(_number(r.get(k))) for k, _ in RESULT_COLUMNS),
            ],
            className="detected" if r.get("detected") else "",
        )
        for r in rows
    ] or [html.Tr(html.Td("No results", colSpan=2 + len(RESULT_COLUMNS), className="empty"))]
    notes = [
        html.P(
            f"{'Station analysis' if m == 'station' else 'Central re-analysis'}: {why}",
            className="hint",
        )
        for m, why in loaded.errors.items()
    ]
    return [
        *notes,
        html.Div(
            html.Table([html.Thead(header), html.Tbody(body)], className="grid"),
            className="grid-scroll",
        ),
    ]


def _warnings(loaded: Loaded) -> list:
    parts: list = []
    for method, title in (("station", "Station analysis"), ("central", "Central re-analysis")):
        found = warnings_of(loaded.results.get(method))
        if found:
            parts += [html.H3(f"{title}: warnings"), html.Ul([html.Li(w) for w in found])]
    return parts


def _not_found() -> tuple:
    fig = go.Figure()
    fig.update_layout(
        xaxis={"visible": False},
        yaxis={"visible": False},
        annotations=[{"text": NOT_FOUND, "showarrow": False, "xref": "paper", "yref": "paper"}],
    )
    return fig, NOT_FOUND, "", ""


def register(app: Dash) -> None:
    @app.callback(
        Output(f"{PREFIX}-graph", "figure"),
        Output("spectrum-head", "children"),
        Output("spectrum-results", "children"),
        Output("spectrum-warnings", "children"),
        Input("url", "search"),
    )
    def _show(search: Any) -> tuple:
        loaded = load(get_store(), current_account(), search)
        if loaded is None:
            return _not_found()
        spectrum = loaded.spectrum
        if spectrum is None:
            fig = go.Figure()
        else:
            peaks = ((loaded.results.get("central") or {}).get("peaks")) or []
            lines = nuclide_lines(
                found_nuclides(loaded.results),
                float(spectrum.energy.min()),
                float(spectrum.energy.max()),
            )
            fig = spectrum_figure(
                spectrum, loaded.curves, peaks, lines, title=loaded.row["file_name"]
            )
        return fig, _head(loaded), _results(loaded), _warnings(loaded)

    def _spectrum_csv(search: Any) -> ChartTable | None:
        loaded = load(get_store(), current_account(), search)
        if loaded is None or loaded.spectrum is None:
            return None
        return spectrum_table(loaded.spectrum, loaded.curves, loaded.row["file_name"])

    def _results_csv(search: Any) -> ChartTable | None:
        loaded = load(get_store(), current_account(), search, with_curves=False)
        if loaded is None:
            return None
        return results_table(result_rows(loaded.results), loaded.row["file_name"])

    @app.callback(
        Output("url", "search"), Input("spectrum-pick", "value"), prevent_initial_call=True
    )
    def _pick(value: Any) -> str:
        # the address only: the page's callback checks the id as any other
        return f"?file={value}" if isinstance(value, int) and value >= 0 else ""

    register_csv(app, PREFIX, [State("url", "search")], _spectrum_csv)
    register_csv(app, RESULTS, [State("url", "search")], _results_csv)
