"""The isotope ratio chart without a browser: only intervals with all four nuclides
detected, ratios and propagated uncertainties as computed here, colour by time or by a
release, the CSV equal to the points, the rule applied."""

from __future__ import annotations

import csv
import io
import math
from datetime import UTC, datetime, timedelta

import pytest

from central.accounts import authenticate, create_user
from central.releases import insert_rows, ratio_rows, release_series
from central.store import Store
from central.web.figures.ratios import Ratio, ratio, ratio_points, ratio_set
from central.web.pages import ratios as page
from shared.timeutil import iso_z

from .helpers import PASSWORD
from .test_releases_chart import array

START = datetime(2024, 5, 1, tzinfo=UTC)
NOW = datetime(2024, 6, 1, tzinfo=UTC)
VALUES = {"Xe-133": 8e9, "Xe-131m": 2e7, "Xe-133m": 6e7, "Xe-135": 1e9}
X = ("Xe-133m", "Xe-131m")
Y = ("Xe-135", "Xe-133")


def row(station, i, nuclide, method, value, detected=1):
    start = START + timedelta(minutes=15 * i)
    return (station, nuclide, method, int(start.timestamp()), f"{station}_{i}.PHD", 100 + i,
            iso_z(start), iso_z(start + timedelta(minutes=15)), value, 0.05 * value, 1e5,
            value / 1e4, value / 2e5, detected, 900.0)  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory, cheap_password_hashing):
    """Ten intervals of AUS02; in interval 3 Xe-131m is not detected, in 7 Xe-135 is
    missing: eight points. The central values grow with the interval."""
    with Store(tmp_path_factory.mktemp("ratios") / "central.sqlite") as store:
        store.ensure_facility("AUS02", publish_delay="7d")
        store.ensure_facility("BES01")
        rows = []
        for i in range(10):
            for nuclide, value in VALUES.items():
                if i == 7 and nuclide == "Xe-135":
                    continue
                detected = 0 if (i == 3 and nuclide == "Xe-131m") else 1
                for method, factor in (("central", 1 + i / 10), ("station", 1.0)):
                    rows.append(row("AUS02", i, nuclide, method, value * factor, detected))
        rows += [row("BES01", 0, n, "central", v) for n, v in VALUES.items()]
        with store.conn:
            insert_rows(store.conn, rows)
        create_user(store, "admin", PASSWORD, role="admin")
        create_user(store, "alice", PASSWORD, facilities=["AUS02"])
        yield store, authenticate(store, "admin", PASSWORD), authenticate(store, "alice", PASSWORD)


def inputs(method="central", colour="time"):
    return ("2024-05-01", "2024-05-01", *X, *Y, method, colour)


def test_only_intervals_with_all_four_detected_and_the_ratios_as_computed_here(world):
    store, admin, _ = world
    fig = page.figure(store, admin, NOW, "AUS02", *inputs())
    [trace] = fig["data"]
    x, y = array(trace["x"]), array(trace["y"])
    assert len(x) == 8  # 3 (a non-detect) and 7 (a nuclide missing) left out
    # every central value of an interval is scaled alike: the ratios are those of VALUES
    assert x == pytest.approx(VALUES["Xe-133m"] / VALUES["Xe-131m"])
    assert y == pytest.approx(VALUES["Xe-135"] / VALUES["Xe-133"])
    # 5 % on each of two: sqrt(2) * 5 % of the ratio
    assert array(trace["error_x"]["array"]) == pytest.approx(x * 0.05 * math.sqrt(2))
    assert fig["layout"]["xaxis"]["type"] == "log"
    assert "Xe-133m/Xe-131m" in fig["layout"]["xaxis"]["title"]["text"]
    colour = array(trace["marker"]["color"])
    assert colour[0] == 0 and colour[-1] == pytest.approx(9 * 15 / 1440)  # days


def test_colour_by_a_release_and_the_csv_equal_to_the_points(world):
    store, admin, _ = world
    fig = page.figure(store, admin, NOW, "AUS02", *inputs("central", "Xe-133"))
    colour = array(fig["data"][0]["marker"]["color"])
    assert colour[0] == pytest.approx(math.log10(8e9))
    table = page.csv_table(store, admin, NOW, "AUS02", *inputs("central", "Xe-133"))
    parsed = list(csv.DictReader(io.StringIO(table.csv())))
    assert len(parsed) == 8
    rows = {r["file_name"]: r for r in release_series(
        store, admin, NOW, "AUS02", START, START + timedelta(days=1), None, ["central"])
        if r["nuclide"] == "Xe-133"}  # fmt: skip
    for line in parsed:
        assert float(line["Xe-133 release central (Bq)"]) == rows[line["file"]]["release_bq"]
        assert float(line["Xe-133m/Xe-131m ratio central (1)"]) == pytest.approx(3.0)
        assert line["interval start (UTC)"] == rows[line["file"]]["start_time"]
    assert "Xe-135/Xe-133 ratio uncertainty central (1)" in table.columns


def test_the_rule_and_bad_choices(world):
    store, _, alice = world
    # AUS02 publishes after 7 days: a day later nothing is published yet
    early = page.figure(store, alice, START + timedelta(days=1), "AUS02", *inputs())
    assert len(array(early["data"][0]["x"])) == 0
    assert len(array(page.figure(store, alice, NOW, "AUS02", *inputs())["data"][0]["x"])) == 8
    assert page.csv_table(store, alice, NOW, "BES01", *inputs()) is None  # not alice's
    same = ("2024-05-01", "2024-05-01", "Xe-133", "Xe-133", *Y, "central", "time")
    assert page.csv_table(store, alice, NOW, "AUS02", *same) is None
    assert page.csv_table(store, alice, NOW, "AUS02", *inputs("autosaint")) is None


def test_ratio_propagation():
    r, u = ratio(10.0, 1.0, 2.0, 0.2)
    assert r == 5.0 and u == pytest.approx(5.0 * math.sqrt(0.01 + 0.01))
    rows = [{"start_s": 0, "file_name": "f", "nuclide": n, "detected": 1, "release_bq": v,
             "release_unc_bq": 0.0, "start_time": "t", "message_id": 1}
            for n, v in (("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 0.0))]  # fmt: skip
    assert len(ratio_points(rows, Ratio("a", "b"), Ratio("c", "d"))) == 0  # d is 0: no ratio
    rows[3] = {**rows[3], "release_bq": 4.0, "release_unc_bq": 0.4}
    [point] = ratio_points(rows, Ratio("a", "b"), Ratio("c", "d")).y
    assert point == 0.75


def test_the_pairing_in_sqlite_equals_the_pairing_here(world):
    store, admin, alice = world
    span = (START, START + timedelta(days=1))
    cases = [(Ratio(*X), Ratio(*Y), None), (Ratio("Xe-133m", "Xe-133"), Ratio("Xe-135", "Xe-133"), "Xe-131m")]  # fmt: skip
    for user in (admin, alice):
        for method in ("central", "station"):
            for x, y, colour in cases:
                rows = release_series(store, user, NOW, "AUS02", *span, None, [method])
                here = ratio_points(rows, x, y, colour)
                names = list(dict.fromkeys([*x.nuclides, *y.nuclides]))
                there = ratio_set(ratio_rows(store, user, NOW, "AUS02", *span, names, method, colour), x, y)  # fmt: skip
                assert len(there) == len(here) > 0
                assert there.file_name == here.file_name and there.start_time == here.start_time
                for field in (
                    "start_s",
                    "message_id",
                    "x",
                    "x_unc",
                    "y",
                    "y_unc",
                    "colour_release",
                ):
                    assert list(getattr(there, field)) == pytest.approx(list(getattr(here, field)), nan_ok=True)  # fmt: skip
    assert ratio_rows(store, alice, START, "AUS02", *span, names, "central") == []  # unpublished
