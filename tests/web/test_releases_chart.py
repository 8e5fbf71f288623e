"""The releases chart without a browser: the figure from the database rows, the CSV
equal to the rows, the integral over a selection equal to a sum done here, the peaks
kept by the downsampling, zooming at full resolution, the rule applied."""

from __future__ import annotations

import base64
import csv
import io
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from central.accounts import authenticate, create_user
from central.maintenance import add_annotation
from central.releases import TABLE, insert_rows
from central.store import StationResultRow, Store
from central.web.figures.releases import (
    POINTS,
    Series,
    integrals,
    keep,
    parse_time,
    releases_figure,
)
from central.web.pages import releases as page
from shared.timeutil import iso_z

from .helpers import PASSWORD

START = datetime(2024, 5, 1, tzinfo=UTC)
NOW = datetime(2024, 6, 1, tzinfo=UTC)
SPECTRA = 12


def array(value) -> np.ndarray:
    """A figure's array, whether a list or Plotly's base64 typed array."""
    if isinstance(value, dict) and "bdata" in value:
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        if "shape" in value:
            data = data.reshape([int(n) for n in str(value["shape"]).split(",")])
        return data
    return np.asarray(value, dtype=float)


def nuclide(release: float, detected: bool, mdr: float = 2e5) -> dict:
    return {
        "detected": detected,
        "release_bq": release,
        "release_unc_bq": 0.1 * abs(release),
        "mdr_bq": mdr,
        "activity_bq": release / 1e4,
        "activity_unc_bq": abs(release) / 1e5,
    }


def station_data(store: Store, station: str = "AUS02", n: int = SPECTRA) -> list[int]:
    """`n` spectra with both analyses: Xe-133 detected by both (the station 10 % higher,
    spectrum 5 far higher), Xe-135 detected in the even ones only."""
    ids = []
    results = []
    for i in range(n):
        start = START + timedelta(minutes=15 * i)
        name = f"{station}_{i}_PHD_{start:%Y_%m_%dT%H_%M_%S}.TXT"
        stored = store.add_message(
            file_name=name,
            station=station,
            data_type="SAMPLEPHD",
            product="PHD",
            msg_id=str(i),
            content=f"PHD {station} {i}".encode(),
            start_time=iso_z(start),
            summary={"acquisition": {"start": iso_z(start), "real_time": 900.0}},
        )
        phd = int(stored.message_id)
        ids.append(phd)
        central = {"Xe-133": nuclide(1e6 * (i + 1), True),
                   "Xe-135": nuclide(3e5 if i % 2 == 0 else 1e4, i % 2 == 0)}  # fmt: skip
        own = {"Xe-133": nuclide(1.1e6 * (i + 1) * (8 if i == 5 else 1), True),
               "Xe-135": nuclide(3.3e5 if i % 2 == 0 else -2e4, i % 2 == 0)}  # fmt: skip
        base = {"acquisition_start": iso_z(start), "real_time_s": 900.0, "interval_s": 900.0}
        store.add_analysis(phd, "central", result={**base, "nuclides": central})
        results.append(StationResultRow(name, "SM", iso_z(start), "t", {**base, "nuclides": own}))
    store.add_message(
        file_name=f"{station}_ATS_2024_05_01T00_00_00.TXT",
        station=station,
        data_type="ATS",
        product="ATS",
        msg_id="ATS1",
        content=f"ATS {station}".encode(),
        start_time="2024-05-01T00:00:00.000Z",
        summary={},
        station_results=results,
    )
    return ids


def flag(store: Store, phd: int, nuclide_: str, z: float) -> None:
    with store.conn:
        store.conn.execute(
            "insert into comparison_runs (message_id, station_result_id, central_analysis_id, "
            "created_at, nuclides, flagged) values (?, 1, 1, 't', 1, 1)",
            [phd],
        )
        store.conn.execute(
            "insert into comparisons (message_id, nuclide, quantity, z, flagged, reason) "
            "values (?, ?, 'release', ?, 1, 'both detect: |z| > 3')",
            [phd, nuclide_, z],
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory, cheap_password_hashing):
    """Made once for the module: the tests here only read it."""
    with Store(tmp_path_factory.mktemp("releases") / "central.sqlite") as store:
        store.ensure_facility("AUS02", publish_delay="1d")
        store.ensure_facility("BES01")
        ids = station_data(store)
        station_data(store, "BES01", 3)
        flag(store, ids[5], "Xe-133", 7.5)
        create_user(store, "admin", PASSWORD, role="admin")
        create_user(store, "alice", PASSWORD, facilities=["AUS02"])
        admin = authenticate(store, "admin", PASSWORD)
        add_annotation(store, admin, NOW, station="AUS02", name="Filter change",
                       start=START + timedelta(hours=1), end=START + timedelta(hours=2))  # fmt: skip
        yield store, ids, admin, authenticate(store, "alice", PASSWORD)


def traces(fig, kind: str) -> dict[str, dict]:
    return {t["name"]: t for t in fig["data"] if t.get("meta", {}).get("kind") == kind}


def test_the_figure_shows_both_methods_detects_non_detects_mdr_differences_and_maintenance(
    world,
):
    store, ids, admin, _ = world
    fig = page.figure(store, admin, NOW, "AUS02", "2024-05-01", "2024-05-01",
                      None, "Bq", ["mdr", "differences", "maintenance"], None, "x")  # fmt: skip
    detected = traces(fig, "detected")
    assert set(detected) == {"Xe-133 station", "Xe-133 central", "Xe-135 station",
                             "Xe-135 central"}  # fmt: skip
    # a day of four series: few points, SVG (no WebGL context to make on the page)
    assert all(t["type"] == "scatter" for t in fig["data"] if t["meta"]["kind"] != "differences")
    rows = list(store.db.query(
        f"select * from {TABLE} where station = 'AUS02' and nuclide = 'Xe-135' "
        "and method = 'station' order by start_s"))  # fmt: skip
    xe135 = detected["Xe-135 station"]
    assert list(array(xe135["x"])) == [r["start_s"] * 1000.0 for r in rows]
    y = array(xe135["y"])
    hollow = array(traces(fig, "not detected")["Xe-135 station not detected (at MDR)"]["y"])
    for r, filled, open_ in zip(rows, y, hollow, strict=True):
        if r["detected"]:
            assert filled == r["release_bq"] and math.isnan(open_)
        else:  # a non-detect: no filled marker (its value is even negative), hollow at MDR
            assert math.isnan(filled) and open_ == r["mdr_bq"]
    assert list(array(xe135["customdata"])[:, 0]) == [r["message_id"] for r in rows]
    assert set(traces(fig, "MDR")) == {f"{n} MDR" for n in detected}
    [diff] = traces(fig, "differences").values()
    spectrum5 = store.message(ids[5])
    x5 = parse_time(spectrum5["start_time"]).timestamp() * 1000
    assert diff["x"] == [x5, x5, None] and "z = +7.5" in diff["text"][0]
    [shape] = fig["layout"]["shapes"]
    assert (shape["x0"], shape["x1"]) == ("2024-05-01 01:00:00", "2024-05-01 02:00:00")
    assert fig["layout"]["annotations"][0]["text"] == "Filter change"
    assert fig["layout"]["yaxis"]["fixedrange"] is True  # zoom in x only
    assert fig["layout"]["dragmode"] == "zoom"


def test_bq_per_hour_is_four_times_bq_per_quarter_hour(world):
    store, _, admin, _ = world
    args = (store, admin, NOW, "AUS02", "2024-05-01", "2024-05-01", ["Xe-133"])
    per_interval = page.figure(*args, "Bq", [], None, "xy")
    per_hour = page.figure(*args, "Bq/h", [], None, "xy")
    a = array(traces(per_interval, "detected")["Xe-133 central"]["y"])
    b = array(traces(per_hour, "detected")["Xe-133 central"]["y"])
    assert np.allclose(b, 4 * a) and len(a) == SPECTRA
    assert "Bq/h" in per_hour["layout"]["yaxis"]["title"]["text"]


def test_the_csv_is_the_database_rows_of_the_visible_span(world):
    store, _, admin, _ = world
    zoom = {"xaxis.range[0]": "2024-05-01 00:30:00", "xaxis.range[1]": "2024-05-01 02:00:00"}
    table = page.csv_table(store, admin, NOW, "AUS02", "2024-05-01", "2024-05-01",
                           ["Xe-133", "Xe-135"], "Bq/h", zoom)  # fmt: skip
    parsed = list(csv.DictReader(io.StringIO(table.csv())))
    rows = list(store.db.query(
        f"select * from {TABLE} where station = 'AUS02' and start_time >= ? and start_time < ? "
        "order by start_s", ["2024-05-01T00:30", "2024-05-01T02:00"]))  # fmt: skip
    assert len(parsed) == 6 and {r["file"] for r in parsed} == {r["file_name"] for r in rows}
    assert "Xe-133 release station (Bq/h)" in table.columns
    assert "Xe-135 MDR central (Bq/h)" in table.columns
    by_file = {r["file"]: r for r in parsed}
    for r in rows:
        line = by_file[r["file_name"]]
        label = f"{r['nuclide']} %s {r['method']} (Bq/h)"
        assert float(line[label % "release"]) == r["release_bq"] * 4
        assert float(line[label % "release uncertainty"]) == r["release_unc_bq"] * 4
        assert float(line[label % "MDR"]) == r["mdr_bq"] * 4
        assert line[f"{r['nuclide']} detected {r['method']} (1/0)"] == str(r["detected"])
        assert line["interval start (UTC)"] == r["start_time"]


def test_the_integral_over_a_selection_is_the_sum_of_its_detected_releases(world):
    store, _, admin, _ = world
    selected = {"range": {"x": ["2024-05-01 00:45:00", "2024-05-01 02:15:00"]}}
    (start, end), rows = page.integral_rows(
        store, admin, NOW, "AUS02", "2024-05-01", "2024-05-01", None, selected, None
    )
    assert (start, end) == (START + timedelta(minutes=45), START + timedelta(minutes=135))
    got = {(r[0], r[1]): r for r in rows}
    db = list(store.db.query(
        f"select * from {TABLE} where station = 'AUS02' and start_time >= ? and start_time < ?",
        [iso_z(start), iso_z(end)]))  # fmt: skip
    for (nuclide_, method), r in got.items():
        mine = [x for x in db if x["nuclide"] == nuclide_ and x["method"] == method]
        found = [x for x in mine if x["detected"]]
        assert r[2] == len(mine) == 6 and r[3] == len(found)
        assert r[4] == pytest.approx(sum(x["release_bq"] for x in found), rel=1e-12)
        assert r[5] == pytest.approx(
            math.sqrt(sum(x["release_unc_bq"] ** 2 for x in found)), rel=1e-12
        )
        missed = sum(x["mdr_bq"] for x in mine if not x["detected"])
        assert r[6] == pytest.approx(r[4] + missed, rel=1e-12)
    assert got[("Xe-135", "station")][3] == 3  # spectra 4, 6, 8 of 3..8
    view = page.integral_view(((start, end), rows))
    assert "Integral" in str(view)
    assert page.integral_table(rows, "x.csv").csv().count("\n") == 5


def test_a_user_sees_the_published_releases_only_and_no_foreign_station(world):
    store, _, _, alice = world
    # a day after the 4th spectrum's end: 4 spectra of AUS02 are published
    moment = START + timedelta(days=1, minutes=60)
    fig = page.figure(store, alice, moment, "AUS02", "2024-05-01", "2024-05-01",
                      None, "Bq", ["mdr", "differences", "maintenance"], None, "x")  # fmt: skip
    for t in traces(fig, "detected").values():
        assert len(array(t["x"])) == 4
    assert traces(fig, "differences") == {}  # spectrum 5 is not published yet
    foreign = page.figure(store, alice, moment, "BES01", "2024-05-01", "2024-05-01",
                          None, "Bq", [], None, "x")  # fmt: skip
    assert foreign["data"] == []
    assert page.csv_table(store, alice, moment, "BES01", "2024-05-01", "2024-05-01",
                          None, "Bq", None) is None  # fmt: skip
    hidden = store.message(page.release_series(store, alice, NOW, "AUS02", START, NOW)[-1]
                           ["message_id"])  # fmt: skip
    click = {"points": [{"customdata": [hidden["id"], 0]}]}
    assert page.point_links(store, alice, moment, click) == []
    assert page.point_links(store, alice, NOW, click) != []


def test_a_click_offers_the_spectrum_and_the_day_s_ats(world):
    store, ids, admin, _ = world
    links = page.point_links(store, admin, NOW, {"points": [{"customdata": [ids[3], 1.0]}]})
    hrefs = [getattr(link, "href", None) for link in links]
    ats = store.db.execute("select id from messages where product = 'ATS' and station = 'AUS02'")
    assert f"/charts/spectrum?file={ids[3]}" in hrefs
    assert f"/download?ids={ats.fetchone()[0]}" in hrefs
    assert page.point_links(store, admin, NOW, {"points": [{"customdata": ["x"]}]}) == []


def test_zooming_re_queries_the_visible_span_at_full_resolution():
    n = 35040
    t = START.timestamp() + 900 * np.arange(n)
    release = np.full(n, 1e6)
    release[12345] = 5e9  # one peak in a year
    s = Series("Xe-133", "central", t.astype(np.int64), release, release * 0.1,
               np.full(n, 1e5), np.ones(n, bool), np.full(n, 900.0), np.arange(n))  # fmt: skip
    fig = releases_figure({("Xe-133", "central"): s})
    y = array(traces(fig, "detected")["Xe-133 central"]["y"])
    assert len(y) == POINTS and y.max() == 5e9  # the peak is kept
    index = keep(s.t, s.release)
    assert index[0] == 0 and index[-1] == n - 1  # and the ends
    day = s.window(t[12300], t[12300] + 86400)
    fig = releases_figure({("Xe-133", "central"): day})
    assert len(array(traces(fig, "detected")["Xe-133 central"]["y"])) == 96
    assert integrals({("Xe-133", "central"): s}, t[0], t[-1] + 1)[0][4] == pytest.approx(
        release.sum()
    )


def test_a_long_span_is_drawn_from_the_overview_with_its_peak(tmp_path):
    """60 days (more than FULL_INTERVALS): the overview, each 4-hour bucket's highest and
    lowest; zoomed to a day: every interval."""
    n = 60 * 96
    with Store(tmp_path / "c.sqlite") as store:
        store.ensure_facility("AUS02")
        create_user(store, "admin", PASSWORD, role="admin")
        admin = authenticate(store, "admin", PASSWORD)
        rows = []
        for i in range(n):
            t = START + timedelta(minutes=15 * i)
            value = 7e9 if i == 3001 else 1e6 + i
            rows.append(("AUS02", "Xe-133", "central", int(t.timestamp()), f"f{i}", i, iso_z(t),
                         iso_z(t + timedelta(minutes=15)), value, 0.1 * value, 1e4, 1.0, 0.1,
                         1, 900.0))  # fmt: skip
        with store.conn:
            insert_rows(store.conn, rows)
        fig = page.figure(store, admin, NOW, "AUS02", "2024-05-01", "2024-06-29", None, "Bq",
                          [], None, "x")  # fmt: skip
        y = array(traces(fig, "detected")["Xe-133 central"]["y"])
        assert len(y) == 2 * 60 * 6 and y.max() == 7e9 and y.min() == 1e6
        zoom = {"xaxis.range[0]": "2024-05-20 00:00:00", "xaxis.range[1]": "2024-05-21"}
        fig = page.figure(store, admin, NOW, "AUS02", "2024-05-01", "2024-06-29", None, "Bq",
                          [], zoom, "x")  # fmt: skip
        assert len(array(traces(fig, "detected")["Xe-133 central"]["y"])) == 96


def test_the_visible_span_and_the_selection_from_what_plotly_sends():
    span = (START, START + timedelta(days=7))
    assert page.visible_range(None, span) == span
    assert page.visible_range({"xaxis.autorange": True}, span) == span
    zoom = {"xaxis.range[0]": "2024-05-02 06:30:00.5", "xaxis.range[1]": "2024-05-03"}
    assert page.visible_range(zoom, span) == (
        datetime(2024, 5, 2, 6, 30, 0, 500000, tzinfo=UTC),
        datetime(2024, 5, 3, tzinfo=UTC),
    )
    assert page.visible_range({"xaxis.range": ["2020-01-01", "2030-01-01"]}, span) == span
    assert page.visible_range({"xaxis.range[0]": "nonsense"}, span) == span
    # an old zoom outside a new span (forgetZoom resets it; until then): the span
    assert page.visible_range({"xaxis.range": ["2020-01-01", "2020-01-02"]}, span) == span
    assert page.selected_range({"range": {"x": ["2024-05-03", "2024-05-02"]}}) == (
        datetime(2024, 5, 2, tzinfo=UTC),
        datetime(2024, 5, 3, tzinfo=UTC),
    )
    assert page.selected_range({"points": []}) is None
    assert page.day_span("2024-05-02", "2024-05-01") is None
    assert page.day_span("2024-05-01", "2024-05-01") == (START, START + timedelta(days=1))


def test_bulk_rows_without_spectra_are_charted_like_stored_ones(tmp_path):
    """What the benchmark does: release rows inserted directly."""
    with Store(tmp_path / "c.sqlite") as store:
        store.ensure_facility("AUS02")
        create_user(store, "admin", PASSWORD, role="admin")
        admin = authenticate(store, "admin", PASSWORD)
        with store.conn:
            insert_rows(store.conn, [
                ("AUS02", "Xe-133", "central", int(START.timestamp()) + 900 * i, f"f{i}", i,
                 iso_z(START + timedelta(minutes=15 * i)),
                 iso_z(START + timedelta(minutes=15 * i + 15)), 1e6, 1e5, 1e4, 1.0, 0.1, 1, 900.0)
                for i in range(10)
            ])  # fmt: skip
        fig = page.figure(store, admin, NOW, "AUS02", "2024-05-01", "2024-05-01", None, "Bq",
                          [], None, "pan")  # fmt: skip
        assert len(array(traces(fig, "detected")["Xe-133 central"]["y"])) == 10
        assert fig["layout"]["dragmode"] == "pan"
        assert page.default_span(store, admin, NOW, "AUS02") == ("2024-04-25", "2024-05-01")


def test_a_figure_of_many_series_shares_its_points_and_keeps_each_peak():
    from central.web.figures.releases import FIGURE_POINTS

    n = 35040
    t = (START.timestamp() + 900 * np.arange(n)).astype(np.int64)
    names = [f"Xe-{k}" for k in range(9)]
    series = {}
    for k, name in enumerate(names):
        for method in ("station", "central"):
            release = np.full(n, 1e6)
            release[1000 * (k + 1)] = 5e9  # a peak of its own
            series[(name, method)] = Series(name, method, t, release, release * 0.1,
                                            np.full(n, 1e5), np.ones(n, bool),
                                            np.full(n, 900.0), np.arange(n))  # fmt: skip
    fig = releases_figure(series)
    for name, trace in traces(fig, "detected").items():
        y = array(trace["y"])
        assert len(y) == FIGURE_POINTS // 18 and y.max() == 5e9, name
    day = {k: s.window(t[500], t[500] + 86400) for k, s in series.items()}
    for trace in traces(releases_figure(day), "detected").values():
        assert len(array(trace["y"])) == 96  # zoomed in: every interval
