"""The Impact page: its figures and tables from plain values, and the page in Chromium for
an administrator and a user (each sees the emitters of their own facilities only)."""

from __future__ import annotations

import contextlib
import csv
import io
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.support.ui import WebDriverWait

from central.impact_view import ImpactRequest, ImpactView
from central.web.figures.impact import (
    emitters_figure,
    emitters_table,
    nuclide_label,
    total_figure,
    total_table,
)
from shared.atm.impact import SampleImpact, total_impact
from shared.atm.ims_results import MeasuredConcentration
from shared.atm.ims_stations import ImsStation

from . import leaks_impact
from .test_browser import PASSWORD

A, B = datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 5, 2, tzinfo=UTC)
STATION = ImsStation("TST01", "Test", 47.9, 7.9, "SPALAX", 24, 0, "test")


def _impact(emitter: str, c: float, gap_s: float = 0.0) -> SampleImpact:
    return SampleImpact(
        "f.txt", "TST01", A, B, emitter, "XE-133", True, c, 2 * c, 5.0, 86400.0, gap_s, 0.0, 0.0
    )


def _view() -> ImpactView:
    request = ImpactRequest("TST01", A, B, ("XE-133",))
    impacts = [_impact("AUS02", 1e-3), _impact("BES01", 2e-4, gap_s=43200.0)]
    return ImpactView(
        STATION, request, impacts, total_impact(impacts), emitter_codes=["AUS02", "BES01"]
    )


def test_nuclide_labels_are_written_as_the_charts_do():
    assert nuclide_label("XE-131M") == "Xe-131m"
    assert nuclide_label("XE-133") == "Xe-133"


def test_the_total_csv_holds_the_sum_of_the_emitters_and_the_measured_value_beside_it():
    measured = [MeasuredConcentration(A, B, "XE-133", 1.5e-3, 2e-4)]
    table = total_table(_view(), measured)
    rows = list(csv.DictReader(io.StringIO(table.csv())))
    assert len(rows) == 1
    assert float(rows[0]["Total impact central analysis (Bq/m3)"]) == 1e-3 + 2e-4
    assert float(rows[0]["Measured concentration (Bq/m3)"]) == 1.5e-3
    assert float(rows[0]["Largest share of the window without data"]) == 0.5


def test_the_charts_draw_in_mbq_per_m3_and_stack_the_emitters():
    fig = total_figure(_view(), [MeasuredConcentration(A, B, "XE-133", 1.5e-3, 2e-4)])
    impact = next(t for t in fig.data if t.name == "Xe-133 impact")
    assert max(v for v in impact.y if v is not None) == pytest.approx(1.2)
    measured = next(t for t in fig.data if "measured" in t.name)
    assert list(measured.y) == [1.5]
    stacked = emitters_figure(_view())
    assert stacked.layout.barmode == "stack"
    assert [t.name for t in stacked.data] == ["AUS02", "BES01"]
    rows = list(csv.DictReader(io.StringIO(emitters_table(_view()).csv())))
    assert [float(r["Impact central analysis (Bq/m3)"]) for r in rows] == [1e-3, 2e-4]


def test_an_empty_view_says_so_instead_of_drawing_nothing():
    empty = ImpactView(STATION, ImpactRequest("TST01", A, B, ("XE-133",)))
    fig = total_figure(empty)
    assert "Nothing to show" in fig.layout.annotations[0].text


# ------------------------------------------------------------------ in Chromium


def _prepare(app, clock):
    clock.now = datetime(2024, 5, 3, tzinfo=UTC).timestamp()
    world = SimpleNamespace(client=app.server.test_client())
    leaks_impact.give_releases(world)
    from central.store import Store

    with Store(app.server.config["STAX_DATABASE"]) as store, store.conn:
        store.conn.execute("delete from ims_stations where code != 'TST01'")


def _open_impact(dash_duo, app, username: str) -> None:
    from .helpers import free_port

    dash_duo.start_server(app, navigate=False, port=free_port())
    dash_duo.driver.get(dash_duo.server.url + "/impact")
    dash_duo.wait_for_element("#login-form")
    dash_duo.find_element("#username").send_keys(username)
    dash_duo.find_element("#password").send_keys(PASSWORD)
    dash_duo.find_element("#login-button").click()
    _wait_text(dash_duo, "#impact-notes", "TST01 Test")


def _wait_text(dash_duo, selector: str, text: str) -> None:
    """Until the element's text holds `text` (read in the page: the notes are drawn anew
    while the charts load, which makes a held element stale)."""
    script = f"const e = document.querySelector({selector!r}); return e ? e.innerText : ''"
    WebDriverWait(dash_duo.driver, 60).until(lambda d: text in d.execute_script(script))


def _legend(dash_duo, graph: str, expected: list[str] | None = None) -> list[str]:
    """The names of the chart's traces once it is drawn (and shows `expected`, if given)."""
    script = (
        f"const g = document.querySelector('#{graph} .js-plotly-plot');"
        "return g && g.data ? g.data.map(t => t.name) : null"
    )
    names = None

    def drawn(driver) -> bool:
        nonlocal names
        names = driver.execute_script(script)
        return names is not None and (expected is None or names == expected)

    with contextlib.suppress(TimeoutException):  # the caller's assertion shows what was drawn
        WebDriverWait(dash_duo.driver, 60).until(drawn)
    return names or []


@pytest.mark.browser
@pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning")
def test_an_administrator_sees_every_emitter_and_the_atm_upload(dash_duo, app, clock):
    _prepare(app, clock)
    _open_impact(dash_duo, app, "admin")
    _wait_text(dash_duo, "#impact-notes", "1 sample results")
    assert "Xe-133 impact" in _legend(dash_duo, "impact-total-graph")
    assert _legend(dash_duo, "impact-emitters-graph", ["AUS02", "BES01"]) == ["AUS02", "BES01"]
    assert dash_duo.find_element("#impact-atm-upload").is_displayed()
    assert dash_duo.get_logs() == []


@pytest.mark.browser
@pytest.mark.filterwarnings("ignore:HTTPResponse.getheader:DeprecationWarning")
def test_a_user_sees_only_the_emitters_of_the_assigned_facility(dash_duo, app, clock):
    _prepare(app, clock)
    _open_impact(dash_duo, app, "alice")
    _wait_text(dash_duo, "#impact-notes", "1 sample results")
    assert _legend(dash_duo, "impact-emitters-graph", ["AUS02"]) == ["AUS02"]
    assert not dash_duo.find_element("#impact-atm-upload").is_displayed()
    assert dash_duo.get_logs() == []
