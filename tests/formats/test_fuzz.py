"""Any input gives a Message or a FormatError, never another exception.

Inputs: random text and bytes, random lines built from the format's own words, and
real files with lines, tokens and bytes inserted, deleted or replaced.
"""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.formats import FormatError, Message, read_message
from tests.conftest import PHD_FIXTURES

from .canonical import CANONICAL

FUZZ = settings(max_examples=200, deadline=None)

REAL_FILES = [
    *(p.read_bytes() for p in sorted(PHD_FIXTURES.iterdir()) if p.name != "SOURCES.txt"),
    CANONICAL.read_bytes(),
]

# Numbers at the edges of what the reader converts.
EDGE_NUMBERS = [
    "-1",
    "99999999999999999999999",
    "9223372036854775808",
    "-9223372036854775809",
    "1e999",
    "nan",
    "1" * 5000,
    "9999/12/31 23:59:59.99999999",
]
# Words that steer the reader into its corners.
NASTY = [
    "",
    "0",
    "-1",
    "1.5",
    "99999999999999999999999",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "1" * 5000,
    "nan",
    "inf",
    "-inf",
    "1e999",
    "1_0",
    "0x10",
    "9999/12/31",
    "0000/01/01",
    "23:59:59.99999999",
    "9999/12/31 23:59:59.99999999",
    "24:00",
    "12:00",
    "#",
    "#Header",
    "#Header 3",
    "#g_Spectrum",
    "#Histogram",
    "#Comment",
    "#Stack",
    "#Certificate",
    "#Unknown",
    "STOP",
    "BEGIN",
    "BEGIN IMS2.0",
    "DATA_TYPE",
    "DATA_TYPE SAMPLEPHD",
    "DATA_TYPE STAXSOH",
    "DATA_TYPE ALERT_SYSTEM",
    "DATE_TYPE",
    "MSG_ID",
    "B",
    "C",
    "P",
    "FULL",
    "\t",
    "\r",
    "\x00",
    "\x0c",
    "\x85",
    "é",
    "٣",
]
KEYWORD_LINES = [
    "BEGIN IMS2.0",
    "BEGIN STX1.0",
    "MSG_TYPE DATA",
    "MSG_ID 1 AUS02",
    "REF_ID x",
    "DATA_TYPE SAMPLEPHD",
    "DATA_TYPE STAXSOH",
    "DATA_TYPE ALERT_FLOW",
    "DATA_TYPE LOG",
    "#Header 3",
    "AUS02 AUS02_001 P Marinelli         FULL",
    "SM02202311171415",
    "AUS02_001-2023/11/17-14:15",
    "2023/11/17 14:31:02.0",
    "STAXX NA 2023/04/22 20:00:00 2023/04/22 22:00:00 2023/04/22 22:30:36",
    "AUS02 ALERT_FLOW 2023/11/20 17:34:02",
    "#Acquisition",
    "2023/11/17 14:15:00.0 900 896.4",
    "#Collection",
    "2023/11/17 14:15:00.0 2023/11/17 14:30:00.0 0 0.017",
    "#g_Spectrum",
    "4 3000",
    "0 1 2 3 4",
    "#Histogram",
    "2 2 720 550",
    "1 2",
    "#b_Energy",
    "80 C 21 0.1",
    "#Stack",
    "stack_flow_m3_s 21.2",
    "#Certificate",
    "1000 2023/01/01 00:00",
    "#AirSamplerFlow",
    "3.4 -9999.999 2023/04/22 20:00:00 900",
    "#PowerSupply",
    "MAIN ON 2023/04/22 20:00:00 900",
    "STOP",
]


def assert_message_or_format_error(data: bytes | str, lenient: bool) -> None:
    try:
        message = read_message(data, source="fuzz.txt", lenient=lenient)
    except FormatError as exc:
        assert exc.problems
        assert all(str(p).startswith("fuzz.txt") for p in exc.problems)
    else:
        assert isinstance(message, Message)
        assert message.sections


@FUZZ
@given(st.one_of(st.text(max_size=400), st.binary(max_size=400)), st.booleans())
def test_random_input(data, lenient):
    assert_message_or_format_error(data, lenient)


@FUZZ
@given(
    st.lists(st.sampled_from(KEYWORD_LINES) | st.sampled_from(NASTY), max_size=30),
    st.booleans(),
)
def test_random_lines_of_the_format_s_own_words(lines, lenient):
    assert_message_or_format_error("\n".join(lines), lenient)


@st.composite
def mutated_real_files(draw) -> bytes:
    data = draw(st.sampled_from(REAL_FILES))
    # Positions from a seeded Random: Hypothesis's own integers favour the first lines,
    # and a file whose BEGIN line is broken tests little.
    rnd = random.Random(draw(st.integers(0, 2**32)))
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["token", "token", "token", "line", "line", "byte"]))
        if kind == "byte":
            at = rnd.randrange(len(data) + 1)
            op = draw(st.sampled_from(["insert", "delete", "replace"]))
            byte = bytes([draw(st.integers(0, 255))])
            if op == "insert":
                data = data[:at] + byte + data[at:]
            elif op == "delete":
                data = data[:at] + data[at + 1 :]
            else:
                data = data[:at] + byte + data[at + 1 :]
            continue
        lines = data.decode("latin-1").split("\n")
        # most of a big file is spectrum: aim at the head often enough to reach every block
        at = rnd.randrange(len(lines)) if rnd.random() < 0.6 else rnd.randrange(min(40, len(lines)))
        if kind == "line":
            op = draw(st.sampled_from(["insert", "delete", "replace", "duplicate", "swap"]))
            new = draw(st.sampled_from(NASTY + KEYWORD_LINES) | st.text(max_size=20))
            if op == "insert":
                lines.insert(at, new)
            elif op == "delete":
                del lines[at]
            elif op == "replace":
                lines[at] = new
            elif op == "duplicate":
                lines.insert(at, lines[at])
            else:
                other = rnd.randrange(len(lines))
                lines[at], lines[other] = lines[other], lines[at]
        else:
            tokens = lines[at].split() or [""]
            i = rnd.randrange(len(tokens))
            op = draw(st.sampled_from(["insert", "delete", "replace", "replace"]))
            new = draw(
                st.sampled_from(EDGE_NUMBERS)
                | st.sampled_from(NASTY)
                | st.integers().map(str)
                | st.floats().map(repr)
            )
            if op == "insert":
                tokens.insert(i, new)
            elif op == "delete":
                del tokens[i]
            else:
                tokens[i] = new
            lines[at] = " ".join(tokens)
        data = "\n".join(lines).encode("latin-1", errors="replace")
    return data


@FUZZ
@given(mutated_real_files(), st.booleans())
def test_mutated_real_files(data, lenient):
    assert_message_or_format_error(data, lenient)


@st.composite
def real_files_with_one_field_changed(draw) -> str:
    """One token of an otherwise valid file: the reader gets past the structure to the values."""
    text = draw(st.sampled_from(REAL_FILES)).decode("ascii")
    rnd = random.Random(draw(st.integers(0, 2**32)))
    lines = text.split("\n")
    candidates = [i for i, line in enumerate(lines) if line.split()]
    at = rnd.choice(candidates if rnd.random() < 0.5 else candidates[:40])
    tokens = lines[at].split()
    tokens[rnd.randrange(len(tokens))] = draw(
        st.sampled_from(EDGE_NUMBERS) | st.integers().map(str) | st.floats().map(repr)
    )
    lines[at] = " ".join(tokens)
    return "\n".join(lines)


@FUZZ
@given(real_files_with_one_field_changed(), st.booleans())
def test_real_files_with_one_field_changed(text, lenient):
    assert_message_or_format_error(text, lenient)
