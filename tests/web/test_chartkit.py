"""The chart kit: the CSV of a chart holds exactly its numbers."""

from __future__ import annotations

import csv
import io

from central.web.chartkit import ChartTable, chart_block, graph_id


def test_csv_keeps_every_digit_and_leaves_missing_values_empty():
    table = ChartTable(
        ("Time", "Xe-133 release station (Bq)"),
        [("2024-05-01T00:00:00Z", 1.2345678901234567e9), ("2024-05-01T00:15:00Z", None)],
    )
    rows = list(csv.reader(io.StringIO(table.csv())))
    assert rows[0] == ["Time", "Xe-133 release station (Bq)"]
    assert float(rows[1][1]) == 1.2345678901234567e9
    assert rows[2][1] == ""
    assert list(csv.reader(io.StringIO(ChartTable(("x",), [(float("nan"),)]).csv())))[1] == [""]


def test_chart_block_names_its_graph_and_png_file():
    block = chart_block("releases", title="Releases AUS02")
    graphs = [c for c in _walk(block) if getattr(c, "id", None) == graph_id("releases")]
    assert len(graphs) == 1
    assert graphs[0].config["toImageButtonOptions"]["filename"] == "Releases_AUS02"
    assert graphs[0].config["displaylogo"] is False


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    if children is None:
        return
    if not isinstance(children, list | tuple):
        children = [children]
    for child in children:
        if hasattr(child, "children") or hasattr(child, "id"):
            yield from _walk(child)


def test_svg_up_to_a_few_thousand_points_webgl_above():
    from central.web.chartkit import SVG_POINTS, trace_type

    assert trace_type(SVG_POINTS) == "scatter" and trace_type(SVG_POINTS + 1) == "scattergl"
    assert trace_type(10 * SVG_POINTS, webgl=False) == "scatter"  # no CSP-safe WebGL bundle
    import numpy as np

    from central.web.figures.releases import Series, releases_figure

    def series(n, nuclide="Xe-133", method="central"):
        t = np.arange(n, dtype=np.int64) * 900
        ones = np.ones(n)
        return Series(nuclide, method, t, ones, ones, ones, ones == 1, ones * 900, np.arange(n))

    keys = [("Xe-133", "central"), ("Xe-133", "station"), ("Xe-135", "central")]
    small = releases_figure({k: series(100, *k) for k in keys})
    large = releases_figure({k: series(3000, *k) for k in keys})
    assert {t["type"] for t in small["data"]} == {"scatter"}
    assert {t["type"] for t in large["data"]} == {"scattergl"}  # 3 x 2000 drawn
