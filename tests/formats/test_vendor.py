"""The vendor-file reader against real HPGe spectra (tests/data/vendor/, see SOURCES.txt),
one test per format, and the refusals of unreadable or half-written files."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from shared.formats import FormatError
from shared.formats.vendor import read_vendor_file, vendor_format

DATA = Path(__file__).resolve().parents[1] / "data" / "vendor"
CNF = DATA / "01122014152731-GT01122014182338-GA37.4963000N-GO122.4633000W.cnf"
SPE = DATA / "1110C NAA cave background May 2017.spe"
SPC = DATA / "Alcatraz14.Spc"


def spe_counts_by_hand(path: Path) -> np.ndarray:
    """An independent reading of the Maestro text: the lines after $DATA's range line."""
    lines = path.read_text(errors="replace").splitlines()
    start = lines.index("$DATA:")
    first, last = (int(x) for x in lines[start + 1].split())
    return np.array([int(x) for x in lines[start + 2 : start + 2 + last - first + 1]])


def energy(spectrum, channel: float) -> float:
    return sum(c * channel**i for i, c in enumerate(spectrum.calibration_coefficients))


def test_cnf_canberra_falcon():
    s = read_vendor_file(CNF)
    assert s.format == "CNF"
    assert s.channels == 4096 and s.counts.dtype == np.int64
    assert int(s.counts.sum()) == 683658
    assert s.live_time == pytest.approx(841.42, abs=0.01)
    assert s.real_time == pytest.approx(849.51, abs=0.01)
    assert s.start_time == datetime(2014, 1, 12, 15, 12, 34, 256348)
    assert s.calibration_model == "polynomial"
    assert s.calibration_coefficients == pytest.approx((-0.2097, 0.71899), abs=1e-4)
    assert s.instrument_id == "13000182"
    assert "Detector Type: Ge" in s.remarks


def test_spe_ortec_maestro_text_matches_a_reading_by_hand():
    s = read_vendor_file(SPE)
    assert s.format == "SPE"
    assert s.channels == 16384
    assert np.array_equal(s.counts, spe_counts_by_hand(SPE))
    assert (s.live_time, s.real_time) == (437817.0, 437903.0)
    assert s.start_time == datetime(2017, 4, 26, 11, 5, 11)
    assert len(s.calibration_coefficients) == 3
    # K-40 at 1460.8 keV: the calibration must put the line's peak channel there
    peak = 7500 + int(np.argmax(s.counts[7500:8500]))
    assert energy(s, peak) == pytest.approx(1460.8, abs=2.0)


def test_spc_ortec_binary():
    s = read_vendor_file(SPC)
    assert s.format == "SPC"
    assert s.channels == 8192
    assert int(s.counts.sum()) == 132978
    assert s.live_time == 900.0 and s.real_time == pytest.approx(905.42, abs=0.01)
    assert s.start_time == datetime(2012, 9, 17, 13, 41, 7)
    assert (s.manufacturer, s.instrument_model) == ("Ortec", "Detective")
    assert s.instrument_id == "Transpec MCB129 7606"


def _written_by_specutils(tmp_path: Path, kind: str, suffix: str) -> Path:
    """N42 and CHN copies of the real SPC spectrum, written by SpecUtils' own writers."""
    import SpecUtils

    spec = SpecUtils.SpecFile()
    spec.loadFile(str(SPC), SpecUtils.ParserType.Spc)
    out = tmp_path / f"Alcatraz14{suffix}"
    spec.writeToFile(
        str(out),
        list(spec.sampleNumbers()),
        list(spec.detectorNumbers()),
        getattr(SpecUtils.SaveSpectrumAsType, kind),
    )
    return out


@pytest.mark.parametrize(
    ("kind", "suffix", "fmt"), [("N42_2012", ".n42", "N42"), ("Chn", ".Chn", "CHN")]
)
def test_n42_and_chn_hold_the_same_spectrum(tmp_path, kind, suffix, fmt):
    original = read_vendor_file(SPC)
    s = read_vendor_file(_written_by_specutils(tmp_path, kind, suffix))
    assert s.format == fmt
    assert s.channels == 8192
    # SpecUtils reads the first two CHN channels as 0 (some MCBs keep times there) and
    # CHN holds the real time in 20 ms ticks
    assert np.abs(s.counts - original.counts).sum() <= 2
    assert s.live_time == 900.0
    assert s.real_time == pytest.approx(original.real_time, abs=0.03)
    assert s.start_time == original.start_time
    assert s.calibration_coefficients == pytest.approx(original.calibration_coefficients)


@pytest.mark.parametrize("path", [CNF, SPE, SPC], ids=["cnf", "spe", "spc"])
def test_half_written_files_are_refused(tmp_path, path):
    cut = tmp_path / path.name
    data = path.read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(FormatError) as err:
        read_vendor_file(cut)
    assert str(err.value).startswith(str(cut))
    assert "half-written" in str(err.value)


def test_half_written_n42_is_refused_although_specutils_reads_it(tmp_path):
    whole = _written_by_specutils(tmp_path, "N42_2012", ".n42")
    data = whole.read_bytes()
    whole.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=r"not complete XML.*half-written"):
        read_vendor_file(whole)


def test_spe_cut_in_its_data_is_refused_by_its_declared_channel_count(tmp_path):
    cut = tmp_path / SPE.name
    cut.write_bytes(SPE.read_bytes()[:20000])
    with pytest.raises(FormatError, match="declares 16384 channels but holds"):
        read_vendor_file(cut)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("x.spe", b"", "empty SPE file"),
        ("x.cnf", b"\x00garbage" * 50, "unreadable CNF file"),
        ("x.txt", b"hello", "not a vendor spectrum file"),
        ("x.n42", b"<a>not n42</a>", "unreadable N42 file"),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FormatError, match=message):
        read_vendor_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(FormatError, match="cannot read the file"):
        read_vendor_file(tmp_path / "gone.spe")


def test_format_by_extension(tmp_path):
    assert vendor_format("a/B.SPC") == "SPC"
    assert vendor_format("x.n42") == "N42"
    assert vendor_format("x.phd") is None
    shutil.copy(SPC, tmp_path / "upper.SPC")
    assert read_vendor_file(tmp_path / "upper.SPC").format == "SPC"
