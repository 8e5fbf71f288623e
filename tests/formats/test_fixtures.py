"""Real PHD files (../shared/fixtures/phd) and the canonical file the writer produced."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.formats import (
    FormatError,
    Message,
    Phd,
    RawSection,
    read_file,
    read_message,
    write_message,
)
from tests.conftest import PHD_FIXTURES

from .canonical import CANONICAL, CHANNELS, canonical_message

FRAGMENT = PHD_FIXTURES / "IDC_SPHDF_IOM53_from_cambio_issue8.FRAGMENT.txt"
COMPLETE = sorted(PHD_FIXTURES.glob("*.PHD"))


def test_the_fixtures_are_there(phd_fixtures):
    assert len(COMPLETE) == 4
    assert FRAGMENT in phd_fixtures


def assert_same_message(a: Message, b: Message) -> None:
    """Field for field, so that a failure names the field."""
    for f in dataclasses.fields(Message):
        if f.name != "sections" and f.compare:
            assert getattr(a, f.name) == getattr(b, f.name), f.name
    assert len(a.sections) == len(b.sections)
    for sa, sb in zip(a.sections, b.sections):
        assert type(sa) is type(sb)
        for f in dataclasses.fields(sa):
            assert getattr(sa, f.name) == getattr(sb, f.name), f"{sa.data_type}.{f.name}"


@pytest.mark.parametrize("path", COMPLETE, ids=lambda p: p.name)
def test_complete_files_read_strictly_and_round_trip(path: Path):
    first = read_file(path)
    again = read_message(write_message(first), source="rewritten")
    assert_same_message(again, first)
    assert again == first


def test_the_fragment_reads_only_leniently_with_two_warnings():
    with pytest.raises(FormatError) as exc:
        read_file(FRAGMENT)
    src = str(FRAGMENT)
    expected = [
        f"{src}:25: message does not end with STOP",
        f"{src}:24: #g_Spectrum: expected 8192 channels, found 15",
    ]
    assert [str(p) for p in exc.value.problems] == expected
    message = read_file(FRAGMENT, lenient=True)
    assert [str(w) for w in message.warnings] == expected
    again = read_message(write_message(message), lenient=True)
    assert_same_message(again, message)
    assert again.warnings == []


def test_the_fragment_holds_a_log_and_an_idc_sample():
    message = read_file(FRAGMENT, lenient=True)
    assert message.msg_id == "156379"
    assert message.msg_source == "CTBT_IDC"
    assert message.prod_id == "173 156379"
    assert message.data_types == ["LOG", "SPHDF"]
    log, phd = message.sections
    assert isinstance(log, RawSection)
    assert log.lines[0] == " Info - 68646754 - Job 105678347: job status has changed to: QUEUED"
    assert isinstance(phd, Phd)
    h = phd.header
    assert (h.station, h.detector, h.system_type, h.geometry, h.qualifier) == (
        "IOM53",
        "IOM53_002",
        "P",
        "CINDERELLA_77x8mm",
        "FULL",
    )
    assert h.srid == "53202110021311"
    assert (h.measurement_id, h.detector_bk_id, h.gas_bk_id) == (
        "IOM53_005-2020/03/03-09:04:27.0",
        "0",
        "0",
    )
    assert phd.collection.air_volume == 11036.6
    assert phd.acquisition.live_time == 84578.2
    assert phd.g_spectrum.energy_span == 2803
    assert phd.g_spectrum.channels == 15  # what the fragment holds of the declared 8192


def test_a_beta_gamma_sample_values():
    phd = read_file(PHD_FIXTURES / "MIX_NobleGas__SAMPLE20211203070613605.PHD").phd
    h = phd.header
    assert (h.station, h.detector, h.system_type, h.geometry, h.qualifier, h.srid) == (
        "MIX58",
        "MIX58_222",
        "B",
        "CYLINDER",
        "FULL",
        "58202112020111X",
    )
    assert h.gas_bk_id == "MIX58_222-2021/12/02-08:08:59.1"
    assert h.transmit_time == datetime(2021, 12, 3, 7, 6, 13, 600_000, tzinfo=UTC)
    assert phd.comment == "Histogram data\n"
    assert phd.collection.start == datetime(2021, 12, 2, 1, 0, 25, tzinfo=UTC)
    assert phd.collection.air_volume == 22.3474140
    assert (phd.acquisition.real_time, phd.acquisition.live_time) == (50719.17, 50400.0)
    assert phd.processing.xe_volume == 0.99533
    assert phd.processing.archive_bottle_id == "17"
    assert phd.b_energy[0].mode == "C"
    assert [r.roi for r in phd.roi_limits][:3] == [1, 2, 3]
    assert (phd.bg_efficiency[-1].nuclide, phd.bg_efficiency[-1].roi) == ("XE-13310", 10)
    assert phd.ratios[-1].ratio_id == "XE133-10_81:30"
    assert (phd.g_spectrum.channels, phd.g_spectrum.energy_span) == (256, 720)
    assert phd.g_spectrum.first_channel == 0
    assert list(phd.g_spectrum.counts[3:6]) == [0, 2900, 6308]  # "0  0 0 0 0 2900", "5  6308 ..."
    assert phd.histogram.counts.shape == (256, 256)
    assert phd.histogram.counts.sum() > 0


def test_a_calibration_file_with_a_bare_certificate():
    message = read_file(PHD_FIXTURES / "MIX_NobleGas__SPIKE20190502222812845.PHD")
    phd = message.phd
    assert phd.data_type == "CALIBPHD"
    assert phd.collection is None and phd.processing is None
    assert phd.calibration_time == datetime(2019, 3, 7, 22, 53, 14, tzinfo=UTC)
    assert phd.certificate.entries == [("Xe-133",)]
    assert phd.certificate.total_activity is None
    assert [str(w).split(": ", 1)[1] for w in message.warnings] == [
        "#Certificate: no 'total activity, assay date, assay time' line"
    ]


# ---------------------------------------------------------------------------- canonical
def test_the_canonical_file_round_trips_byte_for_byte():
    data = CANONICAL.read_bytes()
    message = read_message(data, source=CANONICAL.name)
    assert message.warnings == []
    assert write_message(message).encode("ascii") == data


def test_the_canonical_file_is_what_the_writer_makes_of_its_message():
    message = canonical_message()
    assert read_file(CANONICAL) == message
    assert write_message(message).encode("ascii") == CANONICAL.read_bytes()


def test_the_canonical_file_is_stax_like():
    message = read_file(CANONICAL)
    text = CANONICAL.read_text()
    assert text.startswith("BEGIN STX1.0\nMSG_TYPE DATA\nMSG_ID 856022299609035337 AUS02\n")
    assert "\nAUS02 AUS02_001 P Marinelli         FULL\n" in text
    spectrum = message.phd.g_spectrum
    assert (spectrum.channels, spectrum.first_channel) == (CHANNELS, 0)
    assert len(spectrum.counts) == 16384
    assert message.phd.stack.stack_flow_m3_s == 21.225
