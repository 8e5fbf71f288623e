"""ATS documents for tests: one hand-written day and a Hypothesis strategy for any valid one."""

from __future__ import annotations

import copy
import string
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from shared.timeutil import iso_z


def nuclide(name: str, detected: bool, release: float | None = None) -> dict:
    return {
        "Name": name,
        "Detected": detected,
        "Activity": 1234.5 if detected else -3.2,
        "ActivityUncertainty": 56.7 if detected else 20.1,
        "ActivityUnit": "Bq",
        "Concentration": 4.5e6 if detected else None,
        "ConcentrationUncertainty": 2.1e5 if detected else None,
        "ConcentrationUnit": "Bq/m3",
        "Release": release if detected else None,
        "ReleaseUncertainty": 0.05 * release if detected and release else None,
        "ReleaseUnit": "Bq/900s",
        "DecisionThreshold": 31.0,
        "DetectionLimit": 66.0,
        "MDR": 7.97e7,
        "Lines": [{"Energy": 80.9979, "NetArea": 15234.0, "NetAreaUncertainty": 150.2}]
        if detected
        else [],
    }


def sample(start: datetime, detected: bool = True) -> dict:
    stop = start + timedelta(minutes=15)
    srid = f"SM02{start:%Y%m%d%H%M}"
    return {
        "SampleId": srid,
        "FileName": f"AUS02_8560222996090{start:%H%M}_PHD_{start:%Y_%m_%dT%H_%M_%S}.TXT",
        "Collection": {
            "CollectionPeriod": {"Start": iso_z(start), "Stop": iso_z(stop)},
            "SampleSize": {"Value": 0.0017, "Unit": "m3"},
            "StackFlow": {"Value": 21.225, "Unit": "m3/s", "Uncertainty": 0.4},
            "TransitTime": {"Value": 12.0, "Unit": "s"},
            "ReferencePressure": {"Value": 101.325, "Unit": "kPa"},
            "ReferenceTemperature": {"Value": 273.15, "Unit": "K"},
        },
        "Acquisition": {"Start": iso_z(start), "RealTime": 900.0, "LiveTime": 896.436},
        "Analysis": {
            "Method": "stax-monitor station analysis 0.1.0",
            "Nuclides": [
                nuclide("XE-133", detected, 6.21e9),
                nuclide("XE-131M", False),
            ],
        },
    }


def example_ats(samples: int = 4) -> dict:
    """A valid ATS document: one detector, `samples` 15-minute samples from midnight."""
    day = datetime(2022, 5, 15, tzinfo=UTC)
    return {
        "MetaData": {
            "GenerationDate": "2022-05-16T00:21:33.861Z",
            "GeneratedBy": "stax-monitor 0.1.0",
            "Description": "Daily report for AUS02",
            "Version": "1.0",
            "Analysis": "STATION",
            "Day": "2022-05-15",
        },
        "Station": {
            "Code": "AUS02",
            "Site": "ANSTO",
            "Country": "AUSTRALIA",
            "Latitude": -34.05087,
            "Longitude": 150.97886,
            "Altitude": 0,
            "EmitterType": "MIP",
        },
        "Detectors": [
            {
                "Code": "AUS02_001",
                "Manufacturer": "Canberra",
                "Calibrations": [
                    {
                        "Time": "2022-04-20T04:06:46.000Z",
                        "Energy": [
                            {"Energy": 46.9904, "Channel": 181.0, "Uncertainty": 0.0},
                            {"Energy": 1460.82, "Channel": 7977.0, "Uncertainty": 0.1},
                        ],
                        "Resolution": [{"Energy": 122.06, "FWHM": 0.9, "Uncertainty": 0.01}],
                        "Efficiency": [
                            {"Energy": 81.0, "Efficiency": 0.021, "Uncertainty": 0.0005}
                        ],
                    }
                ],
                "Samples": [
                    sample(day + i * timedelta(minutes=15), i % 2 == 0) for i in range(samples)
                ],
            }
        ],
    }


def without(doc: dict, path: str) -> dict:
    """A copy of doc with the key at a '/'-separated path removed."""
    doc = copy.deepcopy(doc)
    *parents, last = path.split("/")
    target = doc
    for p in parents:
        target = target[int(p)] if isinstance(target, list) else target[p]
    del target[last]
    return doc


# ---------------------------------------------------------------------------- any valid document
finite = st.floats(allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=0, allow_nan=False, allow_infinity=False)
texts = st.text(max_size=20)
ms_times = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda t: iso_z(t.replace(microsecond=t.microsecond // 1000 * 1000)))
codes = st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=5)


def _optional(required: dict, optional: dict) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries(required, optional=optional)


def _quantity(unit: str) -> st.SearchStrategy[dict]:
    return _optional(
        {"Value": st.none() | positive, "Unit": st.just(unit)},
        {"Uncertainty": st.none() | positive},
    )


def _points(second: str) -> st.SearchStrategy[list]:
    return st.lists(
        st.fixed_dictionaries({"Energy": finite, second: finite, "Uncertainty": positive}),
        max_size=3,
    )


@st.composite
def _nuclides(draw) -> dict:
    detected = draw(st.booleans())
    number_or_none = st.none() | finite
    mdr = draw(st.none() | positive)
    has_release = detected and mdr is not None  # a detect without stack data has none
    counting = {} if draw(st.booleans()) else {"ActivityCountingUncertainty": draw(positive)}
    return {
        "Name": draw(st.from_regex(r"[A-Z][A-Z]?-[0-9]{1,3}M?", fullmatch=True)),
        "Detected": detected,
        "Activity": draw(finite if detected else number_or_none),
        "ActivityUncertainty": draw(st.none() | positive),
        "ActivityUnit": draw(st.sampled_from(["Bq", "kBq", "MBq"])),
        "Concentration": draw(number_or_none),
        "ConcentrationUncertainty": draw(st.none() | positive),
        "ConcentrationUnit": draw(st.sampled_from(["Bq/m3", "kBq/m3", "MBq/m3"])),
        "Release": draw(finite) if has_release else None,
        "ReleaseUncertainty": draw(positive) if has_release else None,
        "ReleaseUnit": draw(
            st.from_regex(r"(Bq|kBq|MBq|GBq|TBq)/([1-9][0-9]{0,3}s|h)", fullmatch=True)
        ),
        "DecisionThreshold": draw(st.none() | positive),
        "DetectionLimit": draw(st.none() | positive),
        "MDR": mdr,
        **counting,
        "Lines": draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "Energy": finite,
                        "NetArea": st.none() | finite,
                        "NetAreaUncertainty": st.none() | positive,
                    }
                ),
                max_size=2,
            )
        ),
    }


_samples = st.fixed_dictionaries(
    {
        "SampleId": st.text(string.ascii_letters + string.digits, min_size=1, max_size=16),
        "FileName": st.none()
        | st.from_regex(
            r"[A-Z0-9]{5}_[0-9]{1,18}_PHD_20[0-9]{2}_[01][0-9]_[0-3][0-9]T[0-2][0-9]_[0-5][0-9]_[0-5][0-9]\.TXT",
            fullmatch=True,
        ),
        "Collection": _optional(
            {
                "CollectionPeriod": st.fixed_dictionaries({"Start": ms_times, "Stop": ms_times}),
                "SampleSize": _quantity("m3"),
                "StackFlow": _quantity("m3/s"),
            },
            {
                "SampleFlow": _quantity("m3/s"),
                "TransitTime": _quantity("s"),
                "ChamberPressure": _quantity("kPa"),
                "ChamberTemperature": _quantity("K"),
                "ReferencePressure": _quantity("kPa"),
                "ReferenceTemperature": _quantity("K"),
            },
        ),
        "Acquisition": st.fixed_dictionaries(
            {"Start": ms_times, "RealTime": positive, "LiveTime": positive}
        ),
        "Analysis": _optional(
            {
                "Method": st.text(min_size=1, max_size=20),
                "Nuclides": st.lists(_nuclides(), max_size=3),
            },
            {"Time": ms_times},
        ),
    }
)

ats_documents = st.fixed_dictionaries(
    {
        "MetaData": st.fixed_dictionaries(
            {
                "GenerationDate": ms_times,
                "GeneratedBy": st.text(min_size=1, max_size=20),
                "Description": texts,
                "Version": st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}", fullmatch=True),
                "Analysis": st.sampled_from(["STATION", "CENTRAL"]),
                "Day": st.dates(min_value=datetime(1970, 1, 1).date()).map(str),
            }
        ),
        "Station": _optional(
            {
                "Code": codes,
                "Site": texts,
                "Country": texts,
                "Latitude": st.none() | st.floats(-90, 90),
                "Longitude": st.none() | st.floats(-180, 180),
            },
            {
                "Altitude": st.none() | finite,
                "StackHeight": st.none() | positive,
                "Network": st.none() | texts,
                "Type": st.none() | texts,
                "EmitterType": st.none() | texts,
                "AlternateName": st.none() | texts,
                "Description": st.none() | texts,
            },
        ),
        "Detectors": st.lists(
            _optional(
                {
                    "Code": st.text(min_size=1, max_size=10),
                    "Manufacturer": st.none() | texts,
                    "Calibrations": st.lists(
                        st.fixed_dictionaries(
                            {
                                "Time": ms_times,
                                "Energy": _points("Channel"),
                                "Resolution": _points("FWHM"),
                                "Efficiency": _points("Efficiency"),
                            }
                        ),
                        max_size=2,
                    ),
                    "Samples": st.lists(_samples, max_size=3),
                },
                {"Model": st.none() | texts},
            ),
            max_size=2,
        ),
    }
)
