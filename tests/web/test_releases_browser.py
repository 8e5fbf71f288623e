"""The chart pages in headless Chromium as an administrator, an owner and a user: each
sees the stations it may and only those, a week of releases draws in WebGL under the
server's Content-Security-Policy without a script error, the charts of a few thousand
points in SVG, the integral table fills."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dash.testing.wait import until

from central.releases import insert_rows
from central.store import Store
from shared.timeutil import iso_z

from .test_browser import log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning"),
]

START = datetime(2024, 5, 1, tzinfo=UTC)
NUCLIDES = ("Xe-133", "Xe-131m", "Xe-133m", "Xe-135")


def seed_releases(path, stations=("AUS02", "BES01"), intervals: int = 96) -> None:
    """A day of releases of four nuclides and both methods per station, every nuclide
    detected (so that the ratios have points), spectra not stored (as the benchmark)."""
    rows = []
    for k, station in enumerate(stations):
        for i in range(intervals):
            start = START + timedelta(minutes=15 * i)
            for j, nuclide in enumerate(NUCLIDES):
                for method, factor in (("station", 1.05), ("central", 1.0)):
                    value = factor * (1e6 + 1e5 * i) / (j + 1) * (k + 1)
                    rows.append((station, nuclide, method, int(start.timestamp()),
                                 f"{station}_{i}.PHD", None, iso_z(start),
                                 iso_z(start + timedelta(minutes=15)), value, 0.1 * value, 1e4,
                                 value / 1e4, value / 1e5, 1, 900.0))  # fmt: skip
    with Store(path) as store, store.conn:
        insert_rows(store.conn, rows)


# Content-Security-Policy refusals, from the first script on (a refused eval is no
# console error: plotly.js just says "WebGL is not supported" and draws nothing)
WATCH_CSP = (
    "window.__cspRefusals = [];"
    "document.addEventListener('securitypolicyviolation', function (e) {"
    "  window.__cspRefusals.push(e.violatedDirective + ' ' + e.sourceFile); });"
)


def open_chart(dash_duo, app, config, username: str, path: str) -> None:
    """Log in and follow the navigation's link to `path`; a week of releases stored (the
    releases chart's default span: 8 series x 672 points, above chartkit.SVG_POINTS)."""
    seed_releases(config.storage.database_path, intervals=7 * 96)
    dash_duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_CSP})
    log_in(dash_duo, app, username)
    dash_duo.find_element(f'.nav-link[href="{path}"]').click()


def csp_refusals(dash_duo) -> list[str]:
    return dash_duo.driver.execute_script("return window.__cspRefusals")


def drawn_in_webgl(dash_duo, graph: str) -> bool:
    """Whether Plotly drew the chart's points with WebGL (its regl scatter exists)."""
    return dash_duo.driver.execute_script(
        "const p = document.querySelector(arguments[0] + ' .js-plotly-plot');"
        "const scene = p && p._fullLayout._plots.xy._scene;"
        "return !!(scene && scene.scatter2d);",
        graph,
    )


def drawn_in_svg(dash_duo, graph: str) -> bool:
    """Whether Plotly drew the chart's points as SVG (scatter traces with points)."""
    return dash_duo.driver.execute_script(
        "return document.querySelectorAll(arguments[0] + ' .scatterlayer .trace path').length > 0;",
        graph,
    )


def station_options(dash_duo, selector: str) -> list[str]:
    dash_duo.find_element(selector).click()
    texts = [o.text for o in dash_duo.find_elements(".dash-dropdown-option")]
    dash_duo.find_element("h1").click()
    return texts


@pytest.mark.parametrize(
    ("username", "stations"),
    [("admin", ["AUS02", "BES01"]), ("owen", ["BES01"]), ("alice", ["AUS02"])],
)
def test_the_chart_pages_draw_for_each_role(dash_duo, app, config, username, stations):
    """Releases, then isotope ratios, then trends, as `username`: the stations offered
    are the role's own, the week of releases draws with WebGL, the ratios (672 points)
    and the trends (a week of days) in SVG, no CSP refusal."""
    open_chart(dash_duo, app, config, username, "/charts/releases")
    dash_duo.wait_for_element("#releases-graph .gl-container canvas", timeout=20)
    dash_duo.wait_for_contains_text("#releases-integral", "Integral", timeout=20)
    assert station_options(dash_duo, "#releases-station") == stations
    cells = dash_duo.find_elements("#releases-integral td.nuclide")
    assert {c.text for c in cells} == set(NUCLIDES)
    assert dash_duo.find_element("#releases-graph .gtitle").text.startswith(stations[0])
    assert drawn_in_webgl(dash_duo, "#releases-graph")

    dash_duo.find_element('.nav-link[href="/charts/ratios"]').click()
    dash_duo.wait_for_contains_text("#ratios-graph .gtitle", "Xe-135/Xe-133", timeout=20)
    assert station_options(dash_duo, "#ratios-station") == stations
    assert drawn_in_svg(dash_duo, "#ratios-graph") and not drawn_in_webgl(dash_duo, "#ratios-graph")

    dash_duo.find_element('.nav-link[href="/charts/trends"]').click()
    dash_duo.wait_for_contains_text("#trends-graph .gtitle", "all my stations", timeout=20)
    assert station_options(dash_duo, "#trends-station") == ["All my stations", *stations]
    assert drawn_in_svg(dash_duo, "#trends-graph") and not drawn_in_webgl(dash_duo, "#trends-graph")
    assert csp_refusals(dash_duo) == []
    assert dash_duo.get_logs() == []  # no script error


def integral_hint(dash_duo) -> str:
    """The integral's span as the page shows it now (read in one script: no stale element
    while the callback redraws it)."""
    text = dash_duo.driver.execute_script(
        "const e = document.querySelector('#releases-integral .hint');"
        "return e ? e.textContent : '';"
    )
    return text.split(" UTC.")[0]


def test_a_new_unit_forgets_the_old_zoom(dash_duo, app, config):
    """Zoomed in, the integral covers the zoomed hours; a new choice of unit (as a new
    station, span or nuclides) resets the zoom, and the integral (and the CSV, which read
    the same relayoutData) covers the whole span again."""
    open_chart(dash_duo, app, config, "admin", "/charts/releases")
    dash_duo.wait_for_element("#releases-integral .hint", timeout=20)
    # the page settled first: the week drawn and no callback pending, or the station's
    # nuclides and span, arriving after the zoom, reset it (forgetZoom) as a user's would
    dash_duo.wait_for_element("#releases-graph .gl-container canvas", timeout=20)
    until(dash_duo._wait_for_callbacks, timeout=30)
    whole = integral_hint(dash_duo)
    dash_duo.driver.execute_script(
        "const plot = document.querySelector('#releases-graph .js-plotly-plot');"
        "const [a, b] = plot.layout.xaxis.range.map(t => new Date(t).getTime());"
        "const iso = t => new Date(t).toISOString().slice(0, 19).replace('T', ' ');"
        "window.Plotly.relayout(plot, {'xaxis.range': [iso(a + (b - a) / 4), iso(a + (b - a) / 2)]});"
    )
    until(lambda: integral_hint(dash_duo) != whole, timeout=20)
    zoomed = integral_hint(dash_duo)
    dash_duo.find_element("#releases-unit input[value='Bq/h']").click()
    until(lambda: integral_hint(dash_duo) == whole, timeout=20)
    assert zoomed != whole
    assert dash_duo.get_logs() == []
