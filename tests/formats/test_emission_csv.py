"""The daily emission CSV: layout, reading, writing and what is refused."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.formats import (
    NUCLIDES,
    EmissionRow,
    FormatError,
    NuclideValue,
    read_emission_csv,
    release_unit,
    write_emission_csv,
)

HEADER = (
    "Station,Time,"
    "I-131 val,I-131 mdr,I-131 unc,KR-85M val,KR-85M mdr,KR-85M unc,"
    "KR-88 val,KR-88 mdr,KR-88 unc,XE-131M val,XE-131M mdr,XE-131M unc,"
    "XE-133 val,XE-133 mdr,XE-133 unc,XE-133M val,XE-133M mdr,XE-133M unc,"
    "XE-135 val,XE-135 mdr,XE-135 unc,Unit"
)
# The first two rows of the STAX example (seeds: 001), in our layout.
STAX_ROWS = (
    "STAXX,2022-05-15T00:00:00Z,,3.770E+03,,,5.550E+03,,,,,,,,"
    "6.210E+06,7.970E+04,8.940E+05,,7.750E+04,,9.730E+04,,,kBq/900s\n"
    "STAXX,2022-05-15T00:45:00Z,,4.740E+03,,,4.710E+03,,,,,,,,"
    "6.360E+06,7.910E+04,9.140E+05,,7.790E+04,,9.540E+04,,,kBq/901s\n"
)


def row(time: datetime, xe133: float | None, unit: str = "kBq/900s") -> EmissionRow:
    values = {n: NuclideValue(mdr=1.0e3) for n in NUCLIDES}
    if xe133 is not None:
        values["XE-133"] = NuclideValue(xe133, 7.97e4, 0.144 * xe133)
    return EmissionRow("STAXX", time, values, unit)


def test_the_header():
    assert write_emission_csv([]) == HEADER + "\n"


def test_a_stax_like_file_reads():
    rows = read_emission_csv(HEADER + "\n" + STAX_ROWS, source="day.csv")
    assert [r.time for r in rows] == [
        datetime(2022, 5, 15, 0, 0, tzinfo=UTC),
        datetime(2022, 5, 15, 0, 45, tzinfo=UTC),
    ]
    first = rows[0]
    assert first.station == "STAXX"
    assert first.unit == "kBq/900s"
    assert rows[1].unit == "kBq/901s"
    assert list(first.values) == list(NUCLIDES)
    assert first.values["XE-133"] == NuclideValue(6.21e6, 7.97e4, 8.94e5)
    assert first.values["XE-133M"] == NuclideValue(None, 7.75e4, None)
    assert first.values["XE-131M"] == NuclideValue(None, None, None)
    assert first.values["XE-135"] == NuclideValue(9.73e4, None, None)


def test_written_values_have_four_significant_digits():
    t = datetime(2022, 5, 15, tzinfo=UTC)
    text = write_emission_csv([row(t, 6209876.5)])
    line = text.splitlines()[1]
    assert line.startswith("STAXX,2022-05-15T00:00:00Z,,1.000E+03,,")
    assert ",6.210E+06,7.970E+04,8.942E+05," in line
    assert line.endswith(",kBq/900s")


def test_a_non_detect_has_empty_val_and_unc_and_a_given_mdr():
    t = datetime(2022, 5, 15, tzinfo=UTC)
    line = write_emission_csv([row(t, None)]).splitlines()[1]
    cells = line.split(",")
    xe133 = 2 + 3 * NUCLIDES.index("XE-133")
    assert cells[xe133 : xe133 + 3] == ["", "1.000E+03", ""]


def test_other_nuclides_get_columns_after_the_standard_seven():
    t = datetime(2022, 5, 15, tzinfo=UTC)
    r = row(t, 1e6)
    r.values["XE-135M"] = NuclideValue(2e5, 1e3, 3e4)
    text = write_emission_csv([r])
    assert text.splitlines()[0].endswith(",XE-135 unc,XE-135M val,XE-135M mdr,XE-135M unc,Unit")
    assert read_emission_csv(text)[0].values["XE-135M"] == NuclideValue(2e5, 1e3, 3e4)


def test_chosen_columns():
    t = datetime(2022, 5, 15, tzinfo=UTC)
    r = EmissionRow("AUS02", t, {"XE-133": NuclideValue(1.0, 2.0, 3.0)}, "Bq/900s")
    text = write_emission_csv([r], nuclides=["XE-133", "XE-135"])
    assert text == (
        "Station,Time,XE-133 val,XE-133 mdr,XE-133 unc,XE-135 val,XE-135 mdr,XE-135 unc,Unit\n"
        "AUS02,2022-05-15T00:00:00Z,1.000E+00,2.000E+00,3.000E+00,,,,Bq/900s\n"
    )
    with pytest.raises(ValueError, match="not in the columns"):
        write_emission_csv([r], nuclides=["XE-135"])


def test_release_unit():
    assert release_unit(900.4) == "kBq/900s"
    assert release_unit(900.6) == "kBq/901s"
    assert release_unit(900, prefix="") == "Bq/900s"


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        (EmissionRow("staxx", datetime(2022, 5, 15, tzinfo=UTC), {}, "kBq/900s"), "station code"),
        (EmissionRow("STAXX", datetime(2022, 5, 15), {}, "kBq/900s"), "timezone-aware"),
        (
            EmissionRow("STAXX", datetime(2022, 5, 15, 0, 0, 0, 1, tzinfo=UTC), {}, "kBq/900s"),
            "whole seconds",
        ),
        (EmissionRow("STAXX", datetime(2022, 5, 15, tzinfo=UTC), {}, "kBq"), "unit must look like"),
        (
            EmissionRow(
                "STAXX",
                datetime(2022, 5, 15, tzinfo=UTC),
                {"XE-133": NuclideValue(float("inf"))},
                "kBq/900s",
            ),
            "finite",
        ),
        (
            EmissionRow(
                "STAXX",
                datetime(2022, 5, 15, tzinfo=UTC),
                {"XE-133": NuclideValue(1.7976e308)},
                "kBq/900s",
            ),
            "below 1.797E",
        ),
    ],
)
def test_the_writer_refuses_rows_it_cannot_write(bad_row, message):
    with pytest.raises(ValueError, match=message):
        write_emission_csv([bad_row])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "x.csv: empty: no header line"),
        (
            "Time,Station,Unit\n",
            "x.csv:1: the header must read 'Station,Time,<NUC> val,<NUC> mdr,<NUC> unc,...,Unit'",
        ),
        (
            "Station,Time,XE-133 val,XE-133 mdr,Unit\n",
            "x.csv:1: column 'XE-133 unc' is missing",
        ),
        (
            "Station,Time,Xe-133 val,Xe-133 mdr,Xe-133 unc,Unit\n",
            "x.csv:1: column 3: expected '<NUC> val', '<NUC> mdr' or '<NUC> unc' "
            "(e.g. 'XE-133 val'), found 'Xe-133 val'",
        ),
        (
            HEADER + "\nSTAXX,2022-05-15T00:00:00Z,kBq/900s\n",
            "x.csv:2: expected 24 cells, found 3",
        ),
        (
            HEADER + "\n" + STAX_ROWS.replace("2022-05-15T00:45:00Z", "5/15/2022 0:45"),
            "x.csv:3: Time: expected yyyy-mm-ddThh:mm:ssZ (UTC), found '5/15/2022 0:45'; "
            "a spreadsheet program may have rewritten it",
        ),
        (
            HEADER + "\n" + STAX_ROWS.replace("6.210E+06", "six"),
            "x.csv:2: XE-133 val: not a number: 'six'",
        ),
        (
            HEADER + "\n" + STAX_ROWS.replace("6.210E+06", "nan"),
            "x.csv:2: XE-133 val: not a number: 'nan'",
        ),
        (
            HEADER + "\n" + STAX_ROWS.replace("6.210E+06", ""),
            "x.csv:2: XE-133 unc: an uncertainty without a value",
        ),
        (
            HEADER + "\n" + STAX_ROWS.replace("kBq/901s", "Bq/h/901s"),
            "x.csv:3: Unit: expected a unit like kBq/900s, found 'Bq/h/901s'",
        ),
        (HEADER + '\nSTAXX,"2022\n', "x.csv:2: not CSV: unexpected end of data"),
    ],
)
def test_problems_say_file_line_and_column(text, message):
    with pytest.raises(FormatError) as exc:
        read_emission_csv(text, source="x.csv")
    assert str(exc.value) == message


def test_every_bad_row_is_reported():
    text = HEADER + "\n" + STAX_ROWS.replace("STAXX,2022-05-15T00", "STAXX,bad")
    with pytest.raises(FormatError) as exc:
        read_emission_csv(text, source="x.csv")
    assert [p.line for p in exc.value.problems] == [2, 3]


def test_what_spreadsheets_add_is_accepted():
    text = "\ufeff" + (HEADER + "\n" + STAX_ROWS).replace("\n", "\r\n") + "\r\n"
    rows = read_emission_csv(text.encode("utf-8"))
    assert len(rows) == 2
    assert rows[0].values["XE-133"].val == 6.21e6


# ---------------------------------------------------------------------------- properties
def quantised(x: float) -> float:
    return float(f"{x:.3E}")


values = st.none() | st.floats(-1e300, 1e300).map(quantised)
nuclide_names = st.from_regex(r"[A-Z][A-Z]?-[0-9]{1,3}M?", fullmatch=True)


@st.composite
def days(draw) -> list[EmissionRow]:
    nuclides = list(NUCLIDES) + draw(
        st.lists(nuclide_names.filter(lambda n: n not in NUCLIDES), max_size=2, unique=True)
    )
    start = draw(
        st.datetimes(
            min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        )
    ).replace(microsecond=0)
    station = draw(st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=5))
    rows = []
    for i in range(draw(st.integers(0, 4))):
        vals = {}
        for n in nuclides:
            val, mdr, unc = draw(values), draw(values), draw(values)
            vals[n] = NuclideValue(val, mdr, unc if val is not None else None)
        unit = release_unit(draw(st.floats(1, 3600)), prefix=draw(st.sampled_from(["", "k", "M"])))
        rows.append(EmissionRow(station, start + i * timedelta(minutes=15), vals, unit))
    return rows


@settings(max_examples=150, deadline=None)
@given(days())
def test_round_trip(rows):
    assert read_emission_csv(write_emission_csv(rows)) == rows


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_any_input_gives_rows_or_a_format_error(data):
    try:
        rows = read_emission_csv(data)
    except FormatError as exc:
        assert str(exc).startswith("<csv>")
    else:
        assert all(isinstance(r, EmissionRow) for r in rows)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_files_give_rows_or_a_format_error(data):
    text = HEADER + "\n" + STAX_ROWS
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        piece = data.draw(
            st.sampled_from([",", '"', "\n", "\r", "\x00", "E", "-", "1e999", "\ufeff"])
        )
        if data.draw(st.booleans()):
            text = text[:at] + piece + text[at:]
        else:
            text = text[:at] + text[at + 1 :]
    try:
        rows = read_emission_csv(text)
    except FormatError as exc:
        assert all(p.source == "<csv>" for p in exc.problems)
    else:
        assert all(isinstance(r, EmissionRow) for r in rows)
