"""Property tests: whatever the writer writes, the reader gives back unchanged."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.formats import Alert, Message, Phd, RawSection, Soh, read_message, write_message
from shared.formats.phd import BLOCK_ORDER

from . import strategies as s

ROUND_TRIP = settings(max_examples=150, deadline=None)


def round_trip(message: Message) -> Message:
    return read_message(write_message(message), source="roundtrip.txt")


@ROUND_TRIP
@given(s.messages(s.phds(), max_sections=1))
def test_phd_round_trip(message):
    assert round_trip(message) == message


@ROUND_TRIP
@given(s.messages(s.sohs, max_sections=1))
def test_soh_round_trip(message):
    assert round_trip(message) == message


@ROUND_TRIP
@given(s.messages(s.alerts, max_sections=1))
def test_alert_round_trip(message):
    assert round_trip(message) == message


@ROUND_TRIP
@given(s.messages(s.raw_sections, max_sections=1))
def test_raw_section_round_trip(message):
    assert round_trip(message) == message


@ROUND_TRIP
@given(s.messages(max_sections=4))
def test_messages_with_several_sections_round_trip(message):
    back = round_trip(message)
    assert back == message
    assert back.data_types == message.data_types


@ROUND_TRIP
@given(s.messages(max_sections=2), st.sampled_from(["IMS2.0", "STX1.0"]))
def test_the_writer_writes_either_envelope(message, fmt):
    text = write_message(message, format=fmt)
    assert text.startswith(f"BEGIN {fmt}\n")
    assert text.endswith("\nSTOP\n")
    assert read_message(text).format == fmt


@settings(max_examples=60, deadline=None)
@given(s.phds())
def test_unknown_blocks_come_back_in_place(phd):
    """An unknown block is written right after the block it followed when read."""
    lines = write_message(Message([phd], msg_id="1")).split("\n")
    block_names = [ln[1:].split()[0] for ln in lines if ln.startswith("#")]
    written, last_known = [], None
    for name in block_names:
        if name.startswith("Z"):
            written.append((name, last_known))
        else:
            last_known = name
    assert written == [(raw.name, raw.after) for raw in phd.extra_blocks]


def test_strategies_cover_every_section_kind():
    """Guards the property tests above against a strategy that stopped producing a kind."""
    seen: set[type] = set()

    @settings(max_examples=200, deadline=None)
    @given(s.sections)
    def collect(section):
        seen.add(type(section))

    collect()
    assert {Phd, Soh, Alert, RawSection} <= seen


def test_the_phd_strategy_covers_every_block_and_both_channel_bases():
    blocks: set[str] = set()
    bases: set[int] = set()
    collection_extras = 0

    @settings(max_examples=300, deadline=None)
    @given(s.phds())
    def collect(phd):
        nonlocal collection_extras
        blocks.update(s.present_blocks(phd))
        blocks.update("unknown" for _ in phd.extra_blocks[:1])
        bases.update(sp.first_channel for sp in (phd.g_spectrum, phd.b_spectrum) if sp)
        collection_extras += bool(phd.collection and phd.collection.extra)

    collect()
    assert blocks == {name for name, _ in BLOCK_ORDER} | {"unknown"}
    assert bases == {0, 1}
    assert collection_extras > 0
