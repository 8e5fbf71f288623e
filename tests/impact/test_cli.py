"""`stax impact srs`: one JSON object per SRS file, the arithmetic anyone can redo."""

from __future__ import annotations

import json
import math
from datetime import timedelta

from shared.formats import EmissionRow, NuclideValue, write_emission_csv
from stax.cli import main

from .synthetic import STOP, srs_text

M, DT = 1e15, 3 * 3600.0


def _srs(tmp_path, lines, name="TSX01.2024030206.TEST.txt", **kw):
    p = tmp_path / name
    p.write_text(srs_text(lines, **kw))
    return str(p)


def test_constant_release_json(tmp_path, capsys):
    a = _srs(tmp_path, ["10.00 20.00 6 5.0E+00"], steps=8)
    b = _srs(tmp_path, ["10.00 20.00 1 2.0E+00"], name="TSX01.2024030206.OTHER.txt")
    rc = main(["impact", "srs", a, b, "--emitter", "10,20", "--constant-bq-per-s", "2e7", "--json"])
    assert rc == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["station"] == "TSX01" and first["receptor"] == {
        "latitude": 10.0,
        "longitude": 20.0,
    }
    assert (first["sample_start"], first["sample_stop"]) == (
        "2024-03-01T06:00:00Z",
        "2024-03-02T06:00:00Z",
    )
    (xe,) = first["impacts"]
    lam = math.log(2) / (5.2474 * 86400)
    expected = 2e7 * DT * 5.0 / M * math.exp(-lam * (6.5 * DT - 12 * 3600))
    assert xe["nuclide"] == "XE-133" and abs(xe["concentration_bq_m3"] / expected - 1) < 1e-9
    assert second["centre"] == "OTHER" and second["steps"] == 4


def test_no_decay_and_a_bad_file(tmp_path, capsys):
    good = _srs(tmp_path, ["10.00 20.00 6 5.0E+00"], steps=8)
    bad = tmp_path / "bad.txt"
    bad.write_text("not an SRS file\n")
    rc = main(
        [
            "impact",
            "srs",
            good,
            str(bad),
            "--emitter",
            "10,20",
            "--constant-bq-per-s",
            "2e7",
            "--no-decay",
            "--json",
        ]
    )
    out = capsys.readouterr()
    assert rc == 1 and "bad.txt:1: the header needs 13 fields" in out.err
    (view,) = (json.loads(line) for line in out.out.splitlines())
    assert view["impacts"][0]["decay"] is False
    assert abs(view["impacts"][0]["concentration_bq_m3"] / (2e7 * DT * 5.0 / M) - 1) < 1e-9


def test_releases_from_emission_csv_report_the_gap(tmp_path, capsys):
    srs = _srs(tmp_path, ["10.00 20.00 0 6.0", "10.00 20.00 1 9.0"])
    t0 = STOP - timedelta(minutes=30)
    rows = [
        EmissionRow("FAC01", t0, {"XE-133": NuclideValue(val=2.0)}, "kBq/900s"),
        EmissionRow(
            "FAC01", t0 + timedelta(minutes=15), {"XE-133": NuclideValue(val=1.0)}, "kBq/900s"
        ),
        EmissionRow("FAC02", t0, {"XE-133": NuclideValue(val=9.0)}, "kBq/900s"),
    ]
    csv = tmp_path / "FAC.csv"
    csv.write_text(write_emission_csv(rows))
    args = [
        "impact",
        "srs",
        srs,
        "--emitter",
        "10,20",
        "--releases",
        str(csv),
        "--no-decay",
        "--json",
    ]
    assert (
        main(args) == 2
        and "several facilities (FAC01, FAC02): give --station" in capsys.readouterr().err
    )
    assert main([*args, "--station", "FAC01"]) == 0
    view = json.loads(capsys.readouterr().out)
    (xe,) = view["impacts"]
    assert abs(xe["concentration_bq_m3"] / (3000 * 6.0 / M) - 1) < 1e-9
    assert xe["gap_s"] == 4 * DT - 1800
    assert view["release"]["station"] == "FAC01"


def test_a_bad_emitter_is_a_usage_error(tmp_path, capsys):
    srs = _srs(tmp_path, ["10.00 20.00 0 6.0"])
    assert main(["impact", "srs", srs, "--emitter", "north", "--constant-bq-per-s", "1"]) == 2
    assert "--emitter: expected LAT,LON" in capsys.readouterr().err


def test_the_stations_and_atm_commands_work_on_the_central_database(tmp_path, capsys):
    cfg = tmp_path / "central.toml"
    atm = tmp_path / "atm"
    atm.mkdir()
    (atm / "TSX01.2024030206.TEST.txt").write_text(srs_text(["10.00 20.00 0 6.0"]))
    (atm / "broken.txt").write_text("x\n")
    cfg.write_text(
        '[intake]\nserver_cert = "c.pem"\nserver_key = "c.key"\nca_cert = "ca.pem"\n'
        '[storage]\ndata_dir = "data"\n[impact]\natm_dir = "atm"\n'
    )
    assert (
        main(
            [
                "impact",
                "stations",
                "add",
                "TSX01",
                "--name",
                "Test",
                "--latitude",
                "10",
                "--longitude",
                "20",
                "--sample-hours",
                "24",
                "--stop-hour",
                "6",
                "--source",
                "test",
                "--config",
                str(cfg),
            ]
        )
        == 0
    )
    assert main(["impact", "stations", "list", "--json", "--config", str(cfg)]) == 0
    codes = [s["code"] for s in json.loads(capsys.readouterr().out)]
    assert "TSX01" in codes and "DEX33" in codes
    assert main(["impact", "atm", "scan", "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert (
        "TSX01.2024030206.TEST.txt: stored" in out and "broken.txt: refused: broken.txt:1:" in out
    )
