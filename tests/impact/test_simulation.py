"""The SRS simulator gives fields the reader takes, with the magnitudes of the real file."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from shared.atm.srs import read_srs, read_srs_file
from shared.simulation.srs import PuffWeather, simulate_srs_text, srs_file_name

from .test_srs import IMPACT_MD_MEDIANS, REAL, _node_dilutions

STOP = datetime(2024, 1, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def field():
    text = simulate_srs_text("DEX33", 47.92, 7.91, STOP, grid_deg=1.0, seed=4)
    return read_srs(text, srs_file_name("DEX33", STOP))


def test_the_simulated_file_reads_with_its_header(field):
    h = field.header
    assert (h.station, h.latitude, h.longitude, h.sample_stop) == ("DEX33", 47.92, 7.91, STOP)
    assert h.sample_s == 86400 and field.step_base == 0 and field.centre == "SIMU"
    assert field.cells > 1000


def _ring_median(f, ring):
    dil, km = _node_dilutions(f)
    return np.median(dil[(km >= ring[0]) & (km < ring[1])])


@pytest.mark.parametrize("ring", list(IMPACT_MD_MEDIANS)[1:])
def test_the_simulated_dilution_has_the_real_file_s_magnitudes(field, ring):
    # against the real CWAO file (which test_srs checks against impact.md): impact.md's
    # 1.6e-11 for 300-700 km is 7x the file's own 2.3e-12. The 1-degree grid has no node
    # within 100 km but the receptor's own: that ring is checked point-wise below.
    real = _ring_median(read_srs_file(REAL), ring)
    assert real / 10 < _ring_median(field, ring) < real * 10


def test_near_the_receptor_and_1e13_bq_per_day_at_1000_km(field):
    assert 1e-11 < field.dilution(47.92, 7.91) < 1e-8
    # impact.md: 1e13 Bq/day of Xe-133 at 1000 km gives ~0.1 to ~35 mBq/m3
    upwind = field.dilution(47.92, 7.91 - 1000 / (111.2 * math.cos(math.radians(47.92))))
    assert 0.05e-3 < 1e13 / 86400 * upwind < 50e-3


def test_the_same_seed_gives_the_same_file_and_the_wind_moves_the_puff():
    a = simulate_srs_text("DEX33", 47.92, 7.91, STOP, grid_deg=2.0, seed=1)
    assert a == simulate_srs_text("DEX33", 47.92, 7.91, STOP, grid_deg=2.0, seed=1)
    east = read_srs(
        simulate_srs_text(
            "DEX33", 47.92, 7.91, STOP, grid_deg=2.0, weather=PuffWeather(from_deg=90.0)
        ),
        "e",
    )
    west = read_srs(a, "w")
    assert (
        np.average(east.longitude, weights=east.value)
        > 7.91
        > np.average(west.longitude, weights=west.value)
    )
