"""The IMS noble-gas stations as data: where they are and how they sample.

The default list is `ims_stations.json` (with its source); the central keeps an editable
copy (central/impact.py). Sample windows come from an SRS header where there is one;
`sample_windows` gives a station's schedule where there is not (forward ATM data).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

# Country + X + number (DEX33); other receptors in ATM files (test sites) pass too.
CODE = re.compile(r"[A-Z0-9]{3,8}")
SYSTEMS = {"SPALAX": 24, "SPALAX-NG": 12, "SAUNA II": 12, "SAUNA III": 6, "ARIX": 12, "ARSA": 8}


@dataclass(frozen=True)
class ImsStation:
    code: str
    name: str
    latitude: float
    longitude: float
    system: str  # SPALAX, SAUNA II, ... or "" when not known
    sample_hours: float  # length of one sample
    stop_hour: float  # UTC hour a sample stops at (the others follow every sample_hours)
    source: str  # where these figures come from

    def __post_init__(self) -> None:
        problems = []
        if not CODE.fullmatch(self.code):
            problems.append(f"code must be 3-8 upper-case letters and digits, got {self.code!r}")
        if not (math.isfinite(self.latitude) and -90 <= self.latitude <= 90):
            problems.append(f"latitude must be in -90..90, got {self.latitude}")
        if not (math.isfinite(self.longitude) and -180 <= self.longitude <= 180):
            problems.append(f"longitude must be in -180..180, got {self.longitude}")
        if not (math.isfinite(self.sample_hours) and 0 < self.sample_hours <= 24 * 7):
            problems.append(f"sample length must be 0-168 h, got {self.sample_hours}")
        if not (math.isfinite(self.stop_hour) and 0 <= self.stop_hour < 24):
            problems.append(f"stop hour must be in 0..24, got {self.stop_hour}")
        if not self.source.strip():
            problems.append("say where the figures come from (source)")
        if problems:
            raise ValueError(f"IMS station {self.code}: " + "; ".join(problems))

    def to_json(self) -> dict:
        return asdict(self)


def default_stations(path: str | Path | None = None) -> list[ImsStation]:
    """The stations of `ims_stations.json` (or another file of that shape)."""
    p = Path(path) if path else Path(__file__).with_name("ims_stations.json")
    data = json.loads(p.read_text())
    return [ImsStation(**s) for s in data["stations"]]


def sample_windows(
    station: ImsStation, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The station's samples that overlap [start, end), from its stop hour and length."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("give times with a time zone (UTC)")
    length = timedelta(hours=station.sample_hours)
    anchor = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    stop = anchor + timedelta(hours=station.stop_hour)
    # back to the first stop at or before start, then forward
    while stop > start:
        stop -= length
    out = []
    while stop - length < end:
        if stop > start:
            out.append((stop - length, stop))
        stop += length
    return out
