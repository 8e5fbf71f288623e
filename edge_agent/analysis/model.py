"""What is fitted where: library lines and found peaks, as components grouped into regions.

Every line of the nuclides of interest and of their interferers is fitted, found or not,
so that each nuclide gets a result or an upper limit. A component is a set of peaks with
fixed area ratios (a nuclide's lines in one region, an x-ray group, a tied line, an
unidentified found peak); peaks closer than a few FWHM share a region.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shared.nuclear.library import Library
from shared.nuclear.summing import TotalEfficiency, summing

from .config import AnalysisConfig
from .fit import Component
from .scale import FWHM_PER_SIGMA, ChannelScale
from .search import FoundPeak


@dataclass(frozen=True)
class CandidateLine:
    nuclide: str
    energy: float  # keV
    intensity: float  # photons per decay
    kind: str  # gamma, xray, annihilation
    group: str | None  # x-ray group
    tied: bool  # area tied to the nuclide's other lines
    extra_fwhm_kev: float = 0.0
    approximate: bool = False  # intensity not evaluated: modelled, never quantified from
    intensity_rel_unc: float = 0.0  # u(I)/I from the library
    # true coincidence summing (shared/nuclear/summing.py): counts per Bq times this, and
    # the relative uncertainty the line carries for it
    summing_factor: float = 1.0
    summing_rel_unc: float = 0.0


@dataclass
class Region:
    lo: int  # first array index
    hi: int  # one past the last
    components: list[Component] = field(default_factory=list)
    baseline_order: int = 1
    index: int = 0
    compton_edges: list[tuple[float, float]] = field(default_factory=list)  # (channel, sigma)


def candidate_lines(
    library: Library,
    config: AnalysisConfig,
    e_min: float,
    e_max: float,
    eps_total: TotalEfficiency | None = None,
) -> list[CandidateLine]:
    """The library lines of the configured nuclides that lie inside the spectrum, with
    their summing-out (given the geometry's total efficiency)."""
    tied = {(n, round(e, 2)) for n, e in config.tied_lines}
    out = []
    for name in (*config.nuclides, *config.interferers):
        if name not in library:
            continue
        nuc = library[name]
        for ln in nuc.lines:
            if not (max(e_min, config.min_energy_kev) <= ln.energy <= e_max):
                continue
            out.append(
                CandidateLine(
                    nuclide=nuc.name,
                    energy=ln.energy,
                    intensity=ln.intensity,
                    kind=ln.kind,
                    group=ln.group if ln.kind == "xray" else None,
                    tied=(nuc.name, round(ln.energy, 2)) in tied,
                    extra_fwhm_kev=ln.extra_fwhm_kev,
                    approximate=ln.approximate,
                    intensity_rel_unc=ln.intensity_rel_unc,
                    **_summing_of(ln, eps_total),
                )
            )
    return out


def _summing_of(ln, eps_total) -> dict[str, float]:
    if eps_total is None:
        return {}
    s = summing(ln, eps_total)
    return {"summing_factor": s.factor, "summing_rel_unc": s.rel_unc}


def identify(
    found: list[FoundPeak], lines: list[CandidateLine], scale: ChannelScale, tolerance_fwhm: float
) -> tuple[set[int], list[FoundPeak]]:
    """Indices of lines matched by a found peak, and the found peaks no line explains."""
    if not lines:
        return set(), list(found)
    energies = np.array([ln.energy for ln in lines])
    matched: set[int] = set()
    unknown = []
    e_found = np.atleast_1d(scale.energy(np.array([p.channel for p in found])))
    fwhm_found = np.atleast_1d(scale.fwhm_kev(e_found))
    for p, e, fwhm in zip(found, e_found, fwhm_found):
        d = np.abs(energies - e) / fwhm
        j = int(np.argmin(d))
        if d[j] <= tolerance_fwhm:
            matched.add(j)
            # lines of the same energy (an x-ray emitted by two nuclides) are found together
            matched.update(np.nonzero(np.abs(energies - energies[j]) < 1e-6)[0].tolist())
        else:
            unknown.append(p)
    return matched, unknown


@dataclass(frozen=True)
class _LineGeometry:
    """Per candidate line: channel, sigma (channels), efficiency and its relative uncertainty."""

    positions: np.ndarray
    sigmas: np.ndarray
    efficiency: np.ndarray
    rel_unc: np.ndarray


@dataclass
class _Atom:
    """Peaks that must share a region: one line, or all lines of an x-ray group."""

    positions: list[float]
    fwhms: list[float]
    lines: list[int]  # indices into the candidate lines
    found_peak: tuple[FoundPeak, float, float] | None = None  # with its energy and sigma

    @property
    def low(self) -> float:
        return min(p - f for p, f in zip(self.positions, self.fwhms))

    @property
    def high(self) -> float:
        return max(p + f for p, f in zip(self.positions, self.fwhms))


def build_regions(
    lines: list[CandidateLine],
    matched: set[int],
    unknown: list[FoundPeak],
    scale: ChannelScale,
    efficiency,
    relative_unc,
    live_time: float,
    size: int,
    config: AnalysisConfig,
    compton_edges: list[tuple[float, float]] | None = None,
) -> list[Region]:
    """Group the lines and the unidentified found peaks into regions of components.

    compton_edges: (channel, sigma) of the Compton edges of strong peaks; each region gets
    the ones that lie inside it (at least 2 sigma from its ends).
    """
    energies = np.array([ln.energy for ln in lines])
    extra = np.array([ln.extra_fwhm_kev for ln in lines])
    geometry = _LineGeometry(
        positions=np.asarray(scale.index(energies), dtype=float),
        sigmas=np.asarray(scale.sigma_channels(energies, extra), dtype=float),
        # the full-energy efficiency times the summing factor: the counts a Bq gives
        efficiency=np.atleast_1d(efficiency(energies))
        * np.array([ln.summing_factor for ln in lines]),
        rel_unc=np.atleast_1d(relative_unc(energies)),
    )
    atoms: list[_Atom] = []
    groups: dict[str, _Atom] = {}
    for j, ln in enumerate(lines):
        pos = float(geometry.positions[j])
        fwhm = float(geometry.sigmas[j]) * FWHM_PER_SIGMA
        if ln.group is not None:
            atom = groups.get(ln.group)
            if atom is None:
                atom = groups[ln.group] = _Atom([], [], [])
                atoms.append(atom)
            atom.positions.append(pos)
            atom.fwhms.append(fwhm)
            atom.lines.append(j)
        else:
            atoms.append(_Atom([pos], [fwhm], [j]))
    if unknown:
        ch = np.array([p.channel for p in unknown])
        e_found = np.asarray(scale.energy(ch), dtype=float)
        s_found = np.asarray(scale.sigma_channels(e_found), dtype=float)
        for p, e, sg in zip(unknown, e_found, s_found):
            atoms.append(
                _Atom([p.channel], [sg * FWHM_PER_SIGMA], [], found_peak=(p, float(e), float(sg)))
            )
    atoms = [a for a in atoms if a.high > 0 and a.low < size - 1]
    atoms.sort(key=lambda a: min(a.positions))

    # merge atoms whose peaks are closer than merge_distance FWHM
    clusters: list[list[_Atom]] = []
    reach = 0.5 * config.merge_distance_fwhm
    for a in atoms:
        lo = min(p - reach * f for p, f in zip(a.positions, a.fwhms))
        if clusters:
            last = clusters[-1]
            hi = max(p + reach * f for b in last for p, f in zip(b.positions, b.fwhms))
            if lo < hi:
                last.append(a)
                continue
        clusters.append([a])

    bounds = _region_bounds(clusters, config.region_margin_fwhm)
    regions = []
    for cluster, (lo, hi) in zip(clusters, bounds):
        lo_i = max(int(np.floor(lo)), 0)
        hi_i = min(int(np.ceil(hi)) + 1, size)
        if hi_i - lo_i < 5:
            continue
        width_fwhm = (hi_i - lo_i) / _median([f for a in cluster for f in a.fwhms])
        region = Region(lo_i, hi_i, baseline_order=2 if width_fwhm > 12 else 1, index=len(regions))
        region.components = _components(cluster, lines, matched, geometry, live_time, config)
        for pos, sig in compton_edges or ():
            inside = lo_i + 2 * sig <= pos <= hi_i - 1 - 2 * sig
            if inside and all(abs(pos - q) > sig for q, _ in region.compton_edges):
                region.compton_edges.append((float(pos), float(sig)))
        if region.components:
            regions.append(region)
    return regions


def _region_bounds(clusters: list[list[_Atom]], margin_fwhm: float) -> list[tuple[float, float]]:
    """Per cluster (lo, hi) in channels: its peaks +- margin_fwhm FWHM, kept 1.5 FWHM clear of
    the other clusters' peaks (those below its lowest peak raise lo, the others lower hi).

    All clusters at once on a clusters x peaks table (a cluster's own peaks masked out by
    +-inf, which no min or max keeps): per cluster it was a dozen numpy calls on tiny arrays.
    """
    pos = np.array([p for c in clusters for a in c for p in a.positions])
    fwhm = np.array([f for c in clusters for a in c for f in a.fwhms])
    owner = np.array([k for k, c in enumerate(clusters) for a in c for _ in a.positions])
    mine = owner[None, :] == np.arange(len(clusters))[:, None]
    low = np.where(mine, pos - margin_fwhm * fwhm, np.inf).min(axis=1)
    high = np.where(mine, pos + margin_fwhm * fwhm, -np.inf).max(axis=1)
    lowest = np.where(mine, pos, np.inf).min(axis=1)
    below = ~mine & (pos[None, :] < lowest[:, None])
    above = ~mine & ~below
    clear_below = np.where(below, pos + 1.5 * fwhm, -np.inf).max(axis=1)
    clear_above = np.where(above, pos - 1.5 * fwhm, np.inf).min(axis=1)
    out = []
    for lo, hi, b, a, any_below, any_above in zip(
        low.tolist(),
        high.tolist(),
        clear_below.tolist(),
        clear_above.tolist(),
        below.any(axis=1).tolist(),
        above.any(axis=1).tolist(),
    ):
        out.append((max(lo, b) if any_below else lo, min(hi, a) if any_above else hi))
    return out


def _median(values: list[float]) -> float:
    """search.median of a short list, value for value, in plain floats."""
    x = sorted(values)
    half = len(x) // 2
    return x[half] if len(x) % 2 else 0.5 * (x[half - 1] + x[half])


ELECTRON_MASS_KEV = 510.99895


def compton_edge_kev(energy_kev):
    """Energy of the Compton edge of a line: the largest energy a single scatter leaves."""
    e = np.asarray(energy_kev, dtype=float)
    return 2.0 * e * e / (ELECTRON_MASS_KEV + 2.0 * e)


def compton_edges(found: list[FoundPeak], scale: ChannelScale, min_counts: float):
    """(channel, sigma) of the Compton edges of the found peaks with at least min_counts."""
    strong = [p for p in found if p.area >= min_counts]
    if not strong:
        return []
    e_edge = compton_edge_kev(scale.energy(np.array([p.channel for p in strong])))
    pos = np.atleast_1d(scale.index(e_edge))
    sig = np.atleast_1d(scale.sigma_channels(e_edge))
    return [(float(c), float(w)) for c, w in zip(pos, sig) if np.isfinite(c) and c > 0]


def _components(
    cluster: list[_Atom],
    lines: list[CandidateLine],
    matched: set[int],
    geometry: _LineGeometry,
    live_time: float,
    config: AnalysisConfig,
) -> list[Component]:
    shape_of_group = dict(config.xray_group_shape)
    idx = [j for a in cluster for j in a.lines]
    eff = {j: float(geometry.efficiency[j]) for j in idx}
    out: list[Component] = []

    def make(key, kind, nuclide, members, weights, per_bq, intensities):
        w = np.asarray(weights, dtype=float)
        w = w / w.sum()
        share = w.tolist()

        def mean_of(values) -> float:  # the area-weighted mean over the members
            return float(sum(f * v for f, v in zip(share, values)))

        out.append(
            Component(
                key=key,
                kind=kind,
                nuclide=nuclide,
                energies=np.array([lines[j].energy for j in members]),
                positions=geometry.positions[members],
                sigmas=geometry.sigmas[members],
                weights=w,
                rel_unc=mean_of(geometry.rel_unc[members].tolist()),
                # the lines' intensity errors taken as moving together (an x-ray group's
                # conversion and fluorescence data; the main line dominates a gamma group)
                intensity_rel_unc=mean_of([lines[j].intensity_rel_unc for j in members]),
                summing_rel_unc=mean_of([lines[j].summing_rel_unc for j in members]),
                counts_per_bq=per_bq,
                intensities=intensities,
                found=np.array([j in matched for j in members]),
                own_width=any(lines[j].extra_fwhm_kev > 0 for j in members),
            )
        )

    # x-ray groups: one component each, the shape of the group's first nuclide. The lines
    # of a nuclide whose x-ray intensities are approximate (Xe-135's Cs K, I-131's Xe K) are
    # a tied component of their own, with their own ratios and the area the nuclide's gamma
    # lines give: fitted with the group's shape they would leave the difference (Xe-135's
    # Cs K has no 35.9 keV line) to the neighbouring group. A group with only approximate
    # lines (Pb K, Bi K) stays one free component, never quantified from.
    by_group: dict[str, list[int]] = {}
    for j in idx:
        if lines[j].group is not None:
            by_group.setdefault(lines[j].group, []).append(j)
    for group, members in by_group.items():
        nuclides = list(dict.fromkeys(lines[j].nuclide for j in members))
        approximate = [
            nuc
            for nuc in nuclides
            if any(lines[j].approximate for j in members if lines[j].nuclide == nuc)
        ]
        exact = [nuc for nuc in nuclides if nuc not in approximate]
        tied_off = approximate if exact else []
        members_fitted = [j for j in members if lines[j].nuclide not in tied_off]
        nuclides = [nuc for nuc in nuclides if nuc not in tied_off]
        shape_nuc = shape_of_group.get(group, nuclides[0])
        if shape_nuc not in nuclides:
            shape_nuc = nuclides[0]
        energies = sorted({lines[j].energy for j in members_fitted})
        rep = []  # one line per energy, the shape nuclide's where it has one
        for e in energies:
            same = [j for j in members_fitted if lines[j].energy == e]
            own = [j for j in same if lines[j].nuclide == shape_nuc]
            rep.append(own[0] if own else same[0])
        weights = [
            eff[j] * lines[j].intensity if lines[j].nuclide == shape_nuc else 0.0 for j in rep
        ]
        if sum(weights) <= 0:
            weights = [eff[j] * lines[j].intensity for j in rep]
        per_bq, intensities = {}, {}
        for nuc in nuclides:
            own_lines = [j for j in members_fitted if lines[j].nuclide == nuc]
            per_bq[nuc] = live_time * sum(eff[j] * lines[j].intensity for j in own_lines)
            intensities[nuc] = sum(lines[j].intensity for j in own_lines)
        keep = [r for r, w in zip(rep, weights) if w > 0]
        make(group, "xray", shape_nuc, keep, [w for w in weights if w > 0], per_bq, intensities)
        out[-1].approximate = set(approximate) - set(tied_off)
        for nuc in tied_off:
            own_lines = [j for j in members if lines[j].nuclide == nuc]
            w = [eff[j] * lines[j].intensity for j in own_lines]
            make(
                f"{group} {nuc}",
                "tied",
                nuc,
                own_lines,
                w,
                {nuc: live_time * float(sum(w))},
                {nuc: float(sum(lines[j].intensity for j in own_lines))},
            )

    # each nuclide's own lines, and its tied lines separately
    nuclides = list(dict.fromkeys(lines[j].nuclide for j in idx if lines[j].group is None))
    for nuc in nuclides:
        for tied in (False, True):
            members = [
                j
                for j in idx
                if lines[j].group is None and lines[j].nuclide == nuc and lines[j].tied == tied
            ]
            if not members:
                continue
            weights = [eff[j] * lines[j].intensity for j in members]
            per_bq = {nuc: live_time * float(sum(weights))}
            intensities = {nuc: float(sum(lines[j].intensity for j in members))}
            kind = (
                "tied"
                if tied
                else ("annihilation" if lines[members[0]].kind == "annihilation" else "nuclide")
            )
            main = members[int(np.argmax(weights))]
            make(
                f"{nuc} {lines[main].energy:.1f}", kind, nuc, members, weights, per_bq, intensities
            )

    # unidentified found peaks
    for a in cluster:
        if a.found_peak is None:
            continue
        p, e, sg = a.found_peak
        out.append(
            Component(
                key=f"found {e:.2f}",
                kind="found",
                nuclide=None,
                energies=np.array([e]),
                positions=np.array([p.channel]),
                sigmas=np.array([sg]),
                weights=np.array([1.0]),
                found=np.array([True]),
            )
        )
    return out
