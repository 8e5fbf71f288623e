"""What the /impact page computes for one user: the impact of the releases they may see at
one IMS station, in one of three modes.

- `backward`: the stored SRS files of the IMS station (one per sample), C(s, e) at the
  emitters' places (shared/atm/impact.py).
- `forward`: the stored forward runs (HYSPLIT cdump) of the emitters, averaged over the
  IMS station's own sample intervals (`sample_windows`).
- `forward-raw`: the forward runs' concentration in the model's output periods.

The releases come from either analysis (`central` re-analysis or `station`) and only from
the spectra the user may see now (the facility rule and the publish delay of
central/access.py). Emitters are the facilities the user sees that have a place. What the
result cannot say (no ATM data, emitters without a place, gaps) is said in `notes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.atm.impact import (
    Emitter,
    Releases,
    SampleImpact,
    TotalImpact,
    forward_raw_values,
    forward_sample_impact,
    total_impact,
)
from shared.atm.ims_stations import ImsStation, sample_windows

from .access import message_scope, visible_stations
from .accounts import User
from .impact import (
    METHODS,
    backward_impact,
    emitters,
    forward_runs,
    ims_station,
    releases_from_result_rows,
    result_rows,
    srs_fields,
)
from .store import Store

MODES = {
    "backward": "Backward (SRS)",
    "forward": "Forward at IMS sampling",
    "forward-raw": "Forward raw values",
}
# The longest backward reach of an SRS file or forward run we look for releases in.
REACH = timedelta(days=16)


@dataclass(frozen=True)
class ImpactRequest:
    ims: str
    start: datetime
    end: datetime
    nuclides: tuple[str, ...]
    mode: str = "backward"
    method: str = "central"
    decay: bool = True

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.method not in METHODS:
            raise ValueError(f"analysis must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.end <= self.start:
            raise ValueError("the time span must end after it starts")


@dataclass(frozen=True)
class RawValue:
    emitter: str
    nuclide: str
    start: datetime
    stop: datetime
    concentration_bq_m3: float


@dataclass
class ImpactView:
    station: ImsStation
    request: ImpactRequest
    emitters: list[SampleImpact] = field(default_factory=list)
    totals: list[TotalImpact] = field(default_factory=list)
    raw: list[RawValue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    emitter_codes: list[str] = field(default_factory=list)


def visible_result_rows(
    store: Store,
    user: User,
    now: datetime,
    method: str,
    facilities: Sequence[str],
    start: datetime,
    end: datetime,
) -> list[dict[str, Any]]:
    """`central.impact.result_rows` keeping only the spectra `user` may see at `now`."""
    rows = result_rows(store, method, facilities, start, end)
    if user.is_admin or not rows:
        return rows
    scope, params = message_scope(store, user, now)
    marks = ", ".join("?" * len(facilities))
    allowed = {
        r[0]
        for r in store.conn.execute(
            f"select id from messages where station in ({marks}) and product = 'PHD' "
            f"and start_time >= ? and start_time < ? and {scope}",
            [*facilities, _iso(start - timedelta(days=1)), _iso(end), *params],
        )
    }
    return [r for r in rows if r["message_id"] in allowed]


def impact_view(store: Store, user: User, now: datetime, request: ImpactRequest) -> ImpactView:
    station = ims_station(store, request.ims)  # KeyError: no such IMS station
    view = ImpactView(station, request)
    seen = visible_stations(store, user)
    places = emitters(store, seen)
    view.emitter_codes = [e.code for e in places]
    unplaced = sorted(set(seen) - set(view.emitter_codes))
    if unplaced:
        view.notes.append(
            "Without a latitude and longitude (set them on the Facilities page), these "
            f"facilities are left out: {', '.join(unplaced)}."
        )
    if not places:
        view.notes.append("No facility you may see has a place: nothing to compute.")
        return view
    nuclides = tuple(request.nuclides)
    if request.mode == "backward":
        _backward(store, user, now, request, places, nuclides, view)
    else:
        _forward(store, user, now, request, station, places, nuclides, view)
    gaps = [i for i in view.emitters if i.gap_fraction > 0.05]
    if gaps:
        worst = max(gaps, key=lambda i: i.gap_fraction)
        view.notes.append(
            f"{len(gaps)} emitter-sample results have more than 5 % of their release window "
            f"without published data (worst {100 * worst.gap_fraction:.0f} %, {worst.emitter} "
            f"for the sample ending {_iso(worst.sample_stop)}): their impact is a lower bound."
        )
    return view


def _rows(store, user, now, request, places, start, end):
    return visible_result_rows(
        store, user, now, request.method, [e.code for e in places], start, end
    )


def _backward(store, user, now, request, places, nuclides, view) -> None:
    fields = srs_fields(store, request.ims, request.start, request.end)
    if not fields:
        view.notes.append(
            f"No SRS files of {request.ims} for samples in this span: an administrator adds "
            "them below or in the central's ATM folder."
        )
        return
    earliest = min(f.step_windows()[0].min() for f in fields)
    start = datetime.fromtimestamp(earliest, request.start.tzinfo)
    end = max(f.header.sample_stop for f in fields)
    rows = _rows(store, user, now, request, places, start, end)
    view.emitters, view.totals = backward_impact(fields, places, rows, nuclides, request.decay)


def _forward(store, user, now, request, station, places, nuclides, view) -> None:
    runs = forward_runs(store, places, request.start - REACH, request.end)
    if not runs:
        view.notes.append(
            "No forward runs of these emitters reach this span: an administrator adds their "
            "cdump files with the release each was run with."
        )
        return
    first = min(r.release_start for r in runs)
    start = datetime.fromtimestamp(first, request.start.tzinfo)
    rows = _rows(store, user, now, request, places, start, request.end)
    by_emitter: dict[str, list] = {}
    for run in runs:
        by_emitter.setdefault(run.emitter.code, []).append(run)
    releases = {n: releases_from_result_rows(rows, n) for n in nuclides}
    empty = Releases.from_intervals([])
    for emitter in places:
        mine = by_emitter.get(emitter.code)
        if not mine:
            continue
        for n in nuclides:
            r = releases[n].get(emitter.code, empty)
            if request.mode == "forward":
                for a, b in sample_windows(station, request.start, request.end):
                    view.emitters.append(
                        forward_sample_impact(
                            mine,
                            station.code,
                            station.latitude,
                            station.longitude,
                            a,
                            b,
                            r,
                            n,
                            request.decay,
                        )
                    )
            else:
                for a, b, c in forward_raw_values(
                    mine, station.latitude, station.longitude, r, n, request.decay
                ):
                    if b > request.start and a < request.end:
                        view.raw.append(RawValue(emitter.code, n, a, b, c))
    view.totals = total_impact(_by_sample(view.emitters))
    missing = sorted({e.code for e in places} - set(by_emitter))
    if missing:
        view.notes.append(f"No forward runs for: {', '.join(missing)}.")


def _by_sample(impacts: list[SampleImpact]) -> list[SampleImpact]:
    """Forward results name their runs, not one file: group them per sample for the sum."""
    out = []
    for i in impacts:
        out.append(SampleImpact(**{**i.__dict__, "source": f"{i.station} {_iso(i.sample_stop)}"}))
    return out


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = [
    "MODES",
    "Emitter",
    "ImpactRequest",
    "ImpactView",
    "RawValue",
    "impact_view",
    "visible_result_rows",
]
