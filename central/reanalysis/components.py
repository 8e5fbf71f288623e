"""What the central model is made of: one amplitude per source of counts, and its lines.

- a nuclide with gamma lines: amplitude = its mean activity in the chamber (Bq); each line
  adds A * t_live * eps(E) * I counts, so every line of the nuclide constrains one number;
- an x-ray group (Xe K, Cs K, Bi K, Pb K): amplitude = the group's counts, its lines in
  fixed ratios (I * eps). X-rays are modelled so that they do not bias the gamma lines,
  but never quantify a nuclide: Xe-131m and Xe-133m share their x-rays, several
  intensities are approximate, and the low-energy efficiency is the least certain part;
- annihilation: amplitude = counts of the Doppler-broadened 511 keV line;
- the step below a strong line: amplitude = its area-equivalent height (a pure step of
  the line's position and width). Weaker lines share one step height relative to their
  peaks; below a strong line the step and the Compton shelf between its edge and the
  peak differ from line to line more than one shared height can follow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.calibration import EfficiencyCalibration
from shared.nuclear import Library, Nuclide
from shared.nuclear.summing import TotalEfficiency, summing

NUCLIDE, XRAY, ANNIHILATION, STEP_LINE = "nuclide", "xray", "annihilation", "step"


@dataclass(frozen=True)
class Component:
    name: str  # nuclide name, "Xe-K x-rays", "Annihilation"
    kind: str  # NUCLIDE, XRAY or ANNIHILATION
    nuclide: Nuclide | None = None  # for NUCLIDE


@dataclass(frozen=True)
class ModelLine:
    energy: float  # keV, library energy
    intensity: float  # photons per decay
    component: int  # index of its Component
    counts_per_unit: float  # counts per unit of the component's amplitude
    efficiency: float
    source: str  # the emitting nuclide, or the x-ray group
    kind: str  # gamma, xray, annihilation, step
    extra_fwhm_kev: float = 0.0
    group: str | None = None  # x-rays: Xe-K, Cs-K, ...
    intensity_rel_unc: float = 0.0  # u(I)/I, the library's
    summing_rel_unc: float = 0.0  # carried for true coincidence summing (relative)


def build_components(
    library: Library,
    efficiency,
    live_time: float,
    e_low: float,
    e_high: float,
    eps_total: TotalEfficiency | None = None,
) -> tuple[list[Component], list[ModelLine]]:
    """The model's components and lines for lines between e_low and e_high (keV).

    With the geometry's total efficiency, a gamma line's counts per Bq include its
    summing-out (shared/nuclear/summing.py: corrected when the PHD measured the total
    efficiency, else carried as an uncertainty)."""
    components: list[Component] = []
    lines: list[ModelLine] = []

    def inside(e: float) -> bool:
        return e_low <= e <= e_high

    efficiency = _EfficiencyTable(
        efficiency,
        [ln.energy for nuc in library.nuclides.values() for ln in nuc.lines if inside(ln.energy)],
    )

    groups = _xray_groups(library)
    # one reference emitter per group fixes the ratios: the non-approximate member with
    # the most intense group, else the most intense approximate one
    reference = {
        g: max(members, key=lambda m: (not m[1], m[2]))[0] for g, members in groups.items()
    }
    for nuc in library.nuclides.values():
        gammas = [ln for ln in nuc.lines if ln.kind == "gamma" and inside(ln.energy)]
        if gammas:
            k = len(components)
            components.append(Component(nuc.name, NUCLIDE, nuc))

            def activity_line(ln, k=k, nuc=nuc) -> ModelLine:
                """A line whose counts are the nuclide's activity times t_live eps I."""
                eps = float(efficiency.efficiency(ln.energy))
                kind = "gamma" if ln.kind == "gamma" else "xray"
                tcs = summing(ln, eps_total) if eps_total is not None and kind == "gamma" else None
                factor = 1.0 if tcs is None else tcs.factor
                counts = live_time * eps * ln.intensity * factor
                return ModelLine(
                    ln.energy,
                    ln.intensity,
                    k,
                    counts,
                    eps,
                    nuc.name,
                    kind,
                    group=ln.group,
                    intensity_rel_unc=ln.intensity_rel_unc,
                    summing_rel_unc=0.0 if tcs is None else tcs.rel_unc,
                )

            lines.extend(activity_line(ln) for ln in gammas)
            # x-rays of a group whose ratios are not the reference's (Xe-135's Cs K,
            # I-131's Xe K): tied to the nuclide's activity, so that a strong emitter
            # does not distort the group's shape; their information is small beside the
            # gamma lines', and they are never reported as the nuclide's lines
            for ln in nuc.lines:
                if (
                    ln.kind == "xray"
                    and ln.group
                    and reference[ln.group] is not nuc
                    and ln.approximate
                    and inside(ln.energy)
                ):
                    lines.append(activity_line(ln))
        for ln in nuc.lines:
            if ln.kind == "annihilation" and inside(ln.energy):
                k = len(components)
                components.append(Component(nuc.name, ANNIHILATION))
                eps = float(efficiency.efficiency(ln.energy))
                lines.append(
                    ModelLine(
                        ln.energy,
                        ln.intensity,
                        k,
                        1.0,
                        eps,
                        nuc.name,
                        "annihilation",
                        ln.extra_fwhm_kev,
                    )
                )

    for group, ref in reference.items():
        ref_lines = [
            ln for ln in ref.lines if ln.kind == "xray" and ln.group == group and inside(ln.energy)
        ]
        if not ref_lines:
            continue
        effs = [float(efficiency.efficiency(ln.energy)) for ln in ref_lines]
        total = sum(e * ln.intensity for e, ln in zip(effs, ref_lines))
        k = len(components)
        components.append(Component(f"{group} x-rays", XRAY))
        for e, ln in zip(effs, ref_lines):
            lines.append(
                ModelLine(
                    ln.energy,
                    ln.intensity,
                    k,
                    e * ln.intensity / total,
                    e,
                    group,
                    "xray",
                    group=group,
                )
            )
    return components, lines


class _EfficiencyTable:
    """The efficiency at the library's energies, as `efficiency.efficiency(e)` gives it.

    The dual log-log polynomial is elementwise in numpy, so one call for all energies
    gives each the value one call per energy would (and costs one); any other curve (the
    log-log interpolation is a matrix product, whose FMA may move the last bit) is
    evaluated one energy at a time, as before."""

    def __init__(self, curve, energies):
        self._curve = curve
        self._known: dict[float, float] = {}
        if isinstance(curve, EfficiencyCalibration) and energies:
            distinct = sorted(set(energies))
            values = curve.efficiency(np.array(distinct, dtype=float))
            self._known = dict(zip(distinct, (float(v) for v in values), strict=True))

    def efficiency(self, energy: float) -> float:
        if energy not in self._known:
            self._known[energy] = float(self._curve.efficiency(energy))
        return self._known[energy]


def _xray_groups(library: Library) -> dict[str, list[tuple[Nuclide, bool, float]]]:
    """group -> [(nuclide, all its lines in the group approximate?, total intensity)]."""
    groups: dict[str, list[tuple[Nuclide, bool, float]]] = {}
    for nuc in library.nuclides.values():
        by_group: dict[str, list] = {}
        for ln in nuc.lines:
            if ln.kind == "xray" and ln.group:
                by_group.setdefault(ln.group, []).append(ln)
        for group, lns in by_group.items():
            approx = all(ln.approximate for ln in lns)
            groups.setdefault(group, []).append((nuc, approx, sum(ln.intensity for ln in lns)))
    return groups


def with_steps(
    components: list[Component], lines: list[ModelLine], energies
) -> tuple[list[Component], list[ModelLine]]:
    """A free step below each line at these energies (keV)."""
    components, lines = list(components), list(lines)
    for e in sorted(set(energies)):
        k = len(components)
        components.append(Component(f"step at {e:g} keV", STEP_LINE))
        lines.append(ModelLine(float(e), 0.0, k, 1.0, 0.0, "step", STEP_LINE))
    return components, lines
