"""The ATS product: schema, validation messages, reading and writing."""

from __future__ import annotations

import copy
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from shared.formats import FormatError, ats_schema, read_ats, validate_ats, write_ats
from shared.formats.emission_csv import NUCLIDE_NAME, RELEASE_UNIT

from .ats_docs import ats_documents, example_ats, without


def problems(doc, source="ats.json") -> list[str]:
    with pytest.raises(FormatError) as exc:
        validate_ats(doc, source)
    return [str(p) for p in exc.value.problems]


# ---------------------------------------------------------------------------- the schema
def test_the_schema_is_valid_draft_2020_12():
    schema = ats_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def _properties(schema, where="#"):
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            yield f"{where}/properties/{name}", sub
        for key, sub in schema.items():
            yield from _properties(sub, f"{where}/{key}")
    elif isinstance(schema, list):
        for i, sub in enumerate(schema):
            yield from _properties(sub, f"{where}/{i}")


def test_every_property_has_a_description():
    props = list(_properties(ats_schema()))
    assert len(props) > 80
    undocumented = [where for where, sub in props if not sub.get("description")]
    assert undocumented == []


def test_csv_and_ats_agree_on_nuclide_names_and_release_units():
    defs = ats_schema()["$defs"]
    assert defs["NuclideName"]["pattern"] == f"^{NUCLIDE_NAME.pattern}$"
    assert defs["ReleaseUnit"]["pattern"] == f"^{RELEASE_UNIT.pattern}$"


# ---------------------------------------------------------------------------- valid documents
def test_the_example_is_valid():
    validate_ats(example_ats())


def test_written_layout():
    text = write_ats(example_ats(samples=1))
    assert text.startswith('{\n "MetaData": {\n  "GenerationDate": "2022-05-16T00:21:33.861Z",\n')
    assert text.endswith("\n}\n")
    assert text.isascii()
    top = list(json.loads(text))
    assert top == ["MetaData", "Station", "Detectors"]


def test_keys_come_out_in_the_schema_order_whatever_the_input_order():
    doc = example_ats()

    def shuffled(value, rng):
        if isinstance(value, dict):
            items = list(value.items())
            rng.shuffle(items)
            return {k: shuffled(v, rng) for k, v in items}
        if isinstance(value, list):
            return [shuffled(v, rng) for v in value]
        return value

    expected = write_ats(doc)
    for seed in range(5):
        assert write_ats(shuffled(doc, random.Random(seed))) == expected
    nuclide = json.loads(expected)["Detectors"][0]["Samples"][0]["Analysis"]["Nuclides"][0]
    assert list(nuclide)[:3] == ["Name", "Detected", "Activity"]


def test_non_ascii_text_is_escaped():
    doc = example_ats(samples=1)
    doc["Station"]["Site"] = "Fleurus – Belgique"
    text = write_ats(doc)
    assert "Fleurus \\u2013 Belgique" in text
    assert read_ats(text)["Station"]["Site"] == "Fleurus – Belgique"


@settings(max_examples=100, deadline=None)
@given(ats_documents)
def test_round_trip(doc):
    assert read_ats(write_ats(doc)) == doc


# ---------------------------------------------------------------------------- what is refused, and how it is said
def test_a_missing_property_is_named_with_its_path():
    doc = without(example_ats(), "Detectors/0/Samples/3/Analysis/Method")
    assert problems(doc) == [
        "ats.json: Detectors/0/Samples/3/Analysis: 'Method' is a required property"
    ]


def test_a_missing_top_level_part():
    assert problems(without(example_ats(), "Station")) == [
        "ats.json: 'Station' is a required property"
    ]


def test_every_problem_is_reported_in_document_order():
    doc = without(example_ats(), "Detectors/0/Samples/2/SampleId")
    doc = without(doc, "MetaData/Day")
    doc["Detectors"][0]["Samples"][0]["Acquisition"]["LiveTime"] = -1
    assert problems(doc) == [
        "ats.json: Detectors/0/Samples/0/Acquisition/LiveTime: -1 is less than the minimum of 0",
        "ats.json: Detectors/0/Samples/2: 'SampleId' is a required property",
        "ats.json: MetaData: 'Day' is a required property",
    ]


def test_a_non_detect_has_no_release():
    doc = example_ats()
    xe131m = doc["Detectors"][0]["Samples"][0]["Analysis"]["Nuclides"][1]
    assert xe131m["Detected"] is False
    xe131m["Release"] = 5.0
    assert problems(doc) == [
        "ats.json: Detectors/0/Samples/0/Analysis/Nuclides/1/Release: 5.0 is not of type 'null'"
    ]


def test_a_detect_needs_a_release():
    doc = example_ats()
    xe133 = doc["Detectors"][0]["Samples"][0]["Analysis"]["Nuclides"][0]
    xe133["Release"] = None
    assert problems(doc) == [
        "ats.json: Detectors/0/Samples/0/Analysis/Nuclides/0/Release: None is not of type 'number'"
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "2022-05-16T00:21:33Z",
            "ats.json: MetaData/GenerationDate: '2022-05-16T00:21:33Z' does not match "
            "'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\\\.[0-9]{3}Z$'",
        ),
        (
            "2022-13-16T00:21:33.861Z",
            "ats.json: MetaData/GenerationDate: '2022-13-16T00:21:33.861Z' is not a 'date-time'",
        ),
    ],
)
def test_times_need_milliseconds_and_z_and_must_exist(value, message):
    doc = example_ats()
    doc["MetaData"]["GenerationDate"] = value
    assert problems(doc) == [message]


def test_the_day_must_exist():
    doc = example_ats()
    doc["MetaData"]["Day"] = "2022-02-30"
    assert problems(doc) == ["ats.json: MetaData/Day: '2022-02-30' is not a 'date'"]


def test_unknown_keys_are_refused():
    doc = example_ats()
    doc["Station"]["Stackheight"] = 30
    assert problems(doc) == [
        "ats.json: Station: Additional properties are not allowed ('Stackheight' was unexpected)"
    ]


def test_a_pattern_matches_the_whole_value_as_in_ecmascript():
    doc = example_ats()
    doc["Station"]["Code"] = "AUS02\n"
    assert problems(doc) == ["ats.json: Station/Code: 'AUS02\\n' does not match '^[A-Z0-9]+$'"]


def test_units_are_fixed():
    doc = example_ats()
    doc["Detectors"][0]["Samples"][1]["Collection"]["StackFlow"]["Unit"] = "m3/h"
    assert problems(doc) == [
        "ats.json: Detectors/0/Samples/1/Collection/StackFlow/Unit: 'm3/s' was expected"
    ]


def test_the_writer_refuses_what_json_cannot_carry():
    doc = example_ats()
    doc["Station"]["Altitude"] = float("nan")
    with pytest.raises(FormatError) as exc:
        write_ats(doc)
    assert str(exc.value) == "<ats>: Station/Altitude: nan is not a number JSON can carry"


def test_the_writer_refuses_an_invalid_document():
    with pytest.raises(FormatError, match="'Detectors' is a required property"):
        write_ats(without(example_ats(), "Detectors"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            '{\n "MetaData": {,\n}',
            "ats.json:2: not valid JSON, column 15: Expecting property name enclosed in double quotes",
        ),
        ("", "ats.json:1: not valid JSON, column 1: Expecting value"),
        ('{"a": NaN}', "ats.json: not valid JSON: NaN is not a JSON number"),
        ('{"a": 1, "a": 2}', "ats.json: not valid JSON: key 'a' appears twice in one object"),
        ("[" * 100_000, "ats.json: not valid JSON: nested too deeply"),
        (b'{"a": "\xff"}', "ats.json: not UTF-8: byte 0xff at offset 7"),
        ("[]", "ats.json: [] is not of type 'object'"),
    ],
)
def test_bad_files(data, message):
    with pytest.raises(FormatError) as exc:
        read_ats(data, source="ats.json")
    assert str(exc.value) == message


def test_read_accepts_bytes_and_text():
    text = write_ats(example_ats())
    assert read_ats(text.encode("ascii")) == read_ats(text) == example_ats()


# ---------------------------------------------------------------------------- fuzz
@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_any_input_gives_a_document_or_a_format_error(data):
    try:
        doc = read_ats(data)
    except FormatError as exc:
        assert str(exc).startswith("<ats>")
    else:
        assert isinstance(doc, dict)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_documents_give_a_document_or_a_format_error(data):
    text = write_ats(example_ats(samples=2))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = data.draw(st.sampled_from(['"', ",", "}", "]", "null", "-1", "1e999", "true", "x"]))
        if op == "insert":
            text = text[:at] + piece + text[at:]
        elif op == "delete":
            text = text[:at] + text[at + len(piece) :]
        else:
            text = text[:at] + piece + text[at + len(piece) :]
    try:
        doc = read_ats(text)
    except FormatError:
        return
    validate_ats(copy.deepcopy(doc))


def test_a_detect_without_stack_data_has_neither_release_nor_mdr():
    doc = example_ats()
    xe133 = doc["Detectors"][0]["Samples"][0]["Analysis"]["Nuclides"][0]
    xe133.update(Release=None, ReleaseUncertainty=None, MDR=None)
    validate_ats(doc)
    xe133["Release"] = 5.0
    assert problems(doc) == [
        "ats.json: Detectors/0/Samples/0/Analysis/Nuclides/0/Release: 5.0 is not of type 'null'"
    ]
