"""What every chart of the web UI shares: the graph with its toolbar (zoom modes, pan, PNG),
a CSV button that downloads exactly the data plotted, and "save all charts".

A chart page builds its figure with a plain function of query results (testable without a
browser) and, beside it, a `ChartTable`: the same numbers as rows, with columns named by
quantity, method and unit (`Xe-133 release station (Bq)`). The CSV is made from that table,
never from what the browser sends back.

Usage in a page module:

    chart_block("releases")                  # the layout: graph, CSV button, download
    register_csv(app, "releases", inputs, build)  # build(*values) -> ChartTable or None

The PNG comes from Plotly's own "download plot" button (`toImageButtonOptions`), made in
the browser at the size shown; `save_all_button()` downloads every chart of the page.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html

# Plotly's mode bar: PNG, zoom (xy), zoom in x only / y only via drag on the axes,
# pan, box select (for integrals), autoscale and reset; no Plotly logo or cloud links.
GRAPH_CONFIG = {
    "displaylogo": False,
    "scrollZoom": True,
    "modeBarButtonsToRemove": ["lasso2d"],
    "toImageButtonOptions": {"format": "png", "scale": 2},
}


# Up to this many points in a figure, SVG traces (`scatter`): drawn at once, with no WebGL
# context to make and no shaders to compile (seconds on a browser without a GPU, on the
# first chart of a page); above it WebGL (`scattergl`), which draws any number quickly.
SVG_POINTS = 5000


def trace_type(points: int, webgl: bool = True) -> str:
    """The Plotly trace type for a figure of `points` points in all: `scatter` up to
    SVG_POINTS (or without the CSP-safe WebGL bundle, `webgl` False), else `scattergl`."""
    return "scattergl" if webgl and points > SVG_POINTS else "scatter"


@dataclass(frozen=True)
class ChartTable:
    """The numbers a chart shows, as a CSV would hold them."""

    columns: tuple[str, ...]
    rows: list[Sequence[Any]] = field(default_factory=list)
    file_name: str = "chart.csv"

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow([_cell(v) for v in row])
        return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return repr(value)  # every digit: the CSV must match the database
    return str(value)


def graph_id(prefix: str) -> str:
    return f"{prefix}-graph"


def chart_block(prefix: str, *, title: str = "", height: str = "480px") -> html.Div:
    """A chart with its CSV button; the figure is filled by the page's callback into
    `graph_id(prefix)`. `title` names the PNG file."""
    config = dict(GRAPH_CONFIG)
    config["toImageButtonOptions"] = {
        **GRAPH_CONFIG["toImageButtonOptions"],
        "filename": (title or prefix).replace(" ", "_"),
    }
    return html.Div(
        [
            html.Div(
                [
                    html.Button("CSV", id=f"{prefix}-csv-button", n_clicks=0, className="button"),
                    dcc.Download(id=f"{prefix}-csv"),
                ],
                className="chart-tools",
            ),
            dcc.Loading(
                dcc.Graph(
                    id=graph_id(prefix),
                    config=config,
                    style={"height": height},
                    className="chart",
                ),
                type="circle",
            ),
        ],
        className="chart-block",
        id=f"{prefix}-block",
    )


def register_csv(
    app: Dash,
    prefix: str,
    inputs: Iterable[State],
    build: Callable[..., ChartTable | None],
) -> None:
    """The CSV button of `prefix`: on click, `build(*values)` with the chart's current
    inputs (as States) makes the table on the server, under the access rule like the
    figure itself."""

    @app.callback(
        Output(f"{prefix}-csv", "data"),
        Input(f"{prefix}-csv-button", "n_clicks"),
        *inputs,
        prevent_initial_call=True,
    )
    def _csv(n_clicks: int | None, *values: Any) -> dict | None:
        if not n_clicks:
            return None
        table = build(*values)
        if table is None:
            return None
        return {"content": table.csv(), "filename": table.file_name, "type": "text/csv"}

    _csv.__name__ = f"_csv_{prefix.replace('-', '_')}"


def save_all_button(prefix: str) -> html.Div:
    """A button that downloads a PNG of every chart on the page (assets/charts.js)."""
    return html.Div(
        [
            html.Button("Save all charts", id=f"{prefix}-save-all", n_clicks=0, className="button"),
            html.Span(id=f"{prefix}-save-all-done", className="hint"),
        ],
        className="chart-tools",
    )


def register_save_all(app: Dash, prefix: str) -> None:
    app.clientside_callback(
        ClientsideFunction(namespace="stax", function_name="saveAllCharts"),
        Output(f"{prefix}-save-all-done", "children"),
        Input(f"{prefix}-save-all", "n_clicks"),
        prevent_initial_call=True,
    )
