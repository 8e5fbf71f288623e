"""The vendor-files driver: each interval's file taken, the unusable kept in rejected/
with the reason, nothing guessed; the Engine on it; `stax phd import` on the same rule."""

from __future__ import annotations

import os
import threading
from datetime import timedelta

import pytest

from edge_agent.clock import CYCLE, SteppingClock
from edge_agent.drivers.base import DeviceTimeout, Presets
from edge_agent.drivers.vendor_files import VendorFilesMca
from edge_agent.engine import Engine
from edge_agent.outbox import Outbox
from shared.formats import read_file, read_message
from shared.formats.vendor import read_vendor_file
from stax.cli import main
from tests.agent.conftest import T0

from .vendor_helpers import CALIBRATION, CHANNELS, DATA, SPC, write_vendor_file

NAIVE = T0.replace(tzinfo=None)


def folder_mca(tmp_path, clock, **kw):
    watched = tmp_path / "vendor"
    watched.mkdir(exist_ok=True)
    options = dict(channels=CHANNELS, settle_seconds=1.0, wait_seconds=0.3, poll_seconds=0.05)
    return watched, VendorFilesMca(watched, clock, **{**options, **kw})


def acquire(mca, clock):
    """What the engine does: arm at a boundary, roll over at the next."""
    mca.stop()
    mca.set_presets(Presets())
    mca.clear()
    mca.start()
    clock.advance(CYCLE)
    mca.stop()
    counts = mca.read_spectrum()
    return counts, mca.elapsed()


def test_the_intervals_file_is_taken_and_kept_in_accepted(tmp_path):
    clock = SteppingClock(T0)
    watched, mca = folder_mca(tmp_path, clock)
    write_vendor_file(watched / "count1.Chn", NAIVE + timedelta(seconds=2))
    counts, elapsed = acquire(mca, clock)
    assert counts.sum() == read_vendor_file(SPC).counts.sum() - 1  # CHN: as test_vendor shows
    assert (elapsed.live_time, elapsed.real_time) == (891.0, pytest.approx(900.0, abs=0.03))
    assert [p.name for p in (watched / "accepted").iterdir()] == ["count1.Chn"]
    assert mca.reports == []


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda w: (w / "cut.cnf").write_bytes(SPC.read_bytes()[:9000]), "unreadable CNF file"),
        (
            lambda w: write_vendor_file(w / "odd.Chn", NAIVE + timedelta(minutes=5)),
            "wrong interval: started 2023-11-20 00:05:00 UTC",
        ),
        (
            lambda w: write_vendor_file(w / "short.Chn", NAIVE, real=600.0, live=594.0),
            "wrong interval: real time 600.0 s",
        ),
        (lambda w: write_vendor_file(w / "old.Chn", NAIVE - CYCLE), "late: the interval"),
    ],
    ids=["half-written", "off-boundary", "too-short", "late"],
)
def test_an_unusable_file_is_reported_kept_and_the_interval_is_a_gap(tmp_path, make, reason):
    clock = SteppingClock(T0)
    watched, mca = folder_mca(tmp_path, clock)
    make(watched)
    for path in watched.iterdir():  # long finished
        os.utime(path, (path.stat().st_mtime - 60,) * 2)
    with pytest.raises(DeviceTimeout, match="no file for the interval 2023-11-20 00:00 UTC"):
        acquire(mca, clock)
    (kept,) = [p for p in (watched / "rejected").iterdir() if not p.name.endswith(".txt")]
    assert reason in (watched / "rejected" / (kept.name + ".reason.txt")).read_text()
    assert len(mca.reports) == 1 and reason in mca.reports[0]


def test_a_file_still_being_written_is_not_read(tmp_path):
    clock = SteppingClock(T0)
    watched, mca = folder_mca(tmp_path, clock, settle_seconds=30)
    write_vendor_file(watched / "busy.Chn", NAIVE, age=0)
    with pytest.raises(DeviceTimeout, match=r"still being written or for later: busy.Chn"):
        acquire(mca, clock)
    assert (watched / "busy.Chn").exists() and mca.reports == []


def test_local_time_of_the_vendor_pc(tmp_path):
    clock = SteppingClock(T0)
    watched, mca = folder_mca(tmp_path, clock, timezone="Australia/Sydney")
    write_vendor_file(watched / "a.Chn", NAIVE + timedelta(hours=11))  # AEDT = UTC+11
    counts, _ = acquire(mca, clock)
    assert counts.sum() > 0


def test_the_engine_on_vendor_files_gaps_where_no_file_came(tmp_path, station):
    from edge_agent.calibration import read_calibration_file

    clock = SteppingClock(T0 - timedelta(minutes=7))
    watched, mca = folder_mca(tmp_path, clock)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    alerts = []
    engine = Engine(
        station=station, mca=mca, clock=clock, outbox=outbox,
        calibration=read_calibration_file(CALIBRATION), seal=lambda c: c,
        alert=lambda kind, text: alerts.append(text), health_seconds=1000,
    )  # fmt: skip
    for i in (0, 2, 3):  # the vendor software missed 00:15
        write_vendor_file(watched / f"c{i}.Chn", NAIVE + i * CYCLE + timedelta(seconds=1))
    stop = threading.Event()
    for _ in range(5):
        now = clock.now()
        clock.wait_until(now - (now - T0) % CYCLE + CYCLE, stop)
        engine.at_boundary()
    files = sorted(outbox.list(), key=lambda f: f.id)
    assert [f.interval_start for f in files] == [T0, T0 + 2 * CYCLE, T0 + 3 * CYCLE]
    (gap,) = outbox.gaps("AUS02")
    assert (gap.start, gap.end) == (T0 + CYCLE, T0 + 2 * CYCLE)
    assert "no file for the interval 2023-11-20 00:15 UTC" in gap.reason
    assert any("MCA not answering" in a for a in alerts)
    phd = read_message(outbox.get(files[0].id).content, source="x").phd
    assert phd.g_spectrum.channels == CHANNELS and phd.acquisition.live_time == 891.0
    outbox.close()


def test_phd_import_writes_what_the_agent_would_send(tmp_path, capsys):
    good = write_vendor_file(tmp_path / "a.n42", NAIVE + timedelta(seconds=3))
    cut = tmp_path / "b.cnf"
    cut.write_bytes(SPC.read_bytes()[:9000])
    out = tmp_path / "out"
    rc = main(["phd", "import", str(good), str(cut), "--station", "AUS02", "--out", str(out),
               "--calibration", str(CALIBRATION), "--number", "2"])  # fmt: skip
    assert rc == 1
    (written,) = out.iterdir()
    assert written.name == "AUS02_1_PHD_2023_11_20T00_00_03.TXT"  # its own start
    phd = read_file(written).phd
    assert phd.header.srid == "SM02202311200000"
    assert phd.g_spectrum.channels == CHANNELS
    assert int(phd.g_spectrum.counts.sum()) == int(read_vendor_file(good).counts.sum())
    captured = capsys.readouterr()
    assert f"{good} -> {written} (started 2023-11-20 00:00:03 UTC, real 900.0 s" in captured.out
    assert "schedule" not in captured.out  # on the agent's schedule: no note
    assert "b.cnf" in captured.err and "(not imported)" in captured.err
    assert "1 imported, 1 refused" in captured.err


def test_phd_import_takes_a_backlog_off_the_quarter_hours(tmp_path, capsys):
    """The real vendor spectra (tests/data/vendor) start at odd times and last 849 s to
    5 days: each becomes the PHD of the acquisition it records, named by its start, with a
    note; a second file with the same start and an existing output are refused."""
    vendor = DATA / "vendor"
    files = sorted(str(p) for p in vendor.iterdir() if p.suffix.lower() in (".cnf", ".spe", ".spc"))
    off = write_vendor_file(
        tmp_path / "late.Chn", NAIVE + timedelta(minutes=4), real=600.0, live=590.0
    )
    copy = tmp_path / "copy.Spc"
    copy.write_bytes(SPC.read_bytes())
    out = tmp_path / "out"
    args = ["--station", "AUS02", "--out", str(out), "--calibration", str(CALIBRATION)]
    rc = main(["phd", "import", *files, str(off), str(copy), *args])
    captured = capsys.readouterr()
    assert rc == 1  # the copy
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "AUS02_1_PHD_2014_01_12T15_12_34.TXT",  # CNF, Falcon 5000: 849.5 s real
        "AUS02_2_PHD_2017_04_26T11_05_11.TXT",  # SPE, five days in a lead cave
        "AUS02_3_PHD_2012_09_17T13_41_07.TXT",  # SPC, Alcatraz
        "AUS02_4_PHD_2023_11_20T00_04_00.TXT",  # 10 minutes from 00:04
    ]
    spe = read_file(out / names[1]).phd
    assert spe.g_spectrum.channels == 16384
    assert (spe.acquisition.real_time, spe.acquisition.live_time) == (437903.0, 437817.0)
    assert spe.header.srid == "SM00201704261105"
    lines = captured.out.splitlines()
    assert "starts off the 15-minute schedule; real time 437903.0 s, not 900 s)" in lines[1]
    assert lines[3].endswith("starts off the 15-minute schedule; real time 600.0 s, not 900 s)")
    assert "copy.Spc: same acquisition start 2012-09-17 13:41:07 UTC as" in captured.err
    assert "4 imported, 1 refused" in captured.err
    for name in names:
        assert read_file(out / name).phd.g_spectrum.counts.sum() > 0
    again = main(["phd", "import", files[2], *args, "--first-msg-id", "3"])  # not overwritten
    assert again == 1
    assert "exists already (not overwritten)" in capsys.readouterr().err
