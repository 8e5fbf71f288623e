"""The cdump reader: packed and unpacked files of known content, and broken ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from shared.atm.hysplit import Cdump, Period, StartLocation, read_cdump, write_cdump
from shared.formats import FormatError

T = datetime(2023, 5, 1, 6, 30, tzinfo=UTC)


def _run(packed: bool) -> Cdump:
    grids = []
    for p in range(2):
        g = np.zeros((3, 4))
        g[1, 2], g[2, 3] = 5.0 + p, 1.0
        grids.append({("XE33", 100): g, ("XE33", 500): g / 2})
    return Cdump(
        "t",
        "GFSQ",
        T,
        0,
        [StartLocation(T, 47.0, 8.0, 50.0)],
        3,
        4,
        0.5,
        0.5,
        46.0,
        7.0,
        [100, 500],
        ["XE33"],
        packed,
        [
            Period(T + timedelta(hours=3 * p), T + timedelta(hours=3 * (p + 1)), grids[p])
            for p in range(2)
        ],
    )


@pytest.mark.parametrize("packed", [True, False])
def test_a_written_file_reads_back(packed):
    c = read_cdump(write_cdump(_run(packed)), "run.bin")
    assert c.packed is packed and c.model == "GFSQ" and c.pollutants == ["XE33"]
    assert c.levels == [100, 500] and (c.nlat, c.nlon) == (3, 4)
    assert c.starts[0].time == T and c.starts[0].height_m == 50.0
    assert [p.start for p in c.periods] == [T, T + timedelta(hours=3)]
    assert c.periods[1].grids[("XE33", 100)][1, 2] == 6.0
    assert c.periods[0].grids[("XE33", 500)][2, 3] == 0.5
    # node (lat 46.5, lon 8.0) holds 5 then 6; a quarter of the way to the next nodes
    assert c.at(46.5, 8.0).tolist() == [5.0, 6.0]
    assert c.at(46.75, 8.25).tolist() == [0.25 * (5 + 1), 0.25 * (6 + 1)]
    assert c.at(80.0, 8.0).tolist() == [0.0, 0.0]


def test_packed_and_unpacked_files_differ_in_size_not_content():
    a, b = write_cdump(_run(True)), write_cdump(_run(False))
    assert len(a) < len(b)
    ra, rb = read_cdump(a, "a"), read_cdump(b, "b")
    assert all(
        np.array_equal(x.grids[k], y.grids[k])
        for x, y in zip(ra.periods, rb.periods)
        for k in x.grids
    )


def test_a_truncated_file_says_so():
    data = write_cdump(_run(True))
    with pytest.raises(FormatError, match="truncated"):
        read_cdump(data[:-3], "cut.bin")


def test_a_little_endian_file_is_not_read_as_garbage():
    data = bytearray(write_cdump(_run(False)))
    data[0:4] = data[0:4][::-1]
    with pytest.raises(FormatError, match=r"cut\.bin: record 1 \(header\)"):
        read_cdump(bytes(data), "cut.bin")
