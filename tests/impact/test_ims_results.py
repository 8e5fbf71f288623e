"""The IMS station's own results CSV: what the page shows beside the computed impact."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.atm.ims_results import read_ims_results
from shared.formats import FormatError


def test_rows_read_in_any_column_order_and_mbq():
    text = (
        "\ufeffnuclide,sample_stop,sample_start,concentration_mbq_m3,uncertainty_mbq_m3,comment\n"
        "xe-133,2019-08-05T16:00:00Z,2019-08-04T16:00:00Z,0.42,0.11,ok\n"
        "XE-131M,2019-08-05 16:00,2019-08-04 16:00,0.03,,\n"
    )
    a, b = read_ims_results(text.encode(), "ims.csv")
    assert a.nuclide == "XE-133" and a.sample_start == datetime(2019, 8, 4, 16, tzinfo=UTC)
    assert (
        abs(a.concentration_bq_m3 - 0.42e-3) < 1e-15 and abs(a.uncertainty_bq_m3 - 0.11e-3) < 1e-15
    )
    assert b.uncertainty_bq_m3 is None and b.sample_stop.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "what"),
    [
        ("a,b\n", "ims.csv:1: the header lacks sample_start"),
        (
            "sample_start,sample_stop,nuclide,concentration_bq_m3,uncertainty_bq_m3\n"
            "2019-08-05T16:00:00Z,2019-08-04T16:00:00Z,XE-133,1,0.1\n",
            "ims.csv:2: sample_stop: the sample stops before it starts",
        ),
        (
            "sample_start,sample_stop,nuclide,concentration_bq_m3,uncertainty_bq_m3\n"
            "2019-08-04T16:00:00Z,2019-08-05T16:00:00Z,XE-133,x,0.1\n",
            "ims.csv:2: concentration: not a number",
        ),
        ("", "ims.csv: empty: no header line"),
    ],
)
def test_bad_rows_are_named(text, what):
    with pytest.raises(FormatError) as err:
        read_ims_results(text, "ims.csv")
    assert str(err.value).startswith(what)
