"""What the readers say about bad input, and what the writers refuse: exact text."""

from __future__ import annotations

import pytest

from shared.formats import FormatError, Message, RawBlock, read_message, write_message
from shared.formats.phd import Certificate

from .canonical import CANONICAL, canonical_message

GOOD = CANONICAL.read_text()


def problems(text: str, lenient: bool = False) -> list[str]:
    with pytest.raises(FormatError) as exc:
        read_message(text, source="x.phd", lenient=lenient)
    return [str(p) for p in exc.value.problems]


def line_no(text: str, starts_with: str) -> int:
    """1-based number of the first line that starts with the given text."""
    for no, line in enumerate(text.split("\n"), 1):
        if line.startswith(starts_with):
            return no
    raise AssertionError(f"no line starts with {starts_with!r}")


def replace_line(text: str, starts_with: str, new: str) -> str:
    lines = text.split("\n")
    lines[line_no(text, starts_with) - 1] = new
    return "\n".join(lines)


def test_the_base_file_is_good():
    assert read_message(GOOD).warnings == []


# ---------------------------------------------------------------------------- spectra
def test_a_short_spectrum_is_an_error():
    text = replace_line(GOOD, "16380 ", "").replace("\n\nSTOP", "\nSTOP")
    last = line_no(text, "16375 ")
    assert problems(text) == [f"x.phd:{last}: #g_Spectrum: expected 16384 channels, found 16380"]


def test_a_short_spectrum_is_a_warning_in_lenient_mode():
    text = replace_line(GOOD, "16380 ", "").replace("\n\nSTOP", "\nSTOP")
    message = read_message(text, source="x.phd", lenient=True)
    last = line_no(text, "16375 ")
    assert [str(w) for w in message.warnings] == [
        f"x.phd:{last}: #g_Spectrum: expected 16384 channels, found 16380"
    ]
    assert message.phd.g_spectrum.channels == 16380


def test_a_count_that_is_not_a_number():
    text = replace_line(GOOD, "100   ", "100   12 4a 7 1 3")
    assert problems(text) == [
        f"x.phd:{line_no(text, '100   ')}: #g_Spectrum: count is not an integer: '4a'"
    ]


def test_a_negative_count():
    text = replace_line(GOOD, "100   ", "100   12 -4 7 1 3")
    assert problems(text) == [f"x.phd:{line_no(text, '100   ')}: #g_Spectrum: negative count: '-4'"]


def test_a_count_too_large_to_store():
    text = replace_line(GOOD, "100   ", "100   12 99999999999999999999 7 1 3")
    assert problems(text) == [
        f"x.phd:{line_no(text, '100   ')}: #g_Spectrum: count too large (over 2**63 - 1): "
        "'99999999999999999999'"
    ]


def test_a_gap_in_the_channel_numbers():
    text = replace_line(GOOD, "100   ", "101   12 4 7 1 3")
    assert problems(text) == [
        f"x.phd:{line_no(text, '101   ')}: #g_Spectrum: expected channel 100 at the start of "
        "the line, found 101"
    ]


def test_a_first_channel_other_than_0_or_1():
    text = replace_line(GOOD, "0     ", "2     1 2 3 4 5")
    assert problems(text) == [
        f"x.phd:{line_no(text, '2     ')}: #g_Spectrum: first channel must be 0 or 1, found 2"
    ]


# ---------------------------------------------------------------------------- times and numbers
def test_a_bad_time():
    text = GOOD.replace("2023/11/17 14:15:00.0 900 ", "2023/11/17 14:75:00.0 900 ")
    no = line_no(GOOD, "2023/11/17 14:15:00.0 900 ")
    assert problems(text) == [
        f"x.phd:{no}: #Acquisition: acquisition start: not a valid date and time: "
        "'2023/11/17 14:75:00.0' (minute must be in 0..59)"
    ]


def test_a_time_that_is_not_a_time():
    text = GOOD.replace("2023/11/01 04:06:46.0", "2023-11-01 04:06:46")
    no = line_no(GOOD, "2023/11/01 04:06:46.0")
    assert problems(text) == [
        f"x.phd:{no}: #Calibration: calibration time: not a date and time (yyyy/mm/dd "
        "hh:mm:ss.s): '2023-11-01 04:06:46'"
    ]


def test_a_time_past_the_last_representable_one():
    text = GOOD.replace("2023/11/01 04:06:46.0", "9999/12/31 23:59:59.9999999")
    no = line_no(GOOD, "2023/11/01 04:06:46.0")
    assert problems(text) == [
        f"x.phd:{no}: #Calibration: calibration time: date and time out of range: "
        "'9999/12/31 23:59:59.9999999'"
    ]


def test_a_number_that_is_not_a_number():
    text = replace_line(GOOD, "81 ", "81               442.368          n/a")
    assert problems(text) == [
        f"x.phd:{line_no(text, '81 ')}: #g_Energy: uncertainty: not a number: 'n/a'"
    ]


def test_a_line_with_a_missing_field():
    text = replace_line(GOOD, "2023/11/17 14:15:00.0 900 ", "2023/11/17 14:15:00.0 900")
    no = line_no(GOOD, "2023/11/17 14:15:00.0 900 ")
    assert problems(text) == [
        f"x.phd:{no}: #Acquisition: acquisition start, real time and live time: expected 4 "
        "fields, found 3: '2023/11/17 14:15:00.0 900'"
    ]


# ---------------------------------------------------------------------------- structure
def test_a_missing_header():
    start = line_no(GOOD, "#Header")
    lines = GOOD.split("\n")
    text = "\n".join(lines[: start - 1] + lines[start + 4 :])
    assert problems(text) == ["x.phd:4: SAMPLEPHD: required block #Header is missing"]


def test_a_header_with_a_bad_system_type():
    text = GOOD.replace("AUS02 AUS02_001 P Marinelli", "AUS02 AUS02_001 X Marinelli")
    assert problems(text) == ["x.phd:6: #Header: system type must be one of P, B, G, found 'X'"]


def test_a_block_given_twice():
    text = GOOD.replace("#Sample\n-999 -999\n", "#Sample\n-999 -999\n#Sample\n-999 -999\n")
    assert problems(text) == [f"x.phd:{line_no(text, '#Sample') + 2}: #Sample: block appears twice"]


def test_a_missing_stop_is_an_error():
    text = GOOD.replace("\nSTOP\n", "\n")
    last = len(text.split("\n"))
    assert problems(text) == [f"x.phd:{last}: message does not end with STOP"]


def test_a_missing_stop_is_a_warning_in_lenient_mode():
    text = GOOD.replace("\nSTOP\n", "\n")
    message = read_message(text, source="x.phd", lenient=True)
    assert [str(w) for w in message.warnings] == [
        f"x.phd:{len(text.split(chr(10)))}: message does not end with STOP"
    ]
    assert message.phd.g_spectrum.channels == 16384


def test_not_a_message():
    assert problems("HELLO\n") == [
        "x.phd:1: expected 'BEGIN IMS2.0' or 'BEGIN STX1.0', found 'HELLO'"
    ]
    assert problems("\n\n") == ["x.phd: empty message"]


def test_every_problem_is_reported():
    text = GOOD.replace("AUS02 AUS02_001 P", "AUS02 AUS02_001 X").replace("\nSTOP\n", "\n")
    assert len(problems(text)) == 2


# ---------------------------------------------------------------------------- unknown blocks
def test_an_unknown_block_is_kept_verbatim_and_written_back_in_place():
    block = "#FlowCell 2\n  id   volume\n\ncell_7   0.0017   \n"
    text = GOOD.replace("#Stack\n", block + "#Stack\n")
    message = read_message(text, source="x.phd")
    assert [str(w) for w in message.warnings] == [
        f"x.phd:{line_no(text, '#FlowCell')}: #FlowCell: unknown block kept verbatim"
    ]
    assert message.phd.extra_blocks == [
        RawBlock("FlowCell", "2", ["  id   volume", "", "cell_7   0.0017   "], after="Sample")
    ]
    assert write_message(message) == text


# ---------------------------------------------------------------------------- the writer
@pytest.mark.parametrize(
    "line",
    [
        "STOP",
        "  STOP ",
        "DATA_TYPE SAMPLEPHD",
        "DATE_TYPE x",
        "#g_Spectrum",
        "ends in CR\r",
    ],
)
def test_the_writer_refuses_a_comment_line_that_would_not_read_back(line):
    message = canonical_message()
    message.phd.comment = "first line\n" + line
    with pytest.raises(ValueError) as exc:
        write_message(message)
    assert str(exc.value).startswith("#Comment: line 2 ")


def test_the_writer_refuses_a_token_that_would_end_the_message():
    message = canonical_message()
    message.phd.certificate = Certificate(None, None, [("STOP",)])
    with pytest.raises(ValueError, match=r"#Certificate: line 1 would end the section: 'STOP'"):
        write_message(message)


def test_the_writer_refuses_a_raw_block_named_like_a_known_one():
    message = canonical_message()
    message.phd.extra_blocks = [RawBlock("g_energy", "", [], after="Header")]
    with pytest.raises(ValueError, match="#g_energy is a known block"):
        write_message(message)


def test_a_message_needs_a_section():
    with pytest.raises(ValueError, match="at least one section"):
        write_message(Message([], msg_id="1"))
