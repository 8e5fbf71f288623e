"""Vendor files for an interval: the real Alcatraz14.Spc spectrum (tests/data/vendor/),
re-dated and re-timed, written by SpecUtils in the format asked for."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
SPC = DATA / "vendor" / "Alcatraz14.Spc"
CALIBRATION = DATA / "AUS02_856022299609035337_PHD_2023_11_17T14_15_00.TXT"
CHANNELS = 8192


def write_vendor_file(
    path: Path, start: datetime, real: float = 900.0, live: float = 891.0, age: float = 60.0
) -> Path:
    """`start` naive local time of the vendor PC; `age`: seconds since it was last written."""
    import SpecUtils

    kinds = {".chn": "Chn", ".n42": "N42_2012", ".spc": "SpcBinaryInt", ".cnf": "Cnf"}
    spec = SpecUtils.SpecFile()
    spec.loadFile(str(SPC), SpecUtils.ParserType.Spc)
    m = spec.measurements()[0]
    spec.setStartTime(start, m)
    spec.setRealTime(real, m)
    spec.setLiveTime(live, m)
    tmp = path.with_name(path.name + ".tmp" + path.suffix)
    spec.writeToFile(
        str(tmp),
        list(spec.sampleNumbers()),
        list(spec.detectorNumbers()),
        getattr(SpecUtils.SaveSpectrumAsType, kinds[path.suffix.lower()]),
    )
    os.replace(tmp, path)
    mtime = datetime.now().timestamp() - age
    os.utime(path, (mtime, mtime))
    return path
