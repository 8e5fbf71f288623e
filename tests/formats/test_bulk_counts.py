"""The counts read in bulk (numpy) and line by line give the same message, the same
warnings and the same errors, for any change to the counts of real files."""

from __future__ import annotations

import random
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shared.formats.phd as phd_module
from shared.formats import FormatError, read_message
from tests.conftest import PHD_FIXTURES

from .canonical import CANONICAL

FILES = [
    *(p.read_bytes() for p in sorted(PHD_FIXTURES.iterdir()) if p.suffix == ".PHD"),
    CANONICAL.read_bytes(),
]
COUNT_BLOCKS = ("#g_Spectrum", "#b_Spectrum", "#Histogram")
# what a count field may turn into: each is something the bulk path must leave alone
# or read exactly as int() does
TOKENS = [
    "0", "7", "007", "-1", "+5", "-0", "1_0", "0x10", "1.5", "1e3", "", "x",
    "9" * 18, "9" * 19, "9223372036854775807", "9223372036854775808", "1" * 40,
    "\u0663", "\xa0", "\t", "\x0b", "\x0c", "5\t6", "5  6", "#", "STOP",
]  # fmt: skip


@contextmanager
def bulk(on: bool):
    before = phd_module._BULK
    phd_module._BULK = on
    try:
        yield
    finally:
        phd_module._BULK = before


def outcome(data: bytes | str, lenient: bool):
    try:
        message = read_message(data, source="f.PHD", lenient=lenient)
    except FormatError as exc:
        return ("error", exc.problems)
    return ("message", message, message.warnings)


def assert_same(data: bytes | str, lenient: bool) -> None:
    with bulk(True):
        fast = outcome(data, lenient)
    with bulk(False):
        slow = outcome(data, lenient)
    assert fast == slow


@st.composite
def changed_counts(draw) -> str:
    text = draw(st.sampled_from(FILES)).decode("latin-1")
    lines = text.split("\n")
    rnd = random.Random(draw(st.integers(0, 2**32)))
    heads = [i for i, ln in enumerate(lines) if ln.split()[:1] and ln.split()[0] in COUNT_BLOCKS]
    head = rnd.choice(heads)
    end = next((i for i in range(head + 1, len(lines)) if lines[i][:1] == "#"), len(lines))
    for _ in range(draw(st.integers(1, 3))):
        at = rnd.randrange(head + 1, max(head + 2, end))
        op = draw(st.sampled_from(["token", "token", "token", "blank", "delete", "duplicate"]))
        if at >= len(lines):
            continue
        if op == "blank":
            lines.insert(at, draw(st.sampled_from(["", " ", "\t", "\r"])))
        elif op == "delete":
            del lines[at]
        elif op == "duplicate":
            lines.insert(at, lines[at])
        else:
            tokens = lines[at].split(" ")
            i = rnd.randrange(len(tokens))
            tokens[i] = draw(st.sampled_from(TOKENS) | st.integers().map(str))
            lines[at] = " ".join(tokens)
    return "\n".join(lines)


@settings(max_examples=300, deadline=None)
@given(changed_counts(), st.booleans())
def test_bulk_and_line_by_line_agree_on_changed_counts(text, lenient):
    assert_same(text, lenient)
    assert_same(text.encode("latin-1", errors="replace"), lenient)


def test_they_agree_on_the_real_files_and_the_bulk_path_is_taken(monkeypatch):
    for data in FILES:
        assert_same(data, lenient=True)
    # the line-by-line path would fail here: the real files are read in bulk
    monkeypatch.setattr(phd_module, "_count", None)
    for data in FILES:
        read_message(data, lenient=True)


AUS02 = (
    Path(__file__).resolve().parents[1]
    / "data"
    / ("AUS02_856022299609035337_PHD_2023_11_17T14_15_00.TXT")
)


def spectrum_rows(text: str) -> tuple[list[str], int, int]:
    """The file's lines, and where its #g_Spectrum rows begin and end."""
    lines = text.split("\n")
    head = lines.index("#g_Spectrum")
    end = next(i for i in range(head + 2, len(lines)) if not lines[i][:1].isdigit())
    return lines, head + 2, end


def relaid(counts: list[int], sizes: list[int], first: int = 0) -> list[str]:
    """Rows of `counts` holding sizes[i] counts each (the last size repeated)."""
    rows, at, i = [], 0, 0
    while at < len(counts):
        size = sizes[min(i, len(sizes) - 1)]
        rows.append(" ".join(str(c) for c in [first + at, *counts[at : at + size]]))
        at, i = at + size, i + 1
    return rows


def with_rows(rows: list[str]) -> str:
    lines, begin, end = spectrum_rows(AUS02.read_text())
    return "\n".join([*lines[:begin], *rows, *lines[end:]])


def test_spectra_laid_out_with_any_row_length_read_in_bulk_as_line_by_line(monkeypatch):
    counts = read_message(AUS02.read_bytes()).phd.g_spectrum.counts.tolist()
    for sizes, first in (([5], 0), ([1], 0), ([3], 1), ([8], 0), ([16384], 0), ([7, 5], 0)):
        text = with_rows(relaid(counts, sizes, first))
        assert_same(text, lenient=False)
        spectrum = read_message(text).phd.g_spectrum
        assert spectrum.counts.tolist() == counts and spectrum.first_channel == first
    # rows of one length (the last row shorter) are read without the line-by-line reader
    monkeypatch.setattr(phd_module, "_count", None)
    for sizes in ([5], [4], [16384]):
        assert (
            read_message(with_rows(relaid(counts, sizes))).phd.g_spectrum.counts.tolist() == counts
        )


def test_rows_of_other_lengths_than_the_first_get_the_line_by_line_errors():
    counts = read_message(AUS02.read_bytes()).phd.g_spectrum.counts.tolist()
    rows = relaid(counts, [5])
    cases = {
        # a row one count short, the next one count longer: the count where the next
        # channel number would be equals it, so only the line breaks tell them apart
        "short then long": [
            "0 1 2 3 4",
            "5 5 6 7 8 9 10",
            *rows[2:],
        ],
        # rows of 3 and 7 counts between rows of 5 (valid): read as rows of 5, the channel
        # numbers would still be where they belong (5, then 10 as a count); only the marks
        # of the line ends are not
        "rows of 3 and 7 counts": [
            rows[0],
            "5 1 2 3",
            "8 1 10 3 4 5 6 7",
            *rows[3:],
        ],
        "last row longer than the first": [*rows[:-1], rows[-1] + " 1 2"],
        "a row longer than the first": [rows[0], rows[1] + " 7", *rows[2:]],
        "a blank row": [*rows[:5], "", *rows[5:]],
        "a blank last row": [*rows, " "],
        "channel numbers off by one": [rows[0], "6" + rows[1][1:], *rows[2:]],
        "first channel 2": ["2" + rows[0][1:], *rows[1:]],
        "a row with only its channel number": [*rows[:-1], rows[-1].split()[0]],
    }
    for name, case in cases.items():
        for lenient in (False, True):
            text = with_rows(case)
            try:
                assert_same(text, lenient)
            except AssertionError as exc:
                raise AssertionError(f"{name} (lenient={lenient})") from exc
    with pytest.raises(FormatError, match="expected channel 4 at the start of the line, found 5"):
        read_message(with_rows(cases["short then long"]))


def test_reading_in_bulk_leaves_the_other_threads_warnings_alone():
    """The bulk reader tells a partial read by its end mark, not by turning warnings into
    errors: warning filters are the whole process's, so a reader in one thread (the web
    server's, the intake's) must not make another thread's warnings raise."""
    import threading
    import warnings

    good = AUS02.read_bytes()
    lines = good.split(b"\n")
    row = lines.index(b"#g_Spectrum") + 3  # a row of counts (after the block's own line)
    lines[row] += b"x"  # "123x": numpy's bulk read stops there; line by line words it
    bad = b"\n".join(lines)
    stop, errors = threading.Event(), []

    def read_all_the_time() -> None:
        while not stop.is_set():
            read_message(good, source="good.phd")
            with pytest.raises(FormatError):
                read_message(bad, source="bad.phd")

    reader = threading.Thread(target=read_all_the_time)
    reader.start()
    try:
        for _ in range(3000):
            try:
                warnings.warn("another thread's warning", UserWarning, stacklevel=1)
            except UserWarning as exc:  # made an error by someone else's filter
                errors.append(exc)
    finally:
        stop.set()
        reader.join(30)
    assert errors == []
