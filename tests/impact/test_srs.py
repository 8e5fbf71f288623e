"""The SRS reader: the real CWAO file, the step base, and clear errors for broken files."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from shared.atm.srs import _columns_fast, _columns_slow, read_srs, read_srs_file
from shared.formats import FormatError

from .synthetic import srs_text

REAL = Path(__file__).resolve().parents[1] / "data" / "srs" / "WHTSH.2019080516.CWAO.txt.gz"


@pytest.fixture(scope="module")
def real():
    return read_srs_file(REAL)


def test_the_real_file_reads_completely_with_its_header(real):
    h = real.header
    assert real.cells == 184_681
    assert (h.latitude, h.longitude, h.station) == (49.40, -110.69, "WHTSH")
    assert (h.sample_start.isoformat(), h.sample_stop.isoformat()) == (
        "2019-08-04T16:00:00+00:00",
        "2019-08-05T16:00:00+00:00",
    )
    assert (h.release_mass, h.simulation_hours, h.step_hours, h.steps) == (1e15, 114, 3, 38)
    assert (h.dx, h.dy) == (0.25, 0.25)
    assert real.centre == "CWAO"
    assert real.step_base == 0 and real.step_base_reason == "step 0 present"
    assert real.spread is not None and real.spread.size == real.cells
    assert real.step.min() == 0 and real.step.max() == 37
    # 0-360 longitudes come out as -180..180
    assert real.longitude.max() <= 180 and real.longitude.min() < -110


def _node_dilutions(f):
    """Dilution dt * sum_k value/M at every node that appears, and its distance (km)."""
    h = f.header
    key = f._i * 10**7 + f._j
    nodes, inv = np.unique(key, return_inverse=True)
    dil = np.bincount(inv, weights=f.value) / h.release_mass * h.step_s
    lat, lon = np.zeros(nodes.size), np.zeros(nodes.size)
    lat[inv], lon[inv] = f.latitude, f.longitude
    p1, p2 = math.radians(h.latitude), np.radians(lat)
    cos = np.sin(p1) * np.sin(p2) + np.cos(p1) * np.cos(p2) * np.cos(np.radians(lon - h.longitude))
    return dil, 6371.0 * np.arccos(np.clip(cos, -1, 1))


# impact.md: median dilution (s/m3) per distance ring from the real CWAO file
IMPACT_MD_MEDIANS = {
    (0, 100): 3.5e-10,
    (300, 700): 1.6e-11,
    (700, 1500): 1e-12,
    (1500, 3000): 7e-14,
}


@pytest.mark.parametrize("ring", IMPACT_MD_MEDIANS)
def test_the_real_file_s_dilution_falls_in_impact_md_s_ranges(real, ring):
    dil, km = _node_dilutions(real)
    median = np.median(dil[(km >= ring[0]) & (km < ring[1])])
    # within a factor of 10 of impact.md's figure (they are orders of magnitude)
    assert IMPACT_MD_MEDIANS[ring] / 10 < median < IMPACT_MD_MEDIANS[ring] * 10


def test_the_real_file_s_point_lookups_are_plausible(real):
    near = real.dilution(49.5, -110.75)  # ~10 km from the receptor
    assert 1e-10 < near < 1e-7  # ~1e-8 within 100 km
    # value/M per cell and step: ~1e-16 near the receptor, more in the last steps
    assert 1e-16 < real.value.max() / 1e15 < 1e-12


def test_gzip_and_plain_text_read_the_same(real):
    plain = read_srs(gzip.decompress(REAL.read_bytes()), "WHTSH.2019080516.CWAO.txt")
    assert plain.cells == real.cells
    assert np.array_equal(plain.value, real.value) and np.array_equal(plain.step, real.step)


def test_the_fast_and_the_line_by_line_reader_agree():
    body = gzip.decompress(REAL.read_bytes()).partition(b"\n")[2]
    fast = _columns_fast(body)
    slow, lines = _columns_slow(body.decode("ascii").split("\n"), 2, "t")
    assert fast is not None and np.array_equal(fast, slow)
    assert lines[0] == 2 and lines[-1] == 184_682


def test_a_file_with_windows_line_ends_reads():
    lines = ["10.00 20.00 0 1.0E+01", "11.00 20.00 1 2.5e+00", "10.00 21.00 3 4.0E-01"]
    f = read_srs(srs_text(lines).replace("\n", "\r\n"), "t.txt")
    assert f.value.tolist() == [10.0, 2.5, 0.4] and f.step.tolist() == [0, 1, 3]


@pytest.mark.parametrize(
    ("ks", "base", "reason"),
    [
        ([0, 1], 0, "step 0 present"),
        ([1, 4], 1, "step 4 present (the simulation has 4 steps)"),
        ([1, 2], 0, "neither step 0 nor step 4 present: 0 assumed, as in the CWAO files"),
    ],
)
def test_the_step_base_is_detected_and_recorded(ks, base, reason):
    f = read_srs(srs_text([f"10.00 20.00 {k} 1.0" for k in ks]), "t.txt")
    assert (f.step_base, f.step_base_reason) == (base, reason)
    assert f.step.tolist() == [k - base for k in ks]


def test_a_given_step_base_wins():
    f = read_srs(srs_text(["10.00 20.00 1 1.0", "10.00 20.00 2 1.0"]), "t.txt", step_base=1)
    assert f.step.tolist() == [0, 1] and f.step_base_reason == "given by the caller"


@pytest.mark.parametrize(
    ("lines", "where", "what"),
    [
        (["10.00 20.00 0"], "t.txt:2", "expected 4 or 5 fields"),
        (["10.00 20.00 0 1.0", "10.00 21.00 0 1.0 0.5"], "t.txt:3", "as the first data line"),
        (["10.00 20.00 0 x"], "t.txt:2: value", "not a number: 'x'"),
        (["10.00 20.00 0 nan"], "t.txt:2: value", "not a number"),
        (["10.00 20.00 0 1.0", "10.40 20.00 0 1.0"], "t.txt:3: lat", "not on the 1.0 degree grid"),
        (["10.00 20.00 0 1.0", "10.00 20.00 0 2.0"], "t.txt:3", "listed twice (also on line 2)"),
        (["10.00 20.00 0 1.0", "10.00 20.00 4 2.0"], "t.txt:3: k", "step index outside 0..3"),
        (["10.00 20.00 0.5 1.0"], "t.txt:2: k", "not a whole number"),
        (["10.00 20.00 0 -1.0"], "t.txt:2: value", "cannot be negative"),
        (["95.00 20.00 0 1.0"], "t.txt:2: lat", "out of -90..90"),
    ],
)
def test_a_broken_data_line_is_named(lines, where, what):
    with pytest.raises(FormatError) as err:
        read_srs(srs_text(lines), "t.txt")
    assert str(err.value).startswith(where) and what in str(err.value)


@pytest.mark.parametrize(
    ("header", "what"),
    [
        ("", "empty: no header line"),
        ("1 2 3", "the header needs 13 fields"),
        ('10 20 20240301 6 20240302 6 1E15 12 3 3 1 1 "TSX01" extra', "station code"),
        ('10 20 20240301 6 20240301 6 1E15 12 3 3 1 1 "TSX01"', "is not after"),
        ('10 20 20241301 6 20240302 6 1E15 12 3 3 1 1 "TSX01"', "not a date"),
        ('10 20 20240301 6 20240302 6 0 12 3 3 1 1 "TSX01"', "release mass: must be positive"),
        (
            '10 20 20240301 6 20240302 6 1E15 10 3 3 1 1 "TSX01"',
            "not a whole number of 3.0 h steps",
        ),
    ],
)
def test_a_broken_header_is_named(header, what):
    with pytest.raises(FormatError) as err:
        read_srs(header + "\n", "t.txt")
    assert str(err.value).startswith("t.txt:1") and what in str(err.value)


def test_a_truncated_gzip_is_a_format_error():
    data = gzip.compress(srs_text(["10.00 20.00 0 1.0"]).encode())
    with pytest.raises(FormatError, match="not a readable gzip file"):
        read_srs(data[:-10], "t.txt.gz")


def test_a_file_that_cannot_be_read_is_a_format_error(tmp_path):
    with pytest.raises(FormatError, match="cannot read"):
        read_srs_file(tmp_path / "missing.txt")


def test_an_srm_file_and_hour_24():
    text = srs_text(["10.00 20.00 0 1.0"]).replace(" 6 1.0E+15", " 24 1.0E+15", 1)
    f = read_srs(text, "TSX01.2024030224.ABCD.srm")
    assert f.centre == "ABCD" and f.header.sample_stop.isoformat() == "2024-03-03T00:00:00+00:00"
