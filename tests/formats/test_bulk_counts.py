"""The counts read in bulk (numpy) and line by line give the same message, the same
warnings and the same errors, for any change to the counts of real files."""

from __future__ import annotations

import random
from contextlib import contextmanager

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
