"""The model-mismatch category's cases: which mixtures, how many, and at which levels.

The world each case is drawn in (a steeper efficiency below ~100 keV with a sharper knee,
other peak tails and resolution, drawn intensities, noisy calibration points) and its
simulation are spectra.py's (MISMATCH, mismatch_library, mismatch_detectors, simulate);
this module only chooses the cases, so that every nuclide of REPORTED gets enough spectra
with its strongest line above MISMATCH_MIN_COUNTS to test a pull SD of 0.9-1.1: about
200, where the SD's 95 % interval is +-10 %.

Each nuclide is driven by one mixture (the clean suite's category of the same name,
spectra.py's _case) through the levels the clean suite designs for it at 1000 counts and
above (DESIGNED_LEVELS), so the mismatch spectra stay within the counts where the clean
suite validates the analyses. A level is drawn with the default detector's counts per Bq;
the world's absorber (up to -45 % at 30 keV) and intensity draws then move some lines of
the lowest of those levels below 1000 counts, so the x-ray-led nuclides (Xe-133m and
Xe-131m, whose strongest line is the 29.8 keV Xe K x-ray) get a larger share.

It lives apart from spectra.py, whose source is part of every suite's cache key: a change
to the mismatch design here leaves the clean suite's cached spectra valid.
"""

from __future__ import annotations

import numpy as np

from benchmarks.analysis.spectra import (
    DESIGNED_LEVELS,
    MISMATCH,
    REPORTED,
    Case,
    _case,
    _driven_levels,
)

MISMATCH_MIN_COUNTS = 1000.0  # the mismatch targets hold for lines above this
MIN_STRONG_SPECTRA = 190  # per nuclide above MISMATCH_MIN_COUNTS in a default run
# the levels (indices into spectra.LEVELS) at or above MISMATCH_MIN_COUNTS
_STRONG = (2, 3, 4)


def _strong_levels(nuclide: str) -> tuple[int, ...]:
    return tuple(k for k in DESIGNED_LEVELS[nuclide] if k in _STRONG)


# mixture -> (its share of the category, the nuclides it drives and their levels)
MISMATCH_MIXTURES = {
    "xenon": (1.0, {"Xe-133": _strong_levels("Xe-133")}),
    "radon": (1.0, {"Xe-135": _strong_levels("Xe-135")}),  # 608.2 under Bi-214 609.3
    "iodine": (1.0, {"I-131": _strong_levels("I-131")}),
    "cluster511": (1.0, {"I-133": _strong_levels("I-133")}),
    "krypton": (1.0, {n: _strong_levels(n) for n in ("Kr-85m", "Kr-88", "Xe-135m")}),
    # Xe-131m in three spectra of four (spectra.XRAY_WITHOUT_XE131M), its and Xe-133m's
    # strongest line the 29.8 keV x-ray that the absorber weakens most
    "xray": (1.5, {n: _strong_levels(n) for n in ("Xe-133m", "Xe-131m")}),
}
MISMATCH_DEFAULT_N = 1400  # about 215 spectra per mixture, 320 of the xray one


def mixture_counts(n: int) -> dict[str, int]:
    """How many of n mismatch spectra each mixture gets (largest remainders)."""
    if n < 0:
        raise ValueError(f"the number of mismatch spectra must be >= 0, got {n}")
    total = sum(share for share, _ in MISMATCH_MIXTURES.values())
    exact = {m: n * share / total for m, (share, _) in MISMATCH_MIXTURES.items()}
    out = {m: int(x) for m, x in exact.items()}
    for m in sorted(exact, key=lambda m: out[m] - exact[m])[: n - sum(out.values())]:
        out[m] += 1
    return out


def mismatch_cases(n: int = MISMATCH_DEFAULT_N, seed: int = 20261, start: int = 0) -> list[Case]:
    """n cases of the mismatch category (deterministic for n and seed; indices from start):
    MISMATCH_MIXTURES' mixtures, each case in a world drawn from spectra.MISMATCH."""
    rng = np.random.default_rng([seed, 0x5EED, 2])
    cases: list[Case] = []
    for mixture, m in mixture_counts(n).items():
        drivers = MISMATCH_MIXTURES[mixture][1]
        for levels in _driven_levels(mixture, drivers, m, rng):
            src, _, note = _case(mixture, rng, levels)
            world = {
                "absorber_tau": float(rng.uniform(*MISMATCH["absorber_tau"])),
                "tail_fraction": float(rng.uniform(*MISMATCH["tail_fraction"])),
                "tail_length_sigma": float(rng.uniform(*MISMATCH["tail_length_sigma"])),
                "resolution_scale": float(rng.uniform(*MISMATCH["resolution_scale"])),
                "seed": int(rng.integers(2**31)),
            }
            cases.append(
                Case(
                    start + len(cases),
                    "mismatch",
                    src,
                    0.0,
                    int(rng.integers(2**31)),
                    note=f"{mixture} mixture; {note}".rstrip("; "),
                    world=world,
                )
            )
    return cases


def mixture_of(case: Case) -> str:
    """The mixture a mismatch case was made from (its note begins with it)."""
    return case.note.split(" mixture", 1)[0]


def strong_spectra(sims) -> dict[str, int]:
    """Per nuclide of REPORTED, the simulated spectra whose strongest line of the nuclide
    has at least MISMATCH_MIN_COUNTS expected counts (spectra.Simulated.line_areas): those
    run.py's mismatch table judges."""
    return {
        nuc: sum(s.main_line_area(nuc) >= MISMATCH_MIN_COUNTS for s in sims) for nuc in REPORTED
    }
