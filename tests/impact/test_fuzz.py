"""Any input gives an SRS field, a cdump or a list of IMS results, or a FormatError: never a crash."""

from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.atm.hysplit import Cdump, Period, StartLocation, read_cdump, write_cdump
from shared.atm.ims_results import read_ims_results
from shared.atm.srs import read_srs
from shared.formats import FormatError

from .synthetic import srs_text

FUZZ = settings(max_examples=200, deadline=None)

SRS = srs_text(
    [
        "10.00 20.00 0 1.0E+01 2.0E+00",
        "11.00 20.00 1 2.5E+00 1.0E-01",
        "10.00 21.00 3 4.0E-01 0.0E+00",
    ]
).encode()
NASTY = [
    "",
    "0",
    "-1",
    "nan",
    "inf",
    "1e999",
    "0x10",
    "1_0",
    "99999999999999999999",
    "\x00",
    "é",
    '"',
    "24",
    "-0",
]


def assert_reads_or_format_error(reader, data) -> None:
    try:
        reader(data, "fuzz.dat")
    except FormatError as exc:
        assert exc.problems and all(str(p).startswith("fuzz.dat") for p in exc.problems)


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_random_input(data):
    assert_reads_or_format_error(read_srs, data)
    assert_reads_or_format_error(read_ims_results, data)
    if isinstance(data, bytes):
        assert_reads_or_format_error(read_cdump, data)


@FUZZ
@given(st.integers(0, 2**32), st.integers(1, 4))
def test_srs_with_tokens_changed(seed, n):
    rnd = random.Random(seed)
    lines = SRS.decode().split("\n")
    for _ in range(n):
        at = rnd.randrange(len(lines))
        tokens = lines[at].split() or [""]
        i = rnd.randrange(len(tokens))
        op = rnd.choice(["replace", "delete", "insert", "line"])
        new = rnd.choice([*NASTY, str(rnd.uniform(-400, 400)), str(rnd.randint(-5, 50))])
        if op == "replace":
            tokens[i] = new
        elif op == "delete":
            del tokens[i]
        elif op == "insert":
            tokens.insert(i, new)
        else:
            lines.insert(at, lines[rnd.randrange(len(lines))])
        lines[at] = " ".join(tokens)
    assert_reads_or_format_error(read_srs, "\n".join(lines).encode("utf-8", "surrogateescape"))


def _cdump(packed: bool) -> bytes:
    t = datetime(2023, 1, 1, tzinfo=UTC)
    g = np.zeros((3, 4))
    g[1, 2], g[2, 3] = 5.0, 1.0
    c = Cdump(
        "x",
        "GFSQ",
        t,
        0,
        [StartLocation(t, 47.0, 8.0, 50.0)],
        3,
        4,
        0.5,
        0.5,
        46.0,
        7.0,
        [100],
        ["XE33"],
        packed,
        [Period(t, t + timedelta(hours=3), {("XE33", 100): g})],
    )
    return write_cdump(c)


CDUMPS = [_cdump(True), _cdump(False)]


@FUZZ
@given(st.sampled_from(CDUMPS), st.integers(0, 2**32), st.integers(1, 4))
def test_cdump_with_bytes_changed(data, seed, n):
    rnd = random.Random(seed)
    for _ in range(n):
        if not data:
            break
        at = rnd.randrange(len(data))
        op = rnd.choice(["replace", "delete", "insert", "truncate"])
        b = bytes([rnd.randrange(256)])
        if op == "replace":
            data = data[:at] + b + data[at + 1 :]
        elif op == "delete":
            data = data[:at] + data[at + 1 :]
        elif op == "insert":
            data = data[:at] + b + data[at:]
        else:
            data = data[:at]
    assert_reads_or_format_error(read_cdump, data)


IMS_CSV = "sample_start,sample_stop,nuclide,concentration_bq_m3,uncertainty_bq_m3\n2019-08-04T16:00:00Z,2019-08-05T16:00:00Z,XE-133,0.00042,0.00011\n"


@FUZZ
@given(st.integers(0, 2**32))
def test_ims_results_with_cells_changed(seed):
    rnd = random.Random(seed)
    rows = [r.split(",") for r in IMS_CSV.strip().split("\n")]
    r = rnd.randrange(len(rows))
    rows[r][rnd.randrange(len(rows[r]))] = rnd.choice([*NASTY, "2019-13-01T00:00:00Z", "XE133"])
    assert_reads_or_format_error(read_ims_results, "\n".join(",".join(x) for x in rows))


REAL_HEAD = b"\n".join(
    gzip.decompress(
        (
            Path(__file__).resolve().parents[1] / "data" / "srs" / "WHTSH.2019080516.CWAO.txt.gz"
        ).read_bytes()
    ).split(b"\n")[:300]
)


@FUZZ
@given(st.integers(0, 2**32), st.integers(1, 5))
def test_the_real_file_s_head_with_bytes_changed(seed, n):
    rnd = random.Random(seed)
    data = REAL_HEAD
    for _ in range(n):
        at = rnd.randrange(len(data)) if rnd.random() < 0.7 else rnd.randrange(120)
        data = data[:at] + bytes([rnd.randrange(256)]) + data[at + rnd.choice([0, 1]) :]
    assert_reads_or_format_error(read_srs, data)
