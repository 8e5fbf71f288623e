"""The long-term trends chart without a browser: daily cumulative releases of both
analyses equal to sums done here, one station or all visible ones, the CSV equal to
them, the rule applied."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from central.accounts import authenticate, create_user
from central.releases import insert_rows
from central.store import Store
from central.web.pages import trends as page
from shared.timeutil import iso_z

from .helpers import PASSWORD
from .test_releases_chart import array

START = datetime(2024, 5, 1, tzinfo=UTC)
NOW = datetime(2024, 6, 1, tzinfo=UTC)
NUCLIDES = ("Xe-133", "Xe-131m", "Xe-133m", "Xe-135")


def rows_of(station: str, scale: float) -> list[tuple]:
    """Three days of 96 intervals; every fourth interval a non-detect."""
    out = []
    for i in range(3 * 96):
        start = START + timedelta(minutes=15 * i)
        for k, nuclide in enumerate(NUCLIDES):
            for method, factor in (("station", 1.1), ("central", 1.0)):
                value = scale * factor * (1 + i) / (k + 1)
                out.append((station, nuclide, method, int(start.timestamp()),
                            f"{station}_{i}.PHD", i, iso_z(start),
                            iso_z(start + timedelta(minutes=15)), value, 0.1 * value, 1.0,
                            value, value, 0 if i % 4 == 0 else 1, 900.0))  # fmt: skip
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory, cheap_password_hashing):
    with Store(tmp_path_factory.mktemp("trends") / "central.sqlite") as store:
        store.ensure_facility("AUS02")
        store.ensure_facility("BES01")
        rows = rows_of("AUS02", 1e6) + rows_of("BES01", 1e7)
        with store.conn:
            insert_rows(store.conn, rows)
        create_user(store, "admin", PASSWORD, role="admin")
        create_user(store, "alice", PASSWORD, facilities=["AUS02"])
        users = authenticate(store, "admin", PASSWORD), authenticate(store, "alice", PASSWORD)
        yield store, rows, *users


def expected(rows, stations, nuclide, method) -> dict[str, float]:
    sums: dict[str, float] = {}
    for r in rows:
        if r[0] in stations and r[1] == nuclide and r[2] == method:
            sums[r[6][:10]] = sums.get(r[6][:10], 0.0) + (r[8] if r[13] else 0.0)
    return sums


def test_daily_cumulative_releases_of_one_station_and_of_all(world):
    store, rows, admin, _ = world
    span = ("2024-05-01", "2024-05-03")
    for station, stations in (("AUS02", {"AUS02"}), (page.ALL, {"AUS02", "BES01"})):
        fig = page.figure(store, admin, NOW, station, *span, None)
        assert len(fig["data"]) == 8  # 4 nuclides x 2 analyses
        for trace in fig["data"]:
            nuclide, method = trace["name"].rsplit(" ", 1)
            want = expected(rows, stations, nuclide, method)
            assert trace["x"] == sorted(want)
            assert list(array(trace["y"])) == pytest.approx([want[d] for d in sorted(want)])


def test_the_csv_is_the_daily_sums(world):
    store, rows, admin, _ = world
    table = page.csv_table(store, admin, NOW, "BES01", "2024-05-02", "2024-05-03", ["Xe-135"])
    parsed = list(csv.DictReader(io.StringIO(table.csv())))
    assert [p["day (UTC)"] for p in parsed] == ["2024-05-02", "2024-05-03"]
    want = expected(rows, {"BES01"}, "Xe-135", "central")
    for p in parsed:
        assert float(p["Xe-135 daily cumulative release central (Bq)"]) == pytest.approx(
            want[p["day (UTC)"]]
        )
        assert p["Xe-135 intervals central (1)"] == "96"
        assert p["Xe-135 detected intervals central (1)"] == "72"


def test_all_stations_of_a_user_are_its_own_only(world):
    store, rows, _, alice = world
    fig = page.figure(store, alice, NOW, page.ALL, "2024-05-01", "2024-05-03", ["Xe-133"])
    want = expected(rows, {"AUS02"}, "Xe-133", "central")
    [central] = [t for t in fig["data"] if t["name"] == "Xe-133 central"]
    assert list(array(central["y"])) == pytest.approx([want[d] for d in sorted(want)])
    assert page.figure(store, alice, NOW, "BES01", "2024-05-01", "2024-05-03", None)["data"] == []
    assert page.default_span(store, alice, NOW, ["AUS02"]) == ("2023-05-05", "2024-05-03")
