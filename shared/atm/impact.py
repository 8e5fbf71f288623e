"""What the releases add at an IMS sample: C(s, e) = sum_k Q(e, k) TC(e, s, k) exp(-lambda tau_k).

Q(e, k) is the Bq emitter e released in release step k (its published intervals prorated
into the step), TC the transport coefficient from the ATM data (m^-3 per Bq), tau_k the
transport time. A step without release data is a gap: counted and reported with the
result, never taken as zero. Backward (SRS) and forward (HYSPLIT) data give the same
`SampleImpact`; `total_impact` sums emitters per nuclide. Times are POSIX seconds (UTC).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from shared.formats.emission_csv import EmissionRow
from shared.nuclear.library import load_library

from .hysplit import Cdump
from .srs import SrsField

# The nuclides an impact is kept for, in report order (emission CSV names).
XENON = ("XE-131M", "XE-133", "XE-133M", "XE-135")
_PREFIX = {"Bq": 1.0, "kBq": 1e3, "MBq": 1e6, "GBq": 1e9, "TBq": 1e12}
_UNIT = re.compile(r"(Bq|kBq|MBq|GBq|TBq)/(?:([1-9][0-9]*)s|h)")


@dataclass(frozen=True)
class Emitter:
    """A monitored stack: its facility code and where it is."""

    code: str
    latitude: float
    longitude: float


def decay_constant(nuclide: str | None) -> float:
    """lambda (1/s) of a nuclide by its report name (XE-133); 0 for None (a passive tracer)."""
    if nuclide is None:
        return 0.0
    return load_library()[nuclide].decay_constant


# ------------------------------------------------------------------ releases
@dataclass(frozen=True, eq=False)  # arrays inside: compare by identity
class Releases:
    """One emitter's releases of one nuclide: intervals [start, end) with the Bq released.

    `bq` is NaN for an interval measured below detection (its `mdr_bq` then says how much
    could have gone unseen); time with no interval at all is a gap. Sorted, no overlaps.
    """

    start: np.ndarray
    end: np.ndarray
    bq: np.ndarray
    mdr_bq: np.ndarray

    @classmethod
    def from_intervals(
        cls, intervals: Iterable[tuple[float, float, float | None, float | None]]
    ) -> Releases:
        """From (start, end, bq or None, mdr or None); intervals with neither are gaps."""
        rows = sorted(
            (float(a), float(b), math.nan if q is None else float(q), math.nan if m is None else m)
            for a, b, q, m in intervals
            if q is not None or m is not None
        )
        arr = np.array(rows, dtype=float).reshape(-1, 4)
        start, end, bq, mdr = arr.T
        if (end <= start).any():
            i = int(np.flatnonzero(end <= start)[0])
            raise ValueError(f"release interval {_iso(start[i])} ends before it starts")
        if (start[1:] < end[:-1]).any():
            i = int(np.flatnonzero(start[1:] < end[:-1])[0])
            raise ValueError(
                f"release intervals overlap: {_iso(start[i])}-{_iso(end[i])} and "
                f"{_iso(start[i + 1])}-{_iso(end[i + 1])}; keep one result per interval"
            )
        return cls(start, end, bq, np.asarray(mdr, dtype=float))

    @classmethod
    def constant(cls, bq_per_s: float, start: float, end: float) -> Releases:
        """A release of `bq_per_s` throughout [start, end)."""
        return cls.from_intervals([(start, end, bq_per_s * (end - start), None)])


def release_unit_factor(unit: str) -> tuple[float, float]:
    """(Bq per unit of value, seconds of the interval) of an emission CSV unit (kBq/900s)."""
    m = _UNIT.fullmatch(unit)
    if not m:
        raise ValueError(f"not a release unit like kBq/900s: {unit!r}")
    return _PREFIX[m[1]], float(m[2]) if m[2] else 3600.0


def releases_from_emission_rows(rows: Sequence[EmissionRow], nuclide: str) -> Releases:
    """A nuclide's releases from emission CSV rows (one station's): each row is the
    interval from its time for its unit's length; a nuclide not reported is a gap."""
    intervals = []
    for row in rows:
        value = row.values.get(nuclide)
        if value is None:
            continue
        factor, seconds = release_unit_factor(row.unit)
        start = row.time.timestamp()
        intervals.append(
            (
                start,
                start + seconds,
                None if value.val is None else value.val * factor,
                None if value.mdr is None else value.mdr * factor,
            )
        )
    return Releases.from_intervals(intervals)


@dataclass(frozen=True, eq=False)  # arrays inside: compare by identity
class StepReleases:
    """Releases per ATM step: Bq (best estimate, and with non-detects at their MDR) and
    seconds of the step with data and below detection."""

    bq: np.ndarray
    upper_bq: np.ndarray
    covered_s: np.ndarray
    below_s: np.ndarray


def releases_per_step(releases: Releases, start: np.ndarray, end: np.ndarray) -> StepReleases:
    """Q(k): the intervals falling in each step [start_k, end_k), prorated where cut."""
    start = np.asarray(start, dtype=float)
    end = np.asarray(end, dtype=float)
    # only the intervals that can touch the steps: a year of 15-minute rows stays cheap
    lo = np.searchsorted(releases.end, start.min(), side="right") if start.size else 0
    hi = np.searchsorted(releases.start, end.max(), side="left") if end.size else 0
    a, b = releases.start[lo:hi], releases.end[lo:hi]
    bq, mdr = releases.bq[lo:hi], releases.mdr_bq[lo:hi]
    overlap = np.clip(
        np.minimum(end[:, None], b[None, :]) - np.maximum(start[:, None], a[None, :]), 0, None
    )
    share = overlap / (b - a)[None, :]
    below = np.isnan(bq)
    return StepReleases(
        bq=share @ np.where(below, 0.0, bq),
        upper_bq=share @ np.where(below, np.nan_to_num(mdr), bq),
        covered_s=overlap.sum(axis=1),
        below_s=overlap[:, below].sum(axis=1),
    )


# ------------------------------------------------------------------ one sample
@dataclass(frozen=True)
class SampleImpact:
    """What one emitter adds to one IMS sample, for one nuclide (None: no decay)."""

    source: str  # the ATM file
    station: str  # IMS station (receptor)
    sample_start: datetime
    sample_stop: datetime
    emitter: str
    nuclide: str | None
    decay: bool  # exp(-lambda tau_k) applied
    concentration_bq_m3: float
    upper_bq_m3: float  # with every non-detect at its MDR
    dilution_s_m3: float  # dt sum_k TC(k): per Bq/s released throughout, without decay
    window_s: float  # the release window the ATM data spans
    gap_s: float  # of it, time without release data
    below_detection_s: float  # of it, time measured below detection
    sensitivity_in_gaps: float  # share of sum_k TC(k) exp(-lambda tau_k) that falls in gaps

    @property
    def gap_fraction(self) -> float:
        return self.gap_s / self.window_s if self.window_s else 0.0

    def to_json(self) -> dict:
        return {
            "emitter": self.emitter,
            "nuclide": self.nuclide,
            "decay": self.decay,
            "concentration_bq_m3": self.concentration_bq_m3,
            "upper_bq_m3": self.upper_bq_m3,
            "dilution_s_m3": self.dilution_s_m3,
            "window_s": self.window_s,
            "gap_s": self.gap_s,
            "gap_fraction": self.gap_fraction,
            "below_detection_s": self.below_detection_s,
            "sensitivity_in_gaps": self.sensitivity_in_gaps,
        }


def transport_times(steps: int, step_s: float, sample_s: float) -> np.ndarray:
    """tau_k = max(0, (k + 1/2) dt - T_sample / 2): release mid-step to sample middle."""
    return np.maximum(0.0, (np.arange(steps) + 0.5) * step_s - sample_s / 2.0)


def impact_from_coefficients(
    tc: np.ndarray,
    tau: np.ndarray,
    step_start: np.ndarray,
    step_end: np.ndarray,
    releases: Releases,
    lam: float,
) -> tuple[float, float, float, float, float]:
    """(C, C upper, gap s, below-detection s, sensitivity share in gaps) from per-step
    coefficients TC_k (m^-3 per Bq) and transport times: the one sum both directions use."""
    q = releases_per_step(releases, step_start, step_end)
    weight = tc * np.exp(-lam * tau)
    gap = (step_end - step_start) - q.covered_s
    total = weight.sum()
    in_gaps = float((weight * gap / (step_end - step_start)).sum() / total) if total else 0.0
    return (
        float(q.bq @ weight),
        float(q.upper_bq @ weight),
        float(gap.sum()),
        float(q.below_s.sum()),
        in_gaps,
    )


def sample_impact(
    srs: SrsField,
    emitter: Emitter,
    releases: Releases,
    nuclide: str | None,
    decay: bool = True,
    tc: np.ndarray | None = None,
) -> SampleImpact:
    """C(s, e) for the IMS sample of an SRS file: TC from the SRS at the emitter, with the
    decay of `nuclide` over tau_k (SRS are made for passive tracers) unless `decay` is
    False or `nuclide` is None. `tc`: the SRS's sensitivity at the emitter, when known."""
    h = srs.header
    if tc is None:
        tc = srs.sensitivity(emitter.latitude, emitter.longitude)
    start, end = srs.step_windows()
    decay = decay and nuclide is not None
    c, upper, gap, below, in_gaps = impact_from_coefficients(
        tc,
        transport_times(h.steps, h.step_s, h.sample_s),
        start,
        end,
        releases,
        decay_constant(nuclide) if decay else 0.0,
    )
    return SampleImpact(
        source=srs.source,
        station=h.station,
        sample_start=h.sample_start,
        sample_stop=h.sample_stop,
        emitter=emitter.code,
        nuclide=nuclide,
        decay=decay,
        concentration_bq_m3=c,
        upper_bq_m3=upper,
        dilution_s_m3=float(h.step_s * tc.sum()),
        window_s=h.steps * h.step_s,
        gap_s=gap,
        below_detection_s=below,
        sensitivity_in_gaps=in_gaps,
    )


def impact_series(
    fields: Iterable[SrsField],
    emitters: Sequence[Emitter],
    releases: Mapping[tuple[str, str], Releases],
    nuclides: Sequence[str] = XENON,
    decay: bool = True,
) -> list[SampleImpact]:
    """The emitters impact series: one SampleImpact per SRS file (IMS sample), emitter and
    nuclide, in sample order. `releases[(emitter code, nuclide)]`; a pair without releases
    is all gap. `decay=False` leaves out exp(-lambda tau) (the nuclide still picks the
    releases)."""
    empty = Releases.from_intervals([])
    out = []
    for srs in sorted(fields, key=lambda f: (f.header.sample_start, f.source)):
        for e in emitters:
            tc = srs.sensitivity(e.latitude, e.longitude)
            for n in nuclides:
                r = releases.get((e.code, n), empty)
                out.append(sample_impact(srs, e, r, n, decay, tc))
    return out


@dataclass(frozen=True)
class TotalImpact:
    """The sum over emitters at one IMS sample, for one nuclide."""

    source: str
    station: str
    sample_start: datetime
    sample_stop: datetime
    nuclide: str | None
    concentration_bq_m3: float
    upper_bq_m3: float
    emitters: int
    worst_gap_fraction: float  # the largest gap share among the emitters
    worst_sensitivity_in_gaps: float


def total_impact(impacts: Iterable[SampleImpact]) -> list[TotalImpact]:
    """The total impact series: the emitters' impacts summed per ATM file and nuclide."""
    groups: dict[tuple[str, str | None], list[SampleImpact]] = {}
    for i in impacts:
        groups.setdefault((i.source, i.nuclide), []).append(i)
    out = [
        TotalImpact(
            source=g[0].source,
            station=g[0].station,
            sample_start=g[0].sample_start,
            sample_stop=g[0].sample_stop,
            nuclide=g[0].nuclide,
            concentration_bq_m3=math.fsum(i.concentration_bq_m3 for i in g),
            upper_bq_m3=math.fsum(i.upper_bq_m3 for i in g),
            emitters=len(g),
            worst_gap_fraction=max(i.gap_fraction for i in g),
            worst_sensitivity_in_gaps=max(i.sensitivity_in_gaps for i in g),
        )
        for g in groups.values()
    ]
    return sorted(out, key=lambda t: (t.sample_start, t.source, t.nuclide or ""))


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ forward (HYSPLIT)
@dataclass(frozen=True, eq=False)  # arrays inside: compare by identity
class ForwardRun:
    """A forward run from one emitter: its cdump output and the release it was run with
    (the CONTROL file's rate and duration; the cdump does not carry them)."""

    cdump: Cdump
    emitter: Emitter
    release_start: float  # POSIX s
    release_hours: float
    bq_per_h: float
    decayed: bool  # the run had the nuclide's half-life: its output is already decayed

    @property
    def release_end(self) -> float:
        return self.release_start + self.release_hours * 3600.0


def _forward_coefficients(
    run: ForwardRun, latitude: float, longitude: float, lam: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(period start, period end, TC_p): m^-3 per Bq released in the run, per output period,
    decayed over release middle to period middle unless the run did it."""
    c = run.cdump
    start = np.array([p.start.timestamp() for p in c.periods])
    end = np.array([p.stop.timestamp() for p in c.periods])
    tc = c.at(latitude, longitude) / (run.bq_per_h * run.release_hours)
    if not run.decayed and lam:
        mid_release = (run.release_start + run.release_end) / 2
        tc = tc * np.exp(-lam * np.maximum(0.0, (start + end) / 2 - mid_release))
    return start, end, tc


def forward_sample_impact(
    runs: Sequence[ForwardRun],
    station: str,
    latitude: float,
    longitude: float,
    sample_start: datetime,
    sample_stop: datetime,
    releases: Releases,
    nuclide: str | None,
    decay: bool = True,
) -> SampleImpact:
    """Forward ATM at IMS sampling: C = sum_k Q(k) TC(s, k), one run k per release window,
    TC(s, k) the run's output averaged over the sample (the part its periods cover)."""
    if not runs:
        raise ValueError("no forward runs")
    lam = decay_constant(nuclide) if decay else 0.0
    a, b = sample_start.timestamp(), sample_stop.timestamp()
    tc = np.zeros(len(runs))
    for k, run in enumerate(runs):
        start, end, tc_p = _forward_coefficients(run, latitude, longitude, lam)
        overlap = np.clip(np.minimum(end, b) - np.maximum(start, a), 0, None)
        tc[k] = float(tc_p @ overlap) / (b - a)
    step_start = np.array([r.release_start for r in runs])
    step_end = np.array([r.release_end for r in runs])
    c, upper, gap, below, in_gaps = impact_from_coefficients(
        tc, np.zeros(len(runs)), step_start, step_end, releases, 0.0
    )
    return SampleImpact(
        source=runs[0].cdump.source if len(runs) == 1 else f"{len(runs)} forward runs",
        station=station,
        sample_start=sample_start,
        sample_stop=sample_stop,
        emitter=runs[0].emitter.code,
        nuclide=nuclide,
        decay=bool(lam),
        concentration_bq_m3=c,
        upper_bq_m3=upper,
        dilution_s_m3=float(tc @ (step_end - step_start)),
        window_s=float((step_end - step_start).sum()),
        gap_s=gap,
        below_detection_s=below,
        sensitivity_in_gaps=in_gaps,
    )


def forward_raw_values(
    runs: Sequence[ForwardRun],
    latitude: float,
    longitude: float,
    releases: Releases,
    nuclide: str | None,
    decay: bool = True,
) -> list[tuple[datetime, datetime, float]]:
    """Forward ATM raw values: the concentration per output period (the model's own
    intervals), summed over the runs, each scaled by the Bq released in its window."""
    lam = decay_constant(nuclide) if decay else 0.0
    totals: dict[tuple[float, float], float] = {}
    for run in runs:
        q = releases_per_step(releases, np.array([run.release_start]), np.array([run.release_end]))
        start, end, tc_p = _forward_coefficients(run, latitude, longitude, lam)
        for s, e, tc in zip(start, end, tc_p):
            totals[(s, e)] = totals.get((s, e), 0.0) + float(q.bq[0]) * tc
    return [
        (datetime.fromtimestamp(s, UTC), datetime.fromtimestamp(e, UTC), c)
        for (s, e), c in sorted(totals.items())
    ]
