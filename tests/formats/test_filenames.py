"""Product file names: parse, build, and the product type of each DATA_TYPE."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.formats import (
    PHD_TYPES,
    ProductName,
    extension_for,
    parse_product_name,
    product_for_data_type,
)

REAL_NAMES = [
    # as in the STAX presentations (../shared/seeds)
    "AUS02_856022299609035337_PHD_2023_11_17T14_15_00.TXT",
    "USS06_80353_ATS_2023_11_20T00_00_00.TXT",
    "USS06_79915_ATS_2023_11_16T00_00_00.AS",
    "STAXX_18713_CSV_2022_05_12T00_00_00.CSV",
    "AUS02_856022299609035273_CSV_2023_11_16T00_00_00.CSV",
    # the slides cut these after the date (SOH) and the minutes (ALERT): completed here
    "STAXX_53789_SOH_2023_04_22T22_00_00.TXT",
    "AUS02_856022299609035618_ALERT_2023_11_20T17_34_02.TXT",
]


@pytest.mark.parametrize("name", REAL_NAMES)
def test_real_names_parse_and_come_back(name):
    assert str(parse_product_name(name)) == name


def test_parts_of_a_name():
    p = parse_product_name("AUS02_856022299609035337_PHD_2023_11_17T14_15_00.TXT")
    assert p == ProductName(
        "AUS02", "856022299609035337", "PHD", datetime(2023, 11, 17, 14, 15, tzinfo=UTC), "TXT"
    )
    assert p.time.tzinfo is UTC


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "AUS02_1_PHD_2023_11_17T14_15_00",
            "not a product file name: 'AUS02_1_PHD_2023_11_17T14_15_00': no extension; "
            "a product file name looks like AUS02_856022299609035337_PHD_2023_11_17T14_15_00.TXT",
        ),
        (
            "AUS02_1_PHD_2023-11-17T14:15:00.TXT",
            "not a product file name: 'AUS02_1_PHD_2023-11-17T14:15:00.TXT': expected 8 parts "
            "separated by '_', found 4; a product file name looks like "
            "AUS02_856022299609035337_PHD_2023_11_17T14_15_00.TXT",
        ),
        (
            "AUS02_1_SPECTRUM_2023_11_17T14_15_00.TXT",
            "not a product file name: 'AUS02_1_SPECTRUM_2023_11_17T14_15_00.TXT': unknown "
            "product type 'SPECTRUM' (expected one of PHD, SOH, ALERT, ATS, CSV)",
        ),
        (
            "AUS02_1_PHD_2023_02_30T14_15_00.TXT",
            "not a product file name: 'AUS02_1_PHD_2023_02_30T14_15_00.TXT': not a valid date "
            "and time (day is out of range for month)",
        ),
        (
            "AUS02_1_CSV_2023_11_17T00_00_00.TXT",
            "not a product file name: 'AUS02_1_CSV_2023_11_17T00_00_00.TXT': CSV files end in "
            ".CSV, got '.TXT'",
        ),
        (
            "AUS02_1_PHD_2023_11_17T14_15_00.AS",
            "not a product file name: 'AUS02_1_PHD_2023_11_17T14_15_00.AS': PHD files end in "
            ".TXT, got '.AS'",
        ),
        (
            "aus02_1_PHD_2023_11_17T14_15_00.TXT",
            "not a product file name: 'aus02_1_PHD_2023_11_17T14_15_00.TXT': station code must "
            "be upper-case letters and digits, got 'aus02'",
        ),
        (
            "AUS02_1_PHD_2023_11_17T14_15_00.txt",
            "not a product file name: 'AUS02_1_PHD_2023_11_17T14_15_00.txt': PHD files end in "
            ".TXT, got '.txt'",
        ),
    ],
)
def test_bad_names_say_what_is_wrong(name, message):
    with pytest.raises(ValueError) as exc:
        parse_product_name(name)
    assert str(exc.value) == message


def test_times_are_utc_and_whole_seconds():
    t = datetime(2023, 11, 17, 16, 15, tzinfo=timezone(timedelta(hours=2)))
    assert str(ProductName("AUS02", "7", "PHD", t, "TXT")).endswith("_2023_11_17T14_15_00.TXT")
    with pytest.raises(ValueError, match="timezone-aware"):
        ProductName("AUS02", "7", "PHD", datetime(2023, 11, 17), "TXT")
    with pytest.raises(ValueError, match="whole seconds"):
        ProductName("AUS02", "7", "PHD", datetime(2023, 11, 17, 0, 0, 0, 500, tzinfo=UTC), "TXT")


def test_message_ids_cannot_hold_the_separator():
    with pytest.raises(ValueError, match="message id"):
        ProductName("AUS02", "7_8", "PHD", datetime(2023, 11, 17, tzinfo=UTC), "TXT")


@pytest.mark.parametrize(
    ("product", "analysis", "ext"),
    [
        ("PHD", "STATION", "TXT"),
        ("SOH", "STATION", "TXT"),
        ("ALERT", "STATION", "TXT"),
        ("ATS", "STATION", "TXT"),
        ("ATS", "CENTRAL", "AS"),
        ("CSV", "STATION", "CSV"),
        ("CSV", "CENTRAL", "CSV"),
    ],
)
def test_extension_for(product, analysis, ext):
    assert extension_for(product, analysis) == ext


@pytest.mark.parametrize(
    ("data_type", "product"),
    [
        *((t, "PHD") for t in PHD_TYPES),
        ("RMSSOH", "SOH"),
        ("STAXSOH", "SOH"),
        ("ALERT_SYSTEM", "ALERT"),
        ("ALERT_FLOW", "ALERT"),
        ("ALERT_TEMP", "ALERT"),
        ("ALERT_UPS", "ALERT"),
    ],
)
def test_product_for_data_type(data_type, product):
    assert product_for_data_type(data_type) == product


@pytest.mark.parametrize("data_type", ["MET", "LOG", "ALERTS", ""])
def test_data_types_without_a_product_file(data_type):
    with pytest.raises(ValueError, match="no product file type"):
        product_for_data_type(data_type)


product_names = st.builds(
    ProductName,
    station=st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=5),
    msg_id=st.text(string.ascii_letters + string.digits, min_size=1, max_size=20),
    product=st.just("ATS"),
    time=st.datetimes(
        min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
    ).map(lambda t: t.replace(microsecond=0)),
    ext=st.sampled_from(["TXT", "AS"]),
) | st.sampled_from(["PHD", "SOH", "ALERT", "CSV"]).flatmap(
    lambda p: st.builds(
        ProductName,
        station=st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=5),
        msg_id=st.text(string.digits, min_size=1, max_size=20),
        product=st.just(p),
        time=st.datetimes(
            min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        ).map(lambda t: t.replace(microsecond=0)),
        ext=st.just(extension_for(p)),
    )
)


@settings(max_examples=200, deadline=None)
@given(product_names)
def test_names_round_trip(name):
    assert parse_product_name(str(name)) == name


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_raises_value_error(text):
    try:
        name = parse_product_name(text)
    except ValueError as exc:
        assert str(exc).startswith("not a product file name: ")
    else:
        assert str(name) == text
