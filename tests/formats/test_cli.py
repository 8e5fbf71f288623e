"""`stax phd check` and `stax phd show`: exit codes and output."""

from __future__ import annotations

import json
import subprocess
import sys

from stax.cli import main
from tests.conftest import PHD_FIXTURES, REPO

from .canonical import CANONICAL

FRAGMENT = PHD_FIXTURES / "IDC_SPHDF_IOM53_from_cambio_issue8.FRAGMENT.txt"


def run(capsys, *args: str) -> tuple[int, list[str], list[str]]:
    code = main(["phd", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def test_check_valid_files(capsys):
    code, out, _ = run(capsys, "check", CANONICAL, *sorted(PHD_FIXTURES.glob("*.PHD")))
    assert code == 0
    # one real file deserves a warning, and check says so without failing
    assert out == [
        f"{PHD_FIXTURES / 'MIX_NobleGas__SPIKE20190502222812845.PHD'}:491: #Certificate: "
        "no 'total activity, assay date, assay time' line (warning)"
    ]


def test_check_a_bad_file_prints_one_line_per_problem(capsys, tmp_path):
    bad = tmp_path / "x.phd"
    text = CANONICAL.read_text()
    text = text.replace("AUS02 AUS02_001 P", "AUS02 AUS02_001 X").replace("\nSTOP\n", "\n")
    bad.write_text(text)
    code, out, _ = run(capsys, "check", CANONICAL, bad)
    assert code == 1
    assert out == [
        f"{bad}:{len(text.splitlines()) + 1}: message does not end with STOP",
        f"{bad}:6: #Header: system type must be one of P, B, G, found 'X'",
    ]


def test_check_lenient(capsys):
    code, out, _ = run(capsys, "check", FRAGMENT)
    assert code == 1
    assert len(out) == 2
    code, out, _ = run(capsys, "check", "--lenient", FRAGMENT)
    assert code == 0
    assert out == [
        f"{FRAGMENT}:25: message does not end with STOP (warning)",
        f"{FRAGMENT}:24: #g_Spectrum: expected 8192 channels, found 15 (warning)",
    ]


def test_check_a_missing_file(capsys, tmp_path):
    code, out, _ = run(capsys, "check", tmp_path / "nothing.phd")
    assert code == 1
    assert out == [f"{tmp_path / 'nothing.phd'}: cannot read: No such file or directory"]


def test_show_json(capsys):
    code, out, _ = run(capsys, "show", CANONICAL, "--json")
    assert code == 0
    view = json.loads("\n".join(out))
    assert view["data_type"] == "SAMPLEPHD"
    assert {
        k: view["header"][k]
        for k in ("station", "detector", "system_type", "geometry", "qualifier", "srid")
    } == {
        "station": "AUS02",
        "detector": "AUS02_001",
        "system_type": "P",
        "geometry": "Marinelli",
        "qualifier": "FULL",
        "srid": "SM02202311171415",
    }
    assert view["collection"]["start"] == "2023-11-17T14:15:00.000Z"
    assert view["collection"]["extra"] == ["0.01700", "21.2250", "-999.99"]
    assert view["acquisition"] == {
        "start": "2023-11-17T14:15:00.000Z",
        "real_time": 900.0,
        "live_time": 896.436,
    }
    assert view["g_energy"][1] == {"energy": 81.0, "channel": 442.368, "uncertainty": 0.05}
    assert view["g_resolution"][0]["fwhm"] == 0.8184
    assert len(view["g_efficiency"]) == 5
    spectrum = view["g_spectrum"]
    assert (spectrum["channels"], spectrum["energy_span"]) == (16384, 3000.0)
    assert len(spectrum["counts"]) == 16384
    assert spectrum["counts"][:3] == [50, 48, 55]
    assert view["message"]["format"] == "STX1.0"
    assert view["stack"]["stack_flow_m3_s"] == 21.225


def test_show_a_bad_file(capsys):
    code, out, err = run(capsys, "show", FRAGMENT, "--json")
    assert (code, out) == (1, [])
    assert err[0] == f"{FRAGMENT}:25: message does not end with STOP"


def test_show_text(capsys):
    code, out, _ = run(capsys, "show", CANONICAL)
    assert code == 0
    assert out[0] == f"{CANONICAL}: STX1.0 DATA MSG_ID 856022299609035337 SAMPLEPHD"
    assert "gamma spectrum: 16384 channels, 3000.0 keV" in out[-1]


def test_the_command_line_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "stax", "phd", "check", str(FRAGMENT)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stdout.splitlines()[1].endswith("#g_Spectrum: expected 8192 channels, found 15")
