"""Reader of the spectrum files that vendor acquisition software writes (N42, CNF, SPE,
SPC, CHN), through Sandia's SpecUtils (the `sandiaspecutils` package).

`read_vendor_file(path)` returns one `VendorSpectrum` (plain data, counts as int64) or
raises `FormatError` saying what is wrong with the file: unknown extension, unreadable,
half-written (fewer channels than its header declares, XML cut short), several spectra
in one file, counts that are not whole numbers. Nothing is guessed: a file that does not
say its live or real time is refused, not given a default.

Vendor software records the acquisition PC's local time without a time zone, so
`start_time` is naive, as written; the caller knows the site's zone.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from .errors import FormatError, Problem

__all__ = ["VENDOR_FORMATS", "VendorSpectrum", "read_vendor_file", "vendor_format"]

# extension (lower case) -> (format name, SpecUtils parser names to try in order)
VENDOR_FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    ".n42": ("N42", ("N42_2012", "N42_2006")),
    ".xml": ("N42", ("N42_2012", "N42_2006")),
    ".cnf": ("CNF", ("Cnf",)),
    ".spe": ("SPE", ("SpeIaea",)),
    ".spc": ("SPC", ("Spc",)),
    ".chn": ("CHN", ("Chn",)),
}

_CALIBRATION_MODELS = {
    "Polynomial": "polynomial",
    "UnspecifiedUsingDefaultPolynomial": "polynomial",
    "FullRangeFraction": "full-range-fraction",
    "LowerChannelEdge": "lower-channel-edge",
}


@dataclass(frozen=True)
class VendorSpectrum:
    """One acquisition as the vendor software wrote it."""

    source: str  # the file it came from
    format: str  # N42, CNF, SPE, SPC or CHN
    counts: np.ndarray = field(repr=False)  # int64, one per channel, first channel 0
    live_time: float  # s
    real_time: float  # s
    start_time: datetime | None  # naive, the acquisition PC's local time; None if unrecorded
    # E(keV) as the file gives it: model "polynomial" means E = sum(c[i] * ch**i), ch the
    # channel's lower edge as SpecUtils defines it; empty when the file has none
    calibration_model: str | None
    calibration_coefficients: tuple[float, ...]
    manufacturer: str = ""
    instrument_model: str = ""
    instrument_id: str = ""  # serial number or MCB identifier
    detector_name: str = ""
    title: str = ""  # the sample description
    remarks: tuple[str, ...] = ()

    @property
    def channels(self) -> int:
        return len(self.counts)


def vendor_format(path: str | Path) -> str | None:
    """The format a file name says (N42, CNF, SPE, SPC, CHN), or None for other files."""
    entry = VENDOR_FORMATS.get(Path(path).suffix.lower())
    return entry[0] if entry else None


def _error(source: str, message: str) -> FormatError:
    return FormatError(Problem(source, None, None, message))


def read_vendor_file(path: str | Path) -> VendorSpectrum:
    """Read one vendor spectrum file; FormatError if it is not a whole, readable spectrum."""
    path = Path(path)
    source = str(path)
    entry = VENDOR_FORMATS.get(path.suffix.lower())
    if entry is None:
        known = ", ".join(sorted({name for name, _ in VENDOR_FORMATS.values()}))
        raise _error(
            source,
            f"not a vendor spectrum file (extension {path.suffix!r}; "
            f"expected one of {known}: .n42 .xml .cnf .spe .spc .chn)",
        )
    fmt, parsers = entry
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _error(source, f"cannot read the file: {exc.strerror or exc}") from None
    if not data:
        raise _error(source, f"empty {fmt} file (still being written?)")
    _check_complete(source, fmt, data)

    import SpecUtils  # the agent extra: only needed where vendor files are read

    spec = _load(SpecUtils, source, fmt, parsers)
    measurements = [m for m in spec.measurements() if m.numGammaChannels() > 0]
    if not measurements:
        raise _error(source, f"{fmt} file holds no gamma spectrum")
    if len(measurements) > 1:
        raise _error(
            source,
            f"{fmt} file holds {len(measurements)} spectra; expected one acquisition per "
            "file (configure the vendor software to write one file per count)",
        )
    m = measurements[0]
    counts = _whole_counts(source, fmt, m.gammaCounts())
    declared = _declared_channels(fmt, data)
    if declared is not None and declared != len(counts):
        raise _error(
            source,
            f"{fmt} file declares {declared} channels but holds {len(counts)} "
            "(half-written? the vendor software may still be writing it)",
        )
    live, real = float(m.liveTime()), float(m.realTime())
    for name, value in (("live time", live), ("real time", real)):
        if not math.isfinite(value) or value <= 0:
            raise _error(source, f"{fmt} file gives no usable {name} ({value!r})")
    if live > real * 1.0001:  # float32 rounding in binary formats
        raise _error(source, f"{fmt} file: live time {live} s exceeds real time {real} s")
    start = m.startTime()
    model = _CALIBRATION_MODELS.get(m.energyCalibrationModel().name)
    coefficients = tuple(float(c) for c in m.calibrationCoeffs()) if model else ()
    return VendorSpectrum(
        source=source,
        format=fmt,
        counts=counts,
        live_time=live,
        real_time=real,
        start_time=start if isinstance(start, datetime) and start.year > 1970 else None,
        calibration_model=model if coefficients else None,
        calibration_coefficients=coefficients,
        manufacturer=spec.manufacturer().strip(),
        instrument_model=spec.instrumentModel().strip(),
        instrument_id=spec.instrumentId().strip(),
        detector_name=m.detectorName().strip(),
        title=m.title().strip(),
        remarks=tuple(r.strip() for r in (*spec.remarks(), *m.remarks()) if r.strip()),
    )


def _load(SpecUtils, source: str, fmt: str, parsers: tuple[str, ...]):
    for parser in parsers:
        spec = SpecUtils.SpecFile()
        try:
            spec.loadFile(source, getattr(SpecUtils.ParserType, parser))
        except RuntimeError:
            continue
        return spec
    raise _error(
        source,
        f"unreadable {fmt} file (SpecUtils could not parse it: damaged, half-written, "
        f"or not really a {fmt} file)",
    )


def _whole_counts(source: str, fmt: str, values) -> np.ndarray:
    counts = np.asarray(values, dtype=float)
    bad = ~np.isfinite(counts) | (counts < 0) | (counts != np.round(counts))
    if bad.any():
        channel = int(np.argmax(bad))
        raise _error(
            source,
            f"{fmt} file: channel {channel} holds {counts[channel]!r}, not a count "
            "(a processed, not a raw, spectrum?)",
        )
    return counts.astype(np.int64)


def _check_complete(source: str, fmt: str, data: bytes) -> None:
    """Text formats can parse although cut short: check they end where they should."""
    if fmt == "N42":
        # not a full XML parse: writers (SpecUtils' own among them) leave prefixes unbound
        root = _XML_ROOT.search(data)
        if root is None:
            raise _error(source, "N42 file has no XML root element (not an N42 file?)")
        closing = b"</" + root.group(1) + b">"
        if not data.rstrip().endswith(closing):
            raise _error(
                source,
                f"N42 file is not complete XML: it does not end with {closing.decode()!r} "
                "(half-written? the vendor software may still be writing it)",
            )


_XML_ROOT = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_SPE_DATA = re.compile(rb"^\$DATA:\s*\r?\n\s*(\d+)\s+(\d+)", re.MULTILINE)


def _declared_channels(fmt: str, data: bytes) -> int | None:
    """How many channels the file's own header announces, where the format says it."""
    if fmt == "SPE":
        match = _SPE_DATA.search(data)
        if match:
            return int(match.group(2)) - int(match.group(1)) + 1
    return None
