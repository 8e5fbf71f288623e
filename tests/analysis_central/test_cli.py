"""`stax analyze`: tables, JSON lines, both methods, and files that cannot be analysed."""

from __future__ import annotations

import json

import pytest

from shared.formats import write_message
from shared.formats.sample_phd import sample_message
from stax.cli import main

from .simulated import simulate

NUCLIDE_KEYS = {
    "activity_bq",
    "activity_unc_bq",
    "concentration_bq_m3",
    "release_bq",
    "release_unc_bq",
    "decision_threshold_bq",
    "mdr_bq",
    "detected",
    "lines",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("phd")
    good = []
    for i, sources in enumerate(({"Xe-133": 800.0, "Xe-135": 20.0}, {"Pb-214": 1.0})):
        path = folder / f"sample{i}.phd"
        path.write_text(write_message(sample_message(simulate(sources, seed=i).phd, 100 + i)))
        good.append(str(path))
    bad = folder / "broken.phd"
    bad.write_text("BEGIN IMS2.0\nMSG_TYPE DATA\nMSG_ID 1\nDATA_TYPE SAMPLEPHD\n#Header 3\nSTOP\n")
    return good, str(bad)


def test_json_lines_with_the_documented_keys(files, capsys):
    good, _ = files
    assert main(["analyze", *good, "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["file"] == good[0] and first["method"] == "central"
    assert "peaks" in first and first["elapsed_s"] > 0
    xe = first["nuclides"]["Xe-133"]
    assert set(xe) >= NUCLIDE_KEYS and xe["detected"]
    assert {"energy_kev", "net_area", "activity_bq"} <= set(xe["lines"][0])


def test_a_bad_file_among_good_ones(files, capsys):
    good, bad = files
    assert main(["analyze", good[0], bad, good[1], "--json"]) == 1
    out = capsys.readouterr()
    assert [json.loads(x)["file"] for x in out.out.splitlines()] == [good[0], good[1]]
    errors = out.err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(bad)


def test_the_table(files, capsys):
    good, _ = files
    assert main(["analyze", good[0]]) == 0
    out = capsys.readouterr().out
    assert "central method" in out and "release (Bq)" in out and "MDR (Bq)" in out
    row = next(x for x in out.splitlines() if x.strip().startswith("Xe-133 "))
    assert " yes " in row and "81.0" in row


def test_both_methods_side_by_side(files, capsys):
    good, _ = files
    assert main(["analyze", good[0], "--method", "both", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert set(obj) == {"file", "station", "central", "comparison"}
    assert obj["station"]["method"] == "station" and obj["central"]["method"] == "central"
    xe = next(c for c in obj["comparison"] if c["nuclide"] == "Xe-133")
    assert xe["station_detected"] and xe["central_detected"] and xe["z"] is not None
    assert main(["analyze", good[0], "--method", "both"]) == 0
    table = capsys.readouterr().out
    assert "station release" in table and "central release" in table and "reason" in table


def test_a_method_that_is_not_installed(files, capsys, monkeypatch):
    from stax.commands import analyze

    monkeypatch.setitem(analyze.METHOD_MODULES, "station", "no_such_package.analysis")
    good, _ = files
    assert main(["analyze", good[0], "--method", "both"]) == 2
    assert "station method is not available" in capsys.readouterr().err
