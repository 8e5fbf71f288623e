"""Nuclear data as plain, immutable records loaded from `library.json` (one source for all)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_UNITS_S = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "a": 365.2422 * 86400.0}

# The isotopes the network reports, in report order.
XENON = ("Xe-131m", "Xe-133", "Xe-133m", "Xe-135")


@dataclass(frozen=True)
class Line:
    energy: float  # keV
    intensity: float  # photons per decay (fraction, not %)
    kind: str  # gamma, xray, annihilation
    group: str | None = None  # x-ray group (Xe-K, Cs-K, ...)
    approximate: bool = False
    extra_fwhm_kev: float = 0.0  # Doppler broadening (annihilation)
    # standard uncertainty of the intensity (photons per decay, like `intensity`), the line's
    # own part: the evaluation's total less the nuclide's normalisation in quadrature
    # (Nuclide.normalisation_rel_unc, common to its gamma lines); where the library has no
    # evaluated value for the line, the library's assumed relative one
    intensity_unc: float = 0.0
    intensity_unc_evaluated: bool = False  # True: from an evaluation named in the library
    # photons of the same decay that can accompany this one: (energy keV, probability per
    # photon of this line, an upper bound); () none (one transition per decay); None unknown
    coincident: tuple[tuple[float, float], ...] | None = None

    @property
    def intensity_rel_unc(self) -> float:
        """u(I)/I (0 for a line without intensity)."""
        return self.intensity_unc / self.intensity if self.intensity > 0 else 0.0


@dataclass(frozen=True)
class Nuclide:
    name: str
    half_life_s: float | None  # None: not a decaying source (annihilation, fluorescence)
    lines: tuple[Line, ...]
    half_life_unc_s: float = 0.0  # standard uncertainty of the half-life (0: not known)
    # relative uncertainty of the decay-scheme normalisation, shared by every gamma line
    # (fully correlated between them); 0: not separated from the lines' own
    normalisation_rel_unc: float = 0.0

    def decay_constant_at(self, half_life_s: float) -> float:
        """lambda in 1/s for another half-life (the derivative of a decay correction)."""
        return math.log(2) / half_life_s if half_life_s else 0.0

    @property
    def decay_constant(self) -> float:
        """lambda in 1/s (0 for sources that do not decay)."""
        return math.log(2) / self.half_life_s if self.half_life_s else 0.0

    @property
    def report_name(self) -> str:
        """The upper-case name of the daily products (`XE-133M`)."""
        return self.name.upper()

    def gammas(self) -> tuple[Line, ...]:
        return tuple(ln for ln in self.lines if ln.kind == "gamma")

    def strongest_gamma(self) -> Line:
        return max(self.gammas(), key=lambda ln: ln.intensity)


@dataclass(frozen=True)
class Library:
    name: str
    version: str
    source: str
    nuclides: dict[str, Nuclide]
    intensity_unc_source: str = ""  # where the intensity uncertainties come from
    # (nuclide, energy keV) of the reported nuclides' gamma lines left at the assumed u(I)
    assumed_gammas: tuple[tuple[str, float], ...] = ()

    def __getitem__(self, name: str) -> Nuclide:
        try:
            return self.nuclides[name]
        except KeyError:
            key = {n.lower(): n for n in self.nuclides}.get(name.lower())
            if key is None:
                raise KeyError(
                    f"nuclide {name!r} is not in the library ({', '.join(self.nuclides)})"
                ) from None
            return self.nuclides[key]

    def __contains__(self, name: str) -> bool:
        return name in self.nuclides or name.lower() in {n.lower() for n in self.nuclides}

    def lines_between(self, low: float, high: float) -> list[tuple[Nuclide, Line]]:
        return [
            (n, ln) for n in self.nuclides.values() for ln in n.lines if low <= ln.energy <= high
        ]


# Relative intensity uncertainties for lines without an evaluated one (library.json's
# "intensity_uncertainty" block overrides them).
ASSUMED_REL_UNC = {"gamma": 0.02, "xray": 0.03, "annihilation": 0.0}


def _intensity_unc(ln: dict, assumed: dict[str, float]) -> tuple[float, bool]:
    """(u(I) in photons per decay, evaluated?) of a line entry."""
    intensity = float(ln["intensity"]) / 100.0
    if ln.get("intensity_unc") is not None:
        u = float(ln["intensity_unc"])
        if not math.isfinite(u) or u < 0:
            raise ValueError(
                f"line at {ln['energy']} keV: intensity_unc must be a finite number >= 0, got {u}"
            )
        return u / 100.0, True
    return intensity * assumed.get(ln["kind"], ASSUMED_REL_UNC["gamma"]), False


def _own_part(unc: float, intensity: float, kind: str, normalisation: float) -> float:
    """A gamma line's u(I) less the normalisation's share in quadrature (0 when it is all
    of it: the line that fixes the normalisation, rounded)."""
    if kind != "gamma" or normalisation <= 0:
        return unc
    return math.sqrt(max(unc**2 - (normalisation * intensity) ** 2, 0.0))


def _line(name: str, ln: dict, assumed: dict[str, float], normalisation: float = 0.0) -> Line:
    try:
        unc, evaluated = _intensity_unc(ln, assumed)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    intensity = float(ln["intensity"]) / 100.0
    if evaluated:
        unc = _own_part(unc, intensity, ln["kind"], normalisation)
    return Line(
        energy=float(ln["energy"]),
        intensity=intensity,
        kind=ln["kind"],
        group=ln.get("group"),
        approximate=bool(ln.get("approximate", False)),
        extra_fwhm_kev=float(ln.get("extra_fwhm_kev", 0.0)),
        intensity_unc=unc,
        intensity_unc_evaluated=evaluated,
        coincident=_coincident(ln),
    )


def _coincident(ln: dict) -> tuple[tuple[float, float], ...] | None:
    if "coincident" not in ln:
        return None
    return tuple((float(e), float(p)) for e, p in ln["coincident"])


def _parse(data: dict) -> Library:
    block = data.get("intensity_uncertainty", {})
    assumed = {
        **ASSUMED_REL_UNC,
        **{k: float(v) / 100.0 for k, v in block.get("assumed_relative_percent", {}).items()},
    }
    nuclides = {}
    for name, entry in data["nuclides"].items():
        hl = entry.get("half_life")
        half_life = None if hl is None else float(hl[0]) * _UNITS_S[hl[1]]
        hl_unc = _non_negative(name, entry, "half_life_unc")
        if hl_unc and hl is None:
            raise ValueError(f"{name}: half_life_unc without a half_life")
        norm = _non_negative(name, entry, "normalisation_unc")
        if norm >= 1.0:
            raise ValueError(f"{name}: normalisation_unc is relative (< 1), got {norm}")
        lines = tuple(_line(name, ln, assumed, norm) for ln in entry["lines"])
        hl_unc_s = hl_unc * _UNITS_S[hl[1]] if hl_unc else 0.0
        nuclides[name] = Nuclide(name, half_life, lines, hl_unc_s, norm)
    return Library(
        data["name"],
        data["version"],
        data["source"],
        nuclides,
        block.get("source", "assumed: no evaluated intensity uncertainties in the library"),
        tuple((str(n), float(e)) for n, e in block.get("assumed_gammas", [])),
    )


def _non_negative(name: str, entry: dict, key: str) -> float:
    """entry[key] as a finite number >= 0 (0 when absent), or a clear error."""
    value = entry.get(key)
    if value is None:
        return 0.0
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name}: {key} must be a finite number >= 0, got {value!r}")
    return v


@lru_cache(maxsize=4)
def load_library(path: str | None = None) -> Library:
    """The default library, or another JSON file of the same shape."""
    p = Path(path) if path else Path(__file__).with_name("library.json")
    return _parse(json.loads(p.read_text()))
