"""Hypothesis strategies for every message the readers and writers handle.

They produce only what the format can carry: times at 0.1 s in UTC, finite floats,
tokens without spaces, verbatim lines that cannot be mistaken for a block, a section or STOP.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime

import numpy as np
from hypothesis import strategies as st

from shared.formats import (
    ALERT_TYPES,
    PHD_TYPES,
    SOH_TYPES,
    Acquisition,
    Alert,
    Certificate,
    Collection,
    EfficiencyPoint,
    EnergyPoint,
    Histogram,
    Message,
    Phd,
    PhdHeader,
    Processing,
    RawBlock,
    RawSection,
    ResolutionPoint,
    Soh,
    SohBlock,
    SohRawBlock,
    SohRow,
    Spectrum,
    StackConditions,
)
from shared.formats.phd import (
    BLOCK_ORDER,
    BetaEnergyPoint,
    BetaGammaEfficiency,
    Ratio,
    RoiLimit,
)

ENDS_SECTION = {"STOP", "DATA_TYPE", "DATE_TYPE"}

times = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=t.microsecond // 100_000 * 100_000))
floats = st.floats(allow_nan=False, allow_infinity=False)
non_negative = st.floats(min_value=0, allow_nan=False, allow_infinity=False)

tokens = st.text(string.ascii_letters + string.digits + "_-.:/+", min_size=1, max_size=12).filter(
    lambda t: t not in ENDS_SECTION
)
codes = st.text(string.ascii_uppercase + string.digits, min_size=1, max_size=5)
numeric_tokens = st.one_of(
    floats.map(repr), floats.map(lambda x: f"{x:.4f}"), st.integers(-9999, 9999).map(str)
)


def _safe(line: str, in_block: bool) -> bool:
    first = line.split()[:1]
    if line.strip() == "STOP" or (first and first[0] in ENDS_SECTION):
        return False
    return not (in_block and line.startswith("#"))


_line_chars = st.characters(codec="ascii", exclude_characters="\n\r")
block_lines = st.text(_line_chars, max_size=30).filter(lambda s: _safe(s, in_block=True))
free_lines = st.text(_line_chars, max_size=30).filter(lambda s: _safe(s, in_block=False))
one_line_texts = st.text(_line_chars, min_size=1, max_size=30).map(str.strip).filter(bool)


# ---------------------------------------------------------------------------- PHD
@st.composite
def headers(draw) -> PhdHeader:
    ids = draw(st.lists(tokens, min_size=1, max_size=3))
    return PhdHeader(
        station=draw(codes),
        detector=draw(
            st.text(string.ascii_uppercase + string.digits + "_", min_size=1, max_size=9)
        ),
        system_type=draw(st.sampled_from("PBG")),
        geometry=draw(tokens.filter(lambda t: len(t) <= 17)),
        qualifier=draw(st.sampled_from(["PREL", "FULL"])),
        srid=draw(tokens),
        measurement_id=ids[0],
        detector_bk_id=ids[1] if len(ids) > 1 else None,
        gas_bk_id=ids[2] if len(ids) > 2 else None,
        transmit_time=draw(st.none() | times),
    )


@st.composite
def spectra(draw) -> Spectrum:
    counts = draw(st.lists(st.integers(0, 2**40), min_size=1, max_size=23))
    return Spectrum(
        channels=len(counts),
        energy_span=draw(floats),
        counts=np.array(counts, dtype=np.int64),
        first_channel=draw(st.sampled_from([0, 1])),
    )


@st.composite
def histograms(draw) -> Histogram:
    g, b = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    rows = draw(
        st.lists(st.lists(st.integers(0, 10**6), min_size=b, max_size=b), min_size=g, max_size=g)
    )
    return Histogram(g, b, draw(floats), draw(floats), np.array(rows, dtype=np.int64))


stack_keys = tokens.map(lambda t: "x_" + t)
stack_conditions = st.builds(
    StackConditions,
    chamber_volume_m3=st.none() | non_negative,
    stack_flow_m3_s=st.none() | non_negative,
    sample_flow_m3_s=st.none() | non_negative,
    transit_time_s=st.none() | non_negative,
    chamber_pressure_kpa=st.none() | non_negative,
    chamber_temperature_k=st.none() | non_negative,
    reference_pressure_kpa=st.none() | non_negative,
    reference_temperature_k=st.none() | non_negative,
    extra=st.lists(st.tuples(stack_keys, one_line_texts), max_size=2).map(tuple),
)


@st.composite
def certificates(draw) -> Certificate:
    nuclide = st.from_regex(r"[A-Z][a-z]?-[0-9]{1,3}m?", fullmatch=True)
    entries = draw(
        st.lists(
            st.tuples(nuclide, st.lists(tokens, max_size=9)).map(lambda e: (e[0], *e[1])),
            max_size=3,
        )
    )
    if draw(st.booleans()):
        return Certificate(draw(floats), draw(times), entries)
    return Certificate(None, None, entries)


def _lists(element, max_size=4):
    return st.lists(element, max_size=max_size)


@st.composite
def phds(draw) -> Phd:
    opt = st.booleans()
    phd = Phd(
        data_type=draw(st.sampled_from(PHD_TYPES)),
        header=draw(headers()),
        acquisition=Acquisition(draw(times), draw(non_negative), draw(non_negative)),
        comment=draw(st.none() | _lists(block_lines).map("\n".join)),
        collection=draw(
            st.none()
            | st.builds(
                Collection, times, times, floats, st.lists(numeric_tokens, max_size=3).map(tuple)
            )
        ),
        calibration_time=draw(st.none() | times),
        processing=draw(st.none() | st.builds(Processing, floats, floats, floats, floats, tokens)),
        sample=draw(st.none() | st.lists(floats, min_size=1, max_size=3).map(tuple)),
        stack=draw(st.none() | stack_conditions),
        g_energy=draw(_lists(st.builds(EnergyPoint, floats, floats, floats))),
        b_energy=draw(
            _lists(st.builds(BetaEnergyPoint, floats, st.sampled_from("BC"), floats, floats))
        ),
        g_resolution=draw(_lists(st.builds(ResolutionPoint, floats, floats, floats))),
        b_resolution=draw(_lists(st.builds(ResolutionPoint, floats, floats, floats))),
        roi_limits=draw(
            _lists(st.builds(RoiLimit, st.integers(0, 20), floats, floats, floats, floats))
        ),
        g_efficiency=draw(_lists(st.builds(EfficiencyPoint, floats, floats, floats))),
        total_efficiency=draw(_lists(st.builds(EfficiencyPoint, floats, floats, floats))),
        bg_efficiency=draw(
            _lists(st.builds(BetaGammaEfficiency, tokens, st.integers(0, 20), floats, floats))
        ),
        ratios=draw(
            _lists(st.builds(Ratio, tokens, st.integers(0, 20), st.integers(0, 20), floats, floats))
        ),
        g_spectrum=draw(spectra() if draw(opt) else st.none()),
        b_spectrum=draw(st.none() | spectra()),
        histogram=draw(st.none() | histograms()),
        certificate=draw(st.none() | certificates()),
    )
    if phd.g_spectrum is None and phd.b_spectrum is None and phd.histogram is None:
        phd.g_spectrum = draw(spectra())
    phd.extra_blocks = draw(raw_blocks(phd))
    return phd


def present_blocks(phd: Phd) -> list[str]:
    names = []
    for name, attr in BLOCK_ORDER:
        value = getattr(phd, attr)
        if value is not None and value != []:
            names.append(name)
    return names


@st.composite
def raw_blocks(draw, phd: Phd) -> list[RawBlock]:
    """Unknown blocks, each after a block the PHD has (or before the header), in file order."""
    places = [None, *present_blocks(phd)]
    blocks = draw(
        _lists(
            st.builds(
                RawBlock,
                name=tokens.map(lambda t: "Z" + t),
                arg=st.just("") | one_line_texts,
                lines=_lists(block_lines),
                after=st.sampled_from(places),
            ),
            max_size=3,
        )
    )
    return sorted(blocks, key=lambda b: places.index(b.after))


# ---------------------------------------------------------------------------- SOH
def _row(values) -> st.SearchStrategy[SohRow]:
    return st.builds(SohRow, st.tuples(*values), times, floats)


_pairs = st.lists(st.tuples(tokens, tokens), min_size=1, max_size=3).map(
    lambda ps: tuple(t for p in ps for t in p)
)
_n = numeric_tokens
SOH_ROWS = {
    "AirSamplerFlow": _row([_n, _n]),
    "DetEnv": _row(
        [
            _n,
            st.sampled_from(["OPEN", "CLOSED"]),
            _n,
            _n,
            _n,
            st.sampled_from(["ON", "OFF"]),
            _n,
            _n,
        ]
    ),
    "PowerSupply": st.builds(SohRow, _pairs, times, floats),
    "EquipStatus": st.builds(SohRow, _pairs, times, floats),
    "ProcessSensors": _row([tokens, tokens, _n]),
}


@st.composite
def soh_blocks(draw) -> SohBlock | SohRawBlock:
    if draw(st.booleans()):
        name = draw(st.sampled_from(sorted(SOH_ROWS)))
        return SohBlock(name, draw(_lists(SOH_ROWS[name], max_size=3)))
    return SohRawBlock(
        draw(tokens.map(lambda t: "Z" + t)),
        draw(st.just("") | one_line_texts),
        draw(_lists(block_lines)),
    )


sohs = st.builds(
    Soh,
    data_type=st.sampled_from(SOH_TYPES),
    station=codes,
    detector=tokens,
    period_start=times,
    period_end=times,
    transmit_time=times,
    blocks=_lists(soh_blocks(), max_size=5),
)


# ---------------------------------------------------------------------------- alerts
def _alert_text(lines: list[str]) -> str:
    return "\n".join(lines)


alert_texts = (
    st.lists(free_lines, max_size=4)
    .filter(lambda ls: not ls or (ls[0].strip() and ls[-1].strip()))
    .map(_alert_text)
)

alerts = st.builds(
    Alert,
    data_type=st.sampled_from(ALERT_TYPES),
    station=codes,
    alert_type=st.sampled_from(ALERT_TYPES),
    time=times,
    text=alert_texts,
    detector=st.none() | tokens,
)

raw_sections = st.builds(
    RawSection,
    data_type=st.sampled_from(["LOG", "MET", "ARR", "RRR"]),
    lines=_lists(free_lines),
)


# ---------------------------------------------------------------------------- messages
sections = st.one_of(phds(), sohs, alerts, raw_sections)


def messages(section_strategy=sections, max_sections: int = 3) -> st.SearchStrategy[Message]:
    return st.builds(
        Message,
        sections=st.lists(section_strategy, min_size=1, max_size=max_sections),
        msg_id=tokens,
        msg_source=st.none() | st.lists(tokens, min_size=1, max_size=2).map(" ".join),
        msg_type=st.just("DATA") | tokens,
        format=st.sampled_from(["IMS2.0", "STX1.0"]),
        ref_id=st.none() | st.lists(tokens, min_size=1, max_size=3).map(" ".join),
        prod_id=st.none() | st.lists(tokens, min_size=1, max_size=3).map(" ".join),
    )
