"""Pulse-height data (PHD): SAMPLEPHD and the other PHD types of IMS2.0, for G, P and B systems.

`parse_phd` turns a section's lines into a `Phd`; `write_phd` turns it back into text.
Readers are tolerant where real files vary (column alignment, time precision, channel
base) and strict where it matters (channel counts, numbers, required blocks).

Counts are most of a file (16384 channels, or a 256 x 256 histogram), so they are read
twice over if need be: first in bulk with numpy (`_bulk_counts`), which only accepts
lines of plain ASCII digits and blanks laid out as the format says, and otherwise line by
line (`_read_spectrum`'s loop), which finds and words every problem. The bulk path gives
up rather than judge, so errors for bad input are exactly those of the line-by-line path.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime

import numpy as np

from ._text import (
    Block,
    BlockError,
    Line,
    check_lines,
    columns,
    expect_tokens,
    fnum,
    ftime,
    ims_time,
    integer,
    line_texts,
    number,
    split_blocks,
)
from .errors import ProblemLog

PHD_TYPES = (
    "SAMPLEPHD",
    "BLANKPHD",
    "DETBKPHD",
    "GASBKPHD",
    "CALIBPHD",
    "QCPHD",
    "SPIKEPHD",
    "SPHDF",  # IDC product name of a FULL sample
    "SPHDP",  # IDC product name of a PREL sample
)

SYSTEM_TYPES = ("P", "B", "G")
QUALIFIERS = ("PREL", "FULL")


# ---------------------------------------------------------------------------- records
@dataclass
class PhdHeader:
    station: str
    detector: str
    system_type: str
    geometry: str
    qualifier: str
    srid: str
    measurement_id: str
    detector_bk_id: str | None = None  # None: absent from the file (STAX often omits it)
    gas_bk_id: str | None = None
    transmit_time: datetime | None = None


@dataclass
class Collection:
    start: datetime
    stop: datetime
    air_volume: float  # m3
    extra: tuple[str, ...] = ()  # STAX writes more numbers after the volume; kept verbatim


@dataclass
class Acquisition:
    start: datetime
    real_time: float  # s
    live_time: float  # s


@dataclass
class Processing:
    xe_volume: float  # cm3
    xe_volume_unc: float
    xe_yield: float
    xe_yield_unc: float
    archive_bottle_id: str


@dataclass
class EnergyPoint:
    energy: float  # keV
    channel: float
    uncertainty: float


@dataclass
class BetaEnergyPoint:
    energy: float
    mode: str  # B or C
    channel: float
    uncertainty: float


@dataclass
class ResolutionPoint:
    energy: float
    fwhm: float  # keV
    uncertainty: float


@dataclass
class EfficiencyPoint:
    energy: float
    efficiency: float
    uncertainty: float


@dataclass
class RoiLimit:
    roi: int
    beta_low: float
    beta_high: float
    gamma_low: float
    gamma_high: float


@dataclass
class BetaGammaEfficiency:
    nuclide: str
    roi: int
    efficiency: float
    uncertainty: float


@dataclass
class Ratio:
    ratio_id: str
    upper_roi: int
    lower_roi: int
    ratio: float
    uncertainty: float


@dataclass(eq=False)
class Spectrum:
    """Counts per channel. `first_channel` is the number of the first channel in the file."""

    channels: int
    energy_span: float
    counts: np.ndarray
    first_channel: int = 0

    def __post_init__(self) -> None:
        self.counts = np.asarray(self.counts, dtype=np.int64)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Spectrum):
            return NotImplemented
        return (
            self.channels == other.channels
            and self.energy_span == other.energy_span
            and self.first_channel == other.first_channel
            and np.array_equal(self.counts, other.counts)
        )


@dataclass(eq=False)
class Histogram:
    """Beta-gamma coincidence counts: one row per gamma channel, one column per beta channel."""

    gamma_channels: int
    beta_channels: int
    gamma_span: float
    beta_span: float
    counts: np.ndarray

    def __post_init__(self) -> None:
        self.counts = np.asarray(self.counts, dtype=np.int64)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Histogram):
            return NotImplemented
        return (
            self.gamma_channels == other.gamma_channels
            and self.beta_channels == other.beta_channels
            and self.gamma_span == other.gamma_span
            and self.beta_span == other.beta_span
            and np.array_equal(self.counts, other.counts)
        )


@dataclass
class Certificate:
    """Calibration-source certificate. Entries are kept as tokens: real files vary."""

    total_activity: float | None
    assay_time: datetime | None
    entries: list[tuple[str, ...]] = field(default_factory=list)


@dataclass
class StackConditions:
    """What release needs beyond the spectrum (this project's `#Stack` block).

    Volumes and flows are at the reference conditions given here; see docs/formats.md.
    """

    chamber_volume_m3: float | None = None
    stack_flow_m3_s: float | None = None
    sample_flow_m3_s: float | None = None
    transit_time_s: float | None = None
    chamber_pressure_kpa: float | None = None
    chamber_temperature_k: float | None = None
    reference_pressure_kpa: float | None = None
    reference_temperature_k: float | None = None
    extra: tuple[tuple[str, str], ...] = ()  # keys this version does not know, verbatim


@dataclass
class RawBlock:
    """A block this reader does not interpret, kept verbatim with its place in the file."""

    name: str
    arg: str
    lines: list[str]
    after: str | None  # name of the known block it followed (None: right after the header)


@dataclass
class Phd:
    data_type: str
    header: PhdHeader
    acquisition: Acquisition | None = None
    comment: str | None = None
    collection: Collection | None = None
    calibration_time: datetime | None = None
    processing: Processing | None = None
    sample: tuple[float, ...] | None = None
    stack: StackConditions | None = None
    g_energy: list[EnergyPoint] = field(default_factory=list)
    b_energy: list[BetaEnergyPoint] = field(default_factory=list)
    g_resolution: list[ResolutionPoint] = field(default_factory=list)
    b_resolution: list[ResolutionPoint] = field(default_factory=list)
    roi_limits: list[RoiLimit] = field(default_factory=list)
    g_efficiency: list[EfficiencyPoint] = field(default_factory=list)
    total_efficiency: list[EfficiencyPoint] = field(default_factory=list)
    bg_efficiency: list[BetaGammaEfficiency] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    g_spectrum: Spectrum | None = None
    b_spectrum: Spectrum | None = None
    histogram: Histogram | None = None
    certificate: Certificate | None = None
    extra_blocks: list[RawBlock] = field(default_factory=list)


# ----------------------------------------------------------------- block table
# Canonical block order of real files; the writer follows it.
# (block name in the file, Phd attribute)
BLOCK_ORDER: list[tuple[str, str]] = [
    ("Header", "header"),
    ("Comment", "comment"),
    ("Collection", "collection"),
    ("Acquisition", "acquisition"),
    ("Calibration", "calibration_time"),
    ("Processing", "processing"),
    ("Sample", "sample"),
    ("Stack", "stack"),
    ("g_Energy", "g_energy"),
    ("b_Energy", "b_energy"),
    ("g_Resolution", "g_resolution"),
    ("b_Resolution", "b_resolution"),
    ("ROI_Limits", "roi_limits"),
    ("g_Efficiency", "g_efficiency"),
    ("TotalEff", "total_efficiency"),
    ("b-gEfficiency", "bg_efficiency"),
    ("Ratios", "ratios"),
    ("g_Spectrum", "g_spectrum"),
    ("b_Spectrum", "b_spectrum"),
    ("Histogram", "histogram"),
    ("Certificate", "certificate"),
]
_ATTR = {name.lower(): (name, attr) for name, attr in BLOCK_ORDER}


# --------------------------------------------------------------------- readers
def _one_line(block: Block, what: str) -> Line:
    lines = block.data_lines()
    if not lines:
        raise BlockError(block.line, f"{what}: the block is empty")
    return lines[0]


def _read_header(block: Block) -> PhdHeader:
    lines = block.data_lines()
    # every real file writes "#Header 3"; tolerate a bare "#Header" but not another format
    if block.arg and block.arg.split()[:1] != ["3"]:
        raise BlockError(block.line, f"expected '#Header 3', found '#Header {block.arg}'")
    if len(lines) < 3:
        raise BlockError(block.line, f"expected 4 header lines, found {len(lines)}")
    first = lines[0]
    tokens = first.text.split()
    if len(tokens) == 5:
        station, detector, system_type, geometry, qualifier = tokens
    else:
        # fixed columns (1-based): station 1-5, detector 7-15, type 17, geometry 19-35, qualifier 37-40
        text = first.text.ljust(40)
        station, detector = text[0:5].strip(), text[6:15].strip()
        system_type, geometry, qualifier = (
            text[16:17].strip(),
            text[18:35].strip(),
            text[36:40].strip(),
        )
        if not (station and detector and system_type and qualifier):
            raise BlockError(
                first.no,
                "expected 'station detector system-type geometry qualifier', found "
                f"{first.text.strip()!r}",
            )
    if system_type not in SYSTEM_TYPES:
        raise BlockError(first.no, f"system type must be one of P, B, G, found {system_type!r}")
    if qualifier not in QUALIFIERS:
        raise BlockError(first.no, f"spectrum qualifier must be PREL or FULL, found {qualifier!r}")
    srid_tokens = lines[1].text.split()
    if len(srid_tokens) != 1:
        raise BlockError(
            lines[1].no, f"expected one sample reference id, found {lines[1].text.strip()!r}"
        )
    ids = lines[2].text.split()
    if not 1 <= len(ids) <= 3:
        raise BlockError(lines[2].no, f"expected 1 to 3 measurement ids, found {len(ids)}")
    transmit = None
    if len(lines) >= 4:
        transmit = ims_time(lines[3].text.split(), lines[3], "transmit time")
        if len(lines) > 4:
            raise BlockError(lines[4].no, f"unexpected line in #Header: {lines[4].text.strip()!r}")
    return PhdHeader(
        station=station,
        detector=detector,
        system_type=system_type,
        geometry=geometry,
        qualifier=qualifier,
        srid=srid_tokens[0],
        measurement_id=ids[0],
        detector_bk_id=ids[1] if len(ids) > 1 else None,
        gas_bk_id=ids[2] if len(ids) > 2 else None,
        transmit_time=transmit,
    )


def _read_comment(block: Block) -> str:
    text = "\n".join(ln.text for ln in block.lines)
    if block.arg:
        text = block.arg + ("\n" + text if block.lines else "")
    return text


def _read_collection(block: Block) -> Collection:
    line = _one_line(block, "collection")
    t = expect_tokens(line, 5, "collection start, stop and air volume", at_least=True)
    return Collection(
        start=ims_time(t[0:2], line, "collection start"),
        stop=ims_time(t[2:4], line, "collection stop"),
        air_volume=number(t[4], line, "air volume"),
        extra=tuple(t[5:]),
    )


def _read_acquisition(block: Block) -> Acquisition:
    line = _one_line(block, "acquisition")
    t = expect_tokens(line, 4, "acquisition start, real time and live time")
    acq = Acquisition(
        start=ims_time(t[0:2], line, "acquisition start"),
        real_time=number(t[2], line, "real time"),
        live_time=number(t[3], line, "live time"),
    )
    if acq.live_time < 0 or acq.real_time < 0:
        raise BlockError(line.no, "real and live time must not be negative")
    return acq


def _read_calibration(block: Block) -> datetime:
    line = _one_line(block, "calibration time")
    return ims_time(expect_tokens(line, 2, "calibration date and time"), line, "calibration time")


def _read_processing(block: Block) -> Processing:
    lines = block.data_lines()
    if len(lines) != 3:
        raise BlockError(
            block.line,
            f"expected 3 lines (Xe volume, Xe yield, archive bottle id), found {len(lines)}",
        )
    v = expect_tokens(lines[0], 2, "Xe volume and uncertainty")
    y = expect_tokens(lines[1], 2, "Xe yield and uncertainty")
    bottle = expect_tokens(lines[2], 1, "archive bottle id")
    return Processing(
        number(v[0], lines[0], "Xe volume"),
        number(v[1], lines[0], "Xe volume uncertainty"),
        number(y[0], lines[1], "Xe yield"),
        number(y[1], lines[1], "Xe yield uncertainty"),
        bottle[0],
    )


def _read_sample(block: Block) -> tuple[float, ...]:
    line = _one_line(block, "sample dimensions")
    tokens = expect_tokens(line, 1, "sample dimensions", at_least=True)
    return tuple(number(t, line, "sample dimension") for t in tokens)


_STACK_KEYS = {f.name for f in fields(StackConditions)} - {"extra"}


def _read_stack(block: Block) -> StackConditions:
    known: dict[str, float] = {}
    extra: list[tuple[str, str]] = []
    for line in block.data_lines():
        t = line.text.split(None, 1)
        if len(t) != 2:
            raise BlockError(line.no, f"expected 'key value', found {line.text.strip()!r}")
        key, value = t[0], t[1].strip()
        if key in _STACK_KEYS:
            if key in known:
                raise BlockError(line.no, f"{key} given twice")
            known[key] = number(value, line, key)
        else:
            extra.append((key, value))
    return StackConditions(**known, extra=tuple(extra))


def _rows(block: Block, n: int, what: str, convert) -> list:
    out = []
    for line in block.data_lines():
        tokens = expect_tokens(line, n, what)
        out.append(convert(tokens, line))
    return out


def _read_energy(block: Block) -> list[EnergyPoint]:
    return _rows(
        block,
        3,
        "energy, channel, uncertainty",
        lambda t, ln: EnergyPoint(
            number(t[0], ln, "energy"), number(t[1], ln, "channel"), number(t[2], ln, "uncertainty")
        ),
    )


def _read_b_energy(block: Block) -> list[BetaEnergyPoint]:
    def row(t, ln):
        if t[1] not in ("B", "C"):
            raise BlockError(ln.no, f"mode must be B or C, found {t[1]!r}")
        return BetaEnergyPoint(
            number(t[0], ln, "energy"),
            t[1],
            number(t[2], ln, "channel"),
            number(t[3], ln, "uncertainty"),
        )

    return _rows(block, 4, "energy, mode, channel, uncertainty", row)


def _read_resolution(block: Block) -> list[ResolutionPoint]:
    return _rows(
        block,
        3,
        "energy, FWHM, uncertainty",
        lambda t, ln: ResolutionPoint(
            number(t[0], ln, "energy"), number(t[1], ln, "FWHM"), number(t[2], ln, "uncertainty")
        ),
    )


def _read_efficiency(block: Block) -> list[EfficiencyPoint]:
    return _rows(
        block,
        3,
        "energy, efficiency, uncertainty",
        lambda t, ln: EfficiencyPoint(
            number(t[0], ln, "energy"),
            number(t[1], ln, "efficiency"),
            number(t[2], ln, "uncertainty"),
        ),
    )


def _read_roi_limits(block: Block) -> list[RoiLimit]:
    return _rows(
        block,
        5,
        "ROI, beta low, beta high, gamma low, gamma high",
        lambda t, ln: RoiLimit(
            integer(t[0], ln, "ROI number"), *(number(x, ln, "ROI limit") for x in t[1:])
        ),
    )


def _read_bg_efficiency(block: Block) -> list[BetaGammaEfficiency]:
    return _rows(
        block,
        4,
        "nuclide, ROI, efficiency, uncertainty",
        lambda t, ln: BetaGammaEfficiency(
            t[0],
            integer(t[1], ln, "ROI number"),
            number(t[2], ln, "efficiency"),
            number(t[3], ln, "uncertainty"),
        ),
    )


def _read_ratios(block: Block) -> list[Ratio]:
    return _rows(
        block,
        5,
        "ratio id, upper ROI, lower ROI, ratio, uncertainty",
        lambda t, ln: Ratio(
            t[0],
            integer(t[1], ln, "upper ROI"),
            integer(t[2], ln, "lower ROI"),
            number(t[3], ln, "ratio"),
            number(t[4], ln, "uncertainty"),
        ),
    )


_MAX_COUNT = np.iinfo(np.int64).max  # counts are stored as int64
_BULK = True  # tests switch the bulk path off to compare it with the line-by-line path
_BULK_LIMIT = 10**18  # below it every number fits an int64 with room to spare


@dataclass(frozen=True)
class _Bulk:
    values: np.ndarray  # every number of the lines, in order, int64
    per_line: np.ndarray  # how many numbers each line holds (each at least one)


# the last number of a bulk read: read only when the read reached the end; no count has it
# (a number of 18 digits or more is refused anyway)
_END_MARK = np.iinfo(np.int64).max
_END = f" -1 {_END_MARK}"


def _marked_numbers(lines: list[Line]) -> np.ndarray | None:
    """Every number of `lines` with a -1 after each line's, in one C pass: the lines are
    joined with a -1 after each, `numpy.fromstring` reads every number. None whenever the
    bulk reading might differ from the line-by-line reader's: a non-ASCII character,
    anything numpy does not read as an integer (a point, an underscore, a sign inside a
    token...). A negative number in the lines is one -1 too many: the callers count the
    marks (the lines' "-0" reads as 0 both ways), so no pass counts minus signs."""
    if not _BULK or not lines:
        return None
    text = " -1 ".join(line_texts(lines)) + _END
    if not text.isascii():
        return None
    try:
        values = np.fromstring(text, dtype=np.int64, sep=" ")  # text mode: C speed
    except ValueError:
        return None
    # a partial read (numpy stops at the first token it cannot read, with a warning) is a
    # refusal, never a result: it never reaches the end mark. Told by the end mark, not by
    # turning the warning into an error: warning filters are the whole process's, and
    # another thread's warnings would become errors meanwhile.
    if values.size == 0 or values[-1] != _END_MARK:
        return None
    return values[:-1]


def _bulk_counts(lines: list[Line]) -> _Bulk | None:
    """The numbers of `lines` in bulk (blank lines skipped, as the line-by-line reader
    does), or None whenever the bulk reading might differ from the line-by-line reader's
    (`_marked_numbers`), or a number has 18 digits or more. The line-by-line reader then
    judges, with its errors. The -1 marks give each line's share."""
    return _split_marked(_marked_numbers(lines), len(lines))


def _split_marked(values: np.ndarray | None, n: int) -> _Bulk | None:
    """`_bulk_counts` of `n` lines from their marked numbers."""
    if values is None:
        return None
    mark = values < 0
    ends = np.flatnonzero(mark)
    if len(ends) != n:
        return None  # a -1 swallowed or split: not plain numbers
    per_line = np.diff(ends, prepend=-1) - 1
    per_line = per_line[per_line > 0]  # blank lines carry nothing
    values = values[~mark]
    # numpy saturates what does not fit; from 10**18 on the line reader decides
    if len(values) == 0 or int(values.max()) >= _BULK_LIMIT:
        return None
    return _Bulk(values, per_line)


def _uniform_spectrum(rows: list[Line], marked: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Counts and first channel when every row but the last holds the channel number and
    as many counts as the first row (the last row one count or more, at most as many), no
    row is blank and the channel numbers follow: the marked numbers are then a matrix with
    the -1 marks in its last column and the channel numbers in its first, checked as such.
    None when the rows are laid out otherwise (`_bulk_spectrum` then reads them line by line
    in bulk)."""
    n = len(rows)
    width = len(rows[0].text.split()) + 1  # a guess: the marks' column checks it
    full = width * (n - 1)
    tail = marked[full:]
    if width < 3 or not 2 <= len(tail) <= width or tail[-1] != -1:
        return None
    table = marked[:full].reshape(n - 1, width)
    if not (table[:, -1] == -1).all() or np.count_nonzero(marked < 0) != n:
        return None  # a row holds more or fewer numbers than the first, or is blank
    first = int(marked[0])
    per_row = width - 2
    if first not in (0, 1) or int(tail[0]) != first + per_row * (n - 1):
        return None
    if not np.array_equal(table[:, 0], np.arange(first, first + per_row * (n - 1), per_row)):
        return None
    counts = np.concatenate((table[:, 1:-1].ravel(), tail[1:-1]))
    if len(counts) == 0 or int(counts.max()) >= _BULK_LIMIT:  # numpy saturates
        return None
    return counts, first


def _bulk_spectrum(rows: list[Line], channels: int) -> tuple[np.ndarray, int] | None:
    """Counts and first channel when every line is `channel count...` in sequence and
    the channel count is as declared; None leaves the rows to the line-by-line loop."""
    marked = _marked_numbers(rows)
    if marked is None:
        return None
    uniform = _uniform_spectrum(rows, marked)
    if uniform is not None:
        return uniform if len(uniform[0]) == channels else None
    bulk = _split_marked(marked, len(rows))
    if bulk is None:
        return None
    line_start = np.concatenate(([0], np.cumsum(bulk.per_line)[:-1]))
    numbers = bulk.values[line_start]  # each line's channel number
    first = int(numbers[0])
    if first not in (0, 1):
        return None
    expected = first + np.concatenate(([0], np.cumsum(bulk.per_line - 1)[:-1]))
    if not np.array_equal(numbers, expected):
        return None
    counts = np.delete(bulk.values, line_start)
    if len(counts) != channels:
        return None
    return counts, first


def _count(token: str, line: Line) -> int:
    try:
        value = int(token)
    except ValueError:
        raise BlockError(line.no, f"count is not an integer: {token!r}") from None
    if value < 0:
        raise BlockError(line.no, f"negative count: {token!r}")
    if value > _MAX_COUNT:
        raise BlockError(line.no, f"count too large (over 2**63 - 1): {token!r}")
    return value


def _read_spectrum(block: Block, log: ProblemLog) -> Spectrum:
    first = next((i for i, ln in enumerate(block.lines) if ln.text.strip()), None)
    if first is None:
        raise BlockError(block.line, "the block is empty")
    head_line = block.lines[first]
    head = expect_tokens(head_line, 2, "number of channels and energy span")
    channels = integer(head[0], head_line, "number of channels")
    span = number(head[1], head_line, "energy span")
    if channels <= 0:
        raise BlockError(head_line.no, f"number of channels must be positive, found {channels}")
    bulk = _bulk_spectrum(block.lines[first + 1 :], channels)
    if bulk is not None:
        return Spectrum(channels, span, bulk[0], bulk[1])
    lines = block.data_lines()
    counts: list[int] = []
    first_channel = 0
    for i, line in enumerate(lines[1:]):
        tokens = line.text.split()
        start = integer(tokens[0], line, "channel number")
        if i == 0:
            first_channel = start
            if start not in (0, 1):
                raise BlockError(line.no, f"first channel must be 0 or 1, found {start}")
        expected = first_channel + len(counts)
        if start != expected:
            raise BlockError(
                line.no, f"expected channel {expected} at the start of the line, found {start}"
            )
        counts.extend(_count(tok, line) for tok in tokens[1:])
    if len(counts) != channels:
        last = lines[-1].no
        log.recoverable(last, block.label, f"expected {channels} channels, found {len(counts)}")
        channels = len(counts)
        if channels == 0:
            raise BlockError(block.line, "no counts")
    return Spectrum(channels, span, np.array(counts, dtype=np.int64), first_channel)


def _read_histogram(block: Block, log: ProblemLog) -> Histogram:
    lines = block.data_lines()
    if not lines:
        raise BlockError(block.line, "the block is empty")
    head = expect_tokens(lines[0], 4, "gamma channels, beta channels, gamma span, beta span")
    g = integer(head[0], lines[0], "gamma channels")
    b = integer(head[1], lines[0], "beta channels")
    if g <= 0 or b <= 0:
        raise BlockError(lines[0].no, "channel numbers must be positive")
    bulk = _bulk_counts(lines[1:])
    if bulk is not None and len(bulk.per_line) == g and (bulk.per_line == b).all():
        return Histogram(
            g,
            b,
            number(head[2], lines[0], "gamma span"),
            number(head[3], lines[0], "beta span"),
            bulk.values.reshape(g, b),
        )
    rows = []
    for line in lines[1:]:
        row = [_count(tok, line) for tok in line.text.split()]
        if len(row) != b:
            raise BlockError(line.no, f"expected {b} beta channels in the row, found {len(row)}")
        rows.append(row)
    if len(rows) != g:
        log.recoverable(lines[-1].no, block.label, f"expected {g} gamma rows, found {len(rows)}")
        g = len(rows)
        if g == 0:
            raise BlockError(block.line, "no counts")
    return Histogram(
        g,
        b,
        number(head[2], lines[0], "gamma span"),
        number(head[3], lines[0], "beta span"),
        np.array(rows, dtype=np.int64),
    )


def _read_certificate(block: Block, log: ProblemLog) -> Certificate:
    lines = block.data_lines()
    total = None
    assay = None
    entries = lines
    if lines:
        t = lines[0].text.split()
        if len(t) == 3:
            try:
                total = number(t[0], lines[0], "total activity")
                assay = ims_time(t[1:3], lines[0], "assay time")
                entries = lines[1:]
            except BlockError:
                total, assay = None, None
        if total is None:
            log.warn(lines[0].no, block.label, "no 'total activity, assay date, assay time' line")
    return Certificate(total, assay, [tuple(ln.text.split()) for ln in entries])


_READERS = {
    "header": _read_header,
    "comment": _read_comment,
    "collection": _read_collection,
    "acquisition": _read_acquisition,
    "calibration_time": _read_calibration,
    "processing": _read_processing,
    "sample": _read_sample,
    "stack": _read_stack,
    "g_energy": _read_energy,
    "b_energy": _read_b_energy,
    "g_resolution": _read_resolution,
    "b_resolution": _read_resolution,
    "roi_limits": _read_roi_limits,
    "g_efficiency": _read_efficiency,
    "total_efficiency": _read_efficiency,
    "bg_efficiency": _read_bg_efficiency,
    "ratios": _read_ratios,
}
_READERS_WITH_LOG = {
    "g_spectrum": _read_spectrum,
    "b_spectrum": _read_spectrum,
    "histogram": _read_histogram,
    "certificate": _read_certificate,
}


def parse_phd(data_type: str, lines: list[Line], log: ProblemLog, section_line: int) -> Phd | None:
    """Read one PHD section. Problems go to `log`; returns None when the section is unusable."""
    preamble, blocks = split_blocks(lines)
    for ln in preamble:
        if ln.text.strip():
            log.recoverable(ln.no, None, f"text outside any block: {ln.text.strip()!r}")
    values: dict[str, object] = {}
    extra: list[RawBlock] = []
    last_known: str | None = None
    for block in blocks:
        known = _ATTR.get(block.name.lower())
        if known is None:
            extra.append(
                RawBlock(block.name, block.arg, [ln.text for ln in block.lines], last_known)
            )
            log.warn(block.line, block.label, "unknown block kept verbatim")
            continue
        name, attr = known
        if attr in values:
            log.error(block.line, block.label, "block appears twice")
            continue
        try:
            if attr in _READERS_WITH_LOG:
                values[attr] = _READERS_WITH_LOG[attr](block, log)
            else:
                values[attr] = _READERS[attr](block)
        except BlockError as exc:
            log.error(exc.line if exc.line is not None else block.line, "#" + name, exc.message)
            values[attr] = None
        last_known = name
    if "header" not in values:
        log.error(section_line, None, f"{data_type}: required block #Header is missing")
    if "g_spectrum" not in values and "histogram" not in values and "b_spectrum" not in values:
        log.error(
            section_line, None, f"{data_type}: no spectrum (#g_Spectrum, #b_Spectrum or #Histogram)"
        )
    if (
        data_type
        in (
            "SAMPLEPHD",
            "SPHDF",
            "SPHDP",
            "BLANKPHD",
            "DETBKPHD",
            "GASBKPHD",
            "CALIBPHD",
            "QCPHD",
            "SPIKEPHD",
        )
        and "acquisition" not in values
    ):
        log.error(section_line, None, f"{data_type}: required block #Acquisition is missing")
    if values.get("header") is None:
        return None
    return Phd(data_type=data_type, extra_blocks=extra, **{k: v for k, v in values.items()})  # type: ignore[arg-type]


# --------------------------------------------------------------------- writers
def _check_token(value: str, what: str, width: int | None = None) -> str:
    if not value or any(c.isspace() for c in value):
        raise ValueError(f"{what} must be one word without spaces, got {value!r}")
    if width is not None and len(value) > width:
        raise ValueError(f"{what} is at most {width} characters, got {value!r}")
    return value


def _write_header(h: PhdHeader) -> list[str]:
    _check_token(h.station, "station code", 5)
    _check_token(h.detector, "detector code", 9)
    _check_token(h.geometry, "sample geometry", 17)
    if h.system_type not in SYSTEM_TYPES:
        raise ValueError(f"system type must be one of P, B, G, got {h.system_type!r}")
    if h.qualifier not in QUALIFIERS:
        raise ValueError(f"qualifier must be PREL or FULL, got {h.qualifier!r}")
    ids = [_check_token(h.measurement_id, "measurement id")]
    if h.detector_bk_id is not None:
        ids.append(_check_token(h.detector_bk_id, "detector background id"))
    if h.gas_bk_id is not None:
        if h.detector_bk_id is None:
            raise ValueError(
                "a gas background id needs a detector background id before it ('0' for none)"
            )
        ids.append(_check_token(h.gas_bk_id, "gas background id"))
    out = [
        f"{h.station:<5} {h.detector:<9} {h.system_type} {h.geometry:<17} {h.qualifier}",
        _check_token(h.srid, "sample reference id"),
        " ".join(f"{i:<31}" for i in ids[:-1]) + (" " if len(ids) > 1 else "") + ids[-1],
    ]
    if h.transmit_time is not None:
        out.append(ftime(h.transmit_time))
    return out


def _write_comment(text: str) -> list[str]:
    return text.split("\n")


def _write_collection(c: Collection) -> list[str]:
    for tok in c.extra:
        _check_token(tok, "collection extra field")
    return [" ".join([ftime(c.start), ftime(c.stop), fnum(c.air_volume), *c.extra])]


def _write_acquisition(a: Acquisition) -> list[str]:
    return [f"{ftime(a.start)} {fnum(a.real_time):<14} {fnum(a.live_time)}"]


def _write_processing(p: Processing) -> list[str]:
    return [
        columns([fnum(p.xe_volume), fnum(p.xe_volume_unc)], 8),
        columns([fnum(p.xe_yield), fnum(p.xe_yield_unc)], 8),
        _check_token(p.archive_bottle_id, "archive bottle id"),
    ]


def _write_sample(dimensions: tuple[float, ...]) -> list[str]:
    if not dimensions:
        raise ValueError("#Sample needs at least one dimension")
    return [" ".join(fnum(x) for x in dimensions)]


def _write_stack(s: StackConditions) -> list[str]:
    out = []
    for f in fields(StackConditions):
        value = getattr(s, f.name)
        if f.name != "extra" and value is not None:
            out.append(f"{f.name:<24} {fnum(value)}")
    for key, value in s.extra:
        _check_token(key, "#Stack key")
        if not value.strip() or "\n" in value:
            raise ValueError(f"#Stack value of {key} must be one line of text")
        out.append(f"{key:<24} {value}")
    return out


def _write_spectrum(s: Spectrum) -> list[str]:
    counts = s.counts
    if len(counts) != s.channels:
        raise ValueError(f"spectrum declares {s.channels} channels but holds {len(counts)} counts")
    if s.first_channel not in (0, 1):
        raise ValueError("first channel must be 0 or 1")
    if len(counts) and counts.min() < 0:
        raise ValueError("negative counts cannot be written")
    out = [f"{s.channels} {fnum(s.energy_span)}"]
    strs = counts.astype(str)
    for i in range(0, len(strs), 5):
        out.append(f"{s.first_channel + i:<5} " + " ".join(f"{c:>10}" for c in strs[i : i + 5]))
    return out


def _write_histogram(h: Histogram) -> list[str]:
    if h.counts.shape != (h.gamma_channels, h.beta_channels):
        raise ValueError(
            f"histogram declares {h.gamma_channels}x{h.beta_channels} but holds {h.counts.shape}"
        )
    out = [f"{h.gamma_channels} {h.beta_channels} {fnum(h.gamma_span)} {fnum(h.beta_span)}"]
    out.extend(" ".join(row.astype(str)) for row in h.counts)
    return out


def _write_certificate(c: Certificate) -> list[str]:
    out = []
    if c.total_activity is not None and c.assay_time is not None:
        out.append(f"{fnum(c.total_activity)} {ftime(c.assay_time)}")
    for entry in c.entries:
        if not entry:
            raise ValueError("a certificate entry needs at least one field")
        for tok in entry:
            _check_token(tok, "certificate field")
        out.append(" ".join(entry))
    return out


def _table(rows, cells) -> list[str]:
    return [columns(cells(r)) for r in rows]


_WRITERS = {
    "header": _write_header,
    "comment": _write_comment,
    "collection": _write_collection,
    "acquisition": _write_acquisition,
    "calibration_time": lambda t: [ftime(t)],
    "processing": _write_processing,
    "sample": _write_sample,
    "stack": _write_stack,
    "g_energy": lambda rows: _table(
        rows, lambda p: [fnum(p.energy), fnum(p.channel), fnum(p.uncertainty)]
    ),
    "b_energy": lambda rows: _table(
        rows, lambda p: [fnum(p.energy), p.mode, fnum(p.channel), fnum(p.uncertainty)]
    ),
    "g_resolution": lambda rows: _table(
        rows, lambda p: [fnum(p.energy), fnum(p.fwhm), fnum(p.uncertainty)]
    ),
    "b_resolution": lambda rows: _table(
        rows, lambda p: [fnum(p.energy), fnum(p.fwhm), fnum(p.uncertainty)]
    ),
    "roi_limits": lambda rows: _table(
        rows,
        lambda r: [
            str(r.roi),
            fnum(r.beta_low),
            fnum(r.beta_high),
            fnum(r.gamma_low),
            fnum(r.gamma_high),
        ],
    ),
    "g_efficiency": lambda rows: _table(
        rows, lambda p: [fnum(p.energy), fnum(p.efficiency), fnum(p.uncertainty)]
    ),
    "total_efficiency": lambda rows: _table(
        rows, lambda p: [fnum(p.energy), fnum(p.efficiency), fnum(p.uncertainty)]
    ),
    "bg_efficiency": lambda rows: _table(
        rows,
        lambda e: [
            _check_token(e.nuclide, "nuclide"),
            str(e.roi),
            fnum(e.efficiency),
            fnum(e.uncertainty),
        ],
    ),
    "ratios": lambda rows: _table(
        rows,
        lambda r: [
            _check_token(r.ratio_id, "ratio id"),
            str(r.upper_roi),
            str(r.lower_roi),
            fnum(r.ratio),
            fnum(r.uncertainty),
        ],
    ),
    "g_spectrum": _write_spectrum,
    "b_spectrum": _write_spectrum,
    "histogram": _write_histogram,
    "certificate": _write_certificate,
}
_LIST_ATTRS = {
    "g_energy",
    "b_energy",
    "g_resolution",
    "b_resolution",
    "roi_limits",
    "g_efficiency",
    "total_efficiency",
    "bg_efficiency",
    "ratios",
}


def write_phd(phd: Phd) -> list[str]:
    """The section's lines after `DATA_TYPE`, in the canonical block order."""
    out: list[str] = []

    def raw_after(name: str | None) -> None:
        for raw in phd.extra_blocks:
            if raw.after == name:
                _check_token(raw.name, "block name")
                if raw.name.lower() in _ATTR:
                    raise ValueError(f"#{raw.name} is a known block; give it as such, not raw")
                out.append(f"#{raw.name}" + (f" {raw.arg}" if raw.arg else ""))
                out.extend(check_lines(raw.lines, f"#{raw.name}"))

    raw_after(None)
    for name, attr in BLOCK_ORDER:
        value = getattr(phd, attr)
        if value is None or (attr in _LIST_ATTRS and not value):
            if name == "Header":
                raise ValueError("a PHD needs a header")
        else:
            out.append("#Header 3" if name == "Header" else f"#{name}")
            out.extend(check_lines(_WRITERS[attr](value), f"#{name}"))
        raw_after(name)
    known = {n for n, _ in BLOCK_ORDER}
    for raw in phd.extra_blocks:
        if raw.after is not None and raw.after not in known:
            raise ValueError(f"unknown block {raw.name} placed after unknown block {raw.after}")
    return out
