"""State-of-health reports (IMS RMSSOH, STAX STAXSOH): blocks of per-interval rows.

Every data row ends with the interval it describes (start date, start time, duration in
seconds). Blocks this module knows are also read as a long table of readings
(parameter, value, unit, interval); blocks it does not know are kept verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ._text import (
    Block,
    BlockError,
    Line,
    check_lines,
    expect_tokens,
    fnum,
    ftime,
    ims_time,
    number,
    split_blocks,
)
from .errors import ProblemLog

SOH_TYPES = ("RMSSOH", "STAXSOH")

# Values the stations write for "not measured".
MISSING_SENTINELS = frozenset({-9.0, -9.9, -99.99, -999.0, -999.99, -9999.999})


@dataclass
class SohRow:
    values: tuple[str, ...]
    start: datetime
    duration: float  # s


@dataclass
class SohBlock:
    name: str
    rows: list[SohRow] = field(default_factory=list)


@dataclass
class SohRawBlock:
    name: str
    arg: str
    lines: list[str]


@dataclass
class Soh:
    data_type: str
    station: str
    detector: str  # "NA" when the report is for the whole station
    period_start: datetime
    period_end: datetime
    transmit_time: datetime
    blocks: list[SohBlock | SohRawBlock] = field(default_factory=list)

    def block(self, name: str) -> SohBlock | None:
        for b in self.blocks:
            if isinstance(b, SohBlock) and b.name == name:
                return b
        return None


@dataclass(frozen=True)
class Reading:
    parameter: str
    value: float | str | None  # None: the station wrote a "not measured" value
    unit: str
    start: datetime
    duration: float

    @property
    def stop(self) -> datetime:
        return self.start + timedelta(seconds=self.duration)


# Known blocks: name -> list of (parameter, unit, numeric?) for the value columns.
KNOWN_BLOCKS: dict[str, list[tuple[str, str, bool]]] = {
    "AirSamplerFlow": [("sample_flow", "m3/h", True), ("sample_flow_sd", "m3/h", True)],
    "DetEnv": [
        ("room_temperature", "C", True),
        ("shield", "", False),
        ("humidity", "%", True),
        ("high_voltage", "V", True),
        ("crystal_temperature", "C", True),
        ("cooler", "", False),
        ("ln2_fill", "%", True),
        ("leakage_current", "nA", True),
    ],
    # variable-width blocks, interpreted in `readings()`
    "PowerSupply": [],
    "EquipStatus": [],
    "ProcessSensors": [],
}


def _value(token: str, numeric: bool) -> float | str | None:
    if not numeric:
        return token
    value = float(token)
    return None if value in MISSING_SENTINELS else value


def readings(soh: Soh) -> list[Reading]:
    """The report as a long table: one reading per parameter and interval."""
    out: list[Reading] = []
    for block in soh.blocks:
        if not isinstance(block, SohBlock):
            continue
        for row in block.rows:
            v = row.values

            def add(parameter: str, value, unit: str = "", _row=row) -> None:
                out.append(Reading(parameter, value, unit, _row.start, _row.duration))

            if block.name in ("AirSamplerFlow", "DetEnv"):
                for (parameter, unit, numeric), token in zip(KNOWN_BLOCKS[block.name], v):
                    add(parameter, _value(token, numeric), unit)
            elif block.name == "PowerSupply":
                for supply, state in zip(v[0::2], v[1::2]):
                    add(f"power_{supply.lower()}", state)
            elif block.name == "EquipStatus":
                names = {"C:": "srid_collection", "P:": "srid_processing", "A:": "srid_acquisition"}
                for key, srid in zip(v[0::2], v[1::2]):
                    add(names.get(key, key.rstrip(":")), srid)
            elif block.name == "ProcessSensors":
                add(f"{v[0]}.{v[1]}", _value(v[2], True))
    return out


def _read_row(line: Line, block: Block) -> SohRow:
    tokens = line.text.split()
    if len(tokens) < 4:
        raise BlockError(
            line.no,
            f"expected values then interval start date, time and duration, found {line.text.strip()!r}",
        )
    start = ims_time(tokens[-3:-1], line, "interval start")
    duration = number(tokens[-1], line, "interval duration")
    values = tuple(tokens[:-3])
    layout = KNOWN_BLOCKS[block.name]
    if layout and len(values) != len(layout):
        raise BlockError(
            line.no, f"expected {len(layout)} values before the interval, found {len(values)}"
        )
    for (parameter, _unit, numeric), token in zip(layout, values):
        if numeric:
            number(token, line, parameter)
    if block.name == "ProcessSensors":
        if len(values) != 3:
            raise BlockError(
                line.no,
                f"expected sensor type, sensor name and reading, found {len(values)} values",
            )
        number(values[2], line, "sensor reading")
    if block.name in ("PowerSupply", "EquipStatus") and len(values) % 2:
        raise BlockError(line.no, "expected pairs of name and value")
    return SohRow(values, start, duration)


def parse_soh(data_type: str, lines: list[Line], log: ProblemLog, section_line: int) -> Soh | None:
    preamble, blocks = split_blocks(lines)
    for ln in preamble:
        if ln.text.strip():
            log.recoverable(ln.no, None, f"text outside any block: {ln.text.strip()!r}")
    header = None
    out_blocks: list[SohBlock | SohRawBlock] = []
    for block in blocks:
        try:
            if block.name == "Header":
                if header is not None:
                    raise BlockError(block.line, "block appears twice")
                data = block.data_lines()
                if len(data) != 1:
                    raise BlockError(block.line, f"expected one header line, found {len(data)}")
                t = expect_tokens(
                    data[0], 8, "station, detector, period start, period end, transmit time"
                )
                header = (
                    t[0],
                    t[1],
                    ims_time(t[2:4], data[0], "period start"),
                    ims_time(t[4:6], data[0], "period end"),
                    ims_time(t[6:8], data[0], "transmit time"),
                )
            elif block.name in KNOWN_BLOCKS:
                if block.arg:
                    raise BlockError(
                        block.line, f"unexpected text after #{block.name}: {block.arg!r}"
                    )
                out_blocks.append(
                    SohBlock(block.name, [_read_row(ln, block) for ln in block.data_lines()])
                )
            else:
                out_blocks.append(
                    SohRawBlock(block.name, block.arg, [ln.text for ln in block.lines])
                )
        except BlockError as exc:
            log.error(exc.line, block.label, exc.message)
    if header is None:
        log.error(
            section_line, None, f"{data_type}: required block #Header is missing or unreadable"
        )
        return None
    return Soh(data_type, *header, blocks=out_blocks)


def write_soh(soh: Soh) -> list[str]:
    for what, token in (("station", soh.station), ("detector", soh.detector)):
        if not token or any(c.isspace() for c in token):
            raise ValueError(f"{what} must be one word, got {token!r}")
    header = f"{soh.station} {soh.detector} {ftime(soh.period_start)} {ftime(soh.period_end)} {ftime(soh.transmit_time)}"
    out = ["#Header 3", *check_lines([header], "#Header")]
    for block in soh.blocks:
        if isinstance(block, SohRawBlock):
            if not block.name or any(c.isspace() for c in block.name):
                raise ValueError(f"block name must be one word, got {block.name!r}")
            if block.name == "Header" or block.name in KNOWN_BLOCKS:
                raise ValueError(f"#{block.name} is a known block; give it as such, not raw")
            out.append(f"#{block.name}" + (f" {block.arg}" if block.arg else ""))
            out.extend(check_lines(block.lines, f"#{block.name}"))
            continue
        if block.name not in KNOWN_BLOCKS:
            raise ValueError(f"SOH block {block.name} is not known; keep it as a raw block")
        out.append(f"#{block.name}")
        rows = []
        for row in block.rows:
            for token in row.values:
                if not token or any(c.isspace() for c in token):
                    raise ValueError(f"SOH value must be one word, got {token!r}")
            rows.append(" ".join([*row.values, ftime(row.start), fnum(row.duration)]))
        out.extend(check_lines(rows, f"#{block.name}"))
    return out
